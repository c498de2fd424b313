package message

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks"
)

var testNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

func byID(rs []checks.Result) map[string]checks.Result {
	out := map[string]checks.Result{}
	for _, r := range rs {
		out[r.ID] = r
	}
	return out
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestEscapeSequencesNeverReachOutput(t *testing.T) {
	msg := "Received: from evil\x1b]0;pwned\x07.example (evil.example [198.51.100.7]) by mx.recipient.test with ESMTP id X\x1b[2J; Sun, 22 Nov 2026 11:58:00 +0000\r\n" +
		"From: \"\x1b[31mCEO\x1b[0m \xc2\x9b6n ceo@bank.example\" <attacker@evil.example>\r\n" +
		"To: victim@recipient.test\r\n" +
		"Subject: =?UTF-8?B?" + "G1sxbVVSR0VOVBtbMG0=" + "?= \x1b[5mpay now\r\n" +
		"Date: Sun, 22 Nov 2026 11:57:00 +0000\r\n" +
		"Message-ID: <\x1b[8m@evil.example>\r\n" +
		"Reply-To: boss\x1b@gmail.com\r\n" +
		"X-Proofpoint-Spam-Details: rule=spam\x1b[1m policy=default score=99 spamscore=99\r\n" +
		"X-Spam-Status: Yes, score=9.0 required=5.0 tests=\x1b[1mBAYES_99\r\n" +
		"List-Unsubscribe: <https://evil.example/u\x1b[0m>\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n" +
		"\r\n" +
		"<a href=\"https://evil.example/\x1b[31m\">https://bank.example/\x1b[0m</a>\r\n"
	rs := Test([]byte(msg), Options{Now: testNow})
	out, err := json.Marshal(rs)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"\x1b", `\u001b`, "\x07", `\u0007`, "\u009b", `\u009b`} {
		if bytes.Contains(out, []byte(bad)) {
			t.Errorf("output carries %q", bad)
		}
	}
	for _, r := range rs {
		if strings.ContainsAny(r.Summary+r.Fix, "\x1b\x07\u009b") {
			t.Errorf("%s summary carries a control: %q", r.ID, r.Summary)
		}
	}
	// The escapes are shown, not dropped: a support engineer sees they were there.
	got := byID(rs)
	if s := got["message/proofpoint-spam-details"].Summary; !strings.Contains(s, "␛") {
		t.Errorf("escape not made visible: %q", s)
	}
	if r := got["message/link-mismatch"]; r.Status != checks.Fail {
		t.Errorf("link-mismatch = %s %q", r.Status, r.Summary)
	}
	if r := got["message/from"]; r.Status != checks.Fail || !strings.Contains(r.Summary, "␛[31mCEO") {
		t.Errorf("from = %s %q", r.Status, r.Summary)
	}
}

func TestTenThousandHeaders(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nTo: b@recipient.test\r\nSubject: many\r\nDate: Sun, 22 Nov 2026 11:57:00 +0000\r\nMessage-ID: <m@example.com>\r\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&b, "X-Loop-%d: relay-%d.example\r\n", i, i)
	}
	b.WriteString("\r\nbody\r\n")
	raw := []byte(b.String())
	var rs []checks.Result
	n := allocated(func() { rs = Test(raw, Options{Now: testNow}) })
	r := byID(rs)["message/header-size"]
	if r.Status != checks.Fail || !strings.Contains(r.Summary, "10005 fields") {
		t.Errorf("header-size = %s %q", r.Status, r.Summary)
	}
	if r := byID(rs)["message/body"]; r.Status != checks.Pass {
		t.Errorf("the body after 10,000 headers was not read: %s %q", r.Status, r.Summary)
	}
	if n > 40*uint64(len(raw)) {
		t.Errorf("allocated %d bytes for a %d-byte message", n, len(raw))
	}
}

func TestHeaderSectionOverCapIsSaid(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: a@example.com\r\n")
	for b.Len() < MaxHeaderBytes+1000 {
		b.WriteString("X-Filler: " + strings.Repeat("x", 200) + "\r\n")
	}
	b.WriteString("\r\nbody\r\n")
	r := byID(Test([]byte(b.String()), Options{Now: testNow}))["message/header-size"]
	if r.Status != checks.Fail || !strings.Contains(r.Summary, "read stopped there") {
		t.Errorf("header-size = %s %q", r.Status, r.Summary)
	}
}

func TestFiftyMegabyteBody(t *testing.T) {
	head := "From: a@example.com\r\nTo: b@recipient.test\r\nSubject: big\r\nDate: Sun, 22 Nov 2026 11:57:00 +0000\r\nMessage-ID: <m@example.com>\r\nContent-Type: text/plain\r\n\r\n"
	line := strings.Repeat("0123456789", 7) + " https://x.example/\r\n"
	raw := make([]byte, 0, len(head)+50<<20+len(line))
	raw = append(raw, head...)
	for len(raw) < len(head)+50<<20 {
		raw = append(raw, line...)
	}
	var rs []checks.Result
	n := allocated(func() { rs = Test(raw, Options{Now: testNow}) })
	got := byID(rs)
	if r := got["message/size"]; r.Status != checks.Fail || !strings.Contains(r.Summary, "50.0 MB") {
		t.Errorf("size = %s %q", r.Status, r.Summary)
	}
	if r := got["message/body"]; !strings.Contains(r.Summary, fmt.Sprintf("the first %d MB", MaxTextScan>>20)) {
		t.Errorf("body does not say the scan was capped: %q", r.Summary)
	}
	// Bounded: the text kept for links and the link list, not a copy of the body.
	t.Logf("50 MB message: %d MB allocated", n>>20)
	if n > 12<<20 {
		t.Errorf("allocated %d MB reading a 50 MB message", n>>20)
	}
}

func TestMIMEBombs(t *testing.T) {
	head := "From: a@example.com\r\nTo: b@recipient.test\r\nSubject: bomb\r\nDate: Sun, 22 Nov 2026 11:57:00 +0000\r\nMessage-ID: <m@example.com>\r\nMIME-Version: 1.0\r\n"
	// Deep: 5,000 nested multiparts.
	var deep strings.Builder
	deep.WriteString(head + "Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n")
	const levels = 5000
	for i := 0; i < levels; i++ {
		fmt.Fprintf(&deep, "--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", i, i+1)
	}
	fmt.Fprintf(&deep, "--b%d\r\nContent-Type: text/plain\r\n\r\nbottom\r\n--b%d--\r\n", levels, levels)
	for i := levels - 1; i >= 0; i-- {
		fmt.Fprintf(&deep, "--b%d--\r\n", i)
	}
	raw := []byte(deep.String())
	var rs []checks.Result
	n := allocated(func() { rs = Test(raw, Options{Now: testNow}) })
	r := byID(rs)["message/mime-structure"]
	if r.Status != checks.Fail || !strings.Contains(r.Summary, fmt.Sprintf("deeper than %d levels", MaxMIMEDepth)) {
		t.Errorf("deep bomb: mime-structure = %s %q", r.Status, r.Summary)
	}
	t.Logf("deep MIME bomb of %d bytes: %d KB allocated", len(raw), n>>10)
	if n > 64<<20 {
		t.Errorf("deep bomb allocated %d MB", n>>20)
	}

	// Wide: 20,000 parts.
	var wide strings.Builder
	wide.WriteString(head + "Content-Type: multipart/mixed; boundary=\"w\"\r\n\r\n")
	for i := 0; i < 20000; i++ {
		wide.WriteString("--w\r\nContent-Type: text/plain\r\n\r\nx\r\n")
	}
	wide.WriteString("--w--\r\n")
	r = byID(Test([]byte(wide.String()), Options{Now: testNow}))["message/mime-structure"]
	if r.Status != checks.Fail || !strings.Contains(r.Summary, fmt.Sprintf("more than %d MIME parts", MaxParts)) {
		t.Errorf("wide bomb: mime-structure = %s %q", r.Status, r.Summary)
	}
}

func TestMalformedMIMEIsNamed(t *testing.T) {
	head := "From: a@example.com\r\nTo: b@recipient.test\r\nSubject: x\r\nDate: Sun, 22 Nov 2026 11:57:00 +0000\r\nMessage-ID: <m@example.com>\r\nMIME-Version: 1.0\r\n"
	cases := []struct{ name, msg, id, substr string }{
		{"no closing boundary", head + "Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nhello\r\n", "message/mime-structure", "closing boundary --zz-- missing"},
		{"no boundary", head + "Content-Type: multipart/mixed\r\n\r\nhello\r\n", "message/mime-structure", "without a boundary parameter"},
		{"bad base64", head + "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64***\r\n", "message/transfer-encoding", "does not decode"},
		{"unknown encoding", head + "Content-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644\r\n", "message/transfer-encoding", "unknown Content-Transfer-Encoding"},
		{"unknown charset", head + "Content-Type: text/plain; charset=x-klingon\r\n\r\nhello\r\n", "message/content-type", "unknown charset"},
		{"bare LF among CRLF", strings.Replace(head, "Subject: x\r\n", "Subject: x\n", 1) + "\r\nhello\r\n", "message/bare-lf", "1 bare LF"},
		{"long line", head + "\r\n" + strings.Repeat("a", 1200) + "\r\n", "message/line-length", "longer than 998 octets"},
		{"two From", strings.Replace(head, "From: a@example.com\r\n", "From: a@example.com\r\nFrom: b@example.com\r\n", 1) + "\r\nx\r\n", "message/from", "2 From fields"},
		{"future date", strings.Replace(head, "Sun, 22 Nov 2026 11:57:00", "Sun, 29 Nov 2026 11:57:00", 1) + "\r\nx\r\n", "message/date", "in the future"},
		{"stale date", strings.Replace(head, "Sun, 22 Nov 2026 11:57:00", "Sun, 15 Nov 2026 11:57:00", 1) + "\r\nx\r\n", "message/date", "7 days before now"},
		{"message-id without domain", strings.Replace(head, "<m@example.com>", "<m@localhost>", 1) + "\r\nx\r\n", "message/message-id", "no fully qualified domain"},
		{"broken encoded word", strings.Replace(head, "Subject: x", "Subject: =?x-unknown?Q?abc?=", 1) + "\r\nx\r\n", "message/header-encoding", "cannot be decoded"},
		{"raw 8-bit header", strings.Replace(head, "Subject: x", "Subject: Grüße", 1) + "\r\nx\r\n", "message/header-encoding", "raw 8-bit text in Subject"},
		{"executable", head + "Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--a\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"invoice.pdf.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--a--\r\n", "message/attachments", "block outright: invoice.pdf.exe"},
		{"double extension", head + "Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--a\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"invoice.pdf.exe\"\r\n\r\nMZ\r\n--a--\r\n", "message/attachment-names", "double extension"},
		{"display name impersonation", strings.Replace(head, "From: a@example.com", "From: \"ceo@bank.example\" <attacker@evil.example>", 1) + "\r\nx\r\n", "message/from-display-name", "names bank.example"},
		{"html only", head + "Content-Type: text/html\r\n\r\n<p>Hello there, this is a note with enough words to not be image only at all, truly it is a long sentence of plain words here.</p>\r\n", "message/plain-text-part", "HTML without a plain-text alternative"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := byID(Test([]byte(c.msg), Options{Now: testNow}))[c.id]
			if (r.Status != checks.Fail && r.Status != checks.Warn) || !strings.Contains(r.Summary, c.substr) {
				t.Errorf("%s = %s %q; want a finding containing %q", c.id, r.Status, r.Summary, c.substr)
			}
		})
	}
}

// The network tests sanitize too: escapes in the signature, the sender and the links
// never reach a Result.
func TestEscapesThroughCheck(t *testing.T) {
	msg := "From Mailer\x1b[2J Sun Nov 22 11:58:00 2026\r\n" + // an mbox envelope line, dropped
		"Authentication-Results: mx.recipient.test; spf=pass\x1b[31m smtp.mailfrom=a@evil.example; dkim=fail\x1b[0m header.d=evil\x1b.example\r\n" +
		"Received: from evil.example (evil.example [198.51.100.7]) by mx.recipient.test with ESMTPS id X; Sun, 22 Nov 2026 11:58:00 +0000\r\n" +
		"Return-Path: <a@evil\x1b[1m.example>\r\n" +
		"DKIM-Signature: v=1; a=rsa-sha256; d=evil\x1b[31m.example; s=s\x1b]0;x\x07; h=from; bh=AAAA; b=AAAA\r\n" +
		"From: a@evil.example\r\nTo: b@recipient.test\r\nSubject: hi\r\nDate: Sun, 22 Nov 2026 11:57:00 +0000\r\nMessage-ID: <1@evil.example>\r\n\r\n" +
		"see https://evil\x1b[5m.example/x\r\n"
	env := testEnv(t, "", testNow)
	_, rs := runCheck(t, env, []byte(msg))
	if len(rs) < 40 {
		t.Fatalf("%d results", len(rs))
	}
	for id, r := range rs {
		out, _ := json.Marshal(r.Details)
		for _, s := range []string{r.Summary, r.Fix, string(out)} {
			if strings.ContainsAny(s, "\x1b\x07") || strings.Contains(s, `\u001b`) || strings.Contains(s, `\u0007`) {
				t.Errorf("%s carries a raw control: %q", id, s)
			}
		}
	}
	if r := rs["message/dkim"]; r.Status == checks.Pass {
		t.Errorf("dkim = %s %q", r.Status, r.Summary)
	}
}
