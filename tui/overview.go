package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/sanitize"
)

// The overview's requests to the root.
type (
	// addFailuresMsg: show the paste area in "add to this case" mode.
	addFailuresMsg struct{}
	// writeMsg: re-run the checks, then show a message of this kind (update, escalation):
	// the authentication status in an update is never stale.
	writeMsg struct{ kind string }
)

// overview is a case as it stands, when it is resumed: what it is about, where it goes,
// the timeline, readiness, the last message and what is new since.
type overview struct {
	s *session
	// Derived from the case when it changes, not per frame: a case can hold 10,000 events.
	chart     timeline
	readiness casefile.Readiness
	seen      casefile.Seen
	newSince  casefile.Seen
	lastSent  casefile.Message
	sent      bool
	followUp  casefile.FollowUp
	due       bool
	next      screenID
}

func newOverview(s *session) *overview {
	o := &overview{s: s}
	o.refresh()
	return o
}

// refresh recomputes what the overview shows from the case.
func (o *overview) refresh() {
	c := o.s.cas
	o.chart = newTimeline(c.Timeline)
	o.s.changed()
	o.readiness = o.s.readiness()
	o.seen = c.Seen()
	o.lastSent, o.sent = c.LastSent()
	if o.sent {
		o.newSince = c.SeenSince(o.lastSent.SentAt)
	}
	o.followUp, o.due = c.FollowUpDue(o.s.opts.Now())
	o.next = firstIncomplete(c, o.readiness)
}

// firstIncomplete is the step a resumed case most needs.
func firstIncomplete(c *casefile.Case, r casefile.Readiness) screenID {
	switch {
	case len(c.Timeline) == 0 && c.Mode == "":
		return scrTriage
	case c.IP() == "" && c.Identifiers.Domain == "":
		return scrIdents
	case len(c.Authentication) == 0:
		return scrChecks
	case r.Level != casefile.Ready && len(c.Messages) == 0:
		return scrEvidence
	}
	return scrMessage
}

func (o *overview) enter() tea.Cmd {
	o.refresh()
	return nil
}

func (o *overview) editing() bool { return false }

func (o *overview) help() []key.Binding {
	k := o.s.c.Keys
	cont := k.Resume
	cont.SetHelp("enter", strings.ToLower(stepNames[o.next]))
	keys := []key.Binding{cont, k.Paste}
	if o.sent {
		keys = append(keys, k.Update, key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "escalate")))
	}
	return append(keys, key.NewBinding(key.WithKeys("1"), key.WithHelp("1-6", "step")), k.Back)
}

func (o *overview) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := o.s.c.Keys
	switch {
	case key.Matches(km, k.Next):
		return emit(gotoMsg{to: o.next})
	case key.Matches(km, k.Paste):
		return emit(addFailuresMsg{})
	case key.Matches(km, k.Update):
		if !o.sent {
			return flash("an update follows a message marked sent: write and send the first message (enter)")
		}
		return emit(writeMsg{kind: "update"})
	case km.String() == "e":
		if !o.sent {
			return flash("an escalation follows a message marked sent")
		}
		return emit(writeMsg{kind: "escalation"})
	case key.Matches(km, k.Back):
		return emit(backMsg{})
	}
	if s := km.String(); len(s) == 1 && s[0] >= '1' && s[0] <= '6' {
		return emit(gotoMsg{to: wizardSteps[s[0]-'1']})
	}
	return nil
}

func (o *overview) view() string {
	st := o.s.c.Styles
	w, _ := o.s.c.size()
	c := o.s.cas
	var b strings.Builder
	title := c.Title
	if title == "" {
		title = c.ID
	}
	b.WriteString(st.Heading.Render(sanitize.Line(title)) + st.Muted.Render(fmt.Sprintf("  %s · %s · %s", c.Status, c.Role, c.Provider)) + "\n")
	what := strings.TrimSpace(fmt.Sprintf("%s %s %s", c.Mode, c.Cause, c.Control))
	route := c.RouteKind()
	where := route
	if d, ok := triage.DeskFor(route); ok {
		where = d.Name
		if d.Contact != "" {
			where += " <" + d.Contact + ">"
		} else if r := triage.RouteFor(route, c.IP()); r.URL != "" {
			where += " " + r.URL
		}
	}
	b.WriteString(truncate(fmt.Sprintf("%s %s  %s %s", st.Muted.Render("failure"), orDash(what), st.Muted.Render("→"), where), w) + "\n")
	id := c.Identifiers
	idLine := fmt.Sprintf("IP %s · domain %s · sender %s · HELO %s", orDash(strings.Join(id.IPs, ",")), orDash(id.Domain), orDash(id.EnvelopeSender), orDash(id.HELO))
	b.WriteString(st.Muted.Render(truncate(sanitize.Line(idLine), w)) + "\n")
	b.WriteString(readinessLine(st, o.readiness, w) + "\n")
	switch {
	case o.due:
		b.WriteString(st.Warn.Render(fmt.Sprintf("Follow-up due since %s UTC: no answer to the %s sent %s.", o.followUp.Due.UTC().Format("2006-01-02 15:04"), o.followUp.Message.Kind, o.followUp.Message.SentAt.UTC().Format("2006-01-02 15:04"))) + "\n")
	case o.sent && o.followUp.Wait > 0:
		b.WriteString(st.Muted.Render(fmt.Sprintf("Follow-up due %s UTC if no answer.", o.lastSent.SentAt.Add(o.followUp.Wait).UTC().Format("2006-01-02 15:04"))) + "\n")
	}
	b.WriteString("\n")
	seen := plural(o.seen.Failures, "failure")
	if !o.seen.First.IsZero() {
		seen += fmt.Sprintf(", first %s, latest %s UTC", o.seen.First.UTC().Format("2006-01-02 15:04"), o.seen.Last.UTC().Format("2006-01-02 15:04"))
	}
	b.WriteString(st.Heading.Render("Timeline") + "  " + st.Muted.Render(truncate(seen, max(0, w-12))) + "\n")
	b.WriteString(o.chart.draw(st, w) + "\n\n")
	if o.sent {
		b.WriteString(st.Heading.Render("Last message") + "  " + fmt.Sprintf("%s, sent %s UTC", o.lastSent.Kind, o.lastSent.SentAt.UTC().Format("2006-01-02 15:04")) + "\n")
		b.WriteString(st.Muted.Render(truncate("  "+sanitize.Line(o.lastSent.Subject), w)) + "\n")
		news := "Since then: " + plural(o.newSince.Failures, "new failure")
		if len(o.newSince.RecipientDomains) > 0 {
			news += " at " + strings.Join(o.newSince.RecipientDomains, ", ")
		}
		b.WriteString(truncate(news+st.Muted.Render(" — u writes the update (the checks run again first), e an escalation"), w) + "\n")
	} else if len(c.Messages) > 0 {
		m := c.Messages[len(c.Messages)-1]
		b.WriteString(st.Heading.Render("Last message") + "  " + fmt.Sprintf("%s, written %s UTC, not marked sent", m.Kind, m.At.UTC().Format("2006-01-02 15:04")) + "\n")
	} else {
		b.WriteString(st.Muted.Render("No message written yet.") + "\n")
	}
	b.WriteString("\n" + st.Accent.Render("enter") + " continues with " + st.Heading.Render(stepNames[o.next]) + st.Muted.Render(fmt.Sprintf(" (step %d)", stepNumber(o.next))) + st.Muted.Render(" · p pastes new failures"))
	return b.String()
}
