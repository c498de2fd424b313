package tui

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
)

// TestMessageIsAPreview: copying, saving, printing and switching kinds record nothing;
// marking sent records the message and saves it at once.
func TestMessageIsAPreview(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 3)
	opts, clip := testOptions(t, st)
	opts.Case = c.ID
	t.Chdir(t.TempDir())
	d := newDriver(t, opts, 100, 30)
	d.waitText("Timeline")
	d.keys("6")
	d.waitText("kind ←/→")
	before := len(d.m.cas.Messages)
	d.keys("c")
	d.waitText("copied")
	d.keys("s")
	d.waitText("saved to")
	d.keys("P", "right", "left")
	d.drain(30 * time.Millisecond)
	if clip.get() == "" {
		t.Fatal("c copied nothing")
	}
	if n := len(d.m.cas.Messages); n != before || d.m.dirty() {
		t.Fatalf("previews recorded a message: %d → %d, dirty %v", before, n, d.m.dirty())
	}
	disk, err := casefile.Load(st.PathOf(c.ID))
	if err != nil || len(disk.Messages) != before {
		t.Fatalf("on disk: %d messages (%v)", len(disk.Messages), err)
	}
	ms := d.m.screens[scrMessage].(*messageScreen)
	kind := ms.kinds[ms.kind]
	d.keys("m")
	d.until("the mark saved", func() bool {
		disk, err := casefile.Load(st.PathOf(c.ID))
		return err == nil && len(disk.Messages) == before+1
	})
	disk, _ = casefile.Load(st.PathOf(c.ID))
	if last := disk.Messages[len(disk.Messages)-1]; last.Kind != kind || !last.SentAt.Equal(fixedNow) {
		t.Errorf("marked sent: %s at %v, want %s at %v", last.Kind, last.SentAt, kind, fixedNow)
	}
}

// TestEarlyEscalation: an escalation before the desk's response time has passed is
// warned about, and m asks before marking it sent; once the follow-up is due it is not.
func TestEarlyEscalation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		now   time.Time
		early bool
	}{{"early", fixedNow, true}, {"due", fixedNow.Add(72 * time.Hour), false}} {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%s-%d", tc.name, sz.w), func(t *testing.T) {
				st := testStore(t)
				c := timelineCase(t, st, 3)
				opts, _ := testOptions(t, st)
				opts.Case = c.ID
				opts.Now = func() time.Time { return tc.now }
				d := newDriver(t, opts, sz.w, sz.h)
				d.waitText("Timeline")
				d.keys("e")
				d.waitText("kind ←/→")
				ms := d.m.screens[scrMessage].(*messageScreen)
				if ms.kinds[ms.kind] != "escalation" {
					t.Fatalf("e shows %s", ms.kinds[ms.kind])
				}
				f, _ := d.m.cas.FollowUpDue(tc.now)
				warn := "Too early to escalate: the follow-up is due " + f.Due.UTC().Format("2006-01-02 15:04")
				if got := strings.Contains(d.screen(), warn); got != tc.early {
					t.Fatalf("warning shown %v, want %v:\n%s", got, tc.early, d.screen())
				}
				sent := func() int {
					n := 0
					for _, m := range d.m.cas.Messages {
						if m.Kind == "escalation" && !m.SentAt.IsZero() {
							n++
						}
					}
					return n
				}
				d.keys("m")
				if !tc.early {
					if sent() != 1 {
						t.Fatal("m on a due escalation did not mark it sent")
					}
					d.until("the mark saved", func() bool { return !d.m.saving && !d.m.dirty() })
					return
				}
				d.waitText("m again marks it sent anyway")
				if sent() != 0 || !strings.Contains(d.screen(), "m mark sent anyway") {
					t.Fatalf("the first m marked an early escalation sent (%d), or the footer does not say what m does now:\n%s", sent(), d.screen())
				}
				d.golden(t, fmt.Sprintf("escalation-early-%d", sz.w))
				d.keys("esc")
				if sent() != 0 || ms.confirm != "" || d.m.cur != scrMessage {
					t.Fatal("another key did not cancel the question")
				}
				d.keys("m", "m")
				if sent() != 1 {
					t.Fatal("m twice did not mark the early escalation sent")
				}
				if !slices.ContainsFunc(d.m.cas.Messages, func(m casefile.Message) bool { return m.Kind == "escalation" }) {
					t.Fatal("no escalation recorded")
				}
				d.until("the mark saved", func() bool { return !d.m.saving && !d.m.dirty() })
			})
		}
	}
}

// TestMarkSentTwice: m on a message already marked sent as it stands asks before
// recording it a second time, and the footer says what m does now; another key keeps
// the one record, m again records the second sending.
func TestMarkSentTwice(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprint(sz.w), func(t *testing.T) {
			st := testStore(t)
			c := timelineCase(t, st, 3)
			c.Messages, c.Status = nil, casefile.StatusOpen
			if err := st.Save(c); err != nil {
				t.Fatal(err)
			}
			d := openCase(t, st, c.ID, sz.w, sz.h)
			d.keys("6")
			d.waitText("kind ←/→")
			d.keys("m")
			d.waitText("marked sent at")
			if n := len(d.m.cas.Messages); n != 1 {
				t.Fatalf("the first m recorded %d messages", n)
			}
			d.keys("m")
			d.waitText("already marked sent 2026-11-20 09:30 UTC")
			if n := len(d.m.cas.Messages); n != 1 || !strings.Contains(d.screen(), "m record it sent a second time") {
				t.Fatalf("the second m recorded the same message again (%d), or the footer does not say what m does now:\n%s", n, d.screen())
			}
			d.golden(t, fmt.Sprintf("message-sent-again-%d", sz.w))
			d.keys("esc")
			ms := d.m.screens[scrMessage].(*messageScreen)
			if n := len(d.m.cas.Messages); n != 1 || ms.confirm != "" || d.m.cur != scrMessage {
				t.Fatalf("another key did not cancel the question: %d messages", n)
			}
			// Another kind is another message: it is marked at once.
			d.keys("right", "m")
			if n := len(d.m.cas.Messages); n != 2 {
				t.Fatalf("m on another kind recorded %d messages, want 2", n)
			}
			d.keys("left", "m", "m")
			if n := len(d.m.cas.Messages); n != 3 {
				t.Fatalf("m twice on a message already sent recorded %d messages, want 3", n)
			}
			d.until("the mark saved", func() bool { return !d.m.saving && !d.m.dirty() })
		})
	}
}

// TestSupportCaseFields: a customer's Customer Success Center case asks for its title,
// product, component and case number on the evidence step; they reach the case and the
// support-case message. Other routes do not show them.
func TestSupportCaseFields(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprint(sz.w), func(t *testing.T) {
			st := testStore(t)
			c := timelineCase(t, st, 3)
			c.Role, c.Route.Kind, c.Messages, c.Status = casefile.Customer, "proofpoint-support", nil, casefile.StatusOpen
			if err := st.Save(c); err != nil {
				t.Fatal(err)
			}
			d := openCase(t, st, c.ID, sz.w, sz.h)
			d.keys("5")
			d.waitText("CSC case number")
			d.keys("tab")
			for range 5 {
				d.keys("down")
			}
			// tab moves on to the next field as in any form; the letters typed after it are
			// text, never the checklist's keys (a for attach).
			d.keys("Mail from example.com blocked", "tab", "Protection Server", "tab", "Email Filtering", "down", "01234567")
			if ev := d.m.screens[scrEvidence].(*evidence); ev.pane != 1 || ev.attaching {
				t.Fatalf("tab left the fields (pane %d, attaching %v)", ev.pane, ev.attaching)
			}
			d.golden(t, fmt.Sprintf("evidence-support-%d", sz.w))
			d.keys("esc")
			got := d.m.cas
			if got.Title != "Mail from example.com blocked" || got.Route.Product != "Protection Server" || got.Route.Component != "Email Filtering" || got.Route.Reference != "01234567" {
				t.Fatalf("fields not stored: title %q product %q component %q reference %q", got.Title, got.Route.Product, got.Route.Component, got.Route.Reference)
			}
			d.keys("esc")
			d.waitText("Timeline")
			d.until("the save", func() bool { return !d.m.saving && !d.m.dirty() })
			disk, err := casefile.Load(st.PathOf(c.ID))
			if err != nil || disk.Route.Product != "Protection Server" || disk.Title != "Mail from example.com blocked" {
				t.Fatalf("not saved: %+v (%v)", disk.Route, err)
			}
			m, err := casefile.Render(disk, "support-case", casefile.RenderOptions{Now: clock()})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"Protection Server", "Email Filtering"} {
				if !strings.Contains(m.String(), want) {
					t.Errorf("the support-case message lacks %q:\n%s", want, m.String())
				}
			}
		})
	}
	// A sender's IP-check case has no such fields.
	st := testStore(t)
	c := timelineCase(t, st, 3)
	d := openCase(t, st, c.ID, 80, 24)
	d.keys("5")
	d.waitText("Checklist")
	if strings.Contains(d.screen(), "CSC case number") {
		t.Errorf("an IP-check case shows the CSC fields:\n%s", d.screen())
	}
}

// TestReferenceAndAnswer: after a message is sent, r keeps the reference the desk gave
// and a records that the desk answered, on disk; the follow-up stops being due, the
// update quotes the reference, and a second a says it is already recorded.
func TestReferenceAndAnswer(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprint(sz.w), func(t *testing.T) {
			st := testStore(t)
			c := timelineCase(t, st, 3)
			opts, _ := testOptions(t, st)
			opts.Case = c.ID
			later := fixedNow.Add(48 * time.Hour) // past the desk's 72 hours
			opts.Now = func() time.Time { return later }
			d := newDriver(t, opts, sz.w, sz.h)
			d.waitText("Timeline")
			d.waitText("Follow-up due since")
			d.keys("r")
			d.waitText("Reference")
			// While the reference is typed, letters are text: q does not quit, a is no answer.
			d.keys("PDR-4471 qa", "enter")
			d.waitText("reference kept")
			d.until("the reference saved", func() bool { return !d.m.saving && !d.m.dirty() })
			got, err := st.View(c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Route.Reference != "PDR-4471 qa" || !got.Messages[0].AnsweredAt.IsZero() {
				t.Fatalf("reference %q, answered %v: want the typed reference and no answer", got.Route.Reference, got.Messages[0].AnsweredAt)
			}
			d.keys("a")
			d.waitText("recorded: the desk answered")
			d.until("the answer saved", func() bool { return !d.m.saving && !d.m.dirty() })
			if got, err = st.View(c.ID); err != nil || got.Messages[0].AnsweredAt.IsZero() || got.Status != casefile.StatusOpen {
				t.Fatalf("the answer is not on disk (%v): status %s", err, got.Status)
			}
			if strings.Contains(d.screen(), "Follow-up due since") {
				t.Fatalf("a follow-up is still due after the answer:\n%s", d.screen())
			}
			d.keys("a")
			d.waitText("already recorded")
			text, err := casefile.Render(got, "update", casefile.RenderOptions{Now: later})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.Text, "PDR-4471 qa") {
				t.Fatalf("the update does not quote the reference:\n%s", text.Text)
			}
		})
	}
}

// TestNoDeskNoMessage: a Gmail deferral (route wait: no desk to write to) offers no
// message, says why, and m records nothing: another provider's desk is never offered.
func TestNoDeskNoMessage(t *testing.T) {
	st := testStore(t)
	c := &casefile.Case{Role: casefile.Sender, Provider: "google", Mode: triage.Deferral, Cause: "ip-reputation", Control: "unsolicited-rate",
		Route:       casefile.Route{Kind: "wait"},
		Identifiers: casefile.Identifiers{IPs: []string{"192.0.2.225"}, Domain: "example.com", RecipientDomains: []string{"gmail.com"}}}
	c.Timeline = append(c.Timeline, casefile.Event{At: fixedNow.Add(-time.Hour), RecipientDomain: "gmail.com", ReplyCode: 421, Provider: "google", Mode: triage.Deferral,
		Reply: "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address [192.0.2.225]. - gsmtp", Source: "paste:1"})
	if err := st.Create(c, false); err != nil {
		t.Fatal(err)
	}
	d := openCase(t, st, c.ID, 120, 35)
	d.keys("6")
	d.waitText("there is no message to write")
	if strings.Contains(d.screen(), "proofpoint") {
		t.Fatalf("another provider's desk is offered:\n%s", d.screen())
	}
	d.keys("m")
	d.waitText("there is no message to mark sent")
	if len(d.m.cas.Messages) != 0 {
		t.Fatalf("m recorded %d messages for a case with no message", len(d.m.cas.Messages))
	}
	d.keys("d")
	d.waitText("there is no message to copy, save or redact")
	// The evidence step speaks of no desk asking anything.
	d.keys("esc")
	d.waitText("Case overview")
	d.keys("5")
	d.waitText("the evidence, should a case follow")
	if strings.Contains(d.screen(), "The desk also asks for") {
		t.Fatalf("the evidence step speaks of a desk:\n%s", d.screen())
	}
	if strings.Contains(d.screen(), "choose one with a kind") || strings.Contains(d.screen(), "redacted (a***") {
		t.Fatalf("the screen offers kinds or claims a redaction:\n%s", d.screen())
	}
}

// TestChangesNoneConfirms: "none" typed as the recent changes confirms that nothing
// changed; it is not stored as a change called "none", and a real change listed later
// takes the confirmation back.
func TestChangesNoneConfirms(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 3)
	d := openCase(t, st, c.ID, 120, 35)
	d.keys("5")
	d.waitText("Recent changes")
	d.keys("tab")
	for range 4 {
		d.keys("down")
	}
	d.keys("None", "esc")
	d.drain(30 * time.Millisecond)
	if len(d.m.cas.Changes) != 0 || !d.m.cas.Confirmed("changes") {
		t.Fatalf("changes %+v, confirmed %v", d.m.cas.Changes, d.m.cas.Scope.Confirmed)
	}
	d.keys("5")
	d.waitText("Recent changes")
	d.keys("tab") // to the fields, where the changes field still has the focus
	if ev := d.m.screens[scrEvidence].(*evidence); ev.pane != 1 || ev.field != 4 {
		t.Fatalf("not on the changes field (pane %d field %d)", ev.pane, ev.field)
	}
	d.keys("dns: new SPF include", "esc")
	d.drain(30 * time.Millisecond)
	if len(d.m.cas.Changes) != 1 || d.m.cas.Changes[0].Kind != "dns" || d.m.cas.Confirmed("changes") {
		t.Fatalf("changes %+v, confirmed %v", d.m.cas.Changes, d.m.cas.Scope.Confirmed)
	}
}

// TestTabbingChangesNothing: moving through the evidence fields without typing leaves the
// case unchanged, so quitting does not ask to save.
func TestTabbingChangesNothing(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 3)
	d := openCase(t, st, c.ID, 120, 35)
	d.drain(30 * time.Millisecond)
	if d.m.dirty() {
		t.Fatal("the case is unsaved before anything was done")
	}
	d.keys("5")
	d.waitText("Recent changes")
	d.keys("tab", "tab", "tab", "down", "up", "esc")
	d.drain(30 * time.Millisecond)
	if d.m.dirty() {
		t.Fatal("moving through the fields marked the case unsaved")
	}
	d.keys("tab", "down", "y", "tab") // business impact
	if !d.m.dirty() && !d.m.saving {
		t.Fatal("typing in a field did not mark the case changed")
	}
}
