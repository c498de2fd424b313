package tui

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"github.com/atotto/clipboard"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
)

// The message screen's outcomes and I/O results.
type (
	printMsg  struct{ text string }
	copiedMsg struct {
		native error
	}
	savedFileMsg struct {
		path string
		err  error
	}
)

// messageScreen is step 6: the text for the route, switchable between the kinds the case
// allows, to copy, save, print and mark sent.
type messageScreen struct {
	s     *session
	kinds []string
	kind  int
	msg   casefile.Message
	err   string
	vp    viewport.Model
	print bool
	// redact writes recipient addresses as a***@domain, for a message to a third party.
	redact bool
	// wrapped is the width the viewport's text was wrapped for.
	wrapped int
	// confirm is set after m on an escalation before the follow-up is due, or on a
	// message already marked sent as it stands: a second m marks it sent all the same,
	// any other key leaves the record as it is. It says what the person was asked.
	confirm string
}

func newMessage(s *session) *messageScreen {
	return &messageScreen{s: s, vp: viewport.New()}
}

// kindsFor are the messages the case allows: the one its route calls for first, then
// the update and escalation once something was sent, then the alternatives for the
// same provider and the false-positive routes.
func kindsFor(c *casefile.Case) []string {
	var out []string
	add := func(k string) {
		if k != "" && !slices.Contains(out, k) && slices.Contains(c.MessageKinds(), k) {
			out = append(out, k)
		}
	}
	if k, err := c.DefaultMessageKind(); err == nil {
		add(k)
	}
	if _, sent := c.LastSent(); sent {
		add("update")
		add("escalation")
	}
	for _, d := range triage.Desks() {
		if d.Provider == c.Provider && (d.Audience == "any" || d.Audience == string(c.Role)) {
			add(d.Message)
		}
	}
	if c.Mode == triage.Filtering {
		add("false-positive")
		add("recipient-admin")
	}
	if strings.HasPrefix(c.Provider, "esp:") {
		add("esp-support")
	}
	// Nothing else: a route with no desk to write to (wait, a fix on the sender's side) has
	// no message, and another provider's desk is never offered in its place.
	return out
}

// enter renders the message for the case as it is now.
func (ms *messageScreen) enter() tea.Cmd {
	cur := ""
	if ms.kind < len(ms.kinds) {
		cur = ms.kinds[ms.kind]
	}
	ms.kinds = kindsFor(ms.s.cas)
	ms.kind = max(0, slices.Index(ms.kinds, cur))
	ms.render()
	return nil
}

// show picks a kind to show (the overview's update and escalation).
func (ms *messageScreen) show(kind string) {
	ms.kinds = kindsFor(ms.s.cas)
	if i := slices.Index(ms.kinds, kind); i >= 0 {
		ms.kind = i
	}
	ms.render()
}

func (ms *messageScreen) render() {
	ms.err = ""
	if len(ms.kinds) == 0 {
		ms.err = "no message fits this case yet"
		if _, err := ms.s.cas.DefaultMessageKind(); err != nil {
			ms.err = oneLine(err)
		}
		ms.vp.SetContent("")
		return
	}
	m, err := casefile.Render(ms.s.cas, ms.kinds[ms.kind], casefile.RenderOptions{Now: ms.s.opts.Now(), Redact: ms.redact})
	if err != nil {
		ms.err = oneLine(err)
		ms.msg = casefile.Message{}
		ms.vp.SetContent("")
		return
	}
	ms.msg = m
	ms.wrapped = -1
	ms.vp.GotoTop()
}

// layout wraps the text to the pane's width; the copy keeps the text as written.
func (ms *messageScreen) layout(w int) {
	if ms.wrapped == w {
		return
	}
	ms.wrapped = w
	ms.vp.SetContent(wrapMessage(expandTabs(ms.msg.String()), w))
}

func (ms *messageScreen) editing() bool { return false }

func (ms *messageScreen) help() []key.Binding {
	k := ms.s.c.Keys
	switch ms.confirm {
	case confirmEarly:
		return []key.Binding{
			key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "mark sent anyway")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "keep waiting")),
		}
	case confirmAgain:
		return []key.Binding{
			key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "record it sent a second time")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "keep the one record")),
		}
	}
	done := k.Next
	done.SetHelp("enter", "done")
	return []key.Binding{k.Copy, k.Save, k.Sent, k.Kind, k.Redact, k.Print, done, k.Back}
}

func (ms *messageScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case copiedMsg:
		if msg.native != nil {
			return flash("copied through the terminal (OSC 52); no system clipboard here — s saves it to a file")
		}
		return flash("copied to the clipboard")
	case savedFileMsg:
		if msg.err != nil {
			return flashError("not saved: " + oneLine(msg.err))
		}
		return flash("saved to " + msg.path)
	case tea.KeyPressMsg:
		return ms.key(msg)
	}
	var cmd tea.Cmd
	ms.vp, cmd = ms.vp.Update(msg)
	return cmd
}

// early reports that the message shown is an escalation written before the desk's
// response time has passed, and when the follow-up is due.
func (ms *messageScreen) early() (time.Time, bool) {
	if len(ms.kinds) == 0 || ms.kinds[ms.kind] != "escalation" {
		return time.Time{}, false
	}
	f, due := ms.s.cas.FollowUpDue(ms.s.opts.Now())
	return f.Due, f.Wait > 0 && !due
}

// What a second m confirms.
const (
	confirmEarly = "early"
	confirmAgain = "again"
)

// alreadySent finds the message shown among those marked sent: the same kind, addressee
// and text. Marking it again would record one sending twice and restart the follow-up.
func (ms *messageScreen) alreadySent() (casefile.Message, bool) {
	for _, m := range slices.Backward(ms.s.cas.Messages) {
		if !m.SentAt.IsZero() && m.Kind == ms.msg.Kind && m.To == ms.msg.To && m.Subject == ms.msg.Subject && m.Text == ms.msg.Text {
			return m, true
		}
	}
	return casefile.Message{}, false
}

func (ms *messageScreen) key(km tea.KeyPressMsg) tea.Cmd {
	k := ms.s.c.Keys
	c := ms.s.cas
	if ms.confirm != "" {
		asked := ms.confirm
		ms.confirm = ""
		if !key.Matches(km, k.Sent) {
			if asked == confirmAgain {
				return flash("not marked sent again: the case keeps one record of this message")
			}
			return flash("not marked sent: the escalation waits until the follow-up is due")
		}
		return ms.markSent()
	}
	switch {
	case key.Matches(km, k.Back):
		return emit(backMsg{})
	case key.Matches(km, k.Next):
		return emit(nextMsg{})
	case km.String() == "left" || km.String() == "h":
		if len(ms.kinds) > 0 {
			ms.kind = (ms.kind + len(ms.kinds) - 1) % len(ms.kinds)
			ms.render()
		}
		return nil
	case ms.err != "" && (key.Matches(km, k.Redact) || key.Matches(km, k.Copy) || key.Matches(km, k.Save) || key.Matches(km, k.Sent) || key.Matches(km, k.Print)):
		// No message to act on: say so rather than do nothing (or claim a redaction).
		act := "copy, save or redact"
		if key.Matches(km, k.Sent) {
			act = "mark sent"
		}
		return flashWarn("there is no message to " + act + ": " + ms.err)
	case key.Matches(km, k.Redact):
		ms.redact = !ms.redact
		ms.render()
		if ms.redact {
			return flash("recipient addresses redacted (a***@domain)")
		}
		return flash("recipient addresses shown in full")
	case km.String() == "right" || km.String() == "l":
		if len(ms.kinds) > 0 {
			ms.kind = (ms.kind + 1) % len(ms.kinds)
			ms.render()
		}
		return nil
	}
	if ms.err != "" {
		var cmd tea.Cmd
		ms.vp, cmd = ms.vp.Update(km)
		return cmd
	}
	text := ms.msg.String()
	switch {
	// Copying, saving and printing are previews: only marking sent records a message.
	case key.Matches(km, k.Copy):
		native := ms.s.opts.Clipboard
		if native == nil {
			native = clipboard.WriteAll
		}
		return tea.Batch(tea.SetClipboard(text), func() tea.Msg {
			return copiedMsg{native: native(text)}
		})
	case key.Matches(km, k.Save):
		name := fmt.Sprintf("%s-%s.txt", c.ID, ms.msg.Kind)
		return tea.Batch(func() tea.Msg {
			abs, err := filepath.Abs(name)
			if err != nil {
				return savedFileMsg{err: err}
			}
			// Never over an existing file or through a link: a taken name gets -2, -3 ….
			abs, err = casefile.WriteNewFile(abs, []byte(text))
			return savedFileMsg{path: abs, err: err}
		})
	case key.Matches(km, k.Sent):
		if prev, ok := ms.alreadySent(); ok {
			ms.confirm = confirmAgain
			return flashError(fmt.Sprintf("already marked sent %s UTC: m again records it a second time", prev.SentAt.UTC().Format("2006-01-02 15:04")))
		}
		if due, ok := ms.early(); ok {
			ms.confirm = confirmEarly
			return flashError(fmt.Sprintf("follow-up due %s UTC: m again marks it sent anyway", due.UTC().Format("2006-01-02 15:04")))
		}
		return ms.markSent()
	case key.Matches(km, k.Print):
		ms.print = !ms.print
		if ms.print {
			return tea.Batch(emit(printMsg{text: text}), flash("the message will be printed when you quit"))
		}
		return tea.Batch(emit(printMsg{}), flash("nothing will be printed on quit"))
	}
	var cmd tea.Cmd
	ms.vp, cmd = ms.vp.Update(km)
	return cmd
}

// markSent records the message as sent now and saves the case at once: it records
// something done outside the program.
func (ms *messageScreen) markSent() tea.Cmd {
	c := ms.s.cas
	c.MarkSent(ms.msg, ms.s.opts.Now())
	if c.Status == casefile.StatusDraft || c.Status == casefile.StatusOpen || c.Status == "" {
		c.Status = casefile.StatusWaiting
	}
	return tea.Batch(ms.s.touch(), emit(saveMsg{}), flash(fmt.Sprintf("marked sent at %s UTC: the case now waits for %s", ms.s.opts.Now().UTC().Format("2006-01-02 15:04"), waitFor(c, ms.msg.Kind))))
}

// waitFor says how long the desk is expected to take.
func waitFor(c *casefile.Case, kind string) string {
	d := c.ResponseTime(kind)
	if d <= 0 {
		return "an answer"
	}
	if d >= 24*3600e9 && d%(24*3600e9) == 0 {
		return fmt.Sprintf("an answer (the desk takes about %d days)", int(d.Hours()/24))
	}
	return fmt.Sprintf("an answer (the desk takes about %d hours)", int(d.Hours()))
}

func (ms *messageScreen) view() string {
	st := ms.s.c.Styles
	w, h := ms.s.c.body()
	var b strings.Builder
	// The kinds as tabs.
	var tabs []string
	for i, k := range ms.kinds {
		if i == ms.kind {
			tabs = append(tabs, st.Selected.Render(" "+k+" "))
		} else {
			tabs = append(tabs, st.Muted.Render(" "+k+" "))
		}
	}
	b.WriteString(truncate(st.Muted.Render("kind ←/→ ")+strings.Join(tabs, ""), w) + "\n")
	b.WriteString(readinessLine(st, ms.s.readiness(), w) + "\n")
	extra := 0
	if due, ok := ms.early(); ok {
		// The command line refuses this escalation without --force; here it is said.
		b.WriteString(st.Warn.Render(truncate(fmt.Sprintf("! Too early to escalate: the follow-up is due %s UTC", due.UTC().Format("2006-01-02 15:04")), w)) + "\n")
		extra = 1
	}
	if ms.err != "" {
		b.WriteString("\n" + st.Warn.Render(wrap(ms.err, w)) + "\n")
		return b.String()
	}
	// What is left after the two lines above, the pane's border and the status line.
	vh := max(3, h-5-extra)
	ms.vp.SetWidth(max(10, w-4))
	ms.vp.SetHeight(vh)
	ms.layout(max(10, w-4))
	pane := st.Pane.Width(w).Render(ms.vp.View())
	b.WriteString(pane + "\n")
	status := fmt.Sprintf("%d%% · ↑/↓ scroll", int(ms.vp.ScrollPercent()*100))
	if last, ok := ms.s.cas.LastSent(); ok {
		status += " · last sent " + last.SentAt.UTC().Format("2006-01-02 15:04") + " UTC (" + last.Kind + ")"
	}
	if ms.print {
		status += " · printed on quit"
	}
	if ms.redact {
		status += " · recipients redacted"
	}
	b.WriteString(st.Muted.Render(truncate(status, w)))
	return b.String()
}
