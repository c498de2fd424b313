package tui

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/checks/resolver"
)

// identField is one identifier the user confirms, with how to check and store it.
type identField struct {
	label, hint string
	// theirHint is the hint for a customer admin, for whom the mail is a sender's
	// (empty: the same as hint).
	theirHint string
	get       func(*casefile.Identifiers) string
	set       func(*casefile.Identifiers, string)
	valid     func(string) error
}

var identFields = []identField{
	{"Sending IP(s)", "the IP the block is about; more than one: separate with commas",
		"the IP the mail came from; more than one: separate with commas",
		func(i *casefile.Identifiers) string { return strings.Join(i.IPs, ", ") },
		func(i *casefile.Identifiers, v string) { i.IPs = splitList(v) },
		eachValid(func(s string) error {
			if _, err := netip.ParseAddr(s); err != nil {
				return fmt.Errorf("%q is not an IP address", s)
			}
			return nil
		})},
	{"Sending domain", "the domain in MAIL FROM or From", "",
		func(i *casefile.Identifiers) string { return i.Domain },
		func(i *casefile.Identifiers, v string) { i.Domain = normalizeOr(v) },
		optional(validDomain)},
	{"Envelope sender", "the MAIL FROM address (Return-Path)", "",
		func(i *casefile.Identifiers) string { return i.EnvelopeSender },
		func(i *casefile.Identifiers, v string) { i.EnvelopeSender = strings.TrimSpace(v) },
		optional(func(s string) error {
			local, dom, ok := strings.Cut(s, "@")
			if !ok || local == "" {
				return fmt.Errorf("%q is not an address (local@domain)", s)
			}
			return validDomain(dom)
		})},
	{"HELO name", "the name your server greets with (EHLO)", "the name the sending server greeted with (EHLO)",
		func(i *casefile.Identifiers) string { return i.HELO },
		func(i *casefile.Identifiers, v string) { i.HELO = normalizeOr(v) },
		optional(validDomain)},
	{"DKIM selectors", "the s= of your DKIM-Signature; separate with commas", "the s= of the message's DKIM-Signature; separate with commas",
		func(i *casefile.Identifiers) string { return strings.Join(i.Selectors, ", ") },
		func(i *casefile.Identifiers, v string) { i.Selectors = splitList(v) },
		eachValid(func(s string) error {
			if _, err := resolver.Normalize(s + "._domainkey.example"); err != nil || strings.ContainsAny(s, "@ ") {
				return fmt.Errorf("%q is not a selector name", s)
			}
			return nil
		})},
	{"Recipient domains", "where the blocked mail was going; separate with commas", "your domains the mail was addressed to; separate with commas",
		func(i *casefile.Identifiers) string { return strings.Join(i.RecipientDomains, ", ") },
		func(i *casefile.Identifiers, v string) {
			var out []string
			for _, d := range splitList(v) {
				out = append(out, normalizeOr(d))
			}
			i.RecipientDomains = out
		},
		eachValid(validDomain)},
}

func validDomain(s string) error {
	n, err := resolver.Normalize(s)
	if err != nil {
		return err
	}
	if !strings.Contains(n, ".") {
		return fmt.Errorf("%q is not a full domain name", s)
	}
	return nil
}

func optional(f func(string) error) func(string) error {
	return func(s string) error {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		return f(strings.TrimSpace(s))
	}
}

func eachValid(f func(string) error) func(string) error {
	return func(s string) error {
		for _, x := range splitList(s) {
			if err := f(x); err != nil {
				return err
			}
		}
		return nil
	}
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func normalizeOr(s string) string {
	s = strings.TrimSpace(s)
	if n, err := resolver.Normalize(s); err == nil {
		return n
	}
	return s
}

// idents is step 3: the identifiers, prefilled from triage and validated as typed.
type idents struct {
	s      *session
	inputs []textinput.Model
	errs   []error
	focus  int
}

func newIdents(s *session) *idents {
	d := &idents{s: s}
	for _, f := range identFields {
		in := newInput(s.c, f.hint)
		in.CharLimit = 512
		d.inputs = append(d.inputs, in)
	}
	d.errs = make([]error, len(identFields))
	return d
}

func (d *idents) restyle() {
	for i := range d.inputs {
		d.inputs[i].SetStyles(inputStyles(d.s.c))
	}
}

// enter fills the fields from the case, as triage left it, with hints for the role.
func (d *idents) enter() tea.Cmd {
	for i, f := range identFields {
		d.inputs[i].Placeholder = f.hint
		if d.s.cas.Role == casefile.Customer && f.theirHint != "" {
			d.inputs[i].Placeholder = f.theirHint
		}
		d.inputs[i].SetValue(f.get(&d.s.cas.Identifiers))
		d.inputs[i].CursorEnd()
		d.errs[i] = f.valid(d.inputs[i].Value())
		d.inputs[i].Blur()
	}
	return d.inputs[d.focus].Focus()
}

func (d *idents) editing() bool { return true }

func (d *idents) help() []key.Binding {
	k := d.s.c.Keys
	n := k.Next
	n.SetHelp("enter/tab", "next field")
	run := key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "run the checks"))
	return []key.Binding{n, run, k.Back}
}

func (d *idents) move(to int) tea.Cmd {
	d.inputs[d.focus].Blur()
	d.focus = (to + len(d.inputs)) % len(d.inputs)
	return d.inputs[d.focus].Focus()
}

func (d *idents) update(msg tea.Msg) tea.Cmd {
	k := d.s.c.Keys
	if km, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(km, k.Back):
			d.store()
			return tea.Sequence(d.s.touch(), emit(backMsg{}))
		case km.String() == "shift+tab" || km.String() == "up":
			return d.move(d.focus - 1)
		case km.String() == "tab" || km.String() == "down":
			return d.move(d.focus + 1)
		case key.Matches(km, k.Next):
			if d.focus < len(d.inputs)-1 {
				return d.move(d.focus + 1)
			}
			return d.finish()
		case km.String() == "ctrl+s":
			return d.finish()
		}
	}
	var cmd tea.Cmd
	d.inputs[d.focus], cmd = d.inputs[d.focus].Update(msg)
	d.errs[d.focus] = identFields[d.focus].valid(d.inputs[d.focus].Value())
	return cmd
}

// flush stores what is typed, when the session ends on this screen.
func (d *idents) flush() {
	before := d.s.cas.Identifiers
	d.store()
	if !reflect.DeepEqual(before, d.s.cas.Identifiers) {
		d.s.touch()
	}
}

// store writes the valid fields into the case; an invalid one keeps the case's value.
func (d *idents) store() {
	for i, f := range identFields {
		if d.errs[i] == nil {
			f.set(&d.s.cas.Identifiers, d.inputs[i].Value())
		}
	}
}

func (d *idents) finish() tea.Cmd {
	for i, err := range d.errs {
		if err != nil {
			return tea.Batch(d.move(i), flashError(identFields[i].label+": "+err.Error()))
		}
	}
	d.store()
	if len(d.s.cas.Identifiers.IPs) == 0 && d.s.cas.Identifiers.Domain == "" {
		return tea.Batch(d.move(0), flashError("give the sending IP or the domain: the checks and the message need one"))
	}
	return tea.Sequence(d.s.touch(), emit(nextMsg{}))
}

func (d *idents) view() string {
	st := d.s.c.Styles
	w, _ := d.s.c.size()
	var b strings.Builder
	heading := "What the provider needs to find your mail"
	if d.s.cas.Role == casefile.Customer {
		heading = "What the provider needs to find the mail" // a sender's, filtered for you
	}
	b.WriteString(st.Heading.Render(heading) + "\n")
	intro := "Filled in from what you pasted; correct or complete them. The checks run for these."
	if len(d.s.cas.Timeline) == 0 {
		intro = "Nothing was pasted, so nothing is filled in: give at least the sending IP or domain. The checks run for these."
	}
	b.WriteString(st.Muted.Render(wrap(intro, w)) + "\n\n")
	labelW := 19
	for i, f := range identFields {
		in := d.inputs[i]
		in.SetWidth(max(10, w-labelW-6))
		mark := "  "
		label := st.Text.Render(fmt.Sprintf("%-*s", labelW, f.label))
		if i == d.focus {
			mark = st.Accent.Render("▸ ")
			label = st.Accent.Render(fmt.Sprintf("%-*s", labelW, f.label))
		}
		status := "  "
		if d.errs[i] != nil {
			status = st.Fail.Render("✗ ")
		} else if strings.TrimSpace(in.Value()) != "" {
			status = st.OK.Render("✓ ")
		}
		b.WriteString(mark + label + status + in.View() + "\n")
		if d.errs[i] != nil {
			b.WriteString(st.Fail.Render(truncate(strings.Repeat(" ", labelW+4)+d.errs[i].Error(), w)) + "\n")
		}
	}
	b.WriteString("\n" + st.Muted.Render(wrap("enter on the last field (or ctrl+s) goes on to the live checks.", w)))
	return b.String()
}
