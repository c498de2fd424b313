package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedMessages adds every n-th corpus bounce (and the test's own messages) as seeds.
func seedMessages(f *testing.F, n int) {
	files, _ := filepath.Glob("testdata/sisimai/bsd/*.eml")
	for i, name := range files {
		if i%n != 0 {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{deliveredHeaders, arfReport, vacation} {
		f.Add([]byte(s))
	}
}

// fuzzRead reads input as format and checks that what comes out is whole and clean.
func fuzzRead(t *testing.T, format Format, data []byte) {
	rep, err := Read(context.Background(), "fuzz", bytes.NewReader(data), Options{Format: format, MaxBytes: 1 << 20})
	if err != nil {
		var ie *InputError
		if msg := err.Error(); !errors.As(err, &ie) || strings.ContainsAny(msg, "\n\x1b\u009b") {
			t.Fatalf("error %q is not a one-line input error", msg)
		}
		return
	}
	out, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsRune(out, 0x1b) || bytes.ContainsRune(out, 0x9b) || bytes.Contains(out, []byte(`\u001b`)) || bytes.Contains(out, []byte(`\u009b`)) {
		t.Fatalf("escape sequence in output: %s", out)
	}
	for _, f := range rep.Findings {
		if f.Mode == "" || f.Cause == "" || f.Provider == "" || f.Route.Kind == "" {
			t.Fatalf("incomplete finding %+v", f)
		}
	}
}

func FuzzDSN(f *testing.F) {
	seedMessages(f, 5)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, FormatMessage, data) })
}

func FuzzHeaders(f *testing.F) {
	seedMessages(f, 11)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, FormatHeaders, data) })
}

func FuzzMbox(f *testing.F) {
	seedMessages(f, 13)
	f.Add([]byte("From a@b Thu Nov 19 08:00:00 2026\nSubject: x\n\nbody\n\nFrom c@d Thu Nov 19 08:00:00 2026\nFrom: MAILER-DAEMON\n\n550 5.1.1 unknown\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, FormatMbox, data) })
}

// FuzzRead detects the format itself: replies, messages, mbox and logs.
func FuzzRead(f *testing.F) {
	seedMessages(f, 17)
	for _, c := range providerCases[:10] {
		f.Add([]byte(c.text))
	}
	f.Add([]byte("Nov 22 21:17:36 mta postfix/smtp[9653]: 746BD99E19A: to=<a@example.net>, relay=x[192.0.2.9]:25, dsn=5.7.0, status=bounced (host x[192.0.2.9] said: 554 Blocked (in reply to RCPT TO command))\n"))
	f.Add([]byte("From a@b Thu Nov 19 08:00:00 2026\nSubject: x\n\nbody\n"))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzRead(t, FormatAuto, data) })
}
