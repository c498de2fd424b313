package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
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
	// probedMsg: a probe (and blocklist run) of the case finished; the root hands it to
	// the overview wherever the person is.
	probedMsg struct {
		id     int
		caseID string
		rep    casefile.WatchReport
		err    error
	}
)

// The overview's own keys: probe now, and what only the person knows after a message
// is sent: the reference the desk gave, and that the desk answered.
var (
	probeKey    = key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "probe now"))
	refKey      = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reference"))
	answeredKey = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "desk answered"))
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
	// The probe and watch history: the latest probes and changes of state, and the
	// changes since the last message sent.
	probes    []casefile.Event
	states    []casefile.Event
	statesNew []casefile.Event
	probing   bool
	probeID   int
	// reports is what receivers' reports (DMARC aggregate, SNDS) say of the case's IPs.
	reports []string
	// ref edits the reference the desk gave (r); editingRef while it is open.
	ref        textinput.Model
	editingRef bool
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
	o.statesNew = nil
	if o.sent {
		o.newSince = c.SeenSince(o.lastSent.SentAt)
		o.statesNew = c.States(o.lastSent.SentAt)
	}
	o.probes, o.states = lastN(c.Probes(time.Time{}), 3), lastN(c.States(time.Time{}), 3)
	o.reports = c.ReportEvidence()
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

func (o *overview) editing() bool { return o.editingRef }

func (o *overview) help() []key.Binding {
	k := o.s.c.Keys
	cont := k.Resume
	cont.SetHelp("enter", strings.ToLower(stepNames[o.next]))
	if o.editingRef {
		return []key.Binding{key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep the reference")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))}
	}
	keys := []key.Binding{cont, k.Paste, probeKey}
	if o.sent {
		keys = append(keys, k.Update, key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "escalate")), refKey, answeredKey)
	}
	return append(keys, key.NewBinding(key.WithKeys("1"), key.WithHelp("1-6", "step")), k.Back)
}

func (o *overview) update(msg tea.Msg) tea.Cmd {
	if o.editingRef {
		return o.updateRef(msg)
	}
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := o.s.c.Keys
	switch {
	case key.Matches(km, refKey):
		if !o.sent {
			return flash("a reference comes with the desk's answer to a message marked sent")
		}
		o.ref = newInput(o.s.c, "reference ID, ticket or case number")
		o.ref.CharLimit = 200
		o.ref.SetValue(o.s.cas.Route.Reference)
		o.editingRef = true
		return o.ref.Focus()
	case key.Matches(km, answeredKey):
		return o.recordAnswer()
	case key.Matches(km, k.Next):
		return emit(gotoMsg{to: o.next})
	case key.Matches(km, k.Paste):
		return emit(addFailuresMsg{})
	case key.Matches(km, probeKey):
		return o.probeNow()
	case key.Matches(km, k.Update):
		if !o.sent && len(kindsFor(o.s.cas)) == 0 {
			return flash("this case has no desk to write to, so there is no message to follow up")
		}
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
	if o.probing || len(o.probes)+len(o.states) > 0 {
		b.WriteString(o.watchView(w) + "\n")
	}
	if len(o.reports) > 0 {
		b.WriteString(st.Heading.Render("Receivers' reports") + "\n")
		for _, r := range o.reports {
			b.WriteString(truncate("  "+sanitize.Line(r), w) + "\n")
		}
		b.WriteString("\n")
	}
	if o.sent {
		b.WriteString(st.Heading.Render("Last message") + "  " + fmt.Sprintf("%s, sent %s UTC", o.lastSent.Kind, o.lastSent.SentAt.UTC().Format("2006-01-02 15:04")) + "\n")
		b.WriteString(st.Muted.Render(truncate("  "+sanitize.Line(o.lastSent.Subject), w)) + "\n")
		answer := "no answer recorded yet (a)"
		if !o.lastSent.AnsweredAt.IsZero() {
			answer = "answered " + o.lastSent.AnsweredAt.UTC().Format("2006-01-02 15:04") + " UTC"
		}
		ref := "no reference yet (r)"
		if c.Route.Reference != "" {
			ref = "reference " + sanitize.Line(c.Route.Reference)
		}
		if o.editingRef {
			b.WriteString("  " + st.Accent.Render("Reference") + " " + o.ref.View() + "\n")
			b.WriteString(st.Muted.Render(truncate("  "+answer, w)) + "\n")
		} else {
			b.WriteString(st.Muted.Render(truncate("  "+ref+" · "+answer, w)) + "\n")
		}
		news := "Since then: " + plural(o.newSince.Failures, "new failure")
		if len(o.newSince.RecipientDomains) > 0 {
			news += " at " + strings.Join(o.newSince.RecipientDomains, ", ")
		}
		if n := len(o.statesNew); n > 0 {
			news += fmt.Sprintf("; %s (latest: %s)", plural(n, "change of state"), stateText(o.statesNew[n-1]))
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

// updateRef edits the reference: enter keeps it (an empty one clears it), esc leaves it.
func (o *overview) updateRef(msg tea.Msg) tea.Cmd {
	if km, ok := msg.(tea.KeyPressMsg); ok {
		switch km.String() {
		case "enter":
			o.editingRef = false
			ref := sanitize.Line(strings.TrimSpace(o.ref.Value()))
			c := o.s.cas
			if ref == c.Route.Reference {
				return nil
			}
			c.Route.Reference = ref
			o.refresh()
			say := "reference kept: updates and escalations quote " + ref
			if ref == "" {
				say = "reference cleared"
			}
			return tea.Batch(o.s.touch(), emit(saveMsg{}), flash(say))
		case "esc":
			o.editingRef = false
			return nil
		}
	}
	var cmd tea.Cmd
	o.ref, cmd = o.ref.Update(msg)
	return cmd
}

// recordAnswer records that the desk answered the last message sent: the follow-up
// clock stops and the case is ours to move again.
func (o *overview) recordAnswer() tea.Cmd {
	if !o.sent {
		return flash("an answer follows a message marked sent")
	}
	if at := o.lastSent.AnsweredAt; !at.IsZero() {
		return flash("already recorded: the desk answered on " + at.UTC().Format("2006-01-02 15:04") + " UTC")
	}
	now := o.s.opts.Now()
	if !o.s.cas.RecordAnswer(now) {
		return flash("an answer follows a message marked sent")
	}
	o.refresh()
	return tea.Batch(o.s.touch(), emit(saveMsg{}), flash(fmt.Sprintf("recorded: the desk answered the %s on %s UTC; no follow-up is due", o.lastSent.Kind, now.UTC().Format("2006-01-02 15:04"))))
}

// lastN is the last n events.
func lastN(es []casefile.Event, n int) []casefile.Event {
	if len(es) > n {
		return es[len(es)-n:]
	}
	return es
}

func stateText(e casefile.Event) string {
	return sanitize.Line(fmt.Sprintf("%s %s: %s → %s", e.At.UTC().Format("01-02 15:04"), e.What, orDash(e.From), e.To))
}

// watchView is the probe and watch history: the latest probes from the sending IP and the
// latest changes of state.
func (o *overview) watchView(w int) string {
	st := o.s.c.Styles
	var b strings.Builder
	head := st.Heading.Render("Probes") + "  "
	switch {
	case o.probing:
		head += st.Muted.Render("probing from " + orDash(o.s.cas.IP()) + " …")
	case len(o.probes) == 0:
		head += st.Muted.Render("none yet — o probes the recipient's MX from the sending IP")
	default:
		head += st.Muted.Render("o probes again; a probe only tells about the IP it runs from")
	}
	b.WriteString(truncate(head, w) + "\n")
	for _, e := range o.probes {
		at := e.LastSeen().UTC().Format("01-02 15:04")
		n := ""
		if e.AttemptCount() > 1 {
			n = fmt.Sprintf(" ×%d", e.AttemptCount())
		}
		verdict := "refused"
		switch {
		case e.ReplyCode >= 200 && e.ReplyCode < 300:
			verdict = st.OK.Render("accepted")
		case e.ReplyCode >= 400 && e.ReplyCode < 500:
			verdict = st.Warn.Render("deferred")
		default:
			verdict = st.Fail.Render(verdict)
		}
		line := fmt.Sprintf("  %s%s  %s → %s  %s at %s  %s", at, n, e.FromIP, e.MX, verdict, strings.ToUpper(e.Stage), st.Muted.Render(sanitize.Line(e.Reply)))
		b.WriteString(truncate(line, w) + "\n")
	}
	for _, e := range o.states {
		b.WriteString(truncate("  "+st.Accent.Render("change")+" "+stateText(e), w) + "\n")
	}
	return b.String()
}

// probeNow probes the case in a Cmd: the network part runs on a copy of what it needs,
// and the root hands the result back to probed.
func (o *overview) probeNow() tea.Cmd {
	if o.probing {
		return flash("a probe is already running")
	}
	if o.s.opts.Store == nil {
		return flashError("no case store to keep the probes polite")
	}
	o.probing = true
	o.probeID++
	id, plan, opts := o.probeID, o.s.cas.Plan(), o.s.opts
	return func() tea.Msg {
		env, err := checkEnv(opts)
		if err != nil {
			return probedMsg{id: id, caseID: plan.Case, err: err}
		}
		log, err := opts.Store.ProbeLog(0)
		if err != nil {
			return probedMsg{id: id, caseID: plan.Case, err: err}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rep := plan.Gather(ctx, casefile.WatchOptions{Resolver: env.Resolver, Port: env.SMTPPort, Log: log, Now: opts.Now, Probe: true, Blocklists: true})
		return probedMsg{id: id, caseID: plan.Case, rep: rep}
	}
}

// probed records a finished probe in the case and says how it went.
func (o *overview) probed(msg probedMsg) tea.Cmd {
	if msg.id != o.probeID || msg.caseID != o.s.cas.ID {
		return nil
	}
	o.probing = false
	if msg.err != nil {
		return flashError("probe: " + oneLine(msg.err))
	}
	o.s.cas.RecordWatch(&msg.rep, o.s.opts.Now())
	o.refresh()
	var say []string
	reached := false // a server answered: something was probed
	for _, p := range msg.rep.Probes {
		if p.Reply != "" {
			reached = true
			say = append(say, fmt.Sprintf("%s %s at %s: %s", p.MX, p.Outcome, strings.ToUpper(p.Stage), p.Reply))
		} else {
			say = append(say, p.Domain+": "+p.Problem)
		}
	}
	say = append(say, msg.rep.Notes...)
	if msg.rep.Lifted {
		say = append([]string{"the block lifted at " + msg.rep.LiftedAt.UTC().Format("2006-01-02 15:04") + " UTC: resolve it: unblock set " + o.s.cas.ID + " --status resolved"}, say...)
	}
	if len(say) == 0 {
		say = []string{"nothing to probe"}
	}
	// Nothing probed (this machine does not hold the IP, no MX) is no success.
	show := flashWarn
	if reached || msg.rep.Lifted {
		show = flash
	}
	return tea.Batch(o.s.touch(), emit(saveMsg{}), show(strings.Join(say, "; ")))
}
