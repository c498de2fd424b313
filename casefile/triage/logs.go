package triage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage/maillog"
	"github.com/unblock-mail/unblock/sanitize"
)

// LogReport is what mail logs say: a finding for every failed delivery, the progression of
// every message that did not go through at the first attempt, and the daily volume of each
// sending host with the days that broke the warm-up pace.
type LogReport struct {
	Inputs       []LogInput            `json:"inputs"`
	Events       int                   `json:"events"`   // delivery attempts and outcomes read
	Failures     int                   `json:"failures"` // of them, the ones classified into findings
	Findings     []Finding             `json:"findings,omitempty"`
	Progressions []maillog.Progression `json:"progressions,omitempty"`
	Days         []maillog.Day         `json:"daily_volume,omitempty"`
	Breaches     []maillog.Day         `json:"warmup_breaches,omitempty"` // days that more than doubled the day before
	Assumed      []string              `json:"assumed,omitempty"`         // year and zone taken from options or defaults
}

// LogInput is one log read: its name, format and size, and what was assumed about it.
type LogInput struct {
	Name      string   `json:"name"`
	Format    string   `json:"format"`
	Bytes     int64    `json:"bytes"`
	Lines     int      `json:"lines"`
	Events    int      `json:"events"`
	Skipped   int      `json:"skipped,omitempty"`
	Rollovers int      `json:"year_rollovers,omitempty"`
	Assumed   []string `json:"assumed,omitempty"`
}

// LogReader reads one or more mail logs into one report. Findings go to OnFinding when it
// is set (to stream them from a large log), else into the report.
type LogReader struct {
	OnFinding func(Finding) error
	// OnProgression, when set, receives each message's progression when it ends (sent,
	// bounced or expired), and the report keeps only those still being retried.
	OnProgression func(maillog.Progression) error
	progErr       error
	report        LogReport
	tally         *maillog.Tally
	replies       map[replyKey]Finding // classification by reply text: logs repeat replies
	esps          map[string]espOf     // the ESP of each logging host
}

// replyKey is what a failure's classification depends on: the reply (with its stage, as
// quoted) and the host that gave it. The same reply from the same host classifies the
// same way, so it is classified once.
type replyKey struct{ relay, relayIP, text string }

type espOf struct {
	esp ESP
	ok  bool
}

// maxCachedReplies bounds the reply cache; logs repeat a few replies very often.
const maxCachedReplies = 4096

// NewLogReader returns a reader with an empty report.
func NewLogReader() *LogReader {
	return &LogReader{tally: maillog.NewTally(), replies: map[replyKey]Finding{}, esps: map[string]espOf{}}
}

// Read reads one log, detecting its format (or as format, when not maillog.Unknown).
// Delivered mail is counted, not classified: only failures are.
func (lr *LogReader) Read(r io.Reader, format maillog.Format, opt maillog.Options) (maillog.Result, error) {
	var (
		res maillog.Result
		err error
	)
	if format == maillog.Unknown {
		res, err = maillog.Read(r, opt, lr.Add)
	} else {
		res, err = maillog.ReadFormat(format, r, opt, lr.Add)
	}
	lr.input(opt.Name, res)
	return res, err
}

// Add takes one event: counted in the tally, and classified when it is a failure.
func (lr *LogReader) Add(e maillog.Event) error { return lr.add(&e) }

// add takes one event, as Add does, without copying it.
func (lr *LogReader) add(e *maillog.Event) error {
	lr.report.Events++
	if lr.OnProgression != nil && lr.tally.OnDone == nil {
		lr.tally.OnDone = func(p maillog.Progression) {
			if err := lr.OnProgression(p); err != nil && lr.progErr == nil {
				lr.progErr = err
			}
		}
	}
	lr.tally.AddEvent(e)
	if lr.progErr != nil {
		return lr.progErr
	}
	if !e.Status.Failed() || e.Status == maillog.Expired {
		// An expiry carries no reply of its own: the deferrals before it were classified
		// and the progression shows the end.
		return nil
	}
	lr.report.Failures++
	f := lr.finding(e)
	if lr.OnFinding != nil {
		return lr.OnFinding(f)
	}
	lr.report.Findings = append(lr.report.Findings, f)
	return nil
}

// input records what was read of one log.
func (lr *LogReader) input(name string, res maillog.Result) LogInput {
	in := LogInput{
		Name: sanitize.Line(name), Format: string(res.Format), Bytes: res.Bytes, Lines: res.Lines, Events: res.Events,
		Skipped: res.Skipped, Rollovers: res.Rollovers, Assumed: res.Assumed,
	}
	if in.Name == "" {
		in.Name = "stdin"
	}
	lr.report.Inputs = append(lr.report.Inputs, in)
	for _, a := range res.Assumed {
		lr.report.Assumed = append(lr.report.Assumed, in.Name+": "+a)
	}
	return in
}

// Report returns what the logs read so far say.
func (lr *LogReader) Report() LogReport {
	rep := lr.report
	rep.Findings = append([]Finding(nil), rep.Findings...)
	rep.Progressions = lr.tally.Progressions()
	rep.Days = lr.tally.Days()
	rep.Breaches = nil
	for _, d := range rep.Days {
		if d.Breach {
			rep.Breaches = append(rep.Breaches, d)
		}
	}
	return rep
}

// ReadLog reads one mail log, detecting its format, into a report.
func ReadLog(r io.Reader, opt maillog.Options) (LogReport, error) {
	lr := NewLogReader()
	_, err := lr.Read(r, maillog.Unknown, opt)
	return lr.Report(), err
}

// finding classifies one failed delivery's reply and fills in what the log knows.
func (lr *LogReader) finding(e *maillog.Event) Finding {
	key := replyInContext(e)
	f, ok := lr.replies[key]
	if !ok {
		text := key.text
		if key.relay != "" {
			text = "host " + key.relay + "[" + key.relayIP + "] said: " + key.text
		}
		f = ClassifyReply(text)
		if len(lr.replies) >= maxCachedReplies {
			clear(lr.replies)
		}
		lr.replies[key] = f
	}
	// The cached value's slices are shared: capped, so that appending to them copies.
	f.Notes = f.Notes[:len(f.Notes):len(f.Notes)]
	f.Route.Asks = f.Route.Asks[:len(f.Route.Asks):len(f.Route.Asks)]

	f.Source = e.Source()
	f.At = e.At
	f.SendingIP = e.SendingIP
	f.Recipient = e.Recipient
	if _, domain, ok := strings.Cut(e.Recipient, "@"); ok {
		f.RecipientDomain = strings.ToLower(domain)
	}
	f.Sender = e.Sender
	f.MessageID = e.MessageID
	if e.QueueID != "" {
		// The message in the log's queue: a case counts distinct messages by it, apart
		// from the attempts to deliver them.
		f.QueueID = e.QueueID
	}
	if e.Relay != "" && e.Relay != "none" && !strings.Contains(e.Relay, "/") && !e.Inbound {
		f.Receiver = e.Relay
	}
	if f.Stage == "" {
		f.Stage = stageOfEvent(e.Stage)
	}
	if f.EnhancedCode == "" && !strings.HasSuffix(e.DSN, ".0.0") {
		// A reply without an enhanced code gets the MTA's generic X.0.0 in the log (Postfix
		// writes 4.0.0 for a bare 421): that is not what the server said.
		f.EnhancedCode = e.DSN
	}
	// The log's status says what the reply may not: a deferral is retried, a bounce is not.
	switch {
	case e.Status == maillog.Complaint:
		// As an ARF report reads: a recipient's complaint, nothing to delist.
		// Its text ("spamreport", "abuse") is no reply to read: nothing was refused.
		f.Mode, f.Cause, f.Control, f.Provider = Complaint, Other, "feedback-loop", "unknown"
		f.Route = RouteFor("none", "")
		f.Meaning = "a recipient reported the delivered message as spam (a feedback loop)"
		f.Advice = ""
	case f.Mode == UnknownMode && e.Status == maillog.Deferred:
		f.Mode = Deferral
	case f.Mode == UnknownMode && e.Status == maillog.Bounced:
		f.Mode = HardBlock
	}
	switch {
	case e.Reply != "" && (e.Format == maillog.Postfix || e.Format == maillog.Exim):
		// The server's reply itself; who gave it is the Receiver, and the stage is Stage.
		f.Text = e.Reply
	case e.Text != "":
		f.Text = e.Text // as the log wrote it
	}
	if !e.Inbound {
		noteOtherIP(&f, e.SendingIP)
	}
	f.Inbound = e.Inbound
	if e.Inbound && e.Status != maillog.Rejected {
		f.Notes = append(f.Notes, "delivered by this server into its own mailboxes or a local service: mail it received, not mail it sent")
	}
	switch e.Status {
	case maillog.Rejected:
		server := "this log's own server"
		if e.Host != "" {
			server += " (" + e.Host + ")"
		}
		f.Notes = append(f.Notes, "rejected by "+server+" when "+orUnknown(e.RelayIP)+" tried to deliver to it")
		f.SendingIP = e.RelayIP
		f.Receiver = e.Host
	case maillog.Dropped:
		f.Notes = append(f.Notes, "dropped by the ESP before sending (its suppression list or a policy), not refused by the receiver")
	}
	// Mail sent from an ESP's pool: reputation is the ESP's to take up.
	if f.Cause == IPReputation || f.Cause == Blocklist || f.Cause == DomainReputation {
		if esp, ok := lr.esp(e); ok {
			f.Route = ESPRoute(esp)
			f.Notes = append(f.Notes, "sent from "+esp.Product+"'s pool: its support takes the case to the receiver")
		}
	}
	return f
}

// replyInContext is the key of the text to classify: the reply with the host that gave it,
// in the quoting the classifier reads ("host X[IP] said: …"), since who answered is
// evidence too (a pphosted.com host saying "user unknown" is Proofpoint's). Postfix writes
// that form itself; for the other logs it is put together from the event.
func replyInContext(e *maillog.Event) replyKey {
	switch {
	case e.Reply == "":
		return replyKey{text: e.Text}
	case e.Format == maillog.Postfix && strings.Contains(e.Text, " said: "):
		return replyKey{text: e.Text}
	case e.Relay != "" && e.Relay != "none" && !e.Inbound:
		return replyKey{relay: e.Relay, relayIP: e.RelayIP, text: e.Reply}
	}
	return replyKey{text: e.Reply}
}

// esp names the email service provider an event was sent through, when the log is the
// ESP's own (SES, SendGrid) or names an ESP host.
func (lr *LogReader) esp(e *maillog.Event) (ESP, bool) {
	switch e.Format {
	case maillog.SendGrid:
		return ESPForHost("sendgrid.net")
	case maillog.SES:
		return ESPForHost("amazonses.com")
	}
	known, ok := lr.esps[e.Host]
	if !ok {
		known.esp, known.ok = ESPForHost(e.Host)
		if len(lr.esps) < 1024 {
			lr.esps[e.Host] = known
		}
	}
	return known.esp, known.ok
}

// stageOfEvent maps the stage words logs quote ("RCPT TO", "end of DATA") to the finding's.
func stageOfEvent(s string) string {
	l := strings.ToLower(s)
	switch {
	case l == "":
		return ""
	case strings.Contains(l, "rcpt"): // "RCPT TO", Exim's "pipelined RCPT TO"
		return "rcpt"
	case strings.HasPrefix(l, "mail"), strings.Contains(l, "mail from"):
		return "mail"
	case strings.Contains(l, "data"), strings.HasPrefix(l, "end-of-message"):
		return "data"
	case strings.Contains(l, "helo"), strings.Contains(l, "ehlo"):
		return "helo"
	case strings.HasPrefix(l, "connect"), strings.Contains(l, "initial connection"), strings.Contains(l, "greeting"):
		return "connect"
	}
	return ""
}

func orUnknown(s string) string {
	if s == "" {
		return "a client"
	}
	return s
}

// Grouper aggregates findings by provider, control and IP as they come, in order of first
// appearance. Delivered mail and auto-replies are not failures and are not grouped. It
// keeps one group per key, whatever the number of findings.
type Grouper struct {
	groups  []Group
	index   map[groupKey]int
	domains []map[string]bool
}

type groupKey struct{ provider, control, ip string }

// maxGroupDomains bounds the recipient domains a group lists.
const maxGroupDomains = 1000

// Add counts one finding into its group.
func (g *Grouper) Add(f Finding) { g.add(&f) }

// add counts one finding, as Add does, without copying it.
func (g *Grouper) add(f *Finding) {
	if f.Mode == Delivered || f.Mode == AutoReply {
		return
	}
	if g.index == nil {
		g.index = map[groupKey]int{}
	}
	key := groupKey{f.Provider, f.Control, f.IP}
	i, ok := g.index[key]
	if !ok {
		i = len(g.groups)
		g.index[key] = i
		g.groups = append(g.groups, Group{Provider: f.Provider, Control: f.Control, IP: f.IP, Mode: f.Mode, Cause: f.Cause, Route: f.Route,
			Meaning: f.Meaning, Advice: f.Advice})
		g.domains = append(g.domains, map[string]bool{})
	}
	gr := &g.groups[i]
	if f.Mode == HardBlock && gr.Mode == Deferral {
		// Deferred, then blocked: the block is what the case is about, and its route
		// (a PDR delay waits, a PDR block needs the request).
		gr.Mode, gr.Cause, gr.Route = f.Mode, f.Cause, f.Route
	}
	if gr.Meaning == "" && gr.Advice == "" {
		gr.Meaning, gr.Advice = f.Meaning, f.Advice
	}
	gr.Count++
	if gr.ByMode == nil {
		gr.ByMode = map[Mode]int{}
	}
	gr.ByMode[f.Mode]++
	if !f.At.IsZero() {
		if gr.FirstSeen.IsZero() || f.At.Before(gr.FirstSeen) {
			gr.FirstSeen = f.At
		}
		if f.At.After(gr.LastSeen) {
			gr.LastSeen = f.At
		}
	}
	if d := f.RecipientDomain; d != "" && !g.domains[i][d] && len(g.domains[i]) < maxGroupDomains {
		d = strings.Clone(d) // not the line it was cut from
		g.domains[i][d] = true
		gr.RecipientDomains = append(gr.RecipientDomains, d)
	}
}

// Groups returns the groups so far, their recipient domains sorted.
func (g *Grouper) Groups() []Group {
	out := make([]Group, len(g.groups))
	for i, gr := range g.groups {
		gr.RecipientDomains = slices.Sorted(slices.Values(gr.RecipientDomains))
		gr.Route.Asks = slices.Clone(gr.Route.Asks)
		if len(gr.ByMode) < 2 {
			gr.ByMode = nil // one mode: the group's own says it
		} else {
			gr.ByMode = maps.Clone(gr.ByMode)
		}
		out[i] = gr
	}
	return out
}

// ReadInputs reads files, folders and "-" (standard input, read from stdin). The logs among
// them are read together: the files of one host's rotated set (mail.log, mail.log.1,
// mail.log.2.gz …) in the order of their content, oldest first, whatever the order given,
// and several hosts' logs merged by time. With Options.Follow, the one file given is read
// as it grows until ctx is done.
func (rd *Reader) ReadInputs(ctx context.Context, args []string, stdin io.Reader) error {
	if len(args) == 0 {
		args = []string{"-"}
	}
	if rd.opts.Follow && (len(args) != 1 || args[0] == "-") {
		return &InputError{Name: strings.Join(args, " "), Reason: "--follow reads one log file (standard input is followed by piping into it)"}
	}
	var logs []*opened
	defer func() {
		for _, in := range logs {
			in.close()
		}
	}()
	// A file given twice (a name and a link to it, a set and one of its members, "-" twice)
	// is read once.
	type taken struct {
		name string
		fi   os.FileInfo
	}
	var seen []taken
	readBefore := func(name string, fi os.FileInfo) bool {
		if fi == nil {
			return false
		}
		for _, t := range seen {
			if os.SameFile(t.fi, fi) {
				note := sanitize.Line(name) + ": given twice, read once"
				if t.name != name {
					note = sanitize.Line(name) + ": the same file as " + sanitize.Line(t.name) + ", read once"
				}
				rd.report.Notes = append(rd.report.Notes, note)
				return true
			}
		}
		seen = append(seen, taken{name, fi})
		return false
	}
	members := len(args) > 1 // of a set, where an empty one is skipped
	var take func(arg string) error
	take = func(arg string) error {
		var (
			in  *opened
			err error
		)
		switch {
		case arg == "-":
			var fi os.FileInfo
			if f, ok := stdin.(*os.File); ok {
				fi, _ = f.Stat()
			}
			if readBefore("stdin", fi) {
				return nil
			}
			in, err = rd.open(ctx, "stdin", stdin)
		default:
			st, serr := os.Stat(arg)
			switch {
			case serr != nil:
				return &InputError{Name: arg, Reason: "cannot read: " + errReason(serr)}
			case st.IsDir() && rd.opts.Follow:
				return &InputError{Name: arg, Reason: "--follow reads one log file, not a folder"}
			case st.IsDir():
				// Its files, as if each were given: messages one by one, logs as a set.
				files, err := maildirFiles(arg)
				if err != nil {
					return &InputError{Name: arg, Reason: "cannot read folder: " + errReason(err)}
				}
				if len(files) == 0 {
					return &InputError{Name: arg, Reason: "folder holds no messages"}
				}
				members = true
				for _, name := range files {
					if err := ctx.Err(); err != nil {
						return err
					}
					if err := take(name); err != nil {
						return err
					}
				}
				return nil
			case rd.opts.Follow && !st.Mode().IsRegular():
				return &InputError{Name: arg, Reason: "--follow reads a log file that grows, and this is not a regular file (standard input is followed by piping into it)"}
			}
			if readBefore(arg, st) {
				return nil
			}
			in, err = rd.openFile(ctx, arg)
		}
		var ie *InputError
		if members && errors.As(err, &ie) && ie.Reason == reasonEmpty {
			// An empty member of a set (mail.log just rotated, mail.err) is no reason to
			// stop reading the others.
			rd.report.Notes = append(rd.report.Notes, sanitize.Line(arg)+": empty, skipped")
			return nil
		}
		if err != nil {
			return err
		}
		if !in.log() {
			err = rd.readText(ctx, in)
			in.close()
			return err
		}
		logs = append(logs, in)
		return nil
	}
	for _, arg := range args {
		if err := take(arg); err != nil {
			return err
		}
	}
	if rd.opts.Follow && len(logs) != 1 {
		return &InputError{Name: args[0], Reason: "--follow reads a log, and this is not one"}
	}
	if len(logs) == 0 {
		return nil
	}
	return rd.readLogs(ctx, rd.logSets(logs))
}

// openFile opens a file (to follow it, with Options.Follow).
func (rd *Reader) openFile(ctx context.Context, path string) (*opened, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &InputError{Name: path, Reason: "cannot read: " + errReason(err)}
	}
	var r io.Reader = f
	if rd.opts.Follow {
		fl := &follower{ctx: ctx, path: path, f: f, poll: 200 * time.Millisecond, peeking: true}
		r = fl
		// Reads end when ctx is done, as at the end of a file: what was read is reported.
		ctx = context.WithoutCancel(ctx)
		in, err := rd.open(ctx, path, r) // its head: what is there now
		fl.peeking = false
		if err != nil {
			f.Close()
			return nil, err
		}
		if in.packing != "" && in.packing != "journal JSON" && in.packing != "journal export" {
			in.close()
			f.Close()
			return nil, &InputError{Name: path, Reason: "--follow reads a growing log, not a " + in.packing + " file"}
		}
		in.file = nil
		in.closers = append(in.closers, func() { fl.f.Close() })
		return in, nil
	}
	in, err := rd.open(ctx, path, r)
	if err != nil {
		f.Close()
		return nil, err
	}
	in.closers = append(in.closers, func() { f.Close() })
	return in, nil
}

// follower reads a file as it grows: at its end it waits for more, and starts over when the
// file is truncated or another file takes its name (rotation).
type follower struct {
	ctx     context.Context
	path    string
	f       *os.File
	off     int64
	poll    time.Duration
	peeking bool // the end is the end, while the head is read to tell the format
}

func (fl *follower) Read(p []byte) (int, error) {
	for {
		n, err := fl.f.Read(p)
		fl.off += int64(n)
		if n > 0 {
			return n, nil
		}
		if err != nil && err != io.EOF || fl.peeking {
			return 0, err
		}
		if st, err := os.Stat(fl.path); err == nil {
			cur, cerr := fl.f.Stat()
			switch {
			case cerr == nil && !os.SameFile(st, cur):
				if nf, err := os.Open(fl.path); err == nil {
					fl.f.Close()
					fl.f, fl.off = nf, 0
					continue
				}
			case st.Size() < fl.off:
				if _, err := fl.f.Seek(0, io.SeekStart); err == nil {
					fl.off = 0
					continue
				}
			}
		}
		select {
		case <-fl.ctx.Done():
			return 0, io.EOF
		case <-time.After(fl.poll):
		}
	}
}

// logSets puts logs into sets, one per writing host, each in the order of its content with
// the year of each file's first line: a rotated set given as mail.log.2.gz mail.log
// mail.log.1 is read from the oldest line to the newest.
func (rd *Reader) logSets(logs []*opened) [][]*opened {
	var sets [][]*opened
	index := map[string]int{}
	for _, in := range logs {
		key := "\x00" + in.name // no stamp: a set of its own
		switch {
		case in.stamped && in.format == FormatExim:
			key = "exim" // Exim lines name no host
		case in.stamped:
			key = "host " + in.first.Host
		}
		i, ok := index[key]
		if !ok {
			i = len(sets)
			index[key] = i
			sets = append(sets, nil)
		}
		sets[i] = append(sets[i], in)
	}
	for _, set := range sets {
		rd.orderSet(set)
	}
	return sets
}

// yearSeconds is the span of a syslog year in stampPos units (12 months of 31 days).
const yearSeconds = 12 * 31 * 86400

// stampPos places a stamp without its year in a year, for ordering and gaps.
func stampPos(s maillog.Stamp) int { return ((s.Month-1)*31+s.Day-1)*86400 + s.Second }

// orderSet sorts one host's logs oldest first and sets the year of each file's first line.
// Stamps with a year sort by time. Syslog stamps carry none: the files sort by month, day
// and time, and the turn of the year is the largest gap between two files' first lines
// (rotated files follow one another; a year passes only between December and January).
// The year given (--year) is the newest line's; earlier files count back across New Year.
func (rd *Reader) orderSet(set []*opened) {
	yearful := true
	for _, in := range set {
		yearful = yearful && in.stamped && in.first.Year
	}
	if yearful || len(set) == 1 && set[0].file == nil && rd.opts.Year == 0 {
		slices.SortStableFunc(set, func(a, b *opened) int { return a.first.At.Compare(b.first.At) })
		return // the years are in the lines, or nothing is known beyond the first line
	}
	for _, in := range set {
		if !in.stamped {
			return // not all have a syslog stamp: as given
		}
	}
	slices.SortStableFunc(set, func(a, b *opened) int { return stampPos(a.first) - stampPos(b.first) })
	n := len(set)
	cut, gap := n-1, stampPos(set[0].first)+yearSeconds-stampPos(set[n-1].first)
	for i := 0; i+1 < n; i++ {
		if g := stampPos(set[i+1].first) - stampPos(set[i].first); g > gap {
			cut, gap = i, g
		}
	}
	rotated := append(slices.Clone(set[cut+1:]), set[:cut+1]...)
	copy(set, rotated)
	rolls := make([]int, n)
	for i := 1; i < n; i++ {
		rolls[i] = rolls[i-1]
		if stampPos(set[i].first) < stampPos(set[i-1].first) {
			rolls[i]++
		}
	}
	newest := set[n-1]
	last, lastKnown := lastStamp(newest.file, rd.opts.Location)
	total := rolls[n-1]
	if lastKnown && stampPos(last) < stampPos(newest.first) {
		total++ // the newest file itself crosses New Year
	}
	if !lastKnown {
		last = newest.first
	}
	loc := cmp.Or(rd.opts.Location, time.Local)
	year, why := rd.opts.Year, "as given"
	if year == 0 {
		now := time.Now()
		if rd.opts.Now != nil {
			now = rd.opts.Now()
		}
		year, why = now.In(loc).Year(), "the current year"
		if last.InYear(year, loc).After(now.Add(24 * time.Hour)) {
			year--
			why = "the current year would put it in the future"
		}
	}
	for i, in := range set {
		in.year = year - (total - rolls[i])
		if in.year == year && total == 0 {
			in.yearNote = why
		} else {
			in.yearNote = fmt.Sprintf("counted back from %d, the year of the newest line (%s)", year, why)
		}
	}
}

// lastStamp reads the time of the last line of a plain file from its end.
func lastStamp(f *os.File, loc *time.Location) (maillog.Stamp, bool) {
	if f == nil {
		return maillog.Stamp{}, false
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return maillog.Stamp{}, false
	}
	off := max(0, st.Size()-64<<10)
	buf := make([]byte, st.Size()-off)
	n, _ := f.ReadAt(buf, off)
	return maillog.LastStamp(buf[:n], loc)
}

// A batch of events, or the end of one input, from a set's reader to the merge.
type logItem struct {
	events []maillog.Event
	done   *logDone
}

type logDone struct {
	in  *opened
	res maillog.Result
	err error
}

var errStopped = errors.New("stopped")

const logBatch = 256

// readLogs reads sets of logs: each set in a goroutine of its own, its files one after
// another, the events of all sets merged by time into the log reader, which classifies and
// hands each finding on as it comes.
func (rd *Reader) readLogs(ctx context.Context, sets [][]*opened) error {
	if rd.logs == nil {
		rd.logs = NewLogReader()
		rd.logs.OnFinding = rd.found
		rd.logs.OnProgression = rd.opts.OnProgression
	}
	stop := make(chan struct{})
	rd.free = make(chan []maillog.Event, 4*len(sets)+4)
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
	}()
	heads := make([]*logHead, len(sets))
	for i, set := range sets {
		ch := make(chan logItem, 4)
		heads[i] = &logHead{ch: ch, open: true}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(ch)
			rd.produce(ctx, set, ch, stop)
		}()
	}
	for _, h := range heads {
		if err := rd.fetch(h); err != nil {
			return err
		}
	}
	if len(heads) == 1 {
		h := heads[0]
		for h.open {
			for i := range h.batch {
				if err := rd.logs.add(&h.batch[i]); err != nil {
					return err
				}
			}
			rd.recycle(h.batch)
			if err := rd.fetch(h); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		var next *logHead
		for _, h := range heads {
			if len(h.batch) > 0 && (next == nil || h.batch[0].At.Before(next.batch[0].At)) {
				next = h
			}
		}
		if next == nil {
			return nil
		}
		if err := rd.logs.add(&next.batch[0]); err != nil {
			return err
		}
		next.batch = next.batch[1:]
		if len(next.batch) == 0 {
			rd.recycle(next.batch)
			if err := rd.fetch(next); err != nil {
				return err
			}
		}
	}
}

// batch returns an empty batch of events, one the merge is done with when there is one:
// events hold pointers, and fresh batches would be garbage to collect.
func (rd *Reader) batch(size int) []maillog.Event {
	select {
	case b := <-rd.free:
		if cap(b) >= size {
			return b[:0]
		}
	default:
	}
	return make([]maillog.Event, 0, size)
}

// recycle gives a batch the merge is done with back to the readers.
func (rd *Reader) recycle(b []maillog.Event) {
	select {
	case rd.free <- b[:0:cap(b)]:
	default:
	}
}

// logHead is the merge's view of one set: the events it has not yet taken.
type logHead struct {
	ch    chan logItem
	batch []maillog.Event
	open  bool
}

// fetch takes the next batch of a set, recording the inputs that end on the way.
func (rd *Reader) fetch(h *logHead) error {
	h.batch = nil
	for h.open {
		it, ok := <-h.ch
		if !ok {
			h.open = false
			return nil
		}
		if d := it.done; d != nil {
			rd.report.Inputs = append(rd.report.Inputs, Input{Name: d.in.name, Format: d.in.format, Bytes: d.res.Bytes, Packing: d.in.packing})
			rd.logs.input(d.in.name, d.res)
			if d.err != nil {
				return logError(d.in.name, d.err)
			}
			continue
		}
		h.batch = it.events
		return nil
	}
	return nil
}

// produce reads one set's logs in order, in batches of events.
func (rd *Reader) produce(ctx context.Context, set []*opened, ch chan<- logItem, stop <-chan struct{}) {
	send := func(it logItem) bool {
		select {
		case ch <- it:
			return true
		case <-stop:
			return false
		}
	}
	size := logBatch
	if rd.opts.Follow {
		size = 1 // each event as it comes
	}
	queue := maillog.NewQueue() // a set is one host's log: one queue, whatever file says what
	for _, in := range set {
		// Delivered mail is counted, not classified: the log reader needs nothing else of it.
		opt := maillog.Options{Name: in.name, Year: in.year, YearNote: in.yearNote, Location: rd.opts.Location, SendingIP: rd.opts.IP, Live: rd.opts.Follow, Counting: true, Now: rd.opts.Now, Queue: queue}
		if in.yearNote == "" {
			opt.Year = rd.opts.Year
		}
		batch := rd.batch(size)
		add := func(e maillog.Event) error {
			batch = append(batch, e)
			if len(batch) == size {
				if err := ctx.Err(); err != nil {
					return err
				}
				if !send(logItem{events: batch}) {
					return errStopped
				}
				batch = rd.batch(size)
			}
			return nil
		}
		res, err := rd.readLog(in, opt, add)
		if errors.Is(err, errStopped) {
			return
		}
		if len(batch) > 0 && !send(logItem{events: batch}) {
			return
		}
		if !send(logItem{done: &logDone{in: in, res: res, err: err}}) || err != nil {
			return
		}
	}
}

// readLog reads one log: mapped when it is a large plain file (mapLog), else from its
// reader.
func (rd *Reader) readLog(in *opened, opt maillog.Options, fn func(maillog.Event) error) (maillog.Result, error) {
	ml := rd.mapLog(in)
	if ml == nil {
		return maillog.ReadFormat(maillog.Format(in.format), in.br, opt, fn)
	}
	counted := int64(in.br.Buffered()) // peeked, so already counted as read
	opt.Progress = func(n int64) {
		ml.read(n) // its pages can go
		if n > counted {
			rd.progress(n - counted)
			counted = n
		}
	}
	res, err := maillog.ReadData(maillog.Format(in.format), ml.data(), opt, fn)
	ml.close(res.Bytes)
	return res, err
}

// logError names the input (and line) of a log reader's error.
func logError(name string, err error) error {
	var ie *InputError
	if errors.As(err, &ie) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	// The log readers name the input (and line) themselves: "name:12: reason".
	msg, where := err.Error(), name
	if rest, ok := strings.CutPrefix(msg, sanitize.Line(name)); ok && strings.HasPrefix(rest, ":") {
		if i := strings.Index(rest, ": "); i >= 0 {
			where, msg = name+rest[:i], rest[i+2:]
		}
	}
	return &InputError{Name: where, Reason: msg}
}
