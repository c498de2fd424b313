package maillog

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seedLines adds every line of a corpus file as a seed, and the whole file once.
func seedLines(f *testing.F, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f.Add(append([]byte(nil), sc.Bytes()...))
	}
}

func seedFiles(f *testing.F, glob string) {
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s", glob)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// fuzzRead reads in as format and checks what every reader promises: no panic, no raw
// control characters in any field, times in UTC, lines within the input.
func fuzzRead(t *testing.T, format Format, in []byte) {
	nl := bytes.Count(in, []byte{'\n'}) + 1
	n := 0
	res, err := ReadFormat(format, bytes.NewReader(in), Options{Name: "fuzz", Year: 2026, Location: time.UTC}, func(e Event) error {
		n++
		checkClean(t, e)
		if e.Line < 1 || e.Line > nl {
			t.Errorf("line %d outside 1..%d", e.Line, nl)
		}
		if !e.At.IsZero() && e.At.Location() != time.UTC {
			t.Errorf("time %v not UTC", e.At)
		}
		if e.Status == "" {
			t.Errorf("event without status: %+v", e)
		}
		return nil
	})
	if err != nil && (strings.ContainsAny(err.Error(), "\x1b\x00\r\n") || !strings.HasPrefix(err.Error(), "fuzz")) {
		t.Errorf("error %q names no place or holds raw controls", err)
	}
	if res.Events != n || res.Bytes > int64(len(in)) {
		t.Errorf("result %+v after %d events of %d bytes", res, n, len(in))
	}
	tl := NewTally() // aggregation must cope with whatever came out
	_, _ = ReadFormat(format, bytes.NewReader(in), Options{Year: 2026}, func(e Event) error { tl.Add(e); return nil })
	for _, p := range tl.Progressions() {
		if len(p.Steps) == 0 || p.String() == "" {
			t.Errorf("empty progression %+v", p)
		}
	}
	tl.Days()
}

func FuzzPostfix(f *testing.F) {
	seedLines(f, "testdata/postfix-3.7.11/maillog")
	f.Add([]byte("<22>1 2026-05-04T08:00:01Z out2 postfix/smtp 77 - [m a=\"\\]\"] ABCDEF123: to=<b@x>, relay=none, dsn=4.4.1, status=deferred (connect to x)"))
	f.Add([]byte("2026-05-04T08:00:02+0200 h postfix/smtpd[5]: NOQUEUE: reject: RCPT from unknown[198.51.100.3]: 554 5.7.1 <c@x>: Relay access denied; from=<s@y> to=<c@x> proto=ESMTP helo=<x>"))
	f.Add([]byte("Dec 31 23:59:59 h postfix-203.0.113.25/smtp[1]: AAAAA1: to=<a@x>, relay=mx[2001:db8::1]:25, dsn=5.7.1, status=bounced (host mx[2001:db8::1] refused to talk to me: 554 \x1b[2J)\nJan  1 00:00:00 h postfix/qmgr[2]: AAAAA1: from=<>, status=expired, returned to sender"))
	f.Fuzz(func(t *testing.T, in []byte) { fuzzRead(t, Postfix, in) })
}

func FuzzExim(f *testing.F) {
	seedLines(f, "testdata/exim-4.96/mainlog")
	f.Add([]byte("2026-03-01 10:00:01.000 +0100 [4243] 1rT0Cu-00000000ZpR-003y ** u@x <U@x> R=d T=r H=mx [148.163.156.1]:25 I=[203.0.113.25]:51234 X=TLS1.3 CV=yes: SMTP error from remote mail server after end of data: 550 5.7.0 Blocked"))
	f.Add([]byte("2026-03-01 10:00:03 H=(spammer) [192.0.2.66]:3333 F=<x@bad> rejected RCPT <info@x>: relay not permitted"))
	f.Add([]byte(`2026-03-01 10:00:03 1xVEun-0002FR-0C => a@x R=r T=t H=h [1.2.3.4] C="250 \"ok\" queued" DT=0s`))
	f.Fuzz(func(t *testing.T, in []byte) { fuzzRead(t, Exim, in) })
}

func FuzzSESJSON(f *testing.F) {
	seedFiles(f, "testdata/json/json-amazonses-*.json")
	f.Add([]byte(`{"eventType":"DeliveryDelay","mail":{"source":"s@x","messageId":"m1"},"deliveryDelay":{"timestamp":"2026-01-02T03:04:05Z","delayedRecipients":[{"emailAddress":"d@x","status":"4.4.7","diagnosticCode":"smtp; 421 4.4.7 timeout"}]}}`))
	f.Add([]byte(`{"eventType":"Reject","mail":{"destination":["a@x","b@y"]},"reject":{"reason":"Bad content"}}`))
	f.Fuzz(func(t *testing.T, in []byte) { fuzzRead(t, JSON, in) })
}

func FuzzSendGrid(f *testing.F) {
	seedFiles(f, "testdata/json/json-sendgrid-*.json")
	f.Add([]byte("{\"event\":\"processed\",\"email\":\"a@x\",\"timestamp\":1700000000}\n{\"event\":\"deferred\",\"email\":\"a@x\",\"timestamp\":1.7e9,\"response\":\"421 try later\",\"ip\":\"203.0.113.5\"}\n[{\"event\":\"dropped\",\"email\":\"c@x\",\"reason\":\"Bounced Address\"}]"))
	f.Fuzz(func(t *testing.T, in []byte) { fuzzRead(t, JSON, in) })
}
