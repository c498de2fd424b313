package tui

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestWrapMessage: a message's wrapped lines keep a field's value column, break at
// spaces only (a date is never split), fit the width, and lose no word.
func TestWrapMessage(t *testing.T) {
	msg := strings.Join([]string{
		"Exact reply:       554 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.225",
		"Authentication:     SPF: pass for 203.0.113.25 (example.com); HELO mail.example.com: none (checked 2026-12-02 09:25 UTC)",
		"                    DKIM: key published (s1, 2048-bit RSA) at example.com; no signature verified yet (checked 2026-12-02 09:25 UTC)",
		"Since 2026-11-30 14:12 UTC, mail from example.com sent through 203.0.113.25 to recipients at customer.example is rejected.",
		"Subject: Mail filtered as spam by Proofpoint Spam Rule inbound_spam: 198.51.100.7",
		"See https://support.proofpoint.com/a-very-long-address-that-has-no-space-in-it-at-all-and-must-be-cut-somewhere",
	}, "\n")
	for _, w := range []int{40, 76, 116} {
		got := wrapMessage(msg, w)
		for i, l := range strings.Split(got, "\n") {
			if ansi.StringWidth(l) > w {
				t.Errorf("width %d: line %d is %d cells: %q", w, i, ansi.StringWidth(l), l)
			}
			if strings.HasSuffix(l, "2026-") || strings.HasSuffix(l, "2026-12-") {
				t.Errorf("width %d: a date is split at line %d: %q", w, i, l)
			}
		}
		if strings.Join(strings.Fields(got), "") != strings.Join(strings.Fields(msg), "") {
			t.Errorf("width %d: words lost or changed:\n%s", w, got)
		}
		// A field's value, and an indented line, continue at their column.
		for src := range strings.SplitSeq(msg, "\n") {
			col := 0
			if m := fieldValue.FindString(src); m != "" {
				col = len(m)
			} else {
				col = len(src) - len(strings.TrimLeft(src, " "))
			}
			lines := strings.Split(wrapMessage(src, w), "\n")
			if !strings.HasPrefix(src, lines[0]) {
				t.Errorf("width %d: the first line %q is not the start of %q", w, lines[0], src)
			}
			for _, l := range lines[1:] {
				if col <= w/2 && (!strings.HasPrefix(l, strings.Repeat(" ", col)) || l[col] == ' ') {
					t.Errorf("width %d: %q continues off its column %d: %q", w, src, col, l)
				}
			}
		}
	}
	at76 := wrapMessage(msg, 76)
	for _, want := range []string{
		"Authentication:     SPF: pass for 203.0.113.25 (example.com); HELO\n",
		"\n                    mail.example.com: none (checked 2026-12-02 09:25 UTC)\n",
		"\nSubject: Mail filtered as spam by Proofpoint Spam Rule inbound_spam:\n         198.51.100.7\n",
		"Exact reply:       554 Blocked - see\n                   https://ipcheck.proofpoint.com/?ip=192.0.2.225\n",
	} {
		if !strings.Contains(at76, want) {
			t.Errorf("wrapped at 76, lacks %q:\n%s", want, at76)
		}
	}
}
