package tui

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/unblock-mail/unblock/casefile"
)

// TestProgram runs the whole program (Bubble Tea's runtime, renderer and all) from the
// role to the copied message against the loopback DNS server, then reads the case file
// from disk.
func TestProgram(t *testing.T) {
	st := testStore(t)
	opts, clip := testOptions(t, st)
	m := New(opts)
	tm := teatest.NewTestModel(t, m,
		teatest.WithInitialTermSize(120, 35),
		teatest.WithProgramOptions(
			tea.WithColorProfile(colorprofile.Ascii),
			tea.WithEnvironment([]string{"TERM=xterm-256color", "NO_COLOR=1"}),
		))
	out := &bytes.Buffer{}
	wait := func(what string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
			out.Write(b)
			return bytes.Contains(b, []byte(what))
		}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	}
	press := func(keys ...string) {
		for _, k := range keys {
			for _, msg := range keyMsgs(k) {
				tm.Send(msg)
			}
		}
	}

	// The renderer writes only the cells that change: wait for text that is new.
	wait("External sender")
	press("enter")
	wait("Paste the SMTP reply")
	tm.Send(tea.PasteMsg{Content: readBounce(t)})
	wait("Proposed")
	press("enter")
	wait("provider needs")
	// Each field is cleared first (ctrl+u): triage may have filled it already.
	press("down", "ctrl+u", "example.com", "enter", "ctrl+u", "nekonyaan@example.com", "enter", "ctrl+u", "mx100.qin.example.com", "enter", "enter", "enter")
	wait("done:")
	press("enter")
	wait("step 5 of 6")
	press("down", "down", "down", "down", "down", "space", "down", "space")
	wait("you confirmed")
	press("enter")
	wait("step 6 of 6")
	press("c")
	wait("copied")
	press("m")
	wait("marked sent")
	// Marking sent saves at once: q then quits without asking.
	press("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))

	// The message went to the terminal's clipboard (OSC 52) and the native one.
	text := clip.get()
	if !strings.Contains(text, "192.0.2.225") {
		t.Fatalf("native clipboard holds %q", text)
	}
	osc := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(text))
	rest, _ := readAll(tm)
	if !bytes.Contains(append(out.Bytes(), rest...), []byte(osc)) {
		t.Error("no OSC 52 sequence with the message in the terminal output")
	}

	// The case file on disk holds the whole session.
	cases, err := st.List()
	if err != nil || len(cases) != 1 {
		t.Fatalf("store holds %d cases (%v), want 1", len(cases), err)
	}
	c := cases[0]
	switch {
	case c.Role != casefile.Sender || c.Provider != "proofpoint":
		t.Errorf("role %s provider %s", c.Role, c.Provider)
	case c.IP() != "192.0.2.225" || c.Identifiers.Domain != "example.com" || c.Identifiers.HELO != "mx100.qin.example.com":
		t.Errorf("identifiers %+v", c.Identifiers)
	case len(c.Timeline) == 0:
		t.Error("no failure in the timeline")
	case len(c.Authentication) == 0:
		t.Error("no check results in the case")
	case !c.Confirmed("scope") || !c.Confirmed("changes"):
		t.Errorf("ticks not saved: %v", c.Scope.Confirmed)
	case len(c.Messages) != 1 || c.Messages[0].SentAt.IsZero():
		t.Errorf("messages %+v", c.Messages)
	case c.Messages[0].String() != text:
		t.Error("the message copied is not the message recorded")
	}
}

func readAll(tm *teatest.TestModel) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(tm.Output())
	return b.Bytes(), err
}
