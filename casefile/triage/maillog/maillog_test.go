package maillog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/unblock-mail/unblock/casefile/triage/maillog/maillogtest"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zone tests must not depend on the machine's zoneinfo
	"unicode"
)

func readAll(t testing.TB, f Format, r io.Reader, opt Options) ([]Event, Result) {
	t.Helper()
	var evs []Event
	res, err := ReadFormat(f, r, opt, func(e Event) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", opt.Name, err)
	}
	return evs, res
}

func readFile(t testing.TB, path string, opt Options) ([]Event, Result) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opt.Name = filepath.Base(path)
	var evs []Event
	res, err := Read(f, opt, func(e Event) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, res
}

func tsv(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() == "" || strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		rows = append(rows, strings.Split(sc.Text(), "\t"))
	}
	return rows[1:] // header
}

// The genuine Postfix log parses to exactly the counts of its ground truth: per kind of
// recipient (the local part without its round number) and status.
func TestPostfixGroundTruth(t *testing.T) {
	want := map[string]int{}
	for _, r := range tsv(t, "testdata/postfix-3.7.11/ground-truth.tsv") {
		n, err := strconv.Atoi(r[2])
		if err != nil {
			t.Fatal(err)
		}
		want[r[0]+" "+r[1]] = n
	}
	if len(want) != 7 {
		t.Fatalf("ground truth has %d rows, want 7", len(want))
	}
	evs, res := readFile(t, "testdata/postfix-3.7.11/maillog", Options{Year: 2026, Location: time.UTC})
	got := map[string]int{}
	for _, e := range evs {
		kind := "(qmgr)"
		if e.Recipient != "" {
			local, _, _ := strings.Cut(e.Recipient, "@")
			kind = strings.TrimRightFunc(local, unicode.IsDigit)
		}
		got[kind+" "+string(e.Status)]++
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counts\n got %v\nwant %v", got, want)
	}
	if res.Format != Postfix || res.Lines != 407 || res.Events != len(evs) || res.Skipped != 0 || res.Bytes != 53879 {
		t.Errorf("result %+v", res)
	}
}

// The genuine Exim log gives each recipient the flag of its ground truth, as often as the
// log shows it.
func TestEximGroundTruth(t *testing.T) {
	flags := map[string]Status{"=>": Sent, "**": Bounced, "==": Deferred}
	want := map[string]int{}
	for _, r := range tsv(t, "testdata/exim-4.96/ground-truth.tsv") {
		flag, times := r[2], 1
		if i := strings.Index(flag, "(x"); i >= 0 {
			times, _ = strconv.Atoi(flag[i+2 : i+3])
			flag = strings.TrimSpace(flag[:i])
		}
		want[r[0]+" "+string(flags[flag])] = times
	}
	// The table marks only grey2 as retried, but the log's -qff run (line 48) retried grey1
	// too: the log is the truth, the table's note is incomplete.
	want["grey1@example.net deferred"] = 2
	// Each of the four failures returned a DSN to the sender, delivered through the sink.
	want["sender@example.com sent"] = 4
	evs, res := readFile(t, "testdata/exim-4.96/mainlog", Options{Location: time.UTC})
	got := map[string]int{}
	for _, e := range evs {
		got[e.Recipient+" "+string(e.Status)]++
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counts\n got %v\nwant %v", got, want)
	}
	if res.Format != Exim || res.Lines != 50 || res.Skipped != 0 {
		t.Errorf("result %+v", res)
	}
}

func TestPostfixFields(t *testing.T) {
	evs, _ := readFile(t, "testdata/postfix-3.7.11/maillog", Options{Year: 2026, Location: time.UTC, SendingIP: "192.0.2.25"})
	got := evs[1]
	want := Event{
		At: time.Date(2026, 11, 22, 21, 17, 36, 0, time.UTC), File: "maillog", Line: 23, Format: Postfix,
		Host: "mta", SendingIP: "192.0.2.25", QueueID: "4E29999E197", MessageID: "<20261122211736.009652@vm>",
		Sender: "sender@example.com", Recipient: "bad1@example.net", Relay: "127.0.0.1", RelayIP: "127.0.0.1",
		Status: Bounced, DSN: "5.1.1",
		Reply: "550 5.1.1 <bad1@example.net>: Recipient address rejected: User unknown in virtual mailbox table",
		Text:  "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <bad1@example.net>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)",
		Stage: "RCPT TO", Size: 400, Delay: 70 * time.Millisecond,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("event\n got %+v\nwant %+v", got, want)
	}
	if got.Source() != "maillog:23" {
		t.Errorf("source %q", got.Source())
	}
	// The DSN Postfix sent back has the null sender.
	if evs[2].Sender != "<>" || evs[2].Recipient != "sender@example.com" {
		t.Errorf("bounce notice: %+v", evs[2])
	}
	var expired []Event
	for _, e := range evs {
		if e.Status == Expired {
			expired = append(expired, e)
		}
	}
	if len(expired) != 6 || expired[0].QueueID != "6646899E1AE" || expired[0].Sender != "sender@example.com" || expired[0].Text != "returned to sender" {
		t.Errorf("expired: %+v", expired)
	}
}

func TestEximFields(t *testing.T) {
	evs, _ := readFile(t, "testdata/exim-4.96/mainlog", Options{Location: time.UTC, Host: "mx1"})
	var deferred Event
	for _, e := range evs {
		if e.Status == Deferred {
			deferred = e
			break
		}
	}
	want := Event{
		At: time.Date(2026, 11, 22, 21, 16, 1, 0, time.UTC), File: "mainlog", Line: 15, Format: Exim, Host: "mx1",
		QueueID: "1xVEun-0002Ff-0n", Sender: "sender@example.com", Recipient: "grey1@example.net",
		Relay: "127.0.0.1", RelayIP: "127.0.0.1", Status: Deferred, DSN: "4.7.1",
		Reply: "451 4.7.1 <grey1@example.net>: Recipient address rejected: Greylisted, try again later",
		Text:  "SMTP error from remote mail server after RCPT TO:<grey1@example.net>: 451 4.7.1 <grey1@example.net>: Recipient address rejected: Greylisted, try again later",
		Stage: "RCPT TO", Size: 340,
	}
	if !reflect.DeepEqual(deferred, want) {
		t.Errorf("event\n got %+v\nwant %+v", deferred, want)
	}
	// A ** line's text stops before the trailing delivery time.
	if e := evs[1]; e.Status != Bounced || strings.Contains(e.Text, "DT=") || !strings.HasSuffix(e.Reply, "User unknown in virtual mailbox table") {
		t.Errorf("bounce: %+v", e)
	}
	if e := evs[0]; e.Reply != "250 2.0.0 Ok: queued as SINK1" || e.Status != Sent {
		t.Errorf("delivery: %+v", e)
	}
	for in, want := range map[string]time.Duration{"0s": 0, "1m13s": 73 * time.Second, "2h3m": 2*time.Hour + 3*time.Minute, "1d2h": 26 * time.Hour, "5": 0, "x": 0, "3q": 0} {
		if got := eximDuration(in); got != want {
			t.Errorf("eximDuration(%q) = %v, want %v", in, got, want)
		}
	}
	if e := evs[0]; e.Delay != 0 {
		t.Errorf("delivery: %+v", e)
	}
}

func TestEximForms(t *testing.T) {
	log := `2026-03-01 10:00:00.123 +0100 [4242] 1rT0Cu-00000000ZpR-003y <= news@example.com H=app.example.net [198.51.100.9]:41000 P=esmtps S=5120 id=abc@example.com T="hello" for u@example.org
2026-03-01 10:00:01.000 +0100 [4243] 1rT0Cu-00000000ZpR-003y ** u@example.org <U@example.org> R=dnslookup T=remote_smtp H=mx0a-00069f02.pphosted.com [148.163.156.1]:25 I=[203.0.113.25]:51234 X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes: SMTP error from remote mail server after end of data: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.25
2026-03-01 10:00:02 1rT0Cu-00000000ZpR-003y == v@example.org R=dnslookup T=remote_smtp defer (-53): retry time not reached for any host for 'example.org'
2026-03-01 10:00:03 H=(spammer) [192.0.2.66]:3333 F=<x@bad.example> rejected RCPT <info@example.com>: relay not permitted
`
	evs, _ := readAll(t, Exim, strings.NewReader(log), Options{Name: "mainlog", Location: time.UTC})
	// "retry time not reached" is Exim holding the message back by its own retry data:
	// no host was tried, so it is no attempt (Exim spec, retry configuration).
	if len(evs) != 2 {
		t.Fatalf("%d events: %+v", len(evs), evs)
	}
	b := evs[0]
	if !b.At.Equal(time.Date(2026, 3, 1, 9, 0, 1, 0, time.UTC)) || b.SendingIP != "203.0.113.25" || b.Relay != "mx0a-00069f02.pphosted.com" ||
		b.RelayIP != "148.163.156.1" || b.Stage != "end of data" || b.DSN != "5.7.0" || b.MessageID != "abc@example.com" || b.Size != 5120 ||
		b.Reply != "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.25" || b.Sender != "news@example.com" {
		t.Errorf("bounce: %+v", b)
	}
	if r := evs[1]; r.Status != Rejected || !r.Inbound || r.RelayIP != "192.0.2.66" || r.Sender != "x@bad.example" || r.Recipient != "info@example.com" || r.Text != "relay not permitted" {
		t.Errorf("reject: %+v", r)
	}
	// Rejections as Exim also writes them: addresses without brackets, a bracketed HELO.
	more := `2026-03-01 10:00:04 [77] H=([10.0.0.5]) [198.51.100.8]:4455 I=[192.0.2.10]:25 F=news@sender.example rejected RCPT rcpt@example.com: Unknown user
2026-03-01 10:00:05 H=mx.sender.example (helo.sender.example) [198.51.100.9] F=<a@sender.example> rejected MAIL <a@sender.example>: Sender verify failed
`
	evs, _ = readAll(t, Exim, strings.NewReader(more), Options{Name: "mainlog", Location: time.UTC})
	if len(evs) != 2 {
		t.Fatalf("%d rejects", len(evs))
	}
	if r := evs[0]; r.RelayIP != "198.51.100.8" || r.Relay != "" || r.Sender != "news@sender.example" || r.Recipient != "rcpt@example.com" || r.Text != "Unknown user" || r.Stage != "RCPT" {
		t.Errorf("reject without brackets: %+v", r)
	}
	if r := evs[1]; r.RelayIP != "198.51.100.9" || r.Relay != "mx.sender.example" || r.Sender != "a@sender.example" || r.Recipient != "" || r.Text != "Sender verify failed" || r.Stage != "MAIL" {
		t.Errorf("MAIL reject: %+v", r)
	}
}

func TestPostfixForms(t *testing.T) {
	log := strings.Join([]string{
		// A multi-instance setup named after its IP; rsyslog's ISO timestamps with a zone.
		`2026-05-04T10:00:00.250+02:00 out1 postfix-203.0.113.25/smtp[1]: 4BcXyZ1abcz9Qw: to=<a@example.com>, orig_to=<alias@example.com>, relay=mx1.example.com[2001:db8::25]:25, delay=1.2, delays=0/0/0.5/0.7, dsn=4.7.0, status=deferred (host mx1.example.com[2001:db8::25] refused to talk to me: 421 4.7.0 [TSS04] Messages from 203.0.113.25 temporarily deferred)`,
		// RFC 5424 with structured data.
		`<22>1 2026-05-04T08:00:01Z out2 postfix/smtp 77 - [meta sequenceId="1"] ABCDEF123: to=<b@example.org>, relay=none, delay=0.1, delays=0/0/0/0, dsn=4.4.1, status=deferred (connect to mx.example.org[192.0.2.80]:25: Connection timed out)`,
		`2026-05-04T08:00:02Z 192.0.2.7 postfix/smtpd[5]: NOQUEUE: reject: RCPT from unknown[198.51.100.3]: 554 5.7.1 <c@example.net>: Relay access denied; from=<spam@bad.example> to=<c@example.net> proto=ESMTP helo=<x>`,
		`2026-05-04T08:00:03Z 192.0.2.7 postfix/lmtp[6]: DEF456ABC: to=<d@example.net>, relay=private/dovecot-lmtp, delay=0.02, delays=0/0/0/0.01, dsn=2.0.0, status=sent (250 2.0.0 <d@example.net> Saved)`,
		`2026-05-04T08:00:04Z 192.0.2.7 dovecot[9]: lmtp(d@example.net): saved mail to INBOX`,
	}, "\n")
	evs, res := readAll(t, Postfix, strings.NewReader(log), Options{Name: "m"})
	if len(evs) != 4 || res.Lines != 5 {
		t.Fatalf("%d events, %d lines: %+v", len(evs), res.Lines, evs)
	}
	a := evs[0]
	if !a.At.Equal(time.Date(2026, 5, 4, 8, 0, 0, 250e6, time.UTC)) || a.SendingIP != "203.0.113.25" || a.Instance != "postfix-203.0.113.25" ||
		a.RelayIP != "2001:db8::25" || a.Recipient != "a@example.com" || a.Stage != "connect" || !strings.HasPrefix(a.Reply, "421 4.7.0 [TSS04]") || a.QueueID != "4BcXyZ1abcz9Qw" {
		t.Errorf("deferral: %+v", a)
	}
	if b := evs[1]; b.Host != "out2" || b.Reply != "" || b.Text != "connect to mx.example.org[192.0.2.80]:25: Connection timed out" || b.Relay != "none" {
		t.Errorf("5424: %+v", b)
	}
	c := evs[2]
	if c.Status != Rejected || !c.Inbound || c.SendingIP != "192.0.2.7" || c.RelayIP != "198.51.100.3" || c.Sender != "spam@bad.example" ||
		c.Recipient != "c@example.net" || c.Reply != "554 5.7.1 <c@example.net>: Relay access denied" || c.DSN != "5.7.1" || c.Stage != "RCPT" {
		t.Errorf("reject: %+v", c)
	}
	ehlo := "2026-05-04T08:00:02Z mx postfix/smtpd[5]: NOQUEUE: reject: EHLO from unknown[198.51.100.4]: 504 5.5.2 <pc>: Helo command rejected: need fully-qualified hostname; proto=SMTP helo=<pc>\n"
	if r, _ := readAll(t, Postfix, strings.NewReader(ehlo), Options{}); len(r) != 1 || r[0].Reply != "504 5.5.2 <pc>: Helo command rejected: need fully-qualified hostname" || r[0].Stage != "EHLO" {
		t.Errorf("EHLO reject: %+v", r)
	}
	if d := evs[3]; d.Relay != "private/dovecot-lmtp" || d.Status != Sent {
		t.Errorf("lmtp: %+v", d)
	}
	if res.Zone != "" || res.Year != 0 || len(res.Assumed) != 0 {
		t.Errorf("zoned timestamps need no assumption: %+v", res)
	}
}

// Syslog's year-less timestamps: the year advances when the month goes back.
func TestRollover(t *testing.T) {
	log := "Dec 31 23:59:58 mta postfix/smtp[1]: AAAAA1: to=<a@example.com>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)\n" +
		"Nov 30 23:59:59 mta postfix/smtp[1]: AAAAA2: to=<late@example.com>, relay=none, delay=1, dsn=4.4.1, status=deferred (one month back is disorder, not a new year)\n" +
		"Jan  1 00:00:01 mta postfix/smtp[1]: AAAAA1: to=<a@example.com>, relay=none, delay=1, dsn=5.4.1, status=bounced (y)\n"
	evs, res := readAll(t, Postfix, strings.NewReader(log), Options{Name: "m", Year: 2025, Location: time.UTC})
	want := []time.Time{
		time.Date(2025, 12, 31, 23, 59, 58, 0, time.UTC),
		time.Date(2025, 11, 30, 23, 59, 59, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC),
	}
	for i, e := range evs {
		if !e.At.Equal(want[i]) {
			t.Errorf("line %d at %v, want %v", e.Line, e.At, want[i])
		}
	}
	if res.Rollovers != 1 || res.Year != 2025 || !strings.Contains(strings.Join(res.Assumed, "|"), "year advanced to 2026 at m:3") {
		t.Errorf("result %+v", res)
	}
}

// Without a year the current one is taken, unless that would put the log in the future.
func TestDefaultYear(t *testing.T) {
	log := "Dec 30 12:00:00 mta postfix/smtp[1]: AAAAA1: to=<a@example.com>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)\n" +
		"Jan  2 12:00:00 mta postfix/smtp[1]: AAAAA1: to=<a@example.com>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)\n"
	now := func() time.Time { return time.Date(2027, 1, 5, 0, 0, 0, 0, time.UTC) }
	evs, res := readAll(t, Postfix, strings.NewReader(log), Options{Name: "m", Location: time.UTC, Now: now})
	if evs[0].At.Year() != 2026 || evs[1].At.Year() != 2027 || res.Year != 2026 || !strings.Contains(res.Assumed[0], "future") {
		t.Errorf("%v %v %+v", evs[0].At, evs[1].At, res)
	}
	now = func() time.Time { return time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC) }
	evs, res = readAll(t, Postfix, strings.NewReader(log), Options{Name: "m", Location: time.UTC, Now: now})
	if evs[0].At.Year() != 2026 || !strings.Contains(res.Assumed[0], "current year") {
		t.Errorf("%v %+v", evs[0].At, res)
	}
}

func TestZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	log := "Nov 22 10:00:00 mta postfix/smtp[1]: AAAAA1: to=<a@example.com>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)\n" +
		"Jul  4 10:00:00 mta postfix/smtp[1]: AAAAA2: to=<a@example.com>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)\n"
	evs, res := readAll(t, Postfix, strings.NewReader(log), Options{Name: "m", Year: 2026, Location: ny})
	if !evs[0].At.Equal(time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("EST: %v", evs[0].At)
	}
	// July is after November: the year advanced, and summer time applies.
	if !evs[1].At.Equal(time.Date(2027, 7, 4, 14, 0, 0, 0, time.UTC)) {
		t.Errorf("EDT: %v", evs[1].At)
	}
	if res.Zone != "America/New_York" || !strings.Contains(strings.Join(res.Assumed, "|"), "zone America/New_York for timestamps without one (as given)") {
		t.Errorf("result %+v", res)
	}
	// Exim's own zone, when logged, wins over the option.
	evs, _ = readAll(t, Exim, strings.NewReader("2026-11-22 10:00:00 -0500 1xVEun-0002Ff-0n == a@example.com R=r T=t: x\n"), Options{Location: time.UTC})
	if !evs[0].At.Equal(time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("exim zone: %v", evs[0].At)
	}
	// Without options, the local zone is assumed and named.
	_, res = readAll(t, Postfix, strings.NewReader(log), Options{Name: "m", Year: 2026})
	if !strings.HasPrefix(res.Zone, "Local (") {
		t.Errorf("local zone: %q", res.Zone)
	}
}

func TestSendingHost(t *testing.T) {
	log := "Nov 22 10:00:00 203.0.113.9 postfix/smtp[1]: AAAAA1: to=<a@example.com>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)\n" +
		"Nov 22 10:00:00 mta postfix-out/smtp[1]: AAAAA1: to=<a@example.com>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)\n"
	evs, _ := readAll(t, Postfix, strings.NewReader(log), Options{Name: "m", Year: 2026})
	if evs[0].SendingIP != "203.0.113.9" || evs[0].SendingHost() != "203.0.113.9" {
		t.Errorf("host IP: %+v", evs[0])
	}
	if evs[1].SendingIP != "" || evs[1].SendingHost() != "mta/postfix-out" {
		t.Errorf("instance: %+v", evs[1])
	}
	evs, _ = readAll(t, Postfix, strings.NewReader(log), Options{Name: "m", Year: 2026, SendingIP: "192.0.2.1"})
	if evs[1].SendingIP != "192.0.2.1" {
		t.Errorf("option: %+v", evs[1])
	}
}

func TestJSON(t *testing.T) {
	type summary struct {
		status    Status
		rcpt, dsn string
		reply     string
	}
	cases := map[string][]summary{
		"json-amazonses-01.json": {{Bounced, "bounce@simulator.amazonses.com", "5.1.1", "550 5.1.1 user unknown"}},
		"json-amazonses-02.json": {{Bounced, "bounce@simulator.amazonses.com", "5.1.1", "550 5.1.1 user unknown"}},
		"json-amazonses-03.json": {{Complaint, "complaint@simulator.amazonses.com", "", ""}},
		"json-amazonses-04.json": {{Sent, "success@simulator.amazonses.com", "2.6.0", "250 2.6.0 Message received"}},
		"json-sendgrid-02.json": {
			{Bounced, "kijitora@example.ne.jp", "", "550 Unknown user kijitora@example.ne.jp"},
			{Bounced, "kijitora@example.co.jp", "5.2.2", "550 5.2.2 <kijitora@example.co.jp>... Mailbox Full"},
		},
		"json-sendgrid-12.json": {{Bounced, "mailboxfull@example.jp", "5.2.2", "550 5.2.2 <mailboxfull@example.jp>... Mailbox Full"}},
		"json-sendgrid-13.json": {{Sent, "kijitora@example.com", "2.0.0", "250 2.0.0 OK 1504548007 y202si6984453itc.115 - gsmtp"}},
		"json-sendgrid-15.json": {{Complaint, "kijitora@example.com", "", ""}},
	}
	for file, want := range cases {
		evs, res := readFile(t, "testdata/json/"+file, Options{Location: time.UTC})
		var got []summary
		for _, e := range evs {
			got = append(got, summary{e.Status, e.Recipient, e.DSN, e.Reply})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", file, got, want)
		}
		if wantF := map[bool]Format{true: SES, false: SendGrid}[strings.Contains(file, "amazonses")]; res.Format != wantF {
			t.Errorf("%s: format %s", file, res.Format)
		}
	}
	// Every sample reads without error and yields at least one event.
	files, _ := filepath.Glob("testdata/json/*.json")
	total := 0
	for _, f := range files {
		evs, _ := readFile(t, f, Options{Location: time.UTC})
		if len(evs) == 0 {
			t.Errorf("%s: no events", f)
		}
		total += len(evs)
	}
	if len(files) != 23 || total != 26 {
		t.Errorf("%d files, %d events", len(files), total)
	}
	evs, _ := readFile(t, "testdata/json/json-amazonses-02.json", Options{})
	e := evs[0]
	if e.Host != "a27-33.smtp-out.us-west-2.amazonses.com" || e.Sender != "kijitora@neko.example.org" || !e.At.Equal(time.Date(2016, 10, 21, 6, 58, 2, 245e6, time.UTC)) ||
		e.QueueID != "01010157e6083857-2c73eed0-71f8-47d1-ab77-c4646f9d776d-000000" {
		t.Errorf("SNS-wrapped SES: %+v", e)
	}
	evs, _ = readFile(t, "testdata/json/json-sendgrid-12.json", Options{})
	if e := evs[0]; e.SendingIP != "192.0.2.22" || !e.At.Equal(time.Unix(1504555832, 0)) || e.MessageID != "<201709042010.v84KAQ5T032530@example.nyaan.jp>" {
		t.Errorf("SendGrid: %+v", e)
	}
}

// One event per line, several arrays, events this package does not count: lines are right.
func TestJSONStream(t *testing.T) {
	in := `{"event":"processed","email":"a@example.com","timestamp":1700000000}
{"event":"deferred","email":"a@example.com","timestamp":1700000100,"response":"421 4.7.0 [TSS04] try later","attempt":"1","ip":"203.0.113.5"}

[{"event":"bounce","email":"b@example.com","timestamp":1700000200,"reason":"550 5.7.1 blocked","status":"5.7.1","type":"blocked"},
 {"event":"dropped","email":"c@example.com","timestamp":1700000300,"reason":"Bounced Address"}]
{"eventType":"DeliveryDelay","mail":{"source":"s@example.com","messageId":"m1"},"deliveryDelay":{"timestamp":"2026-01-02T03:04:05Z","delayType":"TransientCommunicationFailure","delayedRecipients":[{"emailAddress":"d@example.com","status":"4.4.7","diagnosticCode":"smtp; 421 4.4.7 timeout"}]}}
`
	evs, res := readAll(t, JSON, strings.NewReader(in), Options{Name: "ev"})
	got := ""
	for _, e := range evs {
		got += fmt.Sprintf("%d %s %s|", e.Line, e.Status, e.Recipient)
	}
	want := "2 deferred a@example.com|4 bounced b@example.com|5 dropped c@example.com|6 deferred d@example.com|"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if res.Format != JSON || res.Lines != 6 || res.Events != 4 {
		t.Errorf("result %+v", res)
	}
	if evs[3].Reply != "421 4.4.7 timeout" || evs[0].SendingIP != "203.0.113.5" || evs[0].Reply != "421 4.7.0 [TSS04] try later" {
		t.Errorf("fields: %+v %+v", evs[0], evs[3])
	}
}

func TestDetect(t *testing.T) {
	for file, want := range map[string]Format{
		"testdata/postfix-3.7.11/maillog":      Postfix,
		"testdata/exim-4.96/mainlog":           Exim,
		"testdata/json/json-amazonses-02.json": JSON,
		"testdata/json/json-sendgrid-01.json":  JSON,
		"testdata/README.md":                   Unknown,
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if got := Detect(b); got != want {
			t.Errorf("%s: %q, want %q", file, got, want)
		}
	}
	own := "Nov 22 10:00:00 mta mta-out/smtp[1]: AAAAA1: to=<a@example.com>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)\n"
	if got := Detect([]byte("Nov 22 09:59:59 mta kernel: hello\n" + own)); got != Postfix {
		t.Errorf("own syslog_name: %q", got)
	}
	// In a mixed syslog, the first Postfix line may come after many others.
	mixed := strings.Repeat("Nov 22 09:59:59 mta kernel: [12345.678] eth0: link up, 1000 Mbps, full duplex\n", 400) + own
	if res, err := Read(strings.NewReader(mixed), Options{Year: 2026}, func(Event) error { return nil }); err != nil || res.Events != 1 || res.Format != Postfix {
		t.Errorf("mixed syslog: %+v %v", res, err)
	}
	if got := Detect([]byte("Nov 22 09:59:59 mta dovecot/imap[1]: login\n")); got != Unknown {
		t.Errorf("another program's log: %q", got)
	}
}

// Bad input gets a clear error naming where, never a panic or a silent success.
func TestBadInput(t *testing.T) {
	noop := func(Event) error { return nil }
	_, err := Read(strings.NewReader("\x00\x01\x02 binary"), Options{Name: "blob"}, noop)
	if !errors.Is(err, ErrNotLog) || !strings.HasPrefix(err.Error(), "blob: ") {
		t.Errorf("binary: %v", err)
	}
	long := "Nov 22 10:00:00 mta postfix/smtp[1]: x\n" + strings.Repeat("a", MaxLine+10)
	_, err = ReadFormat(Postfix, strings.NewReader(long), Options{Name: "big"}, noop)
	if !errors.Is(err, ErrNotLog) || !strings.Contains(err.Error(), "big:2: line longer than 64 KiB") {
		t.Errorf("long line: %v", err)
	}
	_, err = Read(strings.NewReader("{\"event\":\"bounce\",\n\"email\":"), Options{Name: "cut.json"}, noop)
	if err == nil || !strings.Contains(err.Error(), "cut.json:2: JSON ends in the middle") {
		t.Errorf("truncated JSON: %v", err)
	}
	_, err = Read(strings.NewReader("[{\"event\":\"bounce\"},\n{\"event\" \"x\"}]"), Options{Name: "bad.json"}, noop)
	if err == nil || !strings.Contains(err.Error(), "bad.json:2: bad JSON") {
		t.Errorf("bad JSON: %v", err)
	}
	_, err = Read(strings.NewReader("{\"a\":\""+strings.Repeat("x", MaxObject+10)+"\"}"), Options{Name: "huge.json"}, noop)
	if !errors.Is(err, ErrNotLog) || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Errorf("huge JSON: %v", err)
	}
	// A file name is shown sanitized.
	_, err = Read(strings.NewReader("x"), Options{Name: "evil\x1b[2J"}, noop)
	if err == nil || err.Error() != "evil␛[2J: "+ErrNotLog.Error() {
		t.Errorf("file name: %v", err)
	}
	// An error from the caller stops reading and comes back as is.
	stop := errors.New("stop")
	_, err = ReadFormat(Postfix, strings.NewReader(strings.Repeat("Nov 22 10:00:00 mta postfix/smtp[1]: AAAAA1: to=<a@x>, relay=none, dsn=4.4.1, status=deferred (x)\n", 3)), Options{}, func(Event) error { return stop })
	if err != stop {
		t.Errorf("caller's error: %v", err)
	}
}

func TestProgress(t *testing.T) {
	gen := maillogtest.NewPostfix(7, 1<<20)
	var last, calls int64
	evs, res := readAll(t, Postfix, gen, Options{Name: "gen", Year: 2026, Progress: func(n int64) {
		if n < last {
			t.Errorf("progress went back: %d after %d", n, last)
		}
		last = n
		calls++
	}})
	if last != res.Bytes || res.Bytes < 1<<20 || calls < 2 {
		t.Errorf("progress ended at %d of %d after %d calls", last, res.Bytes, calls)
	}
	want := gen.Events()
	if len(evs) != want || res.Lines != gen.Lines || res.Skipped != 0 {
		t.Errorf("generated %d events in %d lines, read %d in %d", want, gen.Lines, len(evs), res.Lines)
	}
}

// Escape sequences in a log reach no field raw.
func TestEscapes(t *testing.T) {
	log := "Nov 22 10:00:00 mta\x1b[2J postfix/smtp[1]: AAAAA1: to=<a\x1b]52;c;aGk=\x07@example.com>, relay=mx\u009b[1m[192.0.2.1]:25, delay=1, dsn=5.7.1, status=bounced (host mx[192.0.2.1] said: 550 5.7.1 \x1b[31mred\u202e (in reply to RCPT TO command))\n"
	evs, _ := readAll(t, Postfix, strings.NewReader(log), Options{Name: "m", Year: 2026})
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	checkClean(t, evs[0])
	if evs[0].Reply != "550 5.7.1 ␛[31mred<U+202E>" {
		t.Errorf("reply %q", evs[0].Reply)
	}
	evs, _ = readAll(t, JSON, strings.NewReader(`{"event":"bounce","email":"a@x","reason":"550 \u001b[31m bad\u0007"}`), Options{})
	checkClean(t, evs[0])
}

// checkClean fails if a string field of e holds a control character or escape.
func checkClean(t testing.TB, e Event) {
	t.Helper()
	v := reflect.ValueOf(e)
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() != reflect.String {
			continue
		}
		for _, r := range f.String() {
			if r < 0x20 || r == 0x7f || r >= 0x80 && r <= 0x9f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 {
				t.Errorf("%s holds %U raw: %q", v.Type().Field(i).Name, r, f.String())
				break
			}
		}
	}
}

// plain agrees with the byte-by-byte rule (printable ASCII) at every position and width.
func TestPlainBytes(t *testing.T) {
	for _, c := range []byte{0, 0x09, 0x1f, 0x20, 0x41, 0x7e, 0x7f, 0x80, 0xc3, 0xff} {
		for n := 1; n <= 20; n++ {
			for at := 0; at < n; at++ {
				b := bytes.Repeat([]byte("a"), n)
				b[at] = c
				want := c >= 0x20 && c < 0x7f
				if got := plain(b); got != want {
					t.Fatalf("plain(%q) = %v", b, got)
				}
			}
		}
	}
}

// Fields split at ", " outside angle brackets, however the brackets fall.
func TestNextField(t *testing.T) {
	for _, c := range []struct{ in, field, rest string }{
		{"to=<a, b@example.com>, relay=x", "to=<a, b@example.com>", "relay=x"},
		{"a=1, b=2", "a=1", "b=2"},
		{"a=1,b=2, c=3", "a=1,b=2", "c=3"},
		{"to=<a, b", "to=<a, b", ""},
		{"x>y, z", "x>y", "z"},
		{"a=<x><y, z>, b", "a=<x><y, z>", "b"},
		{"last", "last", ""},
		{"end,", "end,", ""},
	} {
		f, rest := nextField(c.in)
		if f != c.field || rest != c.rest {
			t.Errorf("nextField(%q) = %q, %q; want %q, %q", c.in, f, rest, c.field, c.rest)
		}
	}
}

// TestShortPrecise: journalctl -o short-precise stamps ("Nov 23 10:15:03.500123") read
// like short ones, with their fraction of a second.
func TestShortPrecise(t *testing.T) {
	log := "Nov 23 10:15:03.500123 mx3 postfix/smtp[1234]: 1111DDDD1111: to=<ops@customer.example>, relay=mx0a-1.pphosted.com[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=5.7.0, status=bounced (host mx0a-1.pphosted.com[192.0.2.9] said: 554 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.45 (in reply to RCPT TO command))\n" +
		"Nov 23 10:20:00.000001 mx3 postfix/smtp[1235]: 2222EEEE2222: to=<a@yahoo.com>, relay=mta5.am0.yahoodns.net[192.0.2.8]:25, delay=1, delays=0/0/0/1, dsn=4.7.0, status=deferred (host mta5.am0.yahoodns.net[192.0.2.8] said: 421 4.7.0 [TSS04] Messages from 203.0.113.45 temporarily deferred (in reply to MAIL FROM command))\n"
	if f := Detect([]byte(log)); f != Postfix {
		t.Fatalf("detected as %q", f)
	}
	evs, _ := readAll(t, Postfix, strings.NewReader(log), Options{Year: 2026, Location: time.UTC})
	if len(evs) != 2 || !evs[0].At.Equal(time.Date(2026, 11, 23, 10, 15, 3, 500123000, time.UTC)) || !evs[1].At.Equal(time.Date(2026, 11, 23, 10, 20, 0, 1000, time.UTC)) {
		t.Fatalf("%d events: %+v", len(evs), evs)
	}
}

// TestEximMultilineReply: a multi-line reply Exim logged with literal \n separators is one
// line of text, the separators gone.
func TestEximMultilineReply(t *testing.T) {
	log := `2026-11-23 10:00:00 1tAbCd-000123-Xy ** a@gmail.com R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [192.0.2.7]: SMTP error from remote mail server after end of data: 550-5.7.26 This mail is unauthenticated.\n550-5.7.26 To protect our users\n550 5.7.26 from spam - gsmtp` + "\n"
	evs, _ := readAll(t, Exim, strings.NewReader(log), Options{Location: time.UTC})
	if len(evs) != 1 || strings.Contains(evs[0].Text, `\n`) || !strings.HasPrefix(evs[0].Reply, "550-5.7.26 This mail is unauthenticated. 550-5.7.26 To protect") {
		t.Fatalf("%+v", evs)
	}
}
