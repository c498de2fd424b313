package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/casefile/triage/maillog"
	"github.com/unblock-mail/unblock/casefile/triage/maillog/maillogtest"
)

// The hand-written JSON of findings and progressions is encoding/json's, byte for byte:
// for every field empty and set, for text that must be escaped, and for what a generated
// log really yields.
func TestTriageJSONAsEncodingJSON(t *testing.T) {
	odd := []string{"", "plain", `quote " and \ back`, "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f",
		"<html> & more", "caf\u00e9 \u2028 \u2029 \U0001F600", "bad \xff\xfe utf8 \xe2\x82", "\u0085 \u200b"}
	// Each escape at every offset of a long string, for the eight-byte steps.
	for _, c := range []string{`"`, `\`, "\n", "\x01", "\x7f", "\xff", "\u00e9", "\u2028"} {
		for at := 0; at < 17; at++ {
			odd = append(odd, strings.Repeat("a", at)+c+strings.Repeat("b", 17-at))
		}
	}
	at := time.Date(2026, 11, 22, 21, 17, 36, 120000000, time.UTC)
	var findings []triage.Finding
	for i, s := range odd {
		findings = append(findings, triage.Finding{Source: s, Mode: triage.Mode(s), Cause: triage.Cause(s), Provider: s, Receiver: s,
			Control: s, IP: s, SendingIP: s, ReplyCode: i * 100, EnhancedCode: s, Recipient: s, RecipientDomain: s, Sender: s,
			MessageID: s, At: at.Add(time.Duration(i) * time.Second), Text: s, Notes: odd[:i], Route: triage.Route{Kind: s, Contact: s, URL: s, Asks: odd[i:]},
			ReceiverProvider: s, Meaning: s, Advice: s, Stage: s, Action: s, QueueID: s})
	}
	findings = append(findings, triage.Finding{}, triage.Finding{At: at.In(time.FixedZone("x", 3600))},
		triage.Finding{Source: "m", Original: &triage.Original{From: "a <b@example.com> & c", To: []string{"x"}}})

	// What a log yields.
	gen := maillogtest.NewPostfix(7, 2<<20)
	rep, err := triage.ReadLog(gen, maillog.Options{Name: "gen.log", Year: 2026, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) == 0 || len(rep.Progressions) == 0 {
		t.Fatalf("the generated log gave %d findings, %d progressions", len(rep.Findings), len(rep.Progressions))
	}
	findings = append(findings, rep.Findings...)

	for i := range findings {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&findings[i]); err != nil {
			t.Fatal(err)
		}
		got := appendFinding(nil, &findings[i])
		if string(got)+"\n" != want.String() {
			t.Fatalf("finding %d:\n got %s\nwant %s", i, got, want.String())
		}
	}

	progressions := append([]maillog.Progression{
		{QueueID: odd[3], Recipient: odd[6], Sender: odd[7], Host: odd[5], Source: odd[2]},
		{QueueID: "A", Steps: []maillog.Step{}},
		{QueueID: "B", Steps: []maillog.Step{{Status: maillog.Deferred, Count: 3, First: at, Last: at.Add(time.Hour), DSN: "4.7.0"}, {Status: "bounced", Count: 1}}},
	}, rep.Progressions...)
	for i := range progressions {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(&progressions[i]); err != nil {
			t.Fatal(err)
		}
		got := appendProgression(nil, &progressions[i])
		if w := strings.TrimSuffix(want.String(), "\n"); string(got) != w {
			t.Fatalf("progression %d:\n got %s\nwant %s", i, got, w)
		}
	}
}
