package triage

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage/maillog"
)

func readLogFile(t *testing.T, path string, opt maillog.Options) LogReport {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opt.Name = path[strings.LastIndexByte(path, '/')+1:]
	rep, err := ReadLog(f, opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func kindOf(rcpt string) string {
	local, _, _ := strings.Cut(rcpt, "@")
	return strings.TrimRight(local, "0123456789")
}

// The genuine Postfix log: every deferral and bounce becomes a finding read from its
// reply; deliveries and expiries do not.
func TestLogPostfix(t *testing.T) {
	rep := readLogFile(t, "maillog/testdata/postfix-3.7.11/maillog", maillog.Options{Year: 2026, Location: time.UTC, SendingIP: "192.0.2.25"})
	if rep.Events != 90 || rep.Failures != 54 || len(rep.Findings) != 54 {
		t.Fatalf("events %d, failures %d, findings %d", rep.Events, rep.Failures, len(rep.Findings))
	}
	byKind := map[string][]Finding{}
	for _, f := range rep.Findings {
		byKind[kindOf(f.Recipient)] = append(byKind[kindOf(f.Recipient)], f)
	}
	if len(byKind["grey"]) != 36 || len(byKind["bad"]) != 6 || len(byKind["block"]) != 6 || len(byKind["quota"]) != 6 || len(byKind) != 4 {
		t.Errorf("findings by kind: %d grey, %d bad, %d block, %d quota, %d kinds", len(byKind["grey"]), len(byKind["bad"]), len(byKind["block"]), len(byKind["quota"]), len(byKind))
	}
	for _, f := range byKind["grey"] {
		if f.Mode != Deferral || f.ReplyCode != 451 || f.EnhancedCode != "4.7.1" {
			t.Errorf("grey: %+v", f)
			break
		}
	}
	for _, f := range byKind["bad"] {
		if f.Mode != HardBlock || f.Cause != InvalidRecipient || f.ReplyCode != 550 {
			t.Errorf("bad: %+v", f)
			break
		}
	}
	b := byKind["block"][0]
	want := Finding{
		Source: "maillog:41", At: time.Date(2026, 11, 22, 21, 17, 36, 0, time.UTC), SendingIP: "192.0.2.25",
		Recipient: "block1@example.net", RecipientDomain: "example.net", Receiver: "127.0.0.1",
		Sender: "sender@example.com", MessageID: "<20261122211736.009660@vm>", Mode: HardBlock, ReplyCode: 554, EnhancedCode: "5.7.1",
	}
	if b.Source != want.Source || !b.At.Equal(want.At) || b.SendingIP != want.SendingIP || b.Recipient != want.Recipient ||
		b.RecipientDomain != want.RecipientDomain || b.Receiver != want.Receiver || b.Sender != want.Sender || b.MessageID != want.MessageID ||
		b.Mode != want.Mode || b.ReplyCode != want.ReplyCode || b.EnhancedCode != want.EnhancedCode || b.Stage != "rcpt" {
		t.Errorf("block finding\n got %+v\nwant %+v", b, want)
	}
	if b.Cause != Blocklist && b.Cause != IPReputation {
		t.Errorf("block cause %q", b.Cause)
	}
	if len(rep.Progressions) != 24 || rep.Progressions[1].String() != "deferred ×6, then expired" {
		t.Errorf("progressions: %d, second %v", len(rep.Progressions), rep.Progressions[1].String())
	}
	if len(rep.Days) != 1 || rep.Days[0].Host != "192.0.2.25" || rep.Days[0].Attempts != 84 || len(rep.Breaches) != 0 {
		t.Errorf("days %+v, breaches %+v", rep.Days, rep.Breaches)
	}
	if len(rep.Inputs) != 1 || rep.Inputs[0].Format != "postfix" || rep.Inputs[0].Lines != 407 ||
		!slices.Contains(rep.Assumed, "maillog: year 2026 for syslog timestamps (as given)") {
		t.Errorf("inputs %+v, assumed %q", rep.Inputs, rep.Assumed)
	}
	// The report is the JSON the triage verb prints.
	out, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"findings":[`, `"progressions":[`, `"daily_volume":[`, `"source":"maillog:41"`, `"steps":[`} {
		if !strings.Contains(string(out), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestLogExim(t *testing.T) {
	rep := readLogFile(t, "maillog/testdata/exim-4.96/mainlog", maillog.Options{Location: time.UTC})
	if rep.Events != 14 || len(rep.Findings) != 8 {
		t.Fatalf("events %d, findings %d", rep.Events, len(rep.Findings))
	}
	modes := map[string]Mode{}
	for _, f := range rep.Findings {
		modes[kindOf(f.Recipient)] = f.Mode
	}
	if modes["grey"] != Deferral || modes["bad"] != HardBlock || modes["block"] != HardBlock || modes["quota"] != HardBlock {
		t.Errorf("modes %v", modes)
	}
}

// Several logs into one report, findings streamed instead of kept.
func TestLogReaderStream(t *testing.T) {
	lr := NewLogReader()
	n := 0
	lr.OnFinding = func(f Finding) error {
		n++
		if f.Source == "" || f.At.IsZero() {
			t.Errorf("finding without source or time: %+v", f)
		}
		return nil
	}
	for _, p := range []string{"maillog/testdata/postfix-3.7.11/maillog", "maillog/testdata/exim-4.96/mainlog"} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = lr.Read(f, maillog.Unknown, maillog.Options{Name: p, Year: 2026, Location: time.UTC})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	rep := lr.Report()
	if n != 62 || len(rep.Findings) != 0 || rep.Failures != 62 || len(rep.Inputs) != 2 || rep.Inputs[1].Format != "exim" {
		t.Errorf("streamed %d, kept %d, failures %d, inputs %+v", n, len(rep.Findings), rep.Failures, rep.Inputs)
	}
}

// ESP events: a reputation block of mail sent from the ESP's pool goes to the ESP's support;
// a complaint is a complaint.
func TestLogESP(t *testing.T) {
	in := `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"a@example.com","status":"5.7.0","diagnosticCode":"smtp; 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=54.240.8.1"}],"timestamp":"2026-11-22T10:00:00.000Z","reportingMTA":"dsn; a8-1.smtp-out.amazonses.com"},"mail":{"timestamp":"2026-11-22T09:59:59.000Z","source":"news@example.org","messageId":"0100"}}
{"event":"spamreport","email":"b@example.net","timestamp":1700000000,"sg_message_id":"x"}
`
	rep, err := ReadLog(strings.NewReader(in), maillog.Options{Name: "events.json"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 2 {
		t.Fatalf("%d findings", len(rep.Findings))
	}
	b := rep.Findings[0]
	if b.Route.Kind != "esp-support" || b.Provider != "proofpoint" || b.IP != "54.240.8.1" || b.Sender != "news@example.org" || b.Source != "events.json:1" {
		t.Errorf("SES block: %+v", b)
	}
	if c := rep.Findings[1]; c.Mode != Complaint || c.RecipientDomain != "example.net" || c.Source != "events.json:2" {
		t.Errorf("complaint: %+v", c)
	}
}

// A reply about another IP than the one the mail left from says so.
func TestLogOtherIP(t *testing.T) {
	in := "Nov 22 10:00:00 mta postfix-203.0.113.25/smtp[1]: AAAAA1: to=<a@example.com>, relay=mx0a-00069f02.pphosted.com[148.163.156.1]:25, delay=1, dsn=5.7.0, status=bounced (host mx0a-00069f02.pphosted.com[148.163.156.1] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.99 (in reply to RCPT TO command))\n"
	rep, err := ReadLog(strings.NewReader(in), maillog.Options{Name: "m", Year: 2026, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	f := rep.Findings[0]
	if f.IP != "203.0.113.99" || f.SendingIP != "203.0.113.25" || f.Receiver != "mx0a-00069f02.pphosted.com" || f.Provider != "proofpoint" ||
		!slices.Contains(f.Notes, "the reply names 203.0.113.99, not the sending IP 203.0.113.25") {
		t.Errorf("finding %+v", f)
	}
}

// Who answered is evidence: a Proofpoint host saying "user unknown" is Proofpoint's
// receiver, whether the log is Postfix's (which quotes the host) or Exim's (which logs it
// apart). The finding's text is the server's reply itself, the host its receiver, and its
// queue ID the message's in the log.
func TestLogReceiver(t *testing.T) {
	for _, c := range []struct{ in, queueID string }{
		{"Nov 22 10:00:00 mta postfix/smtp[1]: AAAAA1: to=<a@example.com>, relay=mx0a-00069f02.pphosted.com[148.163.156.1]:25, delay=1, dsn=5.1.1, status=bounced (host mx0a-00069f02.pphosted.com[148.163.156.1] said: 550 5.1.1 User Unknown (in reply to RCPT TO command))\n", "AAAAA1"},
		{"2026-11-22 10:00:00 1xVEun-0002Ff-0n ** a@example.com R=dnslookup T=remote_smtp H=mx0a-00069f02.pphosted.com [148.163.156.1]: SMTP error from remote mail server after RCPT TO:<a@example.com>: 550 5.1.1 User Unknown\n", "1xVEun-0002Ff-0n"},
	} {
		rep, err := ReadLog(strings.NewReader(c.in), maillog.Options{Name: "m", Year: 2026, Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		f := rep.Findings[0]
		if f.ReceiverProvider != "proofpoint" || f.Receiver != "mx0a-00069f02.pphosted.com" || f.Cause != InvalidRecipient || f.Stage != "rcpt" ||
			f.Text != "550 5.1.1 User Unknown" || f.QueueID != c.queueID {
			t.Errorf("%s: %+v", c.in[:20], f)
		}
	}
}

// Our own server's rejections name the client as the sending side.
func TestLogInboundReject(t *testing.T) {
	in := "2026-05-04T08:00:02Z mx1 postfix/smtpd[5]: NOQUEUE: reject: RCPT from unknown[198.51.100.3]: 554 5.7.1 Service unavailable; Client host [198.51.100.3] blocked using zen.spamhaus.org; from=<s@bad.example> to=<c@example.net> proto=ESMTP helo=<x>\n"
	rep, err := ReadLog(strings.NewReader(in), maillog.Options{Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 {
		t.Fatalf("%d findings", len(rep.Findings))
	}
	f := rep.Findings[0]
	if f.SendingIP != "198.51.100.3" || f.Receiver != "mx1" || f.IP != "198.51.100.3" || len(f.Notes) != 1 || !strings.Contains(f.Notes[0], "own server (mx1)") {
		t.Errorf("reject: %+v", f)
	}
	if len(rep.Days) != 0 {
		t.Errorf("an inbound reject is no sending volume: %+v", rep.Days)
	}
}

// A file name reaches the report sanitized, like everything from outside.
func TestLogName(t *testing.T) {
	rep, err := ReadLog(strings.NewReader("Nov 22 10:00:00 mta postfix/smtp[1]: AAAAA1: to=<a@example.com>, relay=none, delay=1, dsn=4.4.1, status=deferred (x)\n"), maillog.Options{Name: "log\x1b]0;pwned\x07", Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(rep)
	if strings.ContainsAny(string(out), "\x1b\x07") || strings.Contains(string(out), `\u001b`) || rep.Inputs[0].Name != "log␛]0;pwned␇" || rep.Findings[0].Source != "log␛]0;pwned␇:1" {
		t.Errorf("name not sanitized: %s", out)
	}
}

// repeated reads b again and again up to n bytes, so a benchmark streams a large log
// without holding it.
type repeated struct {
	b   []byte
	off int
	n   int64
}

func (r *repeated) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(int64(len(p)), r.n)], r.b[r.off:])
	r.off = (r.off + k) % len(r.b)
	r.n -= int64(k)
	return k, nil
}

// BenchmarkLogReader reads the genuine Postfix log over and over (one failure in eight
// lines, far more than a healthy log has) into findings, progressions and volumes.
func BenchmarkLogReader(b *testing.B) {
	log, err := os.ReadFile("maillog/testdata/postfix-3.7.11/maillog")
	if err != nil {
		b.Fatal(err)
	}
	const size = 32 << 20
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		lr := NewLogReader()
		n := 0
		lr.OnFinding = func(Finding) error { n++; return nil }
		if _, err := lr.Read(&repeated{b: log, n: size}, maillog.Postfix, maillog.Options{Year: 2026, Location: time.UTC}); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatal("no findings")
		}
		b.ReportMetric(float64(n), "findings/op")
	}
}

// TestLogWhatTheServerReceived: deliveries into the server's own mailboxes (local, lmtp,
// virtual) and its refusals of others' mail are listed, marked inbound, counted in no
// sending volume and in no group; what it sent is. TLS failures are tls; a connection lost
// before any reply is no reputation verdict; a complaint is a feedback loop.
func TestLogWhatTheServerReceived(t *testing.T) {
	log := `Nov 24 10:00:00 mx postfix/smtp[1]: 4F2A11C0A1: to=<a@customer.example>, relay=mx0a-1.pphosted.com[192.0.2.9]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)
Nov 24 10:00:01 mx postfix/lmtp[2]: 4F2A11C0A2: to=<me@example.com>, relay=mail.example.com[private/dovecot-lmtp], delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (250 2.0.0 Saved)
Nov 24 10:00:02 mx postfix/local[3]: 4F2A11C0A3: to=<nobody@example.com>, relay=local, delay=0, delays=0/0/0/0, dsn=5.1.1, status=bounced (unknown user: "nobody")
Nov 24 10:00:03 mx postfix/smtpd[4]: NOQUEUE: reject: RCPT from unknown[198.51.100.77]: 554 5.7.1 Service unavailable; Client host [198.51.100.77] blocked using zen.spamhaus.org; from=<x@y.example> to=<me@example.com> proto=ESMTP helo=<y>
Nov 24 10:00:04 mx postfix/smtp[5]: 4F2A11C0A4: to=<b@legacy.example>, relay=mx.legacy.example[192.0.2.30]:25, delay=5, delays=0/0/5/0, dsn=4.7.5, status=deferred (Cannot start TLS: handshake failure)
Nov 24 10:00:05 mx postfix/smtp[6]: 4F2A11C0A5: to=<c@slow.example>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.2, status=deferred (lost connection with mx.slow.example[192.0.2.31] while receiving the initial server greeting)
`
	rd := NewReader(Options{Year: 2026, Location: time.UTC})
	if err := rd.Read(context.Background(), "mail.log", strings.NewReader(log)); err != nil {
		t.Fatal(err)
	}
	rep := rd.Report()
	inbound := 0
	for _, f := range rep.Findings {
		if f.Inbound {
			inbound++
		}
		switch f.Recipient {
		case "b@legacy.example":
			if f.Cause != TLS {
				t.Errorf("TLS handshake failure: %s %s", f.Cause, f.Control)
			}
		case "c@slow.example":
			if f.Cause == IPReputation || f.Route.Kind == "recipient-admin" {
				t.Errorf("a connection lost before any reply: %s → %s", f.Cause, f.Route.Kind)
			}
		}
	}
	if inbound != 2 || rep.Inbound != 2 {
		t.Errorf("%d findings marked inbound, report counts %d: want 2 (the local bounce, the smtpd reject)", inbound, rep.Inbound)
	}
	for _, g := range rep.Groups {
		if g.Provider == "spamhaus" || g.Control == "recipient-validation" {
			t.Errorf("a group of mail the server received: %+v", g)
		}
	}
	if len(rep.Days) != 1 || rep.Days[0].Sent != 1 || rep.Days[0].Messages != 3 {
		t.Errorf("daily volume counts what was received: %+v", rep.Days)
	}
}
