package triage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/sanitize"
)

func readString(t testing.TB, name, in string, opts Options) *Report {
	t.Helper()
	rep, err := Read(context.Background(), name, strings.NewReader(in), opts)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rep
}

const deliveredHeaders = `Return-Path: <news@mail.example.com>
Received: from mx0a-00112233.pphosted.com (mx0a-00112233.pphosted.com [192.0.2.10])
	by mail.customer.example (Postfix) with ESMTPS id 4Abc123
	for <ann@customer.example>; Fri, 20 Nov 2026 10:00:05 +0000 (UTC)
Received: from pps.filterd (m0246632.ppops.net [127.0.0.1])
	by mx0a-00112233.pphosted.com (8.17.1.19/8.17.1.19) with ESMTP id 5AK9xYz1012345;
	Fri, 20 Nov 2026 10:00:03 GMT
Received: from o1.ptr1234.sendgrid.net (o1.ptr1234.sendgrid.net [198.51.100.77])
	by mx0a-00112233.pphosted.com with ESMTP id 4xyz;
	Fri, 20 Nov 2026 10:00:01 +0000
Authentication-Results: mx0a-00112233.pphosted.com; spf=pass smtp.mailfrom=mail.example.com;
	dkim=pass header.d=example.com; dmarc=fail header.from=example.com
X-Proofpoint-Spam-Details: rule=inbound_spam policy=inbound score=97 spamscore=97
	phishscore=0 bulkscore=40 lowpriorityscore=0 adultscore=0 malwarescore=0 mlxscore=97
	classifier=spam adjust=0 reason=mlx scancount=1 engine=8.19.0-2011050000
X-Proofpoint-GUID: AbCdEfGh1234
From: News <news@example.com>
Subject: Your November statement
Message-ID: <stmt-77@example.com>
Date: Fri, 20 Nov 2026 10:00:00 +0000

Read it at https://urldefense.proofpoint.com/v2/url?u=https-3A__www.example.com_statement-3Fid-3D7&d=DwMFaQ&c=abc&r=def
or https://urldefense.com/v3/__https://www.example.com/a*20b?x=1__;JQ!!ABC!def$ today.
`

// The headers of a delivered message: the Received chain, Authentication-Results,
// Proofpoint's verdict and queue ID, and URL Defense links decoded → a filtering finding.
func TestDeliveredHeaders(t *testing.T) {
	rep := readString(t, "headers.eml", deliveredHeaders, Options{})
	if len(rep.Delivered) != 1 || len(rep.Findings) != 1 {
		t.Fatalf("delivered %d, findings %d", len(rep.Delivered), len(rep.Findings))
	}
	d, f := rep.Delivered[0], rep.Findings[0]
	if len(d.Hops) != 3 {
		t.Fatalf("hops %+v", d.Hops)
	}
	first := d.Hops[2]
	if first.IP != "198.51.100.77" || first.From != "o1.ptr1234.sendgrid.net" || first.RDNS != "o1.ptr1234.sendgrid.net" ||
		first.By != "mx0a-00112233.pphosted.com" || first.TLS || !first.At.Equal(time.Date(2026, 11, 20, 10, 0, 1, 0, time.UTC)) {
		t.Errorf("first hop %+v", first)
	}
	if !d.Hops[0].TLS || d.Hops[0].ID != "4Abc123" {
		t.Errorf("last hop %+v", d.Hops[0])
	}
	pp := d.Proofpoint
	if pp == nil || pp.Rule != "inbound_spam" || pp.Policy != "inbound" || pp.Scores["spamscore"] != "97" || pp.QueueID != "5AK9xYz1012345" || pp.GUID != "AbCdEfGh1234" {
		t.Errorf("proofpoint %+v", pp)
	}
	var dmarc string
	for _, a := range d.Auth {
		if a.Method == "dmarc" {
			dmarc = a.Result
		}
	}
	if dmarc != "fail" {
		t.Errorf("auth %+v", d.Auth)
	}
	if len(d.Links) != 2 || d.Links[0].URL != "https://www.example.com/statement?id=7" || d.Links[1].URL != "https://www.example.com/a%20b?x=1" {
		t.Errorf("links %+v", d.Links)
	}
	if f.Mode != Filtering || f.Provider != "proofpoint" || f.QueueID != "5AK9xYz1012345" || f.SendingIP != "198.51.100.77" ||
		f.Route.Kind != "proofpoint-support" || f.Cause != Authentication {
		t.Errorf("finding %+v", f)
	}
}

func TestDecodeURLDefense(t *testing.T) {
	for in, want := range map[string]string{
		"https://urldefense.proofpoint.com/v2/url?u=http-3A__example.org_a-5Fb&d=x": "http://example.org/a_b",
		"https://urldefense.com/v3/__https://example.org/x__;!!A!b$":                "https://example.org/x",
		"https://urldefense.com/v3/__https://example.org/**A*q__;JSUl!!A!b$":        "https://example.org/%%%q",
		"https://urldefense.proofpoint.com/v1/url?u=http%3A%2F%2Fexample.org%2F&k=": "http://example.org/",
	} {
		got, ok := DecodeURLDefense(in)
		if !ok || got != want {
			t.Errorf("DecodeURLDefense(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := DecodeURLDefense("https://urldefense.com/v3/__https://x/*__;!!"); ok {
		t.Error("a v3 link with missing replacement bytes decoded")
	}
}

const arfReport = `From: feedback@fbl.example.net
To: abuse@example.com
Subject: FW: Earn money
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="part"

--part
Content-Type: text/plain

This is an email abuse report for an email message received from IP 192.0.2.55.

--part
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <bounce@example.com>
Original-Rcpt-To: <user@example.net>
Arrival-Date: Thu, 19 Nov 2026 08:00:00 +0000
Source-IP: 192.0.2.55

--part--
`

const vacation = `From: Ann <ann@example.net>
To: sender@example.com
Subject: Out of office: back Monday
Auto-Submitted: auto-replied
Date: Thu, 19 Nov 2026 08:00:00 +0000

I am away until Monday.
`

func TestComplaintAndAutoReply(t *testing.T) {
	rep := readString(t, "arf.eml", arfReport, Options{})
	f := rep.Findings[0]
	if f.Mode != Complaint || f.IP != "192.0.2.55" || f.Recipient != "user@example.net" || f.Sender != "bounce@example.com" ||
		!f.At.Equal(time.Date(2026, 11, 19, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("complaint %+v", f)
	}
	rep = readString(t, "ooo.eml", vacation, Options{})
	if f := rep.Findings[0]; f.Mode != AutoReply || len(rep.Groups) != 0 {
		t.Errorf("auto-reply %+v, groups %+v", f, rep.Groups)
	}
}

// An mbox of several bounces; the same bounce twice counts once.
func TestMbox(t *testing.T) {
	one, err := os.ReadFile("testdata/sisimai/bsd/rfc3464-01.eml")
	if err != nil {
		t.Fatal(err)
	}
	two, err := os.ReadFile("testdata/sisimai/bsd/lhost-postfix-01.eml")
	if err != nil {
		t.Fatal(err)
	}
	var mbox bytes.Buffer
	for _, m := range [][]byte{one, two, two} {
		mbox.WriteString("From MAILER-DAEMON Thu Nov 19 08:00:00 2026\n")
		mbox.Write(bytes.TrimPrefix(m, []byte("From ")))
		mbox.WriteString("\n")
	}
	rep := readString(t, "bounces.mbox", mbox.String(), Options{})
	if len(rep.Inputs) != 1 || rep.Inputs[0].Format != FormatMbox || rep.Inputs[0].Messages != 3 {
		t.Fatalf("inputs %+v", rep.Inputs)
	}
	sources := map[string]bool{}
	for _, f := range rep.Findings {
		sources[f.Source] = true
	}
	if !sources["bounces.mbox msg 1"] || !sources["bounces.mbox msg 2"] || len(rep.Findings) < 2 {
		t.Errorf("findings %d from %v", len(rep.Findings), sources)
	}
}

// Replies quoted by other MTAs are read as replies; the receiver's own IP is not the
// blocked one.
func TestQuotedReplies(t *testing.T) {
	for _, c := range []replyCase{
		{name: "postfix", text: "host mx.example.net[192.0.2.1] said: 550 5.7.1 Service unavailable; client [198.51.100.9] blocked using zen.spamhaus.org (in reply to RCPT TO command)",
			provider: "spamhaus", ip: "198.51.100.9", receiver: "mx.example.net", code: 550},
		{name: "exchange", text: "Remote Server returned '550 5.7.606 Access denied, banned sending IP [198.51.100.10]. (AS16012609)'",
			provider: "microsoft", ip: "198.51.100.10", route: "microsoft-delist"},
		{name: "exim", text: "SMTP error from remote mail server after end of data:\n550 5.7.1 [CS01] Message rejected due to local policy",
			provider: "apple", cause: RecipientPolicy, code: 550},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := readString(t, "reply.txt", c.text, Options{})
			checkReply(t, rep.Findings[0], c)
		})
	}
}

// Bad input: a clear error naming the input, never a panic or a hang.
func TestBadInput(t *testing.T) {
	cases := map[string]io.Reader{
		"empty":      strings.NewReader(""),
		"blank":      strings.NewReader("\n\n  \n"),
		"binary":     bytes.NewReader(bytes.Repeat([]byte{0, 1, 2, 0xff, 0xfe}, 1000)),
		"no newline": io.LimitReader(repeatReader('a'), 3<<30), // 3 GB, one line
	}
	for name, r := range cases {
		start := time.Now()
		_, err := Read(context.Background(), name, r, Options{})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), name+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v", name, err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s: took %v", name, time.Since(start))
		}
	}
	// Too large for a message, stopped at the limit.
	big := "Subject: x\nFrom: a@b.example\n\n" + strings.Repeat("line\n", 1000)
	if _, err := Read(context.Background(), "big.eml", strings.NewReader(big), Options{MaxBytes: 1000}); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big: %v", err)
	}
	// A truncated DSN still reads (what is there) without error.
	dsn, _ := os.ReadFile("testdata/sisimai/bsd/rfc3464-01.eml")
	for _, n := range []int{10, 200, len(dsn) / 2} {
		if _, err := Read(context.Background(), "cut.eml", bytes.NewReader(dsn[:n]), Options{}); err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Errorf("truncated at %d: %v", n, err)
			}
		}
	}
	if _, err := ReadPath(context.Background(), t.TempDir(), Options{}); err == nil {
		t.Error("an empty folder read without error")
	}
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// Progress is reported in bytes read, up to the whole input.
func TestProgress(t *testing.T) {
	data, err := os.ReadFile("testdata/sisimai/bsd/rfc3464-01.eml")
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	calls := 0
	_, err = Read(context.Background(), "x.eml", bytes.NewReader(data), Options{Progress: func(n int64) {
		if n < last {
			t.Errorf("progress went back: %d after %d", n, last)
		}
		last = n
		calls++
	}})
	if err != nil || last != int64(len(data)) || calls == 0 {
		t.Errorf("progress: last %d of %d, %d calls, err %v", last, len(data), calls, err)
	}
}

// Log input is handed to the log readers, detected from its first lines.
func TestReadLogDispatch(t *testing.T) {
	log := "Nov 22 21:17:36 mta postfix/smtp[9653]: 746BD99E19A: to=<block1@example.net>, relay=mx0a-0011.pphosted.com[192.0.2.9]:25, delay=0.06, delays=0/0/0.05/0, dsn=5.7.0, status=bounced (host mx0a-0011.pphosted.com[192.0.2.9] said: 554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.4 (in reply to RCPT TO command))\n"
	rep := readString(t, "maillog", log, Options{Year: 2026, Location: time.UTC, IP: "198.51.100.4"})
	if len(rep.Inputs) != 1 || rep.Inputs[0].Format != FormatPostfix || len(rep.Findings) != 1 {
		t.Fatalf("inputs %+v findings %+v", rep.Inputs, rep.Findings)
	}
	f := rep.Findings[0]
	if f.Provider != "proofpoint" || f.IP != "198.51.100.4" || !f.At.Equal(time.Date(2026, 11, 22, 21, 17, 36, 0, time.UTC)) || len(rep.Groups) != 1 {
		t.Errorf("finding %+v", f)
	}
}

// Groups aggregate by provider, control and IP with first and last seen.
func TestGroups(t *testing.T) {
	t1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	fs := []Finding{
		{Provider: "proofpoint", Control: "dynamic-reputation", IP: "192.0.2.1", At: t1.Add(time.Hour), RecipientDomain: "b.example", Mode: HardBlock},
		{Provider: "proofpoint", Control: "dynamic-reputation", IP: "192.0.2.1", At: t1, RecipientDomain: "a.example", Mode: HardBlock},
		{Provider: "proofpoint", Control: "dynamic-reputation", IP: "192.0.2.2", At: t1, Mode: Deferral},
		{Provider: "unknown", Mode: AutoReply},
	}
	gs := GroupFindings(fs)
	if len(gs) != 2 || gs[0].Count != 2 || !gs[0].FirstSeen.Equal(t1) || !gs[0].LastSeen.Equal(t1.Add(time.Hour)) ||
		strings.Join(gs[0].RecipientDomains, ",") != "a.example,b.example" || gs[1].IP != "192.0.2.2" {
		t.Errorf("groups %+v", gs)
	}
}

// A reputation block of mail sent from an ESP's shared pool goes to the ESP's support.
func TestESPPool(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "sisimai", "bsd", "lhost-postfix-01.eml"))
	if err != nil {
		t.Fatal(err)
	}
	bounce := `From: MAILER-DAEMON@o1.ptr1.sendgrid.net
To: bounces@em.example.com
Subject: Undelivered Mail Returned to Sender
Date: Fri, 20 Nov 2026 09:15:02 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; o1.ptr1.sendgrid.net

Final-Recipient: rfc822; ann@example.net
Action: failed
Status: 5.7.0
Diagnostic-Code: smtp; 554 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.7

--B--
`
	_ = data
	rep := readString(t, "esp.eml", bounce, Options{})
	f := rep.Findings[0]
	if f.Route.Kind != "esp-support" || f.Provider != "proofpoint" || len(f.Notes) == 0 {
		t.Errorf("finding %+v", f)
	}
}

func BenchmarkReadDSN(b *testing.B) {
	data, err := os.ReadFile("testdata/sisimai/bsd/rhost-google-02.eml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Read(context.Background(), "dsn.eml", bytes.NewReader(data), Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadCorpus(b *testing.B) {
	files, _ := filepath.Glob("testdata/sisimai/bsd/*.eml")
	var all [][]byte
	var size int64
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, data)
		size += int64(len(data))
	}
	b.SetBytes(size)
	for b.Loop() {
		for _, data := range all {
			if _, err := Read(context.Background(), "x.eml", bytes.NewReader(data), Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// A group deferred and then blocked is a block, with the block's route.
func TestGroupEscalates(t *testing.T) {
	in := "421 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.80\n\n554 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.80\n"
	rep := readString(t, "replies.txt", in, Options{})
	if len(rep.Groups) != 1 {
		t.Fatalf("groups %+v", rep.Groups)
	}
	g := rep.Groups[0]
	if g.Count != 2 || g.Mode != HardBlock || g.Route.Kind != "proofpoint-ipcheck" {
		t.Errorf("group %+v, want 2 findings, a hard block routed to proofpoint-ipcheck", g)
	}
}

// TestPastedRepliesOnePerLine: replies pasted one per line are one finding each (RFC 5321
// §4.2.1: "NNN " ends a reply, "NNN-" continues it), each with its own IP and codes; a
// multi-line reply stays one.
func TestPastedRepliesOnePerLine(t *testing.T) {
	text := "421 4.7.0 [TSS04] Messages from 198.51.100.11 temporarily deferred due to user complaints\n" +
		"550-5.7.606 Access denied, banned sending IP [198.51.100.12]. To request removal\n" +
		"550 5.7.606 from this list please visit https://sender.office.com/\n" +
		"553 5.7.1 [BL21] Connections will not be accepted from 198.51.100.13, because the ip is in Spamhaus's list\n"
	rep, err := Read(context.Background(), "paste", strings.NewReader(text), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		source, ip, provider, code string
		mode                       Mode
	}{
		{"paste:1", "198.51.100.11", "yahoo", "4.7.0", Deferral},
		{"paste:2", "198.51.100.12", "microsoft", "5.7.606", HardBlock},
		{"paste:4", "198.51.100.13", "spamhaus", "5.7.1", HardBlock},
	}
	if len(rep.Findings) != len(want) {
		t.Fatalf("%d findings, want %d: %+v", len(rep.Findings), len(want), rep.Findings)
	}
	for i, w := range want {
		f := rep.Findings[i]
		if f.Source != w.source || f.IP != w.ip || f.Provider != w.provider || f.EnhancedCode != w.code || f.Mode != w.mode {
			t.Errorf("finding %d: %s %s %s %s %s, want %+v", i, f.Source, f.IP, f.Provider, f.EnhancedCode, f.Mode, w)
		}
	}
	// Prose around the reply lines keeps the paste one reply.
	rep, err = Read(context.Background(), "paste", strings.NewReader("host mx.example.net said:\n550 5.1.1 unknown user\n421 later\n"), Options{})
	if err != nil || len(rep.Findings) != 1 {
		t.Fatalf("prose and replies: %v, %d findings", err, len(rep.Findings))
	}
}

// TestPastedBounceWithCopy: a bounce's text copied from a mail client without its headers,
// followed by the message it returns: the failure is read from the text above the copy,
// never from what the copy quotes, and the copy's sender is no failed recipient.
func TestPastedBounceWithCopy(t *testing.T) {
	for name, text := range map[string]string{
		"header block": "This is the mail system at host out.example.com.\n\nYour message could not be delivered.\n\n" +
			"<ann@partner.example>: host mx.partner.example[203.0.113.7] said: 550 5.1.1\n    <ann@partner.example>: Recipient address rejected: User unknown (in reply to RCPT TO command)\n\n" +
			"Return-Path: <news@example.com>\nReceived: from app.example.com by out.example.com\nFrom: news@example.com\nTo: ann@partner.example\nSubject: our mail bounces\n\n" +
			"Our mail to your colleagues gets 554 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.120\n",
		"marker": "The following message could not be delivered.\n\n<ann@partner.example>\n    552 5.2.2 Mailbox full\n\n" +
			"----- Original message follows -----\n\nHi, we keep seeing 550 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using cmrbl (Cloudmark)\n",
	} {
		t.Run(name, func(t *testing.T) {
			rep, err := Read(context.Background(), "paste", strings.NewReader(text), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Findings) != 1 {
				t.Fatalf("%d findings: %+v", len(rep.Findings), rep.Findings)
			}
			f := rep.Findings[0]
			if f.Recipient != "ann@partner.example" || f.IP != "" || f.Provider == "proofpoint" || f.Provider == "cloudmark" ||
				(f.Cause != InvalidRecipient && f.EnhancedCode != "5.2.2") {
				t.Errorf("read from the returned copy: %s %s %s %s ip %q to %q", f.Mode, f.Cause, f.Provider, f.EnhancedCode, f.IP, f.Recipient)
			}
		})
	}
}

// TestDSNControlBytes: a control byte in a delivery-status field is made visible and the
// report still read: the diagnostic, its IP and the recipient are not lost to a stray ESC,
// DEL or NUL.
func TestDSNControlBytes(t *testing.T) {
	for _, b := range []string{"\x1b[31m", "\x7f", "\x00"} {
		eml := "From: MAILER-DAEMON@out.example.com\nTo: news@example.com\nSubject: Undelivered Mail\nMIME-Version: 1.0\n" +
			"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nThe mail system\n" +
			"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; out.example.com\n\nFinal-Recipient: rfc822; ann@customer.example\n" +
			"Action: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 554 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.96 " + b + "x\n--b--\n"
		rep, err := Read(context.Background(), "dsn.eml", strings.NewReader(eml), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Findings) != 1 {
			t.Fatalf("%q: %d findings", b, len(rep.Findings))
		}
		f := rep.Findings[0]
		if f.Cause != IPReputation || f.IP != "198.51.100.96" || f.Recipient != "ann@customer.example" || !sanitize.Clean(f.Text) {
			t.Errorf("%q: %s %s ip %q to %q text %q", b, f.Mode, f.Cause, f.IP, f.Recipient, f.Text)
		}
	}
}

// TestPastedBounceWithStatus: a bounce pasted from a mail client with its delivery-status
// fields as text (Postfix shows them inline) gives each recipient its diagnostic and the
// report's time, not one reply made of every field.
func TestPastedBounceWithStatus(t *testing.T) {
	text := "This is the mail system at host out.example.com.\n\nYour message could not be delivered.\n\n" +
		"<ap@bank.example>: host mx0b-001.pphosted.com[198.51.100.50] said: 554 Blocked - see\n    https://ipcheck.proofpoint.com/?ip=203.0.113.40 (in reply to RCPT TO command)\n\n" +
		"Reporting-MTA: dns; out.example.com\nArrival-Date: Wed,  2 Dec 2026 08:41:07 +0000 (UTC)\n\n" +
		"Final-Recipient: rfc822; ap@bank.example\nAction: failed\nStatus: 5.0.0\nRemote-MTA: dns; mx0b-001.pphosted.com\n" +
		"Diagnostic-Code: smtp; 554 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.40\n"
	rep, err := Read(context.Background(), "paste", strings.NewReader(text), Options{})
	if err != nil || len(rep.Findings) != 1 {
		t.Fatalf("%v, %d findings", err, len(rep.Findings))
	}
	f := rep.Findings[0]
	if f.Recipient != "ap@bank.example" || f.IP != "203.0.113.40" || f.Text != "554 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.40" ||
		!f.At.Equal(time.Date(2026, 12, 2, 8, 41, 7, 0, time.UTC)) {
		t.Errorf("to %q ip %q at %v text %q", f.Recipient, f.IP, f.At, f.Text)
	}
}
