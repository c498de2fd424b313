package maillog

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage/maillog/maillogtest"
)

func tally(evs []Event) *Tally {
	t := NewTally()
	for _, e := range evs {
		t.Add(e)
	}
	return t
}

// The genuine Postfix log: the greylisted messages were deferred six times each and then
// expired; the hard failures bounced at once; nothing else is a progression.
func TestProgressions(t *testing.T) {
	evs, _ := readFile(t, "testdata/postfix-3.7.11/maillog", Options{Year: 2026, Location: time.UTC})
	ps := tally(evs).Progressions()
	count := map[string]int{}
	for _, p := range ps {
		local, _, _ := strings.Cut(p.Recipient, "@")
		count[strings.TrimRight(local, "0123456789")+": "+p.String()]++
	}
	want := map[string]int{
		"grey: deferred ×6, then expired": 6,
		"bad: bounced":                    6,
		"block: bounced":                  6,
		"quota: bounced":                  6,
	}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("progressions\n got %v\nwant %v", count, want)
	}
	g := ps[1] // grey1, the second message of the log to fail
	if g.Recipient != "grey1@example.net" || g.QueueID != "63FAB99E197" || g.Source != "maillog:39" || g.Attempts() != 7 ||
		g.Final() != Expired || g.Steps[0].DSN != "4.7.1" || !g.Steps[0].Last.After(g.Steps[0].First) {
		t.Errorf("grey1: %+v", g)
	}
}

func TestDays(t *testing.T) {
	evs, _ := readFile(t, "testdata/postfix-3.7.11/maillog", Options{Year: 2026, Location: time.UTC})
	days := tally(evs).Days()
	// 30 messages of the six rounds and the 24 notices of failure sent back to the sender;
	// the greylisted ones tried six times each.
	want := []Day{{Host: "mta", Date: "2026-11-22", Messages: 54, Attempts: 84, Sent: 30, Deferred: 36, Bounced: 18}}
	if fmt.Sprint(days) != fmt.Sprint(want) {
		t.Errorf("days\n got %+v\nwant %+v", days, want)
	}
	// Exim names no host: the log stands for it.
	evs, _ = readFile(t, "testdata/exim-4.96/mainlog", Options{Location: time.UTC})
	days = tally(evs).Days()
	if len(days) != 1 || days[0].Host != "mainlog" || days[0].Messages != 12 || days[0].Attempts != 14 {
		t.Errorf("exim days %+v", days)
	}
}

// A day with more than twice the attempts of the day before is a warm-up breach; a day
// after a gap is not compared.
func TestWarmupBreach(t *testing.T) {
	var b strings.Builder
	perDay := []struct {
		day string
		n   int
	}{{"Nov 20", 10}, {"Nov 21", 20}, {"Nov 22", 41}, {"Nov 23", 30}, {"Nov 25", 100}}
	for _, d := range perDay {
		for i := 0; i < d.n; i++ {
			fmt.Fprintf(&b, "%s 10:%02d:00 mta postfix-203.0.113.25/smtp[1]: Q%05d: to=<u%d@example.com>, relay=mx[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 ok)\n", d.day, i%60, i, i)
		}
		fmt.Fprintf(&b, "%s 11:00:00 other postfix/smtp[1]: QQQQQ1: to=<x@example.com>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)\n", d.day)
	}
	evs, _ := readAll(t, Postfix, strings.NewReader(b.String()), Options{Name: "m", Year: 2026, Location: time.UTC})
	var got []string
	for _, d := range tally(evs).Days() {
		got = append(got, fmt.Sprintf("%s %s %d %d/%d %v", d.Host, d.Date, d.Attempts, d.Messages, d.Previous, d.Breach))
	}
	want := []string{
		"203.0.113.25 2026-11-20 10 10/0 false",
		"203.0.113.25 2026-11-21 20 20/10 false", // exactly double is allowed
		"203.0.113.25 2026-11-22 41 41/20 true",
		"203.0.113.25 2026-11-23 30 30/41 false",
		"203.0.113.25 2026-11-25 100 100/0 false", // after a gap: not compared
		"other 2026-11-20 1 1/0 false",
		"other 2026-11-21 1 0/1 false", // retries are attempts, not new volume
		"other 2026-11-22 1 0/0 false",
		"other 2026-11-23 1 0/0 false",
		"other 2026-11-25 1 0/0 false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("days\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	// A message deferred on every day became one progression.
	ps := tally(evs).Progressions()
	if len(ps) != 1 || ps[0].String() != "deferred ×5" || ps[0].Host != "other" {
		t.Errorf("progressions %+v", ps)
	}
}

func TestDayString(t *testing.T) {
	d := Day{Host: "203.0.113.25", Date: "2026-11-22", Messages: 41, Attempts: 41, Sent: 30, Deferred: 6, Bounced: 5, Breach: true, Previous: 20}
	want := "2026-11-22 203.0.113.25: 41 messages, 41 attempts (30 sent, 6 deferred, 5 bounced), more than double the 20 of the day before: warm-up breach"
	if got := d.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	d.Breach = false
	if got := d.String(); strings.Contains(got, "breach") {
		t.Errorf("no breach: %s", got)
	}
}

// With OnDone, each progression leaves the tally when it ends: the same progressions come
// out, and only the messages still deferred stay.
func TestProgressionsDone(t *testing.T) {
	evs, _ := readFile(t, "testdata/postfix-3.7.11/maillog", Options{Year: 2026, Location: time.UTC})
	kept := tally(evs).Progressions()
	tl := NewTally()
	var done []string
	tl.OnDone = func(p Progression) { done = append(done, p.QueueID+" "+p.Recipient+" "+p.String()) }
	// The last deferral of the log has no end in it: cut the log before grey1's expiry.
	cut := 0
	for i, e := range evs {
		if e.Status == Expired && cut == 0 {
			cut = i
		}
	}
	for _, e := range evs[:cut] {
		tl.Add(e)
	}
	open := tl.Progressions()
	if len(open) == 0 || len(done) == 0 || len(open)+len(done) != len(kept) || len(tl.progress) != len(open) {
		t.Fatalf("%d open, %d done, %d kept without OnDone", len(open), len(done), len(kept))
	}
	for _, p := range open {
		if p.Final() != Deferred {
			t.Errorf("open but ended: %+v", p)
		}
	}
	for _, e := range evs[cut:] {
		tl.Add(e)
	}
	var all []string
	for _, p := range kept {
		all = append(all, p.QueueID+" "+p.Recipient+" "+p.String())
	}
	slices.Sort(all)
	slices.Sort(done)
	if len(tl.Progressions()) != 0 || len(tl.byQueue) != 0 || strings.Join(done, "\n") != strings.Join(all, "\n") {
		t.Errorf("done:\n%s\nkept:\n%s", strings.Join(done, "\n"), strings.Join(all, "\n"))
	}
}

// Counting leaves the reply and relay of mail that went through unread, and nothing a
// tally counts changes: the same days and progressions, the same failures in full, and
// each delivery with the same recipient, DSN, sender and Message-ID as read in full.
func TestCounting(t *testing.T) {
	var log strings.Builder
	if _, err := io.Copy(&log, maillogtest.NewPostfix(5, 1<<20)); err != nil {
		t.Fatal(err)
	}
	// The genuine log's deliveries too, and local ones with orig_to and lmtp.
	genuine, err := os.ReadFile("testdata/postfix-3.7.11/maillog")
	if err != nil {
		t.Fatal(err)
	}
	log.Write(genuine)
	log.WriteString("Nov 22 21:17:39 mta postfix/qmgr[900]: 4A1B2C3D4E: from=<alice@example.net>, size=1200, nrcpt=1 (queue active)\n")
	log.WriteString("Nov 22 21:17:39 mta postfix/qmgr[900]: 5B2C3D4E5F: from=<alice@example.net>, size=1300, nrcpt=1 (queue active)\n")
	log.WriteString("Nov 22 21:17:40 mta postfix/local[2000]: 4A1B2C3D4E: to=<bob@example.org>, orig_to=<postmaster@example.org>, relay=local, delay=0.1, delays=0.05/0/0/0.05, dsn=2.0.0, status=sent (delivered to mailbox)\n")
	log.WriteString("Nov 22 21:17:41 mta postfix/lmtp[2001]: 5B2C3D4E5F: to=<carol@example.org>, relay=mail.example.org[private/dovecot-lmtp], conn_use=2, delay=0.2, delays=0.1/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 <carol@example.org> Saved)\n")
	type counted struct{ qid, rcpt, dsn, sender, msgID string }
	read := func(counting bool) (*Tally, []Event, []counted) {
		tl := NewTally()
		var failures []Event
		var sent []counted
		_, err := ReadPostfix(strings.NewReader(log.String()), Options{Name: "m", Year: 2026, Location: time.UTC, Counting: counting}, func(e Event) error {
			tl.Add(e)
			if e.Status == Sent {
				sent = append(sent, counted{e.QueueID, e.Recipient, e.DSN, e.Sender, e.MessageID})
			}
			switch {
			case e.Status.Failed():
				failures = append(failures, e)
			case counting && (e.Text != "" || e.Reply != "" || e.Relay != "" || e.Delay != 0):
				t.Fatalf("counted delivery kept its reply: %+v", e)
			case e.QueueID == "" || e.Recipient == "" || e.DSN == "" || e.Sender == "":
				t.Fatalf("delivery without what is counted: %+v", e)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return tl, failures, sent
	}
	full, fullFailures, fullSent := read(false)
	counting, countedFailures, countedSent := read(true)
	if len(fullFailures) == 0 || !reflect.DeepEqual(fullFailures, countedFailures) {
		t.Errorf("failures differ: %d read in full, %d counting", len(fullFailures), len(countedFailures))
	}
	if len(fullSent) == 0 || !reflect.DeepEqual(fullSent, countedSent) {
		t.Errorf("deliveries differ: %d read in full, %d counting", len(fullSent), len(countedSent))
		for i := range min(len(fullSent), len(countedSent)) {
			if fullSent[i] != countedSent[i] {
				t.Fatalf("first difference: %+v, counting %+v", fullSent[i], countedSent[i])
			}
		}
	}
	if !reflect.DeepEqual(full.Days(), counting.Days()) || !reflect.DeepEqual(full.Progressions(), counting.Progressions()) {
		t.Errorf("counting changed the tally")
	}
}

// TestQueueIDsPerHost: two hosts' queues may reuse a queue ID: each host's message is its
// own progression.
func TestQueueIDsPerHost(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ev := func(host string, min int, st Status) Event {
		return Event{At: at.Add(time.Duration(min) * time.Minute), Host: host, QueueID: "4C2B1A0F9E", Recipient: "dan@customer.example", Status: st, File: "mail.log", Format: Postfix}
	}
	tl := NewTally()
	for _, e := range []Event{ev("mx1", 0, Deferred), ev("mx2", 5, Sent), ev("mx1", 30, Bounced)} {
		tl.Add(e)
	}
	ps := tl.Progressions()
	if len(ps) != 1 || ps[0].Host != "mx1" || ps[0].String() != "deferred, then bounced" {
		t.Fatalf("progressions %+v", ps)
	}
}

// Progressions that started at the same second are listed in the order the log gave them,
// even when others ended between them: the output is the same from run to run.
func TestProgressionsInLogOrder(t *testing.T) {
	at := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	tl := NewTally()
	tl.OnDone = func(Progression) {}
	add := func(prefix string, st Status) []string {
		var ids []string
		for i := range 40 {
			id := fmt.Sprintf("%s%03d", prefix, i)
			tl.Add(Event{At: at, QueueID: id, Recipient: "a@example.com", Status: st})
			ids = append(ids, id)
		}
		return ids
	}
	add("E", Deferred)
	want := add("K", Deferred)
	add("E", Sent) // the first forty end
	want = append(want, add("L", Deferred)...)
	for range 3 {
		var got []string
		for _, p := range tl.Progressions() {
			got = append(got, p.QueueID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("progressions in the order\n%v\nwant the log's\n%v", got, want)
		}
	}
}
