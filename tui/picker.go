package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/sanitize"
)

// The picker's outcomes.
type (
	newCaseMsg struct{}
	pickMsg    struct{ ref string }
)

// pickerRow is one saved case as the picker shows it; computed once, not per frame.
type pickerRow struct {
	id, title, provider, ip, status, readiness, lastFailure, updated string
	level                                                            casefile.Level
	search                                                           string
}

// picker lists the saved cases.
type picker struct {
	c         *Common
	rows      []pickerRow
	shown     []int // indexes into rows that pass the filter
	sel       int
	filter    textinput.Model
	filtering bool
}

func newPicker(c *Common, cases []casefile.Summary) *picker {
	p := &picker{c: c, filter: newInput(c, "filter by id, title, provider, IP, domain")}
	p.setCases(cases)
	return p
}

// setCases fills the picker, keeping the selected case selected.
func (p *picker) setCases(cases []casefile.Summary) {
	selected := ""
	if p.sel < len(p.shown) {
		selected = p.rows[p.shown[p.sel]].id
	}
	p.rows = p.rows[:0]
	for _, cs := range cases {
		row := pickerRow{
			id:        cs.ID,
			title:     sanitize.Line(cs.Title),
			provider:  cs.Provider,
			ip:        cs.IP(),
			status:    string(cs.Status),
			readiness: string(cs.Readiness),
			level:     cs.Readiness,
			updated:   ago(cs.Updated),
		}
		if !cs.LastFailure.IsZero() {
			row.lastFailure = cs.LastFailure.UTC().Format("2006-01-02 15:04")
		}
		row.search = strings.ToLower(strings.Join([]string{row.id, row.title, row.provider, row.ip, row.status, row.readiness, cs.Domain}, " "))
		p.rows = append(p.rows, row)
	}
	p.refilter()
	for i, r := range p.shown {
		if p.rows[r].id == selected {
			p.sel = i
		}
	}
}

func (p *picker) restyle() { p.filter.SetStyles(inputStyles(p.c)) }

func (p *picker) enter() tea.Cmd { return nil }

func (p *picker) editing() bool { return p.filtering }

func (p *picker) help() []key.Binding {
	k := p.c.Keys
	if p.filtering {
		keep, clear := k.Next, k.Back
		keep.SetHelp("enter", "keep the filter")
		clear.SetHelp("esc", "clear it")
		return []key.Binding{keep, clear}
	}
	open := k.Next
	open.SetHelp("enter", "open")
	return []key.Binding{open, k.New, k.Filter, k.Up, k.Down}
}

func (p *picker) refilter() {
	q := strings.ToLower(strings.TrimSpace(p.filter.Value()))
	p.shown = p.shown[:0]
	for i, r := range p.rows {
		if q == "" || strings.Contains(r.search, q) {
			p.shown = append(p.shown, i)
		}
	}
	if p.sel >= len(p.shown) {
		p.sel = max(0, len(p.shown)-1)
	}
}

func (p *picker) update(msg tea.Msg) tea.Cmd {
	k := p.c.Keys
	km, ok := msg.(tea.KeyPressMsg)
	if p.filtering {
		if ok {
			switch {
			case key.Matches(km, k.Next):
				p.filtering = false
				p.filter.Blur()
				return nil
			case key.Matches(km, k.Back):
				p.filtering = false
				p.filter.Blur()
				p.filter.SetValue("")
				p.refilter()
				return nil
			}
		}
		var cmd tea.Cmd
		p.filter, cmd = p.filter.Update(msg)
		p.refilter()
		return cmd
	}
	if !ok {
		return nil
	}
	switch {
	case key.Matches(km, k.Up):
		if p.sel > 0 {
			p.sel--
		}
	case key.Matches(km, k.Down):
		if p.sel < len(p.shown)-1 {
			p.sel++
		}
	case key.Matches(km, k.Filter):
		p.filtering = true
		return p.filter.Focus()
	case key.Matches(km, k.New):
		return emit(newCaseMsg{})
	case key.Matches(km, k.Next):
		if len(p.shown) > 0 {
			return emit(pickMsg{ref: p.rows[p.shown[p.sel]].id})
		}
	}
	return nil
}

func (p *picker) view() string {
	st := p.c.Styles
	w, h := p.c.size()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", st.Muted.Render(truncate(plural(len(p.rows), "saved case")+". Open one to see its timeline and write an update, or press n for a new case.", w)))
	if p.filtering || p.filter.Value() != "" {
		b.WriteString("/ " + p.filter.View() + "\n")
	} else {
		b.WriteString("\n")
	}
	wide := w >= 110
	// The case column takes what the others leave.
	nameW := w - 2 - 46
	if wide {
		nameW -= 34
	}
	nameW = min(max(nameW, 12), 60)
	header := fmt.Sprintf("  %-*s %-11s %-15s %-8s %-8s", nameW, "CASE", "PROVIDER", "IP", "STATUS", "READY")
	if wide {
		header += fmt.Sprintf(" %-16s %s", "LAST FAILURE", "UPDATED")
	}
	b.WriteString(st.Muted.Render(header) + "\n")
	if len(p.shown) == 0 {
		b.WriteString(st.Muted.Render("  no case matches the filter") + "\n")
	}
	visible := max(1, h-8)
	start := 0
	if p.sel >= visible {
		start = p.sel - visible + 1
	}
	for i := start; i < len(p.shown) && i < start+visible; i++ {
		r := p.rows[p.shown[i]]
		name := r.id
		if r.title != "" {
			name = r.title
		}
		line := fmt.Sprintf("%s %-11s %-15s %-8s ", padRight(clip(name, nameW), nameW), clip(r.provider, 11), clip(r.ip, 15), r.status)
		ready := levelStyle(st, r.level).Render(fmt.Sprintf("%-8s", r.readiness))
		rest := ""
		if wide {
			rest = fmt.Sprintf(" %-16s %s", r.lastFailure, r.updated)
		}
		if i == p.sel {
			b.WriteString(st.Selected.Render("▸ "+line) + ready + st.Selected.Render(rest) + "\n")
		} else {
			b.WriteString("  " + line + ready + rest + "\n")
		}
	}
	if len(p.shown) > 0 && !wide {
		r := p.rows[p.shown[p.sel]]
		b.WriteString("\n" + st.Muted.Render(fmt.Sprintf("  %s · last failure %s · updated %s", r.id, orDash(r.lastFailure), r.updated)))
	}
	return b.String()
}

// levelStyle is the style of a readiness level.
func levelStyle(st Styles, l casefile.Level) interface{ Render(...string) string } {
	switch l {
	case casefile.Ready:
		return st.OK
	case casefile.Partial, casefile.Watch:
		return st.Warn
	case casefile.Vague:
		return st.Fail
	}
	return st.Muted
}

// clip cuts plain text to n cells with an ellipsis.
func clip(s string, n int) string { return truncate(s, n) }

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// ago says how long ago t was, the way a person reads a list.
func ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04")
}
