package casefile

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks"
)

// A case file is text from outside: one edited to carry escape sequences loads with them
// made visible, in the head and in the timeline, and a clean file is untouched.
func TestLoadSanitizesAHandEditedCase(t *testing.T) {
	s := testStore(t)
	c := bigCase(3)
	if err := s.Create(c, false); err != nil {
		t.Fatal(err)
	}
	clean, err := os.ReadFile(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Load(c.Path())
	if err != nil || again.Title != c.Title {
		t.Fatalf("clean case: %v, title %q", err, again.Title)
	}

	hostile := strings.Replace(string(clean), "title: PDR block of 192.0.2.1", `title: "PDR \e[2J\e]52;c;aGk=\a block"`, 1)
	// A timeline reply rewritten as a double-quoted scalar, where YAML decodes \e to ESC.
	hostile = strings.Replace(hostile, "reply: 550 5.7.0 Blocked - see", `reply: "550 5.7.0 Blocked \e[31m- see`, 1)
	hostile = strings.Replace(hostile, "?ip=192.0.2.1\n", "?ip=192.0.2.1\"\n", 1)
	if hostile == string(clean) || !strings.Contains(hostile, `\e[31m`) {
		t.Fatal("the test did not manage to edit the file")
	}
	if err := os.WriteFile(c.Path(), []byte(hostile), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "PDR ␛[2J␛]52;c;aGk=␇ block" {
		t.Errorf("title = %q", got.Title)
	}
	found := false
	for _, e := range got.Timeline {
		if strings.ContainsAny(e.Reply, "\x1b\a") {
			t.Errorf("raw escape in a timeline reply: %q", e.Reply)
		}
		found = found || strings.Contains(e.Reply, "␛[31m")
	}
	if !found {
		t.Error("the edited timeline reply did not come back with its escape made visible")
	}
}

// Marking a message sent puts the case in the desk's hands; an answer gives it back.
func TestSentAndAnsweredMoveTheStatus(t *testing.T) {
	c := bigCase(3)
	c.Status = StatusDraft
	m, err := Render(c, "", RenderOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != StatusDraft {
		t.Fatalf("a message kept but not sent changed the status to %s", c.Status)
	}
	c.MarkSent(m, t0)
	if c.Status != StatusWaiting {
		t.Fatalf("after sending: status %s, want waiting", c.Status)
	}
	if !c.RecordAnswer(t0.Add(time.Hour)) || c.Status != StatusOpen {
		t.Fatalf("after the answer: status %s, want open", c.Status)
	}
	c.Status = StatusResolved
	c.MarkSent(m, t0.Add(2*time.Hour))
	if c.Status != StatusResolved {
		t.Errorf("sending on a resolved case reopened it as %s", c.Status)
	}
}

// A fix of several records keeps one record a line.
func TestRecordChecksKeepsMultiLineFixes(t *testing.T) {
	c := bigCase(1)
	c.RecordChecks([]checks.Result{{ID: "dmarc", Status: checks.Warn, Summary: "p=none",
		Fix: "_dmarc.example.com. IN TXT \"v=DMARC1; p=quarantine\"\nask reports.example.net to publish …\x1b[2J"}}, t0)
	fix := c.Authentication[0].Fix
	if strings.Count(fix, "\n") != 1 || strings.Contains(fix, "␊") || strings.Contains(fix, "\x1b") {
		t.Errorf("fix = %q", fix)
	}
}
