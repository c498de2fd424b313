// Package tui is the terminal interface of unblock: one session from the first bounce to
// the copied message, and back for the update.
//
// One root model (Model) owns the terminal, the size, the open case and the routing
// between screens; each screen is a small model that reports what happened as a message
// instead of reaching into its siblings. Every screen shares one Common value: the
// styles, the key bindings and the size. All file and network I/O runs in tea.Cmds whose
// result messages carry the id of the request, so a late answer to an old request is
// dropped.
package tui

import (
	"image/color"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
)

// Common is what every screen shares. Screens receive a pointer; only the root changes it.
type Common struct {
	Styles  Styles
	Keys    KeyMap
	Width   int
	Height  int
	IsDark  bool
	NoColor bool
}

// newCommon builds the shared value; isDark is a guess until the terminal answers.
func newCommon(isDark, noColor bool) *Common {
	c := &Common{Keys: defaultKeys(), IsDark: isDark, NoColor: noColor}
	c.Styles = newStyles(isDark, noColor)
	return c
}

// setBackground rebuilds the styles once the terminal says what its background is.
func (c *Common) setBackground(isDark bool) {
	c.IsDark = isDark
	c.Styles = newStyles(isDark, c.NoColor)
}

// size returns the size to lay out for: the first frame can come before the terminal
// has told us its size, so a zero size lays out for 80×24.
func (c *Common) size() (w, h int) {
	w, h = c.Width, c.Height
	if w <= 0 {
		w = 80
	}
	if h <= 0 {
		h = 24
	}
	return w, h
}

// body is the size a screen has: the root's header takes one line, the status line and
// the help footer two.
func (c *Common) body() (w, h int) {
	w, h = c.size()
	return w, max(1, h-3)
}

// palette is the few colours the styles are made of.
type palette struct {
	text, muted, subtle, accent, ok, warn, fail, errc, selBg color.Color
}

func newPalette(isDark bool) palette {
	ld := lipgloss.LightDark(isDark)
	return palette{
		text:   ld(lipgloss.Color("#1F1F24"), lipgloss.Color("#E6E6EA")),
		muted:  ld(lipgloss.Color("#6B6B76"), lipgloss.Color("#9A9AA6")),
		subtle: ld(lipgloss.Color("#C8C8D0"), lipgloss.Color("#4A4A55")),
		accent: ld(lipgloss.Color("#5A3FD9"), lipgloss.Color("#A594FF")),
		ok:     ld(lipgloss.Color("#1E7F3A"), lipgloss.Color("#5FD38A")),
		warn:   ld(lipgloss.Color("#9A6400"), lipgloss.Color("#F2C14E")),
		fail:   ld(lipgloss.Color("#B3261E"), lipgloss.Color("#FF6B6B")),
		errc:   ld(lipgloss.Color("#1D5FA8"), lipgloss.Color("#6CB6FF")),
		selBg:  ld(lipgloss.Color("#E8E4FF"), lipgloss.Color("#2E2A45")),
	}
}

// Styles is the semantic style set: screens say what a thing is, not what colour it has.
type Styles struct {
	Title    lipgloss.Style // screen title
	Step     lipgloss.Style // "step 2 of 6"
	Heading  lipgloss.Style // a section inside a screen
	Text     lipgloss.Style
	Muted    lipgloss.Style // explanations, secondary facts
	Accent   lipgloss.Style
	OK       lipgloss.Style // pass, ready
	Warn     lipgloss.Style // warn, partial
	Fail     lipgloss.Style // fail, vague
	Error    lipgloss.Style // could not check: deliberately not the failure colour
	Selected lipgloss.Style // the row under the cursor
	Pane     lipgloss.Style // a bordered pane
	Focused  lipgloss.Style // a bordered pane with focus
	Flash    lipgloss.Style // a confirmation such as "copied"
	Bar      lipgloss.Style // chart bars
	Help     lipgloss.Style
}

func newStyles(isDark, noColor bool) Styles {
	p := newPalette(isDark)
	base := lipgloss.NewStyle()
	fg := func(c color.Color) lipgloss.Style {
		if noColor {
			return base
		}
		return base.Foreground(c)
	}
	s := Styles{
		Title:   fg(p.accent).Bold(true),
		Step:    fg(p.muted),
		Heading: fg(p.text).Bold(true),
		Text:    fg(p.text),
		Muted:   fg(p.muted),
		Accent:  fg(p.accent),
		OK:      fg(p.ok),
		Warn:    fg(p.warn),
		Fail:    fg(p.fail).Bold(true),
		Error:   fg(p.errc),
		Flash:   fg(p.ok).Bold(true),
		Bar:     fg(p.accent),
		Help:    fg(p.muted),
	}
	border := lipgloss.RoundedBorder()
	if noColor {
		// Without colour the selection must still be seen: reverse video.
		s.Selected = base.Reverse(true)
		s.Pane = base.Border(border).Padding(0, 1)
		s.Focused = base.Border(lipgloss.ThickBorder()).Padding(0, 1)
	} else {
		s.Selected = base.Background(p.selBg).Foreground(p.text).Bold(true)
		s.Pane = base.Border(border).BorderForeground(p.subtle).Padding(0, 1)
		s.Focused = base.Border(border).BorderForeground(p.accent).Padding(0, 1)
	}
	return s
}

// KeyMap is the one vocabulary of keys; the help footer is built from the same bindings.
type KeyMap struct {
	Next     key.Binding
	Back     key.Binding
	Tab      key.Binding
	Toggle   key.Binding
	Up       key.Binding
	Down     key.Binding
	Filter   key.Binding
	Copy     key.Binding
	Save     key.Binding
	Help     key.Binding
	Quit     key.Binding
	New      key.Binding
	Rerun    key.Binding
	RerunAll key.Binding
	Cancel   key.Binding
	Kind     key.Binding
	Sent     key.Binding
	Paste    key.Binding
	Update   key.Binding
	Attach   key.Binding
	Resume   key.Binding
	Print    key.Binding
	Redact   key.Binding
}

func defaultKeys() KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Next:     b("enter", "next", "enter"),
		Back:     b("esc", "back", "esc"),
		Tab:      b("tab", "switch pane", "tab", "shift+tab"),
		Toggle:   b("space", "toggle", "space"),
		Up:       b("↑/k", "up", "up", "k"),
		Down:     b("↓/j", "down", "down", "j"),
		Filter:   b("/", "filter", "/"),
		Copy:     b("c", "copy", "c"),
		Save:     b("s", "save to file", "s"),
		Help:     b("?", "help", "?"),
		Quit:     b("q", "quit", "q", "ctrl+c"),
		New:      b("n", "new case", "n"),
		Rerun:    b("r", "re-run", "r"),
		RerunAll: b("R", "re-run all", "R"),
		Cancel:   b("x", "cancel", "x"),
		Kind:     b("←/→", "kind", "left", "right", "h", "l"),
		Sent:     b("m", "mark sent", "m"),
		Paste:    b("p", "paste failures", "p"),
		Update:   b("u", "write update", "u"),
		Attach:   b("a", "attach file", "a"),
		Resume:   b("enter", "continue", "enter"),
		Print:    b("P", "print on quit", "P"),
		Redact:   b("d", "redact recipients", "d"),
	}
}
