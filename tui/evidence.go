package tui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/sanitize"
)

// checkItem is one line of the evidence checklist.
type checkItem struct {
	need    string // the readiness item it stands for (casefile.Need…)
	label   string
	confirm string // the person-only item a tick confirms (casefile.Confirmable), if any
}

var checklist = []checkItem{
	{casefile.NeedReply, "the exact reply text, as the server sent it", ""},
	{casefile.NeedIP, "the sending IP", ""},
	{casefile.NeedTimestamps, "UTC timestamps of the failures", ""},
	{casefile.NeedAuthentication, "authentication status (the live checks)", ""},
	{casefile.NeedSamples, "a sample attached: headers, bounce, transcript or log (a)", ""},
	{casefile.NeedScope, "scope: volume or impact below — or tick: the scope is as stated", "scope"},
	{casefile.NeedChanges, "recent changes below — or tick: nothing changed recently", "changes"},
}

// The evidence fields a person types, in order.
const (
	eVolume = iota
	eCustomers
	eMailKind
	eImpact
	eChanges
	// The Customer Success Center's own fields, shown for a support case.
	eTitle
	eProduct
	eComponent
	eReference
	nEvidenceFields
)

var evidenceLabels = [nEvidenceFields]string{"Volume", "Who is affected", "Kind of mail", "Business impact", "Recent changes",
	"Case title", "Product", "Component", "CSC case number"}
var evidenceHints = [nEvidenceFields]string{
	"e.g. about 2,000 messages a day",
	"e.g. all customers at example.org",
	"some of: " + strings.Join(casefile.MailKinds, ", "),
	"e.g. invoices do not reach 300 customers",
	"e.g. new-ip: moved to 192.0.2.7 on 1 Nov · dns: new SPF",
	"the case's title in the Customer Success Center",
	"Protection Server / on Demand, Essentials, TAP …",
	"as the Customer Success Center lists it, e.g. Email Filtering",
	"the case number once the CSC gives one (updates quote it)",
}

// supportCase reports that the case goes to the Customer Success Center, whose form asks
// for a title, the product and the component.
func (e *evidence) supportCase() bool {
	d, ok := triage.DeskFor(e.s.cas.RouteKind())
	return ok && d.Message == "support-case"
}

// fields are the fields shown, in order.
func (e *evidence) fields() []int {
	n := eChanges + 1
	if e.supportCase() {
		n = nEvidenceFields
	}
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

type attachedMsg struct {
	id   int
	file casefile.File
	err  error
}

// evidence is step 5: the checklist for the route, the short fields, the attachments,
// and the readiness with what is still missing, always in view.
type evidence struct {
	s      *session
	pane   int // 0 checklist, 1 fields
	sel    int
	field  int
	inputs [nEvidenceFields]textinput.Model

	attaching bool
	path      textinput.Model
	kind      int
	attachID  int
}

func newEvidence(s *session) *evidence {
	e := &evidence{s: s}
	for i := range e.inputs {
		e.inputs[i] = newInput(s.c, evidenceHints[i])
		e.inputs[i].CharLimit = 300
	}
	e.path = newInput(s.c, "path of the file to attach (it stays where it is; the case keeps its hash)")
	return e
}

func (e *evidence) restyle() {
	for i := range e.inputs {
		e.inputs[i].SetStyles(inputStyles(e.s.c))
	}
	e.path.SetStyles(inputStyles(e.s.c))
}

// theirHints replace evidenceHints for a customer admin, whose affected people are
// their own users, receiving a sender's mail.
var theirHints = map[int]string{
	eCustomers: "e.g. the accounts payable team at example.org",
	eImpact:    "e.g. supplier invoices do not reach accounts payable",
}

func (e *evidence) enter() tea.Cmd {
	c := e.s.cas
	for i := range e.inputs {
		e.inputs[i].Placeholder = evidenceHints[i]
		if h, ok := theirHints[i]; ok && c.Role == casefile.Customer {
			e.inputs[i].Placeholder = h
		}
	}
	e.inputs[eVolume].SetValue(c.Scope.Volume)
	e.inputs[eCustomers].SetValue(c.Scope.Customers)
	e.inputs[eMailKind].SetValue(strings.Join(c.Scope.MailKind, ", "))
	e.inputs[eImpact].SetValue(c.Scope.Impact)
	var ch []string
	for _, x := range c.Changes {
		ch = append(ch, x.Kind+": "+x.Summary)
	}
	e.inputs[eChanges].SetValue(strings.Join(ch, " · "))
	e.inputs[eTitle].SetValue(c.Title)
	e.inputs[eProduct].SetValue(c.Route.Product)
	e.inputs[eComponent].SetValue(c.Route.Component)
	e.inputs[eReference].SetValue(c.Route.Reference)
	if e.field >= len(e.fields()) {
		e.field = 0
	}
	return nil
}

func (e *evidence) editing() bool { return e.attaching || e.pane == 1 }

func (e *evidence) help() []key.Binding {
	k := e.s.c.Keys
	if e.attaching {
		attach, kind, cancel := k.Next, k.Tab, k.Back
		attach.SetHelp("enter", "attach")
		kind.SetHelp("tab", "change kind")
		cancel.SetHelp("esc", "cancel")
		return []key.Binding{attach, kind, cancel}
	}
	if e.pane == 1 {
		field := key.NewBinding(key.WithKeys("up", "down", "tab"), key.WithHelp("↑/↓/tab", "field"))
		back := k.Back
		back.SetHelp("esc", "checklist")
		return []key.Binding{field, k.Next, back}
	}
	return []key.Binding{k.Toggle, k.Attach, k.Tab, k.Next, k.Back}
}

// flush stores what is typed, when the session ends on this screen.
func (e *evidence) flush() {
	c := e.s.cas
	scope, changes, title, route := c.Scope, slices.Clone(c.Changes), c.Title, c.Route
	e.storeFields()
	if !reflect.DeepEqual(scope, c.Scope) || !reflect.DeepEqual(changes, c.Changes) || title != c.Title || route != c.Route {
		e.s.touch()
	}
}

// storeFields writes the typed fields into the case.
func (e *evidence) storeFields() {
	c := e.s.cas
	c.Scope.Volume = sanitize.Line(strings.TrimSpace(e.inputs[eVolume].Value()))
	c.Scope.Customers = sanitize.Line(strings.TrimSpace(e.inputs[eCustomers].Value()))
	c.Scope.Impact = sanitize.Line(strings.TrimSpace(e.inputs[eImpact].Value()))
	var kinds []string
	for _, k := range splitList(strings.ToLower(e.inputs[eMailKind].Value())) {
		if slices.Contains(casefile.MailKinds, k) {
			kinds = append(kinds, k)
		}
	}
	c.Scope.MailKind = kinds
	var changes []casefile.Change
	typed := e.inputs[eChanges].Value()
	if noChanges(typed) {
		// "none" typed is the confirmation that nothing changed, not a change called "none".
		typed = ""
		e.inputs[eChanges].SetValue("") // the tick in the checklist says it now
		if !c.Confirmed("changes") {
			c.Confirm("changes")
		}
	}
	for _, part := range strings.Split(typed, "·") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		kind, summary := "other", part
		if k, rest, ok := strings.Cut(part, ":"); ok && slices.Contains(casefile.ChangeKinds, strings.TrimSpace(k)) {
			kind, summary = strings.TrimSpace(k), strings.TrimSpace(rest)
		}
		// Keep the date of a change already recorded with the same wording.
		ch := casefile.Change{Kind: kind, Summary: sanitize.Line(summary)}
		for _, old := range c.Changes {
			if old.Kind == ch.Kind && old.Summary == ch.Summary {
				ch = old
			}
		}
		changes = append(changes, ch)
	}
	c.Changes = changes
	if len(changes) > 0 && c.Confirmed("changes") {
		// Changes listed are no longer "nothing changed".
		c.Scope.Confirmed = slices.DeleteFunc(c.Scope.Confirmed, func(s string) bool { return s == "changes" })
	}
	if e.supportCase() {
		c.Title = sanitize.Line(strings.TrimSpace(e.inputs[eTitle].Value()))
		c.Route.Product = sanitize.Line(strings.TrimSpace(e.inputs[eProduct].Value()))
		c.Route.Component = sanitize.Line(strings.TrimSpace(e.inputs[eComponent].Value()))
		c.Route.Reference = sanitize.Line(strings.TrimSpace(e.inputs[eReference].Value()))
	}
}

func (e *evidence) update(msg tea.Msg) tea.Cmd {
	if a, ok := msg.(attachedMsg); ok {
		if a.id != e.attachID {
			return nil
		}
		if a.err != nil {
			return flashError(oneLine(a.err))
		}
		c := e.s.cas
		c.Evidence.Files = slices.DeleteFunc(c.Evidence.Files, func(f casefile.File) bool { return f.Path == a.file.Path })
		c.Evidence.Files = append(c.Evidence.Files, a.file)
		return tea.Batch(e.s.touch(), flash(fmt.Sprintf("attached %s (%s, sha256 %s…)", filepath.Base(a.file.Path), size(a.file.Size), a.file.SHA256[:12])))
	}
	km, ok := msg.(tea.KeyPressMsg)
	k := e.s.c.Keys
	if e.attaching {
		if ok {
			switch {
			case key.Matches(km, k.Back):
				e.attaching = false
				e.path.Blur()
				return nil
			case key.Matches(km, k.Tab):
				e.kind = (e.kind + 1) % len(casefile.EvidenceKinds)
				return nil
			case key.Matches(km, k.Next):
				p := strings.TrimSpace(e.path.Value())
				if p == "" {
					return nil
				}
				e.attaching = false
				e.path.Blur()
				e.path.SetValue("")
				e.attachID++
				return attach(e.attachID, expandHome(p), casefile.EvidenceKinds[e.kind], e.s.opts.Now)
			}
		}
		var cmd tea.Cmd
		e.path, cmd = e.path.Update(msg)
		return cmd
	}
	if !ok {
		if e.pane == 1 {
			var cmd tea.Cmd
			e.inputs[e.field], cmd = e.inputs[e.field].Update(msg)
			return cmd
		}
		return nil
	}
	switch {
	case key.Matches(km, k.Back) && e.pane == 0:
		e.flush() // marks the case changed only when a field did
		return emit(backMsg{})
	case key.Matches(km, k.Tab) && e.pane == 1:
		// In the fields tab goes to the next field, as in any form, and never leaves them:
		// a letter typed after it must not act as a key of the checklist. esc leaves.
		e.flush()
		e.inputs[e.field].Blur()
		e.field = (e.field + 1) % len(e.inputs)
		return e.inputs[e.field].Focus()
	case key.Matches(km, k.Tab):
		e.flush()
		e.pane = 1
		return e.inputs[e.field].Focus()
	}
	if e.pane == 1 {
		switch {
		case key.Matches(km, k.Back):
			// esc leaves the field first; a second esc leaves the step.
			e.flush()
			e.inputs[e.field].Blur()
			e.pane = 0
			return nil
		case km.String() == "up" || km.String() == "shift+tab":
			return e.moveField(e.field - 1)
		case km.String() == "down":
			return e.moveField(e.field + 1)
		case key.Matches(km, k.Next):
			if e.field < len(e.fields())-1 {
				return e.moveField(e.field + 1)
			}
			e.flush() // marks the case changed only when a field did
			return emit(nextMsg{})
		}
		var cmd tea.Cmd
		e.inputs[e.field], cmd = e.inputs[e.field].Update(msg)
		return cmd
	}
	switch {
	case key.Matches(km, k.Up):
		if e.sel > 0 {
			e.sel--
		}
	case key.Matches(km, k.Down):
		if e.sel < len(checklist)-1 {
			e.sel++
		}
	case key.Matches(km, k.Toggle):
		return e.toggle()
	case key.Matches(km, k.Attach):
		e.attaching = true
		return e.path.Focus()
	case key.Matches(km, k.Next):
		e.flush() // marks the case changed only when a field did
		return emit(nextMsg{})
	}
	return nil
}

func (e *evidence) moveField(to int) tea.Cmd {
	e.inputs[e.field].Blur()
	n := len(e.fields())
	e.field = (to + n) % n
	e.flush()
	return e.inputs[e.field].Focus()
}

// toggle ticks or unticks an item only a person can vouch for; the others tick
// themselves from what the case holds.
func (e *evidence) toggle() tea.Cmd {
	it := checklist[e.sel]
	c := e.s.cas
	if it.confirm == "" {
		switch it.need {
		case casefile.NeedSamples:
			e.attaching = true
			return e.path.Focus()
		case casefile.NeedAuthentication:
			return flash("run the live checks (esc) to tick this")
		}
		return flash("this ticks itself when the case holds it: paste it in step 2")
	}
	if c.Confirmed(it.confirm) {
		c.Scope.Confirmed = slices.DeleteFunc(c.Scope.Confirmed, func(s string) bool { return s == it.confirm })
	} else if err := c.Confirm(it.confirm); err != nil {
		return flashError(err.Error())
	}
	return e.s.touch()
}

// attach checks that the file exists, hashes it and records it, in a Cmd. The hashing
// is the case file's own (Attach), done on a scratch case so the Cmd never touches the
// case the screens are showing; Update then records the file.
func attach(id int, path, kind string, now func() time.Time) tea.Cmd {
	return func() tea.Msg {
		var scratch casefile.Case
		f, err := scratch.Attach(path, kind, now())
		if err != nil {
			return attachedMsg{id: id, err: fmt.Errorf("cannot attach %s: %v", sanitize.Line(path), errWithoutPath(err))}
		}
		return attachedMsg{id: id, file: f}
	}
}

func errWithoutPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (e *evidence) view() string {
	st := e.s.c.Styles
	w, _ := e.s.c.size()
	c := e.s.cas
	r := e.s.readiness()
	var b strings.Builder
	b.WriteString(readinessLine(st, r, w) + "\n")
	route := c.RouteKind()
	head := "Checklist"
	desk, hasDesk := triage.DeskFor(route)
	noDesk := !hasDesk || desk.Message == "" || desk.Message == "none"
	switch {
	case hasDesk && !noDesk:
		head += " for " + desk.Name
	case hasDesk:
		head += " (" + desk.Name + ": the evidence, should a case follow)"
	}
	// The pane with focus has its heading in the accent colour and, without colour,
	// underlined; the ▸ marks only the selected row.
	if e.pane == 0 {
		head = "  " + st.Accent.Underline(true).Render(head)
	} else {
		head = "  " + st.Heading.Render(head)
	}
	b.WriteString(head + "\n")
	for i, it := range checklist {
		have := !slices.Contains(r.Missing, it.need)
		if it.need == casefile.NeedIP && slices.Contains(r.Missing, casefile.NeedSender) {
			have = false
		}
		box := st.Fail.Render("[ ]")
		if have {
			box = st.OK.Render("[✓]")
		}
		how := ""
		if it.confirm != "" && c.Confirmed(it.confirm) {
			how = st.Muted.Render(" (you confirmed)")
		}
		label := e.label(it)
		line := "  " + box + " " + label + how
		if e.pane == 0 && i == e.sel && !e.attaching {
			line = st.Accent.Render("▸ ") + box + " " + st.Selected.Render(label) + how
		}
		b.WriteString(truncate(line, w) + "\n")
	}
	asks := "  The desk also asks for"
	if noDesk {
		asks = "  Keep" // no desk asks anything: what to keep
	}
	if d := desk; hasDesk && len(d.Asks) > 0 {
		if _, bodyH := e.s.c.body(); bodyH >= 26 {
			// Room enough: what the desk asks for, one item a line, to check against.
			b.WriteString(st.Muted.Render(asks+":") + "\n")
			for _, a := range d.Asks {
				b.WriteString(st.Muted.Render(truncate("    · "+a, w)) + "\n")
			}
		} else if !e.supportCase() {
			// A short screen has a line for it, cut to the width; a support case needs
			// that line for the priority below, one of the things the desk asks for.
			b.WriteString(st.Muted.Render(truncate(asks+": "+strings.Join(d.Asks, "; "), w)) + "\n")
		}
	}
	if e.attaching {
		b.WriteString(st.Heading.Render("Attach a file") + "  kind: " + st.Accent.Render(casefile.EvidenceKinds[e.kind]) + st.Muted.Render("  (tab changes the kind)") + "\n")
		e.path.SetWidth(max(10, w-4))
		b.WriteString("  " + e.path.View() + "\n")
	} else if len(c.Evidence.Files) > 0 {
		b.WriteString(st.Heading.Render("Attached") + "\n")
		for _, f := range c.Evidence.Files {
			b.WriteString(truncate(fmt.Sprintf("  %-10s %s  %s  sha256 %s", f.Kind, sanitize.Line(f.Path), size(f.Size), f.SHA256[:min(12, len(f.SHA256))]), w) + "\n")
		}
	}
	if e.pane == 1 {
		b.WriteString("  " + st.Accent.Underline(true).Render("About the failure") + st.Muted.Render("  (esc back to the checklist)") + "\n")
	} else {
		b.WriteString("  " + st.Heading.Render("About the failure") + st.Muted.Render("  (tab to type)") + "\n")
	}
	for _, i := range e.fields() {
		in := e.inputs[i]
		in.SetWidth(max(10, w-22))
		label, mark := fmt.Sprintf("%-17s", evidenceLabels[i]), "  "
		if e.pane == 1 && i == e.field {
			label, mark = st.Accent.Render(label), st.Accent.Render("▸ ")
		}
		b.WriteString(mark + label + " " + in.View() + "\n")
	}
	if e.supportCase() {
		// The form asks for a priority with its reason: the one the message will propose.
		p := c.ProposePriority()
		text := p.Level + " (proposed): " + p.Reason
		lines, indent := wrapHanging(text, max(20, w-20)), 20
		if len(lines) > 2 {
			// Two lines at most: what the first leaves goes on under the label.
			rest := strings.TrimSpace(strings.TrimPrefix(text, lines[0]))
			lines, indent = append(lines[:1], wrapHanging(rest, max(20, w-4))...), 4
		}
		b.WriteString(fmt.Sprintf("  %-17s %s", "Priority", lines[0]) + "\n")
		for _, l := range lines[1:] {
			b.WriteString(strings.Repeat(" ", indent) + st.Muted.Render(l) + "\n")
		}
	}
	return b.String()
}

// label is a checklist item's text for the case: filtered mail has no reply, and what
// stands for it is the filter's verdict in the message's headers.
func (e *evidence) label(it checkItem) string {
	if it.need == casefile.NeedReply && e.s.cas.Mode == triage.Filtering {
		return "the filter's verdict, as the message's headers record it"
	}
	return it.label
}

// shortNeed names a missing item in a word or two, for one-line summaries.
var shortNeed = map[string]string{
	casefile.NeedReply: "reply text", casefile.NeedSender: "IP or domain", casefile.NeedIP: "IP",
	casefile.NeedTimestamps: "timestamps", casefile.NeedAuthentication: "checks",
	casefile.NeedSamples: "a sample", casefile.NeedScope: "scope", casefile.NeedChanges: "changes",
	casefile.NeedMoreSamples: "more failures over time",
}

// readinessLine shows the level and what is missing on one line of w cells.
func readinessLine(st Styles, r casefile.Readiness, w int) string {
	s := "Readiness " + levelStyle(st, r.Level).Render(strings.ToUpper(string(r.Level)))
	if r.Why != "" {
		s += st.Muted.Render(" (" + r.Why + ")")
	}
	switch {
	case len(r.Missing) > 0:
		var names []string
		for _, m := range r.Missing {
			if n, ok := shortNeed[m]; ok {
				m = n
			}
			names = append(names, m)
		}
		s += " — missing: " + strings.Join(names, ", ")
	case r.Level == casefile.Ready:
		s += st.Muted.Render(" — everything the desk needs is in the case")
	}
	return truncate(s, w)
}

// noChanges reports a recent-changes field that says there were none.
func noChanges(s string) bool {
	switch strings.Trim(strings.ToLower(strings.TrimSpace(s)), ".!") {
	case "none", "no", "nothing", "no changes", "no change", "nothing changed", "n/a", "na", "-":
		return true
	}
	return false
}
