package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
)

// helpSection is one screen's keys (or the keys that hold everywhere), as ? lists them.
type helpSection struct {
	title string
	keys  []key.Binding
}

// helpSections are every key the program answers to, screen by screen. Each screen's
// footer shows a few of them; this is the whole list (a test holds the footers to it).
func helpSections(k KeyMap) []helpSection {
	b := func(keys, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys), key.WithHelp(keys, desc))
	}
	with := func(kb key.Binding, desc string) key.Binding {
		kb.SetHelp(kb.Help().Key, desc)
		return kb
	}
	return []helpSection{
		{"Everywhere", []key.Binding{
			with(k.Help, "this list"), b("f1", "this list, also while typing"),
			with(k.Quit, "quit (asks first if unsaved); while typing, ctrl+c"),
			with(k.Back, "back: the previous step, or out of a field or dialog"),
			with(k.Next, "next step, or confirm"),
		}},
		{"Cases", []key.Binding{
			with(k.Next, "open the selected case"), k.New, with(k.Filter, "filter the list (enter keeps it, esc clears it)"), k.Up, k.Down,
		}},
		{"1 Who you are", []key.Binding{k.Up, k.Down, b("1/2", "choose at once"), with(k.Next, "choose")}},
		{"2 What failed", []key.Binding{
			with(k.Next, "read what is typed (a reply, or the path of a file); empty: go on"),
			b("paste", "a bracketed paste is read at once"),
			with(k.Tab, "between the paste field and the questions"),
			with(k.Up, "previous question"), with(k.Down, "next question"),
			with(k.Kind, "change the answer (space too)"),
			with(k.Back, "cancel a read in progress, else back"),
		}},
		{"3 Identifiers", []key.Binding{
			b("enter/tab", "next field"), b("shift+tab/↑", "previous field"), b("↓", "next field"),
			b("ctrl+s", "run the live checks"), with(k.Back, "back (keeps what is typed)"),
		}},
		{"4 Live checks", []key.Binding{
			with(k.Up, "previous check"), with(k.Down, "next check"),
			with(k.Toggle, "skip this check, or run it again next time"),
			with(k.Rerun, "re-run the selected check"), k.RerunAll,
			with(k.Cancel, "cancel the run (what is waiting says it could not check)"),
			b("pgup/pgdn", "scroll the details"),
		}},
		{"5 Evidence", []key.Binding{
			with(k.Toggle, "tick what only you can vouch for"), with(k.Attach, "attach a file (tab: its kind)"),
			with(k.Tab, "between the checklist and the fields"), b("↑/↓", "item or field"),
			with(k.Back, "out of the fields, then back"),
		}},
		{"6 Message", []key.Binding{
			with(k.Copy, "copy (a preview: nothing is recorded)"), with(k.Save, "save to a file (nothing is recorded)"),
			with(k.Sent, "mark sent: records the message, the case waits for an answer"),
			with(k.Kind, "switch the kind of message"), k.Redact, with(k.Print, "print the message when you quit"),
			b("↑/↓ pgup/pgdn", "scroll"), with(k.Next, "done: the overview"),
		}},
		{"Overview", []key.Binding{
			with(k.Resume, "continue with the first step not complete"), k.Paste,
			with(k.Update, "write the update (the checks run again first)"),
			b("e", "write the escalation (warns before the follow-up is due)"),
			with(probeKey, "probe the recipient's MX from the sending IP now (on the sending server)"),
			with(refKey, "keep the reference the desk gave (after a message is sent)"),
			with(answeredKey, "record that the desk answered (the follow-up clock stops)"),
			b("1-6", "go to a step"), with(k.Back, "the list of cases"),
		}},
		{"Dialogs", []key.Binding{
			b("enter", "duplicate: open the case that covers this IP (the paste goes there)"),
			b("f", "duplicate: create a new case anyway"),
			b("y", "unsaved: save and quit"), b("n", "unsaved: quit without saving"), b("esc", "stay"),
		}},
	}
}

// helpView is the scrolling list of every key.
type helpView struct {
	vp    viewport.Model
	width int
}

func newHelpView() *helpView { return &helpView{vp: viewport.New()} }

func (h *helpView) view(c *Common, w, hgt int) string {
	st := c.Styles
	if h.width != w {
		h.width = w
		var b strings.Builder
		b.WriteString(st.Muted.Render(wrap("The same keys mean the same thing on every screen. While a text field has focus, letters are typed into it: press esc or tab to leave it, f1 for this list.", w)) + "\n")
		for _, s := range helpSections(c.Keys) {
			b.WriteString("\n" + st.Heading.Render(s.title) + "\n")
			for _, kb := range s.keys {
				line := fmt.Sprintf("  %-14s %s", kb.Help().Key, kb.Help().Desc)
				b.WriteString(truncate(line, w) + "\n")
			}
		}
		h.vp.SetContent(strings.TrimRight(b.String(), "\n"))
	}
	h.vp.SetWidth(w)
	h.vp.SetHeight(max(1, hgt-1))
	more := ""
	if !h.vp.AtBottom() {
		more = fmt.Sprintf("  ↓ more (%d%%)", int(h.vp.ScrollPercent()*100))
	}
	return st.Heading.Render("Keys") + st.Muted.Render(more) + "\n" + h.vp.View()
}
