package tui

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/unblock-mail/unblock/casefile"
)

// session is what the screens of one case share: the common value, the options and the
// case the root lends them. Screens change the case only in their Update.
type session struct {
	c    *Common
	opts Options
	cas  *casefile.Case
	// ready caches the case's readiness: with thousands of events it costs milliseconds,
	// too much to recompute every frame. touch drops it.
	ready *casefile.Readiness
	// dirty says the case changed since the last save; edits counts the changes, so a
	// save knows whether the case changed again while it ran.
	dirty bool
	edits int
}

// touch records that the screen changed the case, at once (not through a message: the
// very next frame shows it unsaved). It returns no Cmd, to sit in a Batch or Sequence.
func (s *session) touch() tea.Cmd {
	s.dirty = true
	s.edits++
	s.ready = nil
	return nil
}

// readiness is the case's readiness, computed once per change.
func (s *session) readiness() casefile.Readiness {
	if s.ready == nil {
		r := s.cas.Readiness()
		s.ready = &r
	}
	return *s.ready
}

// changed is called when the case changed: what was derived from it is stale.
func (s *session) changed() { s.ready = nil }

func newSession(c *Common, opts Options, cas *casefile.Case) *session {
	return &session{c: c, opts: opts, cas: cas}
}

// roleChoice is one answer of the first step, with what it changes in one line.
type roleChoice struct {
	role        casefile.Role
	name, means string
}

var roleChoices = []roleChoice{
	{casefile.Sender, "External sender",
		"Your mail to someone else is blocked. No portal: you go to the provider's IP check, postmaster or delisting desk."},
	{casefile.Customer, "Proofpoint customer admin",
		"Mail to your own users is blocked or filtered. You have the Customer Success Center: the case goes there with Smart Search evidence."},
}

// role is step 1: who the user is.
type role struct {
	s   *session
	sel int
}

func newRole(s *session) *role {
	r := &role{s: s}
	for i, ch := range roleChoices {
		if ch.role == s.cas.Role {
			r.sel = i
		}
	}
	return r
}

func (r *role) enter() tea.Cmd { return nil }
func (r *role) editing() bool  { return false }
func (r *role) help() []key.Binding {
	k := r.s.c.Keys
	return []key.Binding{k.Up, k.Down, k.Next, k.Back}
}

func (r *role) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := r.s.c.Keys
	switch {
	case key.Matches(km, k.Up):
		r.sel = (r.sel + len(roleChoices) - 1) % len(roleChoices)
	case key.Matches(km, k.Down), key.Matches(km, k.Tab):
		r.sel = (r.sel + 1) % len(roleChoices)
	case km.String() == "1", km.String() == "2":
		r.sel = int(km.String()[0] - '1')
		return r.choose()
	case key.Matches(km, k.Next):
		return r.choose()
	case key.Matches(km, k.Back):
		return emit(backMsg{})
	}
	return nil
}

func (r *role) choose() tea.Cmd {
	ch := roleChoices[r.sel]
	var cmds []tea.Cmd
	if r.s.cas.Role != ch.role {
		r.s.cas.Role = ch.role
		cmds = append(cmds, r.s.touch())
	}
	return tea.Sequence(append(cmds, emit(nextMsg{}))...)
}

func (r *role) view() string {
	st := r.s.c.Styles
	w, _ := r.s.c.size()
	var b strings.Builder
	b.WriteString(st.Heading.Render("Who are you in this case?") + "\n\n")
	for i, ch := range roleChoices {
		mark := "  "
		name := st.Text.Render(ch.name)
		if i == r.sel {
			mark = st.Accent.Render("▸ ")
			name = st.Selected.Render(ch.name)
		}
		b.WriteString(mark + string(rune('1'+i)) + "  " + name + "\n")
		b.WriteString(indent(st.Muted.Render(wrap(ch.means, max(20, w-8))), 5) + "\n\n")
	}
	b.WriteString(st.Muted.Render(wrap("A false positive (your mail accepted but quarantined)? As a sender, the route is the recipient's admin; triage proposes it in the next step.", max(20, w-2))))
	return b.String()
}

// indent puts n spaces before every line.
func indent(s string, n int) string {
	pad := strings.Repeat(" ", n)
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}
