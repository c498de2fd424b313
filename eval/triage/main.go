// Command triage-eval measures how well triage reads bounces and replies written by
// others, side by side with Sisimai (the field's reference, Debian's libsisimai-perl) in
// the same run, item by item.
//
// Two labelled sets are scored:
//
//   - sisimai: the 629 real bounces of Sisimai's set-of-emails kept in
//     casefile/triage/testdata/sisimai, with Sisimai's own expected reasons (mode from the
//     expected status class, cause through the corpus README's reason table); each message
//     is also read with CR-only and CRLF line ends and must read exactly like its LF copy;
//   - own: eval/triage/testdata/labels.tsv, replies quoted from providers' documentation
//     and MTA test suites (each row cites its page) and messages written for this set, each
//     labelled from RFC 3463/3464 and the provider's documentation.
//
// Run from the repository root:
//
//	go run ./eval/triage            # both sets, with Sisimai when perl can load it
//	go run ./eval/triage -v         # every disagreement, item by item
//	go run ./eval/triage -sisimai=false
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// accepted reads Sisimai's reasons as our causes: the table of the corpus README.
var accepted = map[string][]triage.Cause{
	"userunknown": {triage.InvalidRecipient}, "hostunknown": {triage.InvalidRecipient}, "hasmoved": {triage.InvalidRecipient},
	"notaccept": {triage.InvalidRecipient}, "suspend": {triage.InvalidRecipient},
	"blocked": {triage.IPReputation, triage.Blocklist}, "badreputation": {triage.IPReputation, triage.Blocklist},
	"requireptr":     {triage.Authentication, triage.IPReputation},
	"authfailure":    {triage.Authentication},
	"securityerror":  {triage.Authentication, triage.TLS, triage.RecipientPolicy},
	"failedstarttls": {triage.TLS},
	"spamdetected":   {triage.Content}, "virusdetected": {triage.Content}, "contenterror": {triage.Content}, "notcompliantrfc": {triage.Content},
	"filtered":        {triage.Content, triage.RecipientPolicy, triage.InvalidRecipient},
	"policyviolation": {triage.Content, triage.RecipientPolicy},
	"rejected":        {triage.RecipientPolicy, triage.DomainReputation, triage.Authentication, triage.Other},
	"norelaying":      {triage.RecipientPolicy, triage.Other},
	"toomanyconn":     {triage.RateLimit}, "speeding": {triage.RateLimit},
	"mailboxfull": {triage.Other}, "exceedlimit": {triage.Other}, "mesgtoobig": {triage.Other}, "systemfull": {triage.Other},
}

// item is one labelled input: a reply text or a message file.
type item struct {
	set, id   string
	file      string // a message file; empty for a reply
	reply     string
	recipient int // 1-based finding index in a message (per recipient)
	mode      triage.Mode
	causes    []triage.Cause // any of these; nil: cause not scored
	provider  string         // "": not scored
	note      string
}

// reading is what one tool read from an item.
type reading struct {
	mode     triage.Mode
	cause    triage.Cause
	provider string
	reason   string // Sisimai's reason
	err      string
}

func main() {
	verbose := flag.Bool("v", false, "list every disagreement")
	useSisimai := flag.Bool("sisimai", true, "run Sisimai (perl -MSisimai) on the same items")
	root := flag.String("root", ".", "the repository root")
	flag.Parse()
	corpus := filepath.Join(*root, "casefile/triage/testdata/sisimai")
	own := filepath.Join(*root, "eval/triage/testdata")

	sets := map[string][]item{}
	var err error
	if sets["sisimai"], err = sisimaiItems(corpus); err != nil {
		fatal(err)
	}
	if sets["own"], err = ownItems(own); err != nil {
		fatal(err)
	}
	var sis map[string]reading
	var sisTime time.Duration
	if *useSisimai {
		all := append(append([]item{}, sets["sisimai"]...), sets["own"]...)
		start := time.Now()
		sis, err = runSisimai(*root, all)
		sisTime = time.Since(start)
		if err != nil {
			fmt.Fprintln(os.Stderr, "sisimai not run:", err)
			sis = nil
		}
	}
	disputed, err := readDisputed(filepath.Join(own, "disputed.tsv"))
	if err != nil {
		fatal(err)
	}
	for _, set := range []string{"sisimai", "own"} {
		score(set, sets[set], sis, disputed, *verbose)
	}
	fmt.Printf("time reading both sets: unblock %v", oursTime.Round(time.Millisecond))
	if sis != nil {
		fmt.Printf(", sisimai %v (one perl process, start included)", sisTime.Round(time.Millisecond))
	}
	fmt.Println()
	lineEnds(corpus, own, *verbose)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "triage-eval:", err)
	os.Exit(2)
}

// sisimaiItems reads the corpus's expected readings: one item per scored row.
func sisimaiItems(dir string) ([]item, error) {
	rows, err := readTSV(filepath.Join(dir, "expected.tsv"))
	if err != nil {
		return nil, err
	}
	var out []item
	for _, r := range rows[1:] {
		if len(r) < 6 {
			continue
		}
		it := item{set: "sisimai", id: filepath.Base(r[0]) + "#" + r[1], file: filepath.Join(dir, "bsd", filepath.Base(r[0]))}
		fmt.Sscan(r[1], &it.recipient)
		it.causes = accepted[r[2]]
		it.mode = sisimaiMode(r[2], r[3], r[4], r[5])
		if len(r) > 8 {
			it.note = r[8]
		}
		out = append(out, it)
	}
	return out, nil
}

// sisimaiMode is the mode a corpus row's labels say (RFC 3463: the class of the status
// decides between transient and permanent).
func sisimaiMode(reason, status, code, hard string) triage.Mode {
	switch reason {
	case "feedback":
		return triage.Complaint
	case "vacation":
		return triage.AutoReply
	case "delivered":
		return triage.Delivered
	}
	if _, detail, _ := strings.Cut(status[min(2, len(status)):], "."); len(detail) == 3 && detail >= "900" {
		// x.0.9xx are Sisimai's own pseudo-codes, not RFC 3463's: the row's mode is
		// disputed (an expired message: transient reply, final failure) and not scored.
		return ""
	}
	switch {
	case strings.HasPrefix(status, "4."):
		return triage.Deferral
	case strings.HasPrefix(status, "5."):
		return triage.HardBlock
	case strings.HasPrefix(status, "2."):
		return triage.Delivered
	case strings.HasPrefix(code, "4"):
		return triage.Deferral
	case strings.HasPrefix(code, "5"), hard == "true":
		return triage.HardBlock
	}
	return "" // not scored
}

// ownItems reads labels.tsv: id, kind, mode, causes (a|b), provider, input, source, note.
// A message input may name its finding: "name.eml#2".
func ownItems(dir string) ([]item, error) {
	rows, err := readTSV(filepath.Join(dir, "labels.tsv"))
	if err != nil {
		return nil, err
	}
	var out []item
	for n, r := range rows {
		if len(r) == 0 || r[0] == "" || strings.HasPrefix(r[0], "#") || r[0] == "id" {
			continue
		}
		if len(r) < 7 {
			return nil, fmt.Errorf("labels.tsv:%d: %d columns, want at least 7", n+1, len(r))
		}
		// "-" leaves a field unscored: the label is disputed or the input does not say.
		it := item{set: "own", id: r[0], mode: triage.Mode(strings.Trim(r[2], "-")), provider: strings.Trim(r[4], "-"), recipient: 1}
		for _, c := range strings.Split(r[3], "|") {
			if c != "-" {
				it.causes = append(it.causes, triage.Cause(c))
			}
		}
		switch r[1] {
		case "reply":
			it.reply = strings.ReplaceAll(r[5], `\n`, "\n")
		case "message":
			// "name.eml#2" is the message's second finding (per recipient, in report order).
			name, nth, _ := strings.Cut(r[5], "#")
			it.file = filepath.Join(dir, "messages", name)
			if nth != "" {
				if _, err := fmt.Sscan(nth, &it.recipient); err != nil || it.recipient < 1 {
					return nil, fmt.Errorf("labels.tsv:%d: finding %q", n+1, nth)
				}
			}
		default:
			return nil, fmt.Errorf("labels.tsv:%d: kind %q", n+1, r[1])
		}
		if len(r) > 7 {
			it.note = r[7]
		}
		out = append(out, it)
	}
	return out, nil
}

func readTSV(name string) ([][]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		rows = append(rows, strings.Split(sc.Text(), "\t"))
	}
	return rows, sc.Err()
}

// oursTime is the time triage took over every item.
var oursTime time.Duration

// ours reads an item with triage.
func ours(it item, cache map[string][]triage.Finding) reading {
	start := time.Now()
	defer func() { oursTime += time.Since(start) }()
	if it.file == "" {
		f := triage.ClassifyReply(it.reply)
		return reading{mode: f.Mode, cause: f.Cause, provider: f.Provider}
	}
	fs, ok := cache[it.file]
	if !ok {
		start := time.Now()
		rep, err := triage.ReadPath(context.Background(), it.file, triage.Options{})
		if err != nil {
			return reading{err: err.Error()}
		}
		if d := time.Since(start); d > 2*time.Second {
			fmt.Printf("slow: %s took %v\n", it.file, d)
		}
		fs = rep.Findings
		cache[it.file] = fs
	}
	i := it.recipient
	// Rows are per recipient; when the reply names the address, match on it.
	for j, f := range fs {
		if f.Recipient != "" && it.note != "" && strings.Contains(strings.ToLower(it.note), f.Recipient) {
			i = j + 1
			break
		}
	}
	if i < 1 || i > len(fs) {
		return reading{err: "no finding"}
	}
	f := fs[i-1]
	return reading{mode: f.Mode, cause: f.Cause, provider: f.Provider}
}

// readDisputed reads disputed.tsv: item (set/id), field (mode|cause), who is right, why.
func readDisputed(name string) (map[string]bool, error) {
	rows, err := readTSV(name)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for n, r := range rows {
		if len(r) == 0 || r[0] == "" || strings.HasPrefix(r[0], "#") {
			continue
		}
		if len(r) < 4 || (r[1] != "mode" && r[1] != "cause") {
			return nil, fmt.Errorf("disputed.tsv:%d: want item, mode|cause, who is right, why", n+1)
		}
		out[r[0]+" "+r[1]] = true
	}
	return out, nil
}

type tally struct{ n, ok int }

func (t *tally) add(ok bool) {
	t.n++
	if ok {
		t.ok++
	}
}

func (t tally) String() string {
	if t.n == 0 {
		return "    –"
	}
	return fmt.Sprintf("%5.1f%% (%d/%d)", 100*float64(t.ok)/float64(t.n), t.ok, t.n)
}

func score(set string, items []item, sis map[string]reading, disputed map[string]bool, verbose bool) {
	cache := map[string][]triage.Finding{}
	// [0]: every labelled field; [1]: the disputed ones set aside.
	var uMode, uCause, sMode, sCause [2]tally
	var uProv tally
	var both, onlyUs, onlySis, neither int
	add := func(t *[2]tally, ok, aside bool) {
		t[0].add(ok)
		if !aside {
			t[1].add(ok)
		}
	}
	for _, it := range items {
		r := ours(it, cache)
		key := it.set + "/" + it.id
		s, haveSis := sis[key]
		if it.mode != "" {
			add(&uMode, r.mode == it.mode, disputed[key+" mode"])
			if haveSis {
				add(&sMode, s.mode == it.mode, disputed[key+" mode"])
			}
		}
		if it.causes != nil {
			okU := slices.Contains(it.causes, r.cause)
			add(&uCause, okU, disputed[key+" cause"])
			if haveSis {
				okS := sisimaiAgrees(it, s.reason)
				add(&sCause, okS, disputed[key+" cause"])
				switch {
				case okU && okS:
					both++
				case okU:
					onlyUs++
				case okS:
					onlySis++
				default:
					neither++
				}
				if verbose && okU != okS {
					fmt.Printf("  %-7s %-28s label %s/%s  unblock %s/%s  sisimai %s/%s\n", set, it.id, it.mode, join(it.causes), r.mode, r.cause, s.mode, s.reason)
				}
			}
		}
		if it.provider != "" {
			uProv.add(r.provider == it.provider)
		}
		if verbose && (r.err != "" || (it.mode != "" && r.mode != it.mode) || (it.causes != nil && !slices.Contains(it.causes, r.cause)) || (it.provider != "" && r.provider != it.provider)) {
			fmt.Printf("  %-7s %-28s want %s/%s/%s got %s/%s/%s %s\n", set, it.id, it.mode, join(it.causes), it.provider, r.mode, r.cause, r.provider, r.err)
		}
	}
	fmt.Printf("%s (%d items)\n", set, len(items))
	fmt.Printf("  unblock  mode %s  cause %s  provider %s\n", uMode[0], uCause[0], uProv)
	if sis != nil {
		fmt.Printf("  sisimai  mode %s  cause %s\n", sMode[0], sCause[0])
	}
	if uMode[1] != uMode[0] || uCause[1] != uCause[0] {
		fmt.Printf("  disputed labels set aside (disputed.tsv):\n")
		fmt.Printf("  unblock  mode %s  cause %s\n", uMode[1], uCause[1])
		if sis != nil {
			fmt.Printf("  sisimai  mode %s  cause %s\n", sMode[1], sCause[1])
		}
	}
	if sis != nil {
		fmt.Printf("  cause: both right %d, only unblock %d, only sisimai %d, neither %d\n", both, onlyUs, onlySis, neither)
	}
}

// sisimaiAgrees scores Sisimai's reason on an item: through the reason table, and for
// the corpus, against its own expected reason (its rows are Sisimai's labels).
func sisimaiAgrees(it item, reason string) bool {
	if reason == "systemerror" || reason == "networkerror" {
		// Not scored as labels of the corpus (its README's table), but as readings they
		// mean what our "other" means: the mail system or the network failed.
		return slices.Contains(it.causes, triage.Other)
	}
	for _, c := range accepted[reason] {
		if slices.Contains(it.causes, c) {
			return true
		}
	}
	return false
}

func join(cs []triage.Cause) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, "|")
}

// runSisimai runs sisimai.pl on every item in one perl process.
func runSisimai(root string, items []item) (map[string]reading, error) {
	var in bytes.Buffer
	for _, it := range items {
		kind, arg := "file", it.file
		if it.file == "" {
			kind, arg = "reply", strings.ReplaceAll(it.reply, "\n", `\n`)
		}
		fmt.Fprintf(&in, "%s/%s\t%s\t%d\t%s\n", it.set, it.id, kind, it.recipient, arg)
	}
	cmd := exec.Command("perl", filepath.Join(root, "eval/triage/sisimai.pl"))
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, firstLine(stderr.String()))
	}
	res := map[string]reading{}
	for line := range strings.Lines(string(out)) {
		var row struct {
			ID, Reason, Status, Action, Code string
			Soft                             json.Number
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			return nil, fmt.Errorf("sisimai.pl wrote %q: %v", line, err)
		}
		res[row.ID] = reading{reason: row.Reason, mode: modeOfSisimai(row.Reason, row.Status, row.Action, row.Code, string(row.Soft))}
	}
	return res, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// modeOfSisimai is the mode Sisimai's reading says, by the same rule as the labels.
func modeOfSisimai(reason, status, action, code, soft string) triage.Mode {
	switch reason {
	case "feedback":
		return triage.Complaint
	case "vacation":
		return triage.AutoReply
	case "delivered":
		return triage.Delivered
	case "":
		return triage.UnknownMode
	}
	if action == "delayed" {
		return triage.Deferral
	}
	switch {
	case strings.HasPrefix(status, "4."):
		return triage.Deferral
	case strings.HasPrefix(status, "5."):
		return triage.HardBlock
	case strings.HasPrefix(status, "2."):
		return triage.Delivered
	case strings.HasPrefix(code, "4"):
		return triage.Deferral
	case strings.HasPrefix(code, "5"):
		return triage.HardBlock
	case soft == "1":
		return triage.Deferral
	case soft == "0":
		return triage.HardBlock
	}
	return triage.UnknownMode
}

// lineEnds reads every corpus message and every message of the own set with CR-only and
// CRLF line ends and compares the findings with the LF copy's.
func lineEnds(dir, own string, verbose bool) {
	files, _ := filepath.Glob(filepath.Join(dir, "bsd", "*.eml"))
	mine, _ := filepath.Glob(filepath.Join(own, "messages", "*.eml"))
	files = append(files, mine...)
	tmp, err := os.MkdirTemp("", "triage-eval")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(tmp)
	diff := map[string]int{}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			fatal(err)
		}
		want := summary(name)
		lf := bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
		for _, v := range []struct{ name, eol string }{{"cr", "\r"}, {"crlf", "\r\n"}} {
			p := filepath.Join(tmp, v.name+"-"+filepath.Base(name))
			if err := os.WriteFile(p, bytes.ReplaceAll(lf, []byte("\n"), []byte(v.eol)), 0o600); err != nil {
				fatal(err)
			}
			if got := summary(p); got != want {
				diff[v.name]++
				if verbose {
					fmt.Printf("  %s %s reads differently:\n    lf:  %.300s\n    %s: %.300s\n", v.name, filepath.Base(name), want, v.name, got)
				}
			}
		}
	}
	fmt.Printf("line ends (%d messages): CR-only read differently %d, CRLF %d\n", len(files), diff["cr"], diff["crlf"])
}

// summary is what a read says, without where it came from.
func summary(name string) string {
	rep, err := triage.ReadPath(context.Background(), name, triage.Options{})
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		return "error: " + msg
	}
	var b strings.Builder
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "%s %s %s %s %s %d %s %q %s %s|", f.Mode, f.Cause, f.Provider, f.Recipient, f.Control, f.ReplyCode, f.EnhancedCode, f.Text, f.Sender, f.MessageID)
	}
	return b.String()
}
