package triage

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readingOf is what a read says, without the input's name: two reads of the same
// content with different line ends must give the same string.
func readingOf(rep *Report, err error) string {
	if err != nil {
		msg := err.Error()
		if _, rest, ok := strings.Cut(msg, ": "); ok {
			msg = rest
		}
		return "error: " + msg
	}
	var b strings.Builder
	for _, in := range rep.Inputs {
		fmt.Fprintf(&b, "%s %d|", in.Format, in.Messages)
	}
	for _, f := range rep.Findings {
		_, src, _ := strings.Cut(f.Source, " ")
		fmt.Fprintf(&b, "%s %s %s %s %s %s %d %s %s %q %s %s %s %v|", src, f.Mode, f.Cause, f.Provider, f.Receiver, f.Recipient,
			f.ReplyCode, f.EnhancedCode, f.Control, f.Text, f.Sender, f.MessageID, f.At, f.Notes)
	}
	return b.String()
}

func withLineEnds(lf []byte, eol string) []byte {
	return bytes.ReplaceAll(lf, []byte("\n"), []byte(eol))
}

// A message reads the same with LF, CRLF and CR-only (classic Mac) line ends: every
// bounce of the corpus.
func TestLineEndsCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/sisimai/bsd/*.eml")
	if err != nil || len(files) < 600 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	ctx := context.Background()
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lf := bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n"))
		want := readingOf(Read(ctx, "x", bytes.NewReader(lf), Options{}))
		for _, eol := range []string{"\r\n", "\r"} {
			got := readingOf(Read(ctx, "x", bytes.NewReader(withLineEnds(lf, eol)), Options{}))
			if got != want {
				t.Errorf("%s with %q line ends reads differently:\n  lf:  %.400s\n  got: %.400s", filepath.Base(name), eol, want, got)
			}
		}
	}
}

// An mbox of two plain-text bounces, a reply pasted as text and a header block, each
// with CR-only and CRLF line ends: the same formats, messages and findings as LF.
func TestLineEndsEveryFormat(t *testing.T) {
	mbox := `From MAILER-DAEMON Mon Nov 30 09:12:44 2026
From: Mail Delivery System <MAILER-DAEMON@relay.example.net>
To: ops@shop.example
Subject: Undelivered Mail Returned to Sender
Date: Mon, 30 Nov 2026 09:12:44 +0000

I could not deliver your message to the following address.

<pat@far.example>: host mx.far.example[198.51.100.23] said: 550 5.1.1
    <pat@far.example>: mailbox unknown here (in reply to RCPT TO command)

From MAILER-DAEMON Mon Nov 30 09:14:02 2026
From: Mail Delivery System <MAILER-DAEMON@relay.example.net>
To: ops@shop.example
Subject: Undelivered Mail Returned to Sender
Date: Mon, 30 Nov 2026 09:14:02 +0000

<lee@near.example>: host mx.near.example[203.0.113.40] said: 554 5.7.1
    Service unavailable; client [192.0.2.140] blocked using bl.spamcop.net
    (in reply to RCPT TO command)
`
	reply := "451-4.7.500 Server busy. Please try again later from [192.0.2.5].\n451 4.7.500 (S77719) [DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]\n"
	headers := "Received: from o1.mail.example (o1.mail.example [198.51.100.9])\n\tby mx.example.org; Mon, 30 Nov 2026 10:00:00 +0000\nAuthentication-Results: mx.example.org; spf=pass smtp.mailfrom=example.com\nSubject: hi\n\nbody\n"
	ctx := context.Background()
	for _, in := range []struct{ name, text string }{{"mbox", mbox}, {"reply", reply}, {"headers", headers}} {
		want := readingOf(Read(ctx, in.name, strings.NewReader(in.text), Options{}))
		if strings.HasPrefix(want, "error") || !strings.Contains(want, "|") {
			t.Fatalf("%s: LF copy reads as %s", in.name, want)
		}
		for _, eol := range []string{"\r\n", "\r"} {
			got := readingOf(Read(ctx, in.name, bytes.NewReader(withLineEnds([]byte(in.text), eol)), Options{}))
			if got != want {
				t.Errorf("%s with %q line ends:\n  lf:  %s\n  got: %s", in.name, eol, want, got)
			}
		}
	}
	// The CR-only mbox holds both messages, each with its recipient's finding.
	rep, err := Read(ctx, "mac.mbox", bytes.NewReader(withLineEnds([]byte(mbox), "\r")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Inputs[0].Format != FormatMbox || rep.Inputs[0].Messages != 2 || len(rep.Findings) != 2 ||
		rep.Findings[0].Cause != InvalidRecipient || rep.Findings[1].Cause != Blocklist {
		t.Errorf("CR-only mbox: inputs %+v, findings %+v", rep.Inputs, rep.Findings)
	}
}
