package triage

import (
	"bytes"
	"context"
	bin "encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/unblock-mail/unblock/casefile/triage/maillog"
)

// progressionLines says each progression as "recipient: steps (first … last)", times UTC.
func progressionLines(ps []maillog.Progression) []string {
	var out []string
	for _, p := range ps {
		var steps []string
		for _, s := range p.Steps {
			steps = append(steps, fmt.Sprintf("%s×%d %s…%s", s.Status, s.Count, s.First.Format(time.RFC3339), s.Last.Format(time.RFC3339)))
		}
		out = append(out, p.Host+" "+p.Recipient+": "+strings.Join(steps, ", "))
	}
	return out
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// permutations lists every order of s.
func permutations(s []string) [][]string {
	if len(s) <= 1 {
		return [][]string{append([]string(nil), s...)}
	}
	var out [][]string
	for i := range s {
		rest := append(append([]string(nil), s[:i]...), s[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]string{s[i]}, p...))
		}
	}
	return out
}

// A rotated set across New Year, each older member compressed another way, given in every
// order: read oldest first, the year counted back from the newest line's (--year).
func TestRotatedSet(t *testing.T) {
	files := []string{"mail.log", "mail.log.1.zst", "mail.log.2.bz2", "mail.log.3.gz"}
	want := []string{
		"198.51.100.4 ann@example.net: deferred×2 2025-12-30T22:00:00Z…2025-12-31T23:59:30Z, bounced×1 2026-01-01T00:00:30Z…2026-01-01T00:00:30Z",
		"198.51.100.4 bob@example.org: deferred×1 2026-01-01T10:00:00Z…2026-01-01T10:00:00Z, sent×1 2026-01-02T08:00:00Z…2026-01-02T08:00:00Z",
	}
	for _, order := range permutations(files) {
		var paths []string
		for _, f := range order {
			paths = append(paths, filepath.Join("testdata/rotated", f))
		}
		var found []string
		rd := NewReader(Options{Year: 2026, Location: time.UTC, IP: "198.51.100.4", OnFinding: func(f Finding) error {
			found = append(found, f.Source+" "+f.At.Format(time.RFC3339)+" "+string(f.Mode)+" "+f.Sender)
			return nil
		}})
		if err := rd.ReadInputs(context.Background(), paths, nil); err != nil {
			t.Fatalf("%v: %v", order, err)
		}
		rep := rd.Report()
		sameLines(t, fmt.Sprint(order), progressionLines(rep.Progressions), want)
		sameLines(t, fmt.Sprint(order, " findings"), found, []string{
			"testdata/rotated/mail.log.3.gz:3 2025-12-30T22:00:00Z deferral news@example.com",
			// The sender from the arrival in the file before: the set is one queue.
			"testdata/rotated/mail.log.2.bz2:2 2025-12-31T23:59:30Z deferral news@example.com",
			"testdata/rotated/mail.log.1.zst:1 2026-01-01T00:00:30Z hard-block news@example.com",
			"testdata/rotated/mail.log.1.zst:4 2026-01-01T10:00:00Z deferral news@example.com",
		})
		var packing []string
		for _, in := range rep.Inputs {
			packing = append(packing, filepath.Base(in.Name)+" "+string(in.Format)+" "+in.Packing)
		}
		sameLines(t, fmt.Sprint(order, " inputs"), packing, []string{
			"mail.log.3.gz postfix gzip", "mail.log.2.bz2 postfix bzip2", "mail.log.1.zst postfix zstd", "mail.log postfix ",
		})
		if len(rep.Groups) != 2 || rep.Groups[0].Provider != "proofpoint" || rep.Groups[0].Count != 3 || rep.Groups[0].Mode != HardBlock {
			t.Errorf("%v: groups %+v", order, rep.Groups)
		}
	}
}

// The year of the newest line is the current one unless the clock says it is still to
// come: read on 2 January 2026 … the set is the same; only the notes say how.
func TestRotatedSetNotes(t *testing.T) {
	rd := NewReader(Options{Year: 2026, Location: time.UTC})
	err := rd.ReadInputs(context.Background(), []string{"testdata/rotated/mail.log.3.gz", "testdata/rotated/mail.log"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(rd.Report().Notes, "\n")
	for _, w := range []string{
		"mail.log.3.gz: year 2025 for syslog timestamps (counted back from 2026, the year of the newest line (as given))",
		"mail.log: year 2026 for syslog timestamps (counted back from 2026, the year of the newest line (as given))",
	} {
		if !strings.Contains(notes, w) {
			t.Errorf("notes lack %q:\n%s", w, notes)
		}
	}
}

// The content decides, not the name: a gzip file named .log, a plain file named .gz.
func TestCompressionByContent(t *testing.T) {
	dir := t.TempDir()
	plain, err := os.ReadFile("testdata/rotated/mail.log")
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(plain)
	zw.Close()
	os.WriteFile(filepath.Join(dir, "a.log"), z.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "b.gz"), plain, 0o644)
	for _, name := range []string{"a.log", "b.gz"} {
		rd := NewReader(Options{Year: 2026, Location: time.UTC})
		if err := rd.ReadInputs(context.Background(), []string{filepath.Join(dir, name)}, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if days := rd.Report().Days; len(days) != 1 || days[0].Sent != 1 {
			t.Errorf("%s: days %+v", name, days)
		}
	}
	// xz is named, not called binary; a broken gzip stream says so.
	os.WriteFile(filepath.Join(dir, "c.xz"), []byte{0xfd, '7', 'z', 'X', 'Z', 0, 0, 4, 0xe6, 0xd6}, 0o644)
	broken := append([]byte(nil), z.Bytes()[:len(z.Bytes())/2]...)
	os.WriteFile(filepath.Join(dir, "d"), broken, 0o644)
	for name, want := range map[string]string{"c.xz": "xz-compressed", "d": "unexpected EOF"} {
		rd := NewReader(Options{Year: 2026, Location: time.UTC})
		err := rd.ReadInputs(context.Background(), []string{filepath.Join(dir, name)}, nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), filepath.Join(dir, name)) {
			t.Errorf("%s: %v, want an error naming the file and %q", name, err, want)
		}
	}
}

// journalEntries are the log of one message as the journal keeps it: deferred, deferred,
// bounced, on host mta9, with a line of another program between.
var journalEntries = []struct {
	us           int64
	ident, pid   string
	message      string
	binaryInJSON bool
}{
	{1767225600000000, "postfix/qmgr", "900", "5F00AA11BB: from=<app@example.com>, size=1200, nrcpt=1 (queue active)", false},
	{1767225601250000, "postfix/smtp", "9653", "5F00AA11BB: to=<cy@example.net>, relay=mx0a-0011.pphosted.com[192.0.2.9]:25, delay=1.2, delays=0/0/1/0.2, dsn=4.7.1, status=deferred (host mx0a-0011.pphosted.com[192.0.2.9] said: 421 Deferred - see https://ipcheck.proofpoint.com/?ip=198.51.100.9 (in reply to RCPT TO command))", false},
	{1767225700000000, "systemd", "1", "Started session 4 of user root.", false},
	{1767226201500000, "postfix/smtp", "9653", "5F00AA11BB: to=<cy@example.net>, relay=mx0a-0011.pphosted.com[192.0.2.9]:25, delay=601, delays=600/0/1/0, dsn=4.7.1, status=deferred (host mx0a-0011.pphosted.com[192.0.2.9] said: 421 Deferred - see https://ipcheck.proofpoint.com/?ip=198.51.100.9 (in reply to RCPT TO command))", true},
	{1767229201000000, "postfix/smtp", "9653", "5F00AA11BB: to=<cy@example.net>, relay=mx0a-0011.pphosted.com[192.0.2.9]:25, delay=3601, delays=3600/0/1/0, dsn=5.7.0, status=bounced (host mx0a-0011.pphosted.com[192.0.2.9] said: 554 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.9 (in reply to RCPT TO command))", false},
}

func journalJSON() string {
	var b strings.Builder
	for i, e := range journalEntries {
		msg := fmt.Sprintf("%q", e.message)
		if e.binaryInJSON {
			// journalctl writes a message that is not UTF-8 as an array of its bytes.
			var nums []string
			for _, c := range []byte(e.message) {
				nums = append(nums, fmt.Sprint(c))
			}
			msg = "[" + strings.Join(nums, ",") + "]"
		}
		fmt.Fprintf(&b, `{"__CURSOR":"s=1;i=%d","__REALTIME_TIMESTAMP":"%d","__MONOTONIC_TIMESTAMP":"123","_BOOT_ID":"b","PRIORITY":"6","SYSLOG_FACILITY":"2","SYSLOG_IDENTIFIER":"%s","_PID":"%s","_HOSTNAME":"mta9","_SYSTEMD_UNIT":"postfix@-.service","MESSAGE":%s}`+"\n",
			i, e.us, e.ident, e.pid, msg)
	}
	return b.String()
}

func journalExport() []byte {
	var b bytes.Buffer
	for i, e := range journalEntries {
		fmt.Fprintf(&b, "__CURSOR=s=1;i=%d\n__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=123\n_HOSTNAME=mta9\nSYSLOG_IDENTIFIER=%s\n_PID=%s\n", i, e.us, e.ident, e.pid)
		if e.binaryInJSON {
			// A field that is not plain text: its name, a 64-bit little-endian length, the bytes.
			b.WriteString("MESSAGE\n")
			bin.Write(&b, bin.LittleEndian, uint64(len(e.message)))
			b.WriteString(e.message + "\n")
		} else {
			b.WriteString("MESSAGE=" + e.message + "\n")
		}
		b.WriteString("_SYSTEMD_UNIT=postfix@-.service\n\n")
	}
	return b.Bytes()
}

// journalctl -o json and -o export read as the Postfix log they hold, to the microsecond.
func TestJournal(t *testing.T) {
	want := []string{"198.51.100.9 cy@example.net: deferred×2 2026-01-01T00:00:01Z…2026-01-01T00:10:01Z, bounced×1 2026-01-01T01:00:01Z…2026-01-01T01:00:01Z"}
	for name, in := range map[string][]byte{"journal.json": []byte(journalJSON()), "journal.export": journalExport()} {
		var at []string
		rd := NewReader(Options{IP: "198.51.100.9", OnFinding: func(f Finding) error {
			at = append(at, f.Source+" "+f.At.Format(time.RFC3339Nano)+" "+f.Sender)
			return nil
		}})
		if err := rd.Read(context.Background(), name, bytes.NewReader(in)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rep := rd.Report()
		sameLines(t, name, progressionLines(rep.Progressions), want)
		sameLines(t, name+" findings", at, []string{
			name + ":2 2026-01-01T00:00:01.25Z app@example.com",
			name + ":4 2026-01-01T00:10:01.5Z app@example.com",
			name + ":5 2026-01-01T01:00:01Z app@example.com",
		})
		if len(rep.Inputs) != 1 || rep.Inputs[0].Format != FormatPostfix || !strings.Contains(rep.Inputs[0].Packing, "journal") {
			t.Errorf("%s: inputs %+v", name, rep.Inputs)
		}
		if len(rep.Notes) != 0 {
			t.Errorf("%s: the journal's times carry their zone and year, yet: %q", name, rep.Notes)
		}
	}
}

// Two hosts' logs merge by time: findings come in the order they happened, each with its
// own host; the progressions are each host's.
func TestMergeHosts(t *testing.T) {
	dir := t.TempDir()
	line := func(stamp, host, qid, rcpt, status, text string) string {
		return fmt.Sprintf("%s %s postfix/smtp[1]: %s: to=<%s>, relay=mx.example.net[192.0.2.30]:25, delay=1, delays=0/0/0/1, dsn=4.7.1, status=%s (host mx.example.net[192.0.2.30] said: %s (in reply to RCPT TO command))\n",
			stamp, host, qid, rcpt, status, text)
	}
	const greylist = "450 4.7.1 <x@example.net>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.net.html"
	const unknown = "550 5.1.1 <x@example.net>: Recipient address rejected: User unknown in virtual mailbox table"
	a := line("2026-03-01T10:00:00+00:00", "mx-a", "AAAA00001", "dee@example.net", "deferred", greylist) +
		line("2026-03-01T10:20:00+00:00", "mx-a", "AAAA00001", "dee@example.net", "deferred", greylist) +
		line("2026-03-01T10:40:00+00:00", "mx-a", "AAAA00001", "dee@example.net", "bounced", unknown)
	b := line("2026-03-01T09:59:00+0000", "mx-b", "BBBB00002", "eve@example.net", "deferred", greylist) +
		line("2026-03-01T10:30:00+0000", "mx-b", "BBBB00002", "eve@example.net", "bounced", unknown)
	os.WriteFile(filepath.Join(dir, "a.log"), []byte(a), 0o644)
	os.WriteFile(filepath.Join(dir, "b.log"), []byte(b), 0o644)
	var order []string
	rd := NewReader(Options{OnFinding: func(f Finding) error {
		order = append(order, filepath.Base(f.Source)+" "+f.At.Format("15:04")+" "+f.Recipient)
		return nil
	}})
	if err := rd.ReadInputs(context.Background(), []string{filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")}, nil); err != nil {
		t.Fatal(err)
	}
	sameLines(t, "merged", order, []string{
		"b.log:1 09:59 eve@example.net", "a.log:1 10:00 dee@example.net", "a.log:2 10:20 dee@example.net",
		"b.log:2 10:30 eve@example.net", "a.log:3 10:40 dee@example.net",
	})
	rep := rd.Report()
	sameLines(t, "progressions", progressionLines(rep.Progressions), []string{
		"mx-b eve@example.net: deferred×1 2026-03-01T09:59:00Z…2026-03-01T09:59:00Z, bounced×1 2026-03-01T10:30:00Z…2026-03-01T10:30:00Z",
		"mx-a dee@example.net: deferred×2 2026-03-01T10:00:00Z…2026-03-01T10:20:00Z, bounced×1 2026-03-01T10:40:00Z…2026-03-01T10:40:00Z",
	})
	var days []string
	for _, d := range rep.Days {
		days = append(days, d.String())
	}
	sameLines(t, "days", days, []string{
		"2026-03-01 mx-a: 1 message, 3 attempts (0 sent, 2 deferred, 1 bounced)",
		"2026-03-01 mx-b: 1 message, 2 attempts (0 sent, 1 deferred, 1 bounced)",
	})
}

// Following a log: lines appended after the start are read; the end of ctx ends the read
// with what was read.
func TestFollow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	plain, err := os.ReadFile("testdata/rotated/mail.log")
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := bytes.Cut(plain, []byte("\n"))
	os.WriteFile(path, append(first, '\n'), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rd := NewReader(Options{Year: 2026, Location: time.UTC, Follow: true})
	done := make(chan error, 1)
	go func() { done <- rd.ReadInputs(ctx, []string{path}, nil) }()
	time.Sleep(300 * time.Millisecond)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(rest)
	f.Close()
	// The appended delivery is read within a few polls.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		if rd.total.Load() == int64(len(plain)) {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rep := rd.Report()
	if len(rep.Days) != 1 || rep.Days[0].Sent != 1 {
		t.Errorf("followed: read %d of %d bytes, days %+v", rd.total.Load(), len(plain), rep.Days)
	}
}

// SES and SendGrid JSON is not taken for a journal export, nor a journal for them.
func TestJournalNotESP(t *testing.T) {
	for path, want := range map[string]maillog.Journal{
		"maillog/testdata/json/json-amazonses-01.json": maillog.NotJournal,
		"maillog/testdata/json/json-sendgrid-01.json":  maillog.NotJournal,
	} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := maillog.DetectJournal(b); got != want {
			t.Errorf("%s: %v", path, got)
		}
	}
	if maillog.DetectJournal([]byte(journalJSON())) != maillog.JournalJSON || maillog.DetectJournal(journalExport()) != maillog.JournalExport {
		t.Error("journal exports not told")
	}
}

// An empty member of a set is skipped with a note; alone, it is an error.
func TestEmptyMember(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "mail.err")
	os.WriteFile(empty, nil, 0o644)
	rd := NewReader(Options{Year: 2026, Location: time.UTC})
	if err := rd.ReadInputs(context.Background(), []string{"testdata/rotated/mail.log", empty}, nil); err != nil {
		t.Fatal(err)
	}
	if rep := rd.Report(); len(rep.Days) != 1 || !slices.Contains(rep.Notes, empty+": empty, skipped") {
		t.Errorf("days %+v, notes %q", rep.Days, rep.Notes)
	}
	if err := NewReader(Options{}).ReadInputs(context.Background(), []string{empty}, nil); err == nil || !strings.Contains(err.Error(), "empty input") {
		t.Errorf("alone: %v", err)
	}
}

// A file given twice, by its name or through a link, is read once, and a note says so; a
// folder is its files given one by one: a rotated set in it reads as the set.
func TestInputsReadOnce(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "link.log")
	if err := os.Symlink(mustAbs(t, "testdata/rotated/mail.log.1.zst"), link); err != nil {
		t.Fatal(err)
	}
	read := func(args ...string) *Report {
		t.Helper()
		rd := NewReader(Options{Year: 2026, Location: time.UTC, IP: "198.51.100.4"})
		if err := rd.ReadInputs(context.Background(), args, nil); err != nil {
			t.Fatal(err)
		}
		return rd.Report()
	}
	once := read("testdata/rotated/mail.log.1.zst")
	twice := read("testdata/rotated/mail.log.1.zst", "testdata/rotated/mail.log.1.zst", link)
	if len(twice.Findings) != len(once.Findings) || len(twice.Inputs) != 1 || twice.Groups[0].Count != once.Groups[0].Count {
		t.Errorf("a file given three times: %d findings, %d inputs; once: %d findings", len(twice.Findings), len(twice.Inputs), len(once.Findings))
	}
	sameLines(t, "notes", slices.DeleteFunc(twice.Notes, func(n string) bool { return !strings.Contains(n, "once") }), []string{
		"testdata/rotated/mail.log.1.zst: given twice, read once",
		link + ": the same file as testdata/rotated/mail.log.1.zst, read once",
	})

	asSet := read("testdata/rotated/mail.log", "testdata/rotated/mail.log.1.zst", "testdata/rotated/mail.log.2.bz2", "testdata/rotated/mail.log.3.gz")
	set := filepath.Join(dir, "set")
	os.Mkdir(set, 0o755)
	for _, name := range []string{"mail.log", "mail.log.1.zst", "mail.log.2.bz2", "mail.log.3.gz"} {
		b, err := os.ReadFile(filepath.Join("testdata/rotated", name))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(set, name), b, 0o644)
	}
	folder := read(set)
	sameLines(t, "a folder's progressions", progressionLines(folder.Progressions), progressionLines(asSet.Progressions))
	if len(folder.Findings) != len(asSet.Findings) || len(folder.Inputs) != len(asSet.Inputs) {
		t.Errorf("folder: %d findings, %d inputs; the set given: %d, %d", len(folder.Findings), len(folder.Inputs), len(asSet.Findings), len(asSet.Inputs))
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
