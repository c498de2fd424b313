package tui

import (
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// screenID names a screen the root can show.
type screenID int

const (
	scrLoading screenID = iota
	scrPicker
	scrRole
	scrTriage
	scrIdents
	scrChecks
	scrEvidence
	scrMessage
	scrOverview
)

// wizardSteps are the steps of a new case, in order.
var wizardSteps = []screenID{scrRole, scrTriage, scrIdents, scrChecks, scrEvidence, scrMessage}

var stepNames = map[screenID]string{
	scrRole: "Who you are", scrTriage: "What failed", scrIdents: "Identifiers",
	scrChecks: "Live checks", scrEvidence: "Evidence", scrMessage: "Message",
	scrOverview: "Case overview", scrPicker: "Cases",
}

// stepNumber is the 1-based position of a wizard step, or 0.
func stepNumber(s screenID) int {
	for i, w := range wizardSteps {
		if w == s {
			return i + 1
		}
	}
	return 0
}

// screen is one step or view. Screens change only themselves (and, in Update, the case
// the root lends them) and report what happened with the messages below.
type screen interface {
	// enter is called each time the root shows the screen; it may start I/O.
	enter() tea.Cmd
	update(tea.Msg) tea.Cmd
	view() string
	// help is the screen's own key bindings, for the footer.
	help() []key.Binding
	// editing reports that a text field has focus, so letters are text, not commands.
	editing() bool
}

// The outcomes screens report to the root.
type (
	// nextMsg: the screen is done; go to the next step.
	nextMsg struct{}
	// backMsg: go back to the previous step (or the overview).
	backMsg struct{}
	// gotoMsg: show a particular screen.
	gotoMsg struct{ to screenID }
	// saveMsg: save the case now, not only when the step is left (marking a message sent
	// records something done outside the program).
	saveMsg struct{}
	// flashMsg: show a short confirmation, a warning (nothing done, nothing wrong) or
	// a problem in the status line.
	flashMsg struct {
		text string
		bad  bool
		warn bool
	}
)

func emit(m tea.Msg) tea.Cmd { return func() tea.Msg { return m } }

func flash(text string) tea.Cmd      { return emit(flashMsg{text: text}) }
func flashError(text string) tea.Cmd { return emit(flashMsg{text: text, bad: true}) }
func flashWarn(text string) tea.Cmd  { return emit(flashMsg{text: text, warn: true}) }

// newInput is a text field in the house style; the blinking cursor is off so frames are
// stable (and tests' goldens too).
func newInput(c *Common, placeholder string) textinput.Model {
	t := textinput.New()
	t.Placeholder = placeholder
	t.Prompt = ""
	t.SetStyles(inputStyles(c))
	return t
}

func inputStyles(c *Common) textinput.Styles {
	var s textinput.Styles
	if c.NoColor {
		s.Cursor.Blink = false
		s.Focused.Text = lipgloss.NewStyle()
		s.Blurred.Text = lipgloss.NewStyle()
		return s
	}
	s = textinput.DefaultStyles(c.IsDark)
	s.Cursor.Blink = false
	s.Focused.Placeholder = c.Styles.Muted
	s.Blurred.Placeholder = c.Styles.Muted
	return s
}
