package tui

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks"
)

func readBounce(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/proofpoint-bounce.eml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var sizes = []struct{ w, h int }{{80, 24}, {120, 35}}

// TestWizard walks a new case through the six steps at both sizes, checking each
// screen's state after its keys and its view against a golden file.
func TestWizard(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			st := testStore(t)
			opts, clip := testOptions(t, st)
			d := newDriver(t, opts, sz.w, sz.h)
			name := func(s string) string { return fmt.Sprintf("%s-%d", s, sz.w) }

			// No saved cases: the wizard starts at once.
			d.waitText("Who are you in this case?")
			if d.m.cur != scrRole {
				t.Fatalf("started on screen %d, want the role step", d.m.cur)
			}
			d.golden(t, name("1-role"))
			d.keys("down")
			if d.m.cas.Role != casefile.Sender {
				t.Fatal("moving the selection changed the role before enter")
			}
			d.keys("up", "enter")
			d.waitText("What failed?")

			// Step 2: a bracketed paste of a Proofpoint bounce is read at once.
			d.send(tea.PasteMsg{Content: readBounce(t)})
			d.waitText("Proposed")
			if len(d.m.cas.Timeline) == 0 {
				t.Fatal("the pasted bounce added nothing to the timeline")
			}
			if got := d.m.cas.Provider; got != "proofpoint" {
				t.Errorf("provider %q, want proofpoint", got)
			}
			if got := d.m.cas.IP(); got != "192.0.2.225" {
				t.Errorf("IP %q, want the blocked 192.0.2.225", got)
			}
			// The paste field's placeholder fits the narrowest screen whole.
			if !strings.Contains(trimLines(d.screen()), "or type a file path and press enter\n") {
				t.Errorf("the paste field's placeholder is cut:\n%s", d.screen())
			}
			d.golden(t, name("2-triage"))
			// Changing an answer: the mode cycles, and back.
			read := d.m.cas.Mode
			d.keys("right")
			if want := triage.Mode(step(modeChoices, string(read), 1)); d.m.cas.Mode != want || want == read {
				t.Errorf("→ on the mode gave %q, want %q after %q", d.m.cas.Mode, want, read)
			}
			d.keys("left")
			if d.m.cas.Mode != read {
				t.Errorf("← did not go back to %q: %q", read, d.m.cas.Mode)
			}
			d.keys("enter")
			d.waitText("What the provider needs")
			if d.m.created {
				t.Fatal("the case was created before its identifiers were confirmed")
			}

			// Step 3: identifiers are validated as typed.
			d.keys("x")
			d.waitText("is not an IP address")
			d.keys("backspace")
			d.keys("down", "ctrl+u", "example.com", "down", "ctrl+u", "nekonyaan@example.com", "down", "ctrl+u", "mx100.qin.example.com", "down", "down")
			d.golden(t, name("3-idents"))
			d.keys("enter")
			d.waitText("Proving your side")
			if !d.m.created {
				t.Fatal("confirming the identifiers did not create the case")
			}

			// Step 4: the checks run and settle.
			cs := d.m.screens[scrChecks].(*checksScreen)
			d.until("the checks to finish", func() bool { return cs.running == 0 && len(d.m.cas.Authentication) > 0 })
			spf := cs.rows[cs.index("spf")].res
			if spf.Status != checks.Pass {
				t.Errorf("spf %s (%s), want pass for 192.0.2.225 against the fixture zone", spf.Status, spf.Summary)
			}
			// The live results' wording belongs to the checks and changes with them; the
			// goldens from here on hold fixed results (TestChecksScreen has the screen's).
			// RecordChecks keeps the records of checks not in a run, so start afresh.
			d.m.cas.Authentication = nil
			d.m.cas.RecordChecks([]checks.Result{
				{ID: "spf", Status: checks.Pass, Summary: "192.0.2.225 may send as example.com"},
				{ID: "dkim", Status: checks.Warn, Summary: "no key at the common selectors"},
				{ID: "dmarc", Status: checks.Pass, Summary: "policy reject"},
				{ID: "ptr", Status: checks.Pass, Summary: "PTR mx100.qin.example.com"},
			}, clock())
			d.keys("enter")
			d.waitText("Checklist")

			// Step 5: tick the scope, type the volume.
			d.keys("down", "down", "down", "down", "down", "space")
			if !d.m.cas.Confirmed("scope") {
				t.Fatal("space on the scope item did not confirm it")
			}
			d.keys("tab", "about 400 a day", "enter")
			d.golden(t, name("5-evidence"))
			d.keys("esc")
			if got := d.m.cas.Scope.Volume; got != "about 400 a day" {
				t.Errorf("volume %q after leaving the fields", got)
			}
			d.keys("enter")
			d.waitText("kind ←/→")

			// Step 6: the message, copied.
			d.golden(t, name("6-message"))
			d.keys("c")
			d.waitText("copied")
			if !strings.Contains(clip.get(), "192.0.2.225") {
				t.Errorf("clipboard holds %q", clip.get())
			}
			d.keys("m")
			// Marking sent is saved at once, before the step is left.
			d.until("the mark saved", func() bool {
				c, err := casefile.Load(st.PathOf(d.m.cas.ID))
				return err == nil && len(c.Messages) > 0 && !c.Messages[len(c.Messages)-1].SentAt.IsZero()
			})
			d.keys("enter")
			d.waitText("Timeline")

			// The case on disk has what the session did.
			d.until("the save", func() bool { return !d.m.saving && !d.m.dirty() })
			c, err := casefile.Load(st.PathOf(d.m.cas.ID))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Timeline) == 0 || len(c.Authentication) == 0 || len(c.Messages) == 0 {
				t.Fatalf("case on disk: %d events, %d checks, %d messages", len(c.Timeline), len(c.Authentication), len(c.Messages))
			}
			if c.Messages[0].SentAt.IsZero() || c.Status != casefile.StatusWaiting {
				t.Errorf("marking sent: sent at %v, status %s", c.Messages[0].SentAt, c.Status)
			}
			if c.Scope.Volume != "about 400 a day" || !c.Confirmed("scope") {
				t.Errorf("evidence fields not saved: %+v", c.Scope)
			}
			d.golden(t, name("7-overview"))
		})
	}
}

// TestEscBackKeepsWork goes back through the steps and finds what was entered.
func TestEscBackKeepsWork(t *testing.T) {
	st := testStore(t)
	opts, _ := testOptions(t, st)
	d := newDriver(t, opts, 80, 24)
	d.waitText("Who are you")
	d.keys("down", "enter")
	if d.m.cas.Role != casefile.Customer {
		t.Fatalf("role %q, want customer", d.m.cas.Role)
	}
	d.waitText("What failed?")
	d.send(tea.PasteMsg{Content: "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.7"})
	d.waitText("Proposed")
	d.keys("enter")
	d.waitText("What the provider needs")
	d.keys("esc")
	d.waitText("What failed?")
	if !strings.Contains(d.screen(), "198.51.100.7") {
		t.Errorf("back on triage the finding is gone:\n%s", d.screen())
	}
	d.keys("esc")
	d.waitText("Who are you")
	if !strings.Contains(d.screen(), "▸ 2") {
		t.Errorf("back on the role step the choice is lost:\n%s", d.screen())
	}
}

// TestUntrustedText pastes escape sequences: they show as visible characters and never
// reach the frame raw.
func TestUntrustedText(t *testing.T) {
	st := testStore(t)
	opts, _ := testOptions(t, st)
	d := newDriver(t, opts, 80, 24)
	d.waitText("Who are you")
	d.keys("enter")
	d.waitText("What failed?")
	evil := "550 5.7.1 blocked \x1b[2J\x1b]52;c;ZXZpbA==\x07 \x9b31m see https://ipcheck.proofpoint.com/?ip=192.0.2.9\r\nmore\x1b[1;1H"
	d.send(tea.PasteMsg{Content: evil})
	d.waitText("read pasted text")
	frame := d.m.View().Content
	for _, bad := range []string{"\x1b[2J", "\x1b]52", "\x07", "\u009b", "\x1b[1;1H", "\r"} {
		if strings.Contains(frame, bad) {
			t.Errorf("the frame holds %q raw", bad)
		}
	}
	// Without our own styling, nothing in the frame may act on a terminal.
	for _, r := range ansi.Strip(frame) {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			t.Errorf("the frame holds the control character %U", r)
		}
	}
	if !strings.Contains(frame, "␛") {
		t.Errorf("the escape is not shown as a visible ␛:\n%s", d.screen())
	}
}

// TestPicker lists saved cases, filters them and starts a new one.
func TestPicker(t *testing.T) {
	st := testStore(t)
	for _, c := range []*casefile.Case{
		{Role: casefile.Sender, Provider: "proofpoint", Title: "Newsletter blocked at Proofpoint", Identifiers: casefile.Identifiers{IPs: []string{"192.0.2.10"}, Domain: "news.example"}},
		{Role: casefile.Sender, Provider: "microsoft", Title: "Invoices to Outlook", Identifiers: casefile.Identifiers{IPs: []string{"198.51.100.20"}, Domain: "billing.example"}},
	} {
		if err := st.Create(c, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, sz := range sizes {
		t.Run(fmt.Sprint(sz.w), func(t *testing.T) {
			opts, _ := testOptions(t, st)
			d := newDriver(t, opts, sz.w, sz.h)
			d.waitText("2 saved cases")
			golden(t, fmt.Sprintf("picker-%d", sz.w), d.screen())
			d.keys("/", "outlook")
			p := d.m.screens[scrPicker].(*picker)
			if len(p.shown) != 1 || p.rows[p.shown[0]].provider != "microsoft" {
				t.Fatalf("filter \"outlook\" shows %d rows", len(p.shown))
			}
			d.keys("enter", "enter")
			// The list shows the title too: wait for the overview itself.
			d.until("the overview", func() bool { return d.m.cur == scrOverview })
			d.waitText("Invoices to Outlook")
			if d.m.cur != scrOverview {
				t.Fatalf("enter on a case showed screen %d, want the overview", d.m.cur)
			}
			if d.m.lock == nil {
				t.Error("an opened case is not locked")
			}
			d.keys("esc")
			d.waitText("2 saved cases")
			d.keys("n")
			d.waitText("Who are you in this case?")
		})
	}
}

// timelineCase is a saved case with failures over three days at three domains, one
// message sent, and new failures since.
func timelineCase(t testing.TB, st *casefile.Store, events int) *casefile.Case {
	t.Helper()
	c := &casefile.Case{Role: casefile.Sender, Provider: "proofpoint", Mode: triage.HardBlock, Cause: "ip-reputation",
		Control:     "dynamic-reputation",
		Identifiers: casefile.Identifiers{IPs: []string{"192.0.2.225"}, Domain: "example.com", RecipientDomains: []string{"example.org"}}}
	domains := []string{"example.org", "example.net", "customer.example", "shop.example", "bank.example", "mail.example"}
	start := fixedNow.Add(-72 * time.Hour)
	for i := range events {
		c.Timeline = append(c.Timeline, casefile.Event{
			At:              start.Add(time.Duration(i) * 72 * time.Hour / time.Duration(events)),
			RecipientDomain: domains[(i*i)%len(domains)],
			Reply:           "554 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.225",
			ReplyCode:       554,
			Provider:        "proofpoint",
			Mode:            triage.HardBlock,
			Source:          fmt.Sprintf("log:%d", i),
		})
	}
	c.Messages = []casefile.Message{{Kind: "ipcheck-request", At: start.Add(24 * time.Hour), Subject: "Mail blocked by Proofpoint Dynamic Reputation: 192.0.2.225", Text: "…", SentAt: start.Add(24 * time.Hour)}}
	c.Status = casefile.StatusWaiting
	if err := st.Create(c, false); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOverview opens a case with `open`: the timeline chart, what is new since the last
// message, new failures pasted, and the update written after the checks run again.
func TestOverview(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprint(sz.w), func(t *testing.T) {
			st := testStore(t)
			c := timelineCase(t, st, 60)
			d := openCase(t, st, c.ID, sz.w, sz.h)
			golden(t, fmt.Sprintf("overview-%d", sz.w), d.screen())
			if !strings.Contains(d.screen(), "Since then: 40 new failures") {
				t.Errorf("the overview does not count what is new since the message sent:\n%s", d.screen())
			}

			// New failures pasted on the overview go into the timeline.
			d.keys("p")
			d.waitText("Add new failures")
			d.send(tea.PasteMsg{Content: "2026-11-19T10:00:00+00:00 mx100 postfix/smtp[4242]: 3F2A1B: to=<sales@example.org>, relay=mx0a-00069f02.pphosted.com[198.51.100.18]:25, delay=1, delays=0/0/0.5/0, dsn=5.7.0, status=bounced (host mx0a-00069f02.pphosted.com[198.51.100.18] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.225 (in reply to RCPT TO command))\n"})
			d.waitText("1 new in the case")
			d.keys("enter")
			d.waitText("Since then: 41 new failures")

			// u: the checks run again before the update is written.
			before := len(d.m.cas.Authentication)
			d.keys("u")
			d.waitText("kind ←/→")
			if len(d.m.cas.Authentication) <= before {
				t.Error("the update was written without running the checks")
			}
			ms := d.m.screens[scrMessage].(*messageScreen)
			if ms.kinds[ms.kind] != "update" || !strings.Contains(ms.msg.Text, "41") {
				t.Errorf("update message (%s) does not count the 41 new failures:\n%s", ms.kinds[ms.kind], ms.msg.Text)
			}
		})
	}
}

// TestQuitGuard: q with unsaved changes asks first.
func TestQuitGuard(t *testing.T) {
	st := testStore(t)
	opts, _ := testOptions(t, st)
	d := newDriver(t, opts, 80, 24)
	d.waitText("Who are you")
	d.keys("down", "enter")
	d.waitText("What failed?")
	d.keys("tab") // to the questions: letters are commands again
	d.keys("q")
	if !d.m.quitAsk || d.m.quitting {
		t.Fatalf("q with an unsaved case: asked %v, quitting %v", d.m.quitAsk, d.m.quitting)
	}
	// Without an IP or domain there is nothing a case could be saved under: the guard
	// says so and offers no save.
	if !strings.Contains(d.screen(), "not saved yet") || strings.Contains(d.screen(), "save and quit") {
		t.Errorf("guard of a case with no IP:\n%s", d.screen())
	}
	d.keys("y")
	if !d.m.quitAsk || d.m.saving {
		t.Fatal("y saved a case that has no IP or domain")
	}
	d.keys("esc")
	if d.m.quitAsk || d.m.quitting {
		t.Fatal("esc did not cancel the quit")
	}
	// With an IP from a paste, the guard offers to save.
	d.keys("tab")
	d.send(tea.PasteMsg{Content: "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.7"})
	d.waitText("Proposed")
	d.keys("q")
	if !strings.Contains(d.screen(), "Unsaved changes") || !strings.Contains(d.screen(), "y save and quit") {
		t.Errorf("no guard on screen:\n%s", d.screen())
	}
	d.keys("esc")
}

// TestZeroSize draws every screen before the terminal has said its size.
func TestZeroSize(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 10)
	opts, _ := testOptions(t, st)
	m := New(opts)
	m.setCase(c, nil, true)
	for id, s := range m.screens {
		s.enter()
		m.cur = id
		v := m.View().Content
		if v == "" {
			t.Errorf("screen %d drew nothing at size 0", id)
		}
	}
	if !slices.Contains(wizardSteps, scrMessage) {
		t.Fatal("the message step is not in the wizard")
	}
}

// TestLargeFile reads a 1.5 MB mail log by its path: progress reaches the bar while it is
// read, and every failure in it reaches the timeline.
func TestLargeFile(t *testing.T) {
	st := testStore(t)
	opts, _ := testOptions(t, st)
	var log strings.Builder
	at := time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)
	const n = 5000
	for i := range n {
		fmt.Fprintf(&log, "%s mx100 postfix/smtp[4242]: Q%07X: to=<user%d@example.org>, relay=mx0a-00069f02.pphosted.com[198.51.100.18]:25, delay=1, delays=0/0/0.5/0, dsn=5.7.0, status=bounced (host mx0a-00069f02.pphosted.com[198.51.100.18] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.225 (in reply to RCPT TO command))\n",
			at.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i, i)
	}
	path := t.TempDir() + "/mail.log"
	if err := os.WriteFile(path, []byte(log.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, opts, 80, 24)
	d.waitText("Who are you")
	d.keys("enter")
	d.waitText("What failed?")
	d.keys(path, "enter")
	ts := d.m.screens[scrTriage].(*triageScreen)
	d.until("the log to be read", func() bool { return !ts.reading && len(ts.findings) > 0 })
	if ts.bar.Percent() <= 0 {
		t.Error("no progress reached the bar while the file was read")
	}
	// The same block 5,000 times in one day is one event that counts them.
	if got := len(d.m.cas.Timeline); got != 1 {
		t.Fatalf("timeline holds %d events, want 1 counted event", got)
	}
	if e := d.m.cas.Timeline[0]; e.AttemptCount() != n || e.MessageCount() != n || len(e.Recipients) != casefile.MaxRecipients {
		t.Errorf("event counts %d attempts, %d messages, %d recipients; want %d, %d, %d",
			e.AttemptCount(), e.MessageCount(), len(e.Recipients), n, n, casefile.MaxRecipients)
	}
}

// TestPastedPath: a pasted path to a file reads the file (whether it exists is asked in a
// Cmd, never in Update); a pasted line that is no file is read as a reply.
func TestPastedPath(t *testing.T) {
	st := testStore(t)
	opts, _ := testOptions(t, st)
	path := t.TempDir() + "/bounce.log"
	line := "2026-11-19T08:00:00Z mx100 postfix/smtp[4242]: 8F2A51C0A3: to=<ap@example.org>, relay=mx0a-00069f02.pphosted.com[198.51.100.18]:25, delay=1, delays=0/0/0.5/0, dsn=5.7.0, status=bounced (host mx0a-00069f02.pphosted.com[198.51.100.18] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.77 (in reply to RCPT TO command))\n"
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	d := newDriver(t, opts, 80, 24)
	d.waitText("Who are you")
	d.keys("enter")
	d.waitText("What failed?")
	ts := d.m.screens[scrTriage].(*triageScreen)
	d.send(tea.PasteMsg{Content: path + "\n"})
	d.until("the file to be read", func() bool { return !ts.reading && len(ts.findings) > 0 })
	if f := ts.findings[0]; f.IP != "192.0.2.77" || f.Recipient != "ap@example.org" {
		t.Errorf("finding from the pasted path: %+v", f)
	}

	d.send(tea.PasteMsg{Content: "/no/such/file 550 5.7.1 blocked"})
	d.until("the text to be read", func() bool { return !ts.reading && strings.Contains(ts.source, "pasted") })
}

// TestQuestions: with nothing to paste, the questions lead to a case all the same.
func TestQuestions(t *testing.T) {
	st := testStore(t)
	opts, _ := testOptions(t, st)
	d := newDriver(t, opts, 80, 24)
	d.waitText("Who are you")
	d.keys("enter")
	d.waitText("What failed?")
	d.keys("tab")
	d.waitText("A few questions")
	if d.m.cas.Provider != "" || d.m.cas.Mode != "" || d.m.cas.Route.Kind != "" {
		t.Fatalf("answers filled in before any was given: provider %q mode %q route %q", d.m.cas.Provider, d.m.cas.Mode, d.m.cas.Route.Kind)
	}
	d.keys("right", "right", "right") // none yet → hard-block → deferral → filtering
	if d.m.cas.Mode != triage.Filtering {
		t.Fatalf("mode %q after two →, want filtering", d.m.cas.Mode)
	}
	// Whose control it was is not assumed either: enter asks for it.
	d.keys("enter")
	d.waitText("whose control blocked it")
	if ts := d.m.screens[scrTriage].(*triageScreen); d.m.cur != scrTriage || ts.field != fProvider {
		t.Fatalf("enter without a provider left triage (screen %d) or did not point at the question", d.m.cur)
	}
	d.keys("right") // the first provider: proofpoint
	if got := d.m.cas.RouteKind(); got != "recipient-admin" {
		t.Errorf("a sender's false positive at Proofpoint goes to %q, want recipient-admin", got)
	}
	d.keys("enter")
	d.waitText("What the provider needs")
	d.keys("ctrl+u", "198.51.100.9", "ctrl+s")
	d.waitText("Proving your side")
	c, err := casefile.Load(st.PathOf(d.m.cas.ID))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != triage.Filtering || c.IP() != "198.51.100.9" || c.Route.Kind != "recipient-admin" {
		t.Errorf("case on disk: mode %s, IP %s, route %s", c.Mode, c.IP(), c.Route.Kind)
	}
}

// TestDuplicate: a new case for an IP an open case covers offers that case instead.
func TestDuplicate(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 3)
	opts, _ := testOptions(t, st)
	d := newDriver(t, opts, 80, 24)
	d.waitText("1 saved case")
	toDuplicate(t, d)
	if d.m.cur != scrIdents {
		t.Errorf("behind the duplicate dialog the screen is %d, want the identifiers", d.m.cur)
	}
	if head := strings.SplitN(d.screen(), "\n", 2)[0]; strings.Contains(head, c.ID) || d.m.cas.ID != "" {
		t.Errorf("the refused case took the open case's id: header %q, id %q", head, d.m.cas.ID)
	}
	d.golden(t, "duplicate-80")
	if !strings.Contains(d.screen(), c.ID) || !strings.Contains(d.screen(), "f create") {
		t.Errorf("the dialog does not name the open case and its keys:\n%s", d.screen())
	}
	if d.m.dup == nil || d.m.dup.Existing.ID != c.ID {
		t.Fatalf("duplicate guard: %+v", d.m.dup)
	}
	d.keys("enter")
	d.waitText("Timeline")
	if d.m.cas.ID != c.ID || d.m.cur != scrOverview {
		t.Errorf("enter opened %q on screen %d, want %s's overview", d.m.cas.ID, d.m.cur, c.ID)
	}
	if list, _ := st.List(); len(list) != 1 {
		t.Errorf("%d cases on disk, want the one", len(list))
	}
	if len(d.m.cas.Timeline) != 4 || !d.m.dirty() {
		t.Errorf("the pasted bounce was not added to the open case: %d events", len(d.m.cas.Timeline))
	}
}

// TestColour draws the role step in colour on a dark and a light background: the
// palette follows the background, and NO_COLOR draws none.
func TestColour(t *testing.T) {
	st := testStore(t)
	frames := map[string]string{}
	for _, tc := range []struct {
		name          string
		dark, noColor bool
	}{{"dark", true, false}, {"light", false, false}, {"none", true, true}} {
		opts, _ := testOptions(t, st)
		opts.Dark, opts.NoColor = tc.dark, tc.noColor
		d := newDriver(t, opts, 80, 24)
		d.waitText("Who are you")
		frames[tc.name] = d.m.View().Content
	}
	if frames["dark"] == frames["light"] {
		t.Error("dark and light backgrounds draw the same colours")
	}
	if strings.Contains(frames["none"], "38;2;") || strings.Contains(frames["none"], "38;5;") {
		t.Error("NO_COLOR frame holds colours")
	}
	if !strings.Contains(frames["dark"], "38;2;") {
		t.Error("the dark frame holds no colour at all")
	}
	if trimLines(ansi.Strip(frames["dark"])) != trimLines(ansi.Strip(frames["none"])) {
		t.Error("colour changes the text of the frame")
	}
}

// TestEveryFrameFits draws every screen at several sizes, resized in turn: each frame is
// exactly the terminal's height and no line is wider than it.
func TestEveryFrameFits(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 200)
	opts, _ := testOptions(t, st)
	m := New(opts)
	m.setCase(c, nil, true)
	for _, id := range []screenID{scrRole, scrTriage, scrIdents, scrChecks, scrEvidence, scrMessage, scrOverview} {
		m.show(id)
		for _, sz := range []struct{ w, h int }{{120, 35}, {80, 24}, {50, 16}, {200, 60}, {80, 24}} {
			m.Update(tea.WindowSizeMsg{Width: sz.w, Height: sz.h})
			lines := strings.Split(m.View().Content, "\n")
			if len(lines) != sz.h {
				t.Errorf("screen %d at %dx%d: %d lines", id, sz.w, sz.h, len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > sz.w {
					t.Errorf("screen %d at %dx%d: line %d is %d wide: %q", id, sz.w, sz.h, i, w, ansi.Strip(l))
				}
			}
		}
	}
}

// TestChecksScreen feeds the checks screen results as a run streams them: spinners until
// each settles, a check that could not run kept apart from a failure, the selected
// row's details and fix in the pane.
func TestChecksScreen(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprint(sz.w), func(t *testing.T) {
			c := newCommon(true, true)
			c.Width, c.Height = sz.w, sz.h
			cas := &casefile.Case{ID: "2026-11-20-proofpoint-192-0-2-225", Role: casefile.Sender, Provider: "proofpoint",
				Identifiers: casefile.Identifiers{IPs: []string{"192.0.2.225"}, Domain: "example.com"}}
			cs := newChecks(newSession(c, Options{Now: clock, Timeout: time.Second}, cas))
			cs.rows = nil
			for _, id := range []string{"spf", "dkim", "dmarc", "ptr", "dnsbl", "starttls"} {
				cs.rows = append(cs.rows, checkRow{id: id, running: true})
			}
			cs.run, cs.running, cs.ran = 7, len(cs.rows), true
			results := []checks.Result{
				{ID: "spf", Status: checks.Pass, Summary: "192.0.2.225 may send as example.com"},
				{ID: "dkim", Status: checks.Fail, Summary: "selector s1 has no key", Fix: "publish the key of selector s1 at s1._domainkey.example.com",
					Details: map[string]any{"domain": "example.com", "probed": false, "selectors": []map[string]any{{"selector": "s1", "name": "s1._domainkey.example.com", "found": false}}}},
				{ID: "dnsbl", Status: checks.Error, Summary: "no blocklist answered: the resolver refused \x1b[31m"},
				{ID: "ptr", Status: checks.Warn, Summary: "PTR mail.example.com looks generic"},
			}
			for _, r := range results[:2] {
				cs.update(checkResultMsg{run: 7, res: r})
			}
			// A result of an older run is dropped.
			cs.update(checkResultMsg{run: 6, res: checks.Result{ID: "dmarc", Status: checks.Fail}})
			if cs.rows[cs.index("dmarc")].has {
				t.Fatal("a stale run's result was shown")
			}
			if cs.running != 4 || !strings.Contains(cs.view(), "checking") {
				t.Fatalf("running %d, want 4 rows still spinning", cs.running)
			}
			for _, r := range results[2:] {
				cs.update(checkResultMsg{run: 7, res: r})
			}
			cs.update(checkResultMsg{run: 7, res: checks.Result{ID: "dmarc", Status: checks.Pass, Summary: "policy reject"}})
			cs.update(checkResultMsg{run: 7, res: checks.Result{ID: "starttls", Status: checks.Skip, Summary: "no recipient domain"}})
			cs.update(checksDoneMsg{run: 7})
			if len(cas.Authentication) != 5 || !cs.s.dirty {
				t.Fatalf("the run recorded %d results (dirty %v), want 5 (skips left out)", len(cas.Authentication), cs.s.dirty)
			}
			view := cs.view()
			if !strings.Contains(view, "1 fail · 1 could not be checked") {
				t.Errorf("tally does not keep errors apart from failures:\n%s", view)
			}
			cs.update(tea.KeyPressMsg{Code: tea.KeyDown})
			golden(t, fmt.Sprintf("checks-%d", sz.w), trimLines(ansi.Strip(cs.view())))
			if !strings.Contains(cs.view(), "Fix: publish the key") {
				t.Error("the selected failure's fix is not in the pane")
			}
		})
	}
}

// TestPasteWithCarriageReturns: terminals send a paste's line ends as CR; the bounce is
// still read line by line.
func TestPasteWithCarriageReturns(t *testing.T) {
	st := testStore(t)
	opts, _ := testOptions(t, st)
	d := newDriver(t, opts, 80, 24)
	d.waitText("Who are you")
	d.keys("enter")
	d.waitText("What failed?")
	d.send(tea.PasteMsg{Content: strings.ReplaceAll(readBounce(t), "\n", "\r")})
	d.waitText("Proposed")
	if len(d.m.cas.Timeline) != 1 || !strings.HasPrefix(d.m.cas.Timeline[0].Reply, "554 Blocked") {
		t.Fatalf("timeline after a CR paste: %+v", d.m.cas.Timeline)
	}
	if d.m.cas.Identifiers.Domain != "example.com" {
		t.Errorf("sending domain %q, want example.com from the bounce", d.m.cas.Identifiers.Domain)
	}
}

// TestChecksCancel: x stops a run whose DNS does not answer; what was still waiting
// reports that it could not check, never a failure.
func TestChecksCancel(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 3)
	opts, _, dns := testOptionsDNS(t, st)
	// Longer than the resolver waits: without the cancel the run would take seconds.
	dns.SetDelay(3 * time.Second)
	opts.Case = c.ID
	d := newDriver(t, opts, 80, 24)
	d.waitText("Timeline")
	d.keys("4")
	d.waitText("checks running")
	if d.m.View().ProgressBar == nil {
		t.Error("no terminal progress bar while the checks run")
	}
	cs := d.m.screens[scrChecks].(*checksScreen)
	start := time.Now()
	d.keys("x")
	d.until("the run to end", func() bool { return cs.running == 0 })
	if took := time.Since(start); took > 3*time.Second { // uncancelled: two 2 s attempts
		t.Errorf("cancel took %v", took)
	}
	for _, r := range cs.rows {
		if r.has && r.res.Status == checks.Fail {
			t.Errorf("%s reports fail after a cancel: %s", r.id, r.res.Summary)
		}
	}
	if !strings.Contains(d.screen(), "could not check") {
		t.Errorf("no check says it could not check:\n%s", d.screen())
	}
	if d.m.View().ProgressBar != nil {
		t.Error("the terminal progress bar stays after the run")
	}
}

// TestMessageKeys: d redacts recipients, s saves the message to a file, P asks for it
// to be printed on quit.
func TestMessageKeys(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 3)
	c.Timeline[0].Recipient = "alice@example.org"
	if err := st.Save(c); err != nil {
		t.Fatal(err)
	}
	opts, _ := testOptions(t, st)
	opts.Case = c.ID
	t.Chdir(t.TempDir())
	d := newDriver(t, opts, 100, 30)
	d.waitText("Timeline")
	d.keys("6")
	d.waitText("kind ←/→")
	ms := d.m.screens[scrMessage].(*messageScreen)
	if !strings.Contains(ms.msg.Text, "alice@example.org") {
		t.Fatalf("the message does not name the recipient:\n%s", ms.msg.Text)
	}
	d.keys("d")
	if strings.Contains(ms.msg.Text, "alice@example.org") || !strings.Contains(ms.msg.Text, "@example.org") {
		t.Errorf("d did not redact the recipient:\n%s", ms.msg.Text)
	}
	// A link planted where the message would be saved is neither followed nor replaced
	// (issue 12): the message goes to the next free name.
	name := c.ID + "-" + ms.msg.Kind + ".txt"
	precious := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(precious, []byte("keep"), 0o600)
	if err := os.Symlink(precious, name); err != nil {
		t.Fatal(err)
	}
	d.keys("s")
	d.waitText("saved to")
	name = c.ID + "-" + ms.msg.Kind + "-2.txt"
	b, err := os.ReadFile(name)
	if err != nil || string(b) != ms.msg.String() {
		t.Errorf("saved file %s: %v", name, err)
	}
	if b, _ := os.ReadFile(precious); string(b) != "keep" {
		t.Errorf("s wrote through a planted link: %q", b)
	}
	d.keys("P")
	if d.m.printText != ms.msg.String() {
		t.Error("P did not set the message to print on quit")
	}
}

// TestQuitKeepsTyping: ctrl+c while a field holds typed text asks first, and saving
// keeps what was typed.
func TestQuitKeepsTyping(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 3)
	d := openCase(t, st, c.ID, 80, 24)
	d.keys("3")
	d.waitText("What the provider needs")
	d.keys("down", "down", "down", "ctrl+u", "mx1.example.com", "ctrl+c")
	if !d.m.quitAsk {
		t.Fatal("ctrl+c with a typed HELO name did not ask")
	}
	d.keys("y")
	d.until("the save and quit", func() bool { return d.m.quitting && !d.m.saving })
	got, err := casefile.Load(st.PathOf(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if got.Identifiers.HELO != "mx1.example.com" {
		t.Errorf("HELO on disk %q, want what was typed", got.Identifiers.HELO)
	}
}

// TestOpenThenList: esc on a case opened by id goes on to the list of cases.
func TestOpenThenList(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 3)
	d := openCase(t, st, c.ID, 80, 24)
	d.keys("esc")
	d.waitText("1 saved case")
	d.keys("enter")
	d.waitText("Timeline")
	if d.m.lock == nil {
		t.Error("the case opened again from the list is not locked")
	}
}

// TestPickerSkipsFIFO: a FIFO named like a case neither hangs the picker nor hides the
// cases beside it; the warning names it (issue 12).
func TestPickerSkipsFIFO(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 3)
	if err := syscall.Mkfifo(filepath.Join(st.Dir(), "trap.yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, _ := testOptions(t, st)
	d := newDriver(t, opts, 120, 30)
	d.waitText(c.ID)
	d.waitText("trap.yaml is a FIFO")
}

// TestOverviewReports: receivers' reports in the case (DMARC aggregate here) are shown on
// the overview in the sentences the message quotes.
func TestOverviewReports(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 3)
	at := fixedNow.Add(-48 * time.Hour)
	c.Timeline = append(c.Timeline, casefile.Event{Kind: casefile.KindReport, At: at, Last: at.Add(24 * time.Hour), Added: fixedNow, IP: "192.0.2.225",
		Report: &casefile.ReportSummary{Type: casefile.ReportDMARC, Reports: 2, Receivers: []string{"google.com", "yahoo.com"},
			Messages: 1200, DMARCPass: 1100, DKIMAligned: 1100, SPFAligned: 1200, Rejected: 100}})
	if err := st.Save(c); err != nil {
		t.Fatal(err)
	}
	opts, _ := testOptions(t, st)
	opts.Case = c.ID
	d := newDriver(t, opts, 120, 35)
	d.waitText("Receivers' reports")
	want := c.ReportEvidence()
	if len(want) != 1 || !strings.Contains(d.screen(), want[0][:60]) || !strings.Contains(want[0], "100 rejected") {
		t.Fatalf("the overview does not show the report evidence %q:\n%s", want, d.screen())
	}
}

// TestDuplicateHeldElsewhere: when the case that covers the paste is held by another
// session, enter in the duplicate dialog cannot open it: the new case and its paste stay,
// and nothing goes into the next case opened.
func TestDuplicateHeldElsewhere(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 3)
	other := &casefile.Case{Role: casefile.Sender, Provider: "proofpoint", Mode: triage.HardBlock,
		Identifiers: casefile.Identifiers{IPs: []string{"192.0.2.226"}, Domain: "example.com"}}
	other.Timeline = append(other.Timeline, c.Timeline[:2]...)
	if err := st.Create(other, false); err != nil {
		t.Fatal(err)
	}
	held, err := st.Lock(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	opts, _ := testOptions(t, st)
	d := newDriver(t, opts, 120, 35)
	d.waitText("2 saved cases")
	toDuplicate(t, d)
	d.keys("enter")
	d.waitText("your new case is still here")
	if d.m.created || d.m.carry != nil || len(d.m.cas.Timeline) == 0 || d.m.cur != scrIdents {
		t.Fatalf("after the refused open: created %v, carry %d, %d events, screen %d", d.m.created, len(d.m.carry), len(d.m.cas.Timeline), d.m.cur)
	}
	got, err := st.View(other.ID)
	if err != nil || len(got.Timeline) != 2 {
		t.Fatalf("the other case changed: %v, %d events", err, len(got.Timeline))
	}
}

// toDuplicate starts a new case from the bounce fixture, whose IP an open case covers,
// and goes on to the duplicate dialog.
func toDuplicate(t *testing.T, d *driver) {
	t.Helper()
	d.keys("n")
	d.waitText("Who are you")
	d.keys("enter")
	d.waitText("What failed?")
	d.send(tea.PasteMsg{Content: readBounce(t)})
	d.waitText("Proposed")
	d.keys("enter")
	d.waitText("What the provider needs")
	d.keys("ctrl+s")
	d.waitText("already open")
}
