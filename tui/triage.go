package tui

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/progress"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/sanitize"
)

// The proposal's fields, in the order they are asked.
const (
	fMode = iota
	fCause
	fProvider
	fControl
	fRoute
	nFields
)

var fieldQuestions = [nFields]string{
	"What happened to the mail?",
	"Why, according to the reply?",
	"Whose control blocked it?",
	"Which control?",
	"Where does the case go?",
}

var modeChoices = []string{string(triage.HardBlock), string(triage.Deferral), string(triage.Filtering)}

var modeMeaning = map[string]string{
	string(triage.HardBlock): "rejected (5xx): the mail bounced",
	string(triage.Deferral):  "delayed (4xx): the server said try again later",
	string(triage.Filtering): "accepted, then quarantined or put in spam: a false positive",
}

var causeChoices = []string{
	string(triage.IPReputation), string(triage.Blocklist), string(triage.Authentication),
	string(triage.RecipientPolicy), string(triage.Content), string(triage.RateLimit),
	string(triage.DomainReputation), string(triage.InvalidRecipient), string(triage.TLS),
	string(triage.Other), string(triage.UnknownCause),
}

// The triage screen's I/O results.
type (
	triageProgressMsg struct {
		id          int
		read, total int64
		ch          <-chan tea.Msg
	}
	triageDoneMsg struct {
		id         int
		source     string
		findings   []triage.Finding
		groups     []triage.Group
		notes      []string
		classified bool
		err        error
	}
)

// triageScreen is step 2: the user pastes what they have, or answers a few questions.
type triageScreen struct {
	s      *session
	input  textinput.Model
	focus  int // 0 the paste field, 1 the proposal
	field  int
	readID int
	cancel context.CancelFunc

	reading      bool
	read, total  int64
	bar          progress.Model
	source       string
	preview      []string // the first lines of what was pasted, sanitized
	findings     []triage.Finding
	groups       []triage.Group
	notes        []string // what triage assumed (a syslog year, a zone)
	added        int
	err          string
	missing      string // the path typed, when no file is there
	routeTouched bool
	// addOnly is set when the screen is reached from the overview: new failures are added
	// to the case and the proposal is not asked again.
	addOnly bool
}

func newTriage(s *session) *triageScreen {
	t := &triageScreen{s: s}
	t.input = newInput(s.c, "paste (ctrl+shift+v, cmd+v), or type a file path and press enter")
	t.input.CharLimit = 4096
	t.bar = progress.New(progress.WithWidth(40), progress.WithoutPercentage())
	return t
}

func (t *triageScreen) restyle() { t.input.SetStyles(inputStyles(t.s.c)) }

func (t *triageScreen) enter() tea.Cmd {
	if t.focus == 0 {
		return t.input.Focus()
	}
	return nil
}

func (t *triageScreen) editing() bool { return t.focus == 0 && t.input.Focused() }

// title names the screen in the header: adding to a case is not a wizard step.
func (t *triageScreen) title() string {
	if t.addOnly {
		return "New failures"
	}
	return ""
}

func (t *triageScreen) help() []key.Binding {
	k := t.s.c.Keys
	if t.focus == 0 {
		read := k.Next
		read.SetHelp("enter", "read / next")
		return []key.Binding{read, k.Tab, k.Back}
	}
	change := k.Kind
	change.SetHelp("←/→", "change answer")
	confirm := k.Next
	confirm.SetHelp("enter", "confirm")
	return []key.Binding{confirm, change, k.Up, k.Down, k.Tab, k.Back}
}

// readText triages pasted text in a Cmd. missing is set when the text looked like the
// path of a file that is not there.
func (t *triageScreen) readText(text, missing string) tea.Cmd {
	t.start("pasted text", int64(len(text)))
	t.preview = previewLines(text, 2)
	t.missing = missing
	return t.readFrom("paste", func() (io.ReadCloser, int64, error) {
		return io.NopCloser(strings.NewReader(text)), int64(len(text)), nil
	}, "")
}

// readFile triages a file in a Cmd, with progress for the bar.
func (t *triageScreen) readFile(path string) tea.Cmd {
	t.start(path, 0)
	t.preview, t.missing = nil, ""
	return t.readFrom(filepath.Base(path), func() (io.ReadCloser, int64, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, err
		}
		if st.IsDir() {
			f.Close()
			return nil, -1, nil
		}
		return f, st.Size(), nil
	}, path)
}

func (t *triageScreen) start(source string, total int64) {
	if t.cancel != nil {
		t.cancel()
	}
	t.readID++
	t.reading, t.read, t.total, t.err, t.source = true, 0, total, "", sanitize.Line(source)
}

// readFrom runs triage over what open returns and streams progress messages on a
// channel the screen listens to, one message per Cmd. open returns a nil reader for a
// folder (a Maildir), which triage reads by its path.
func (t *triageScreen) readFrom(name string, open func() (io.ReadCloser, int64, error), path string) tea.Cmd {
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	id, now := t.readID, t.s.opts.Now
	ch := make(chan tea.Msg, 16)
	go func() {
		defer close(ch)
		r, total, err := open()
		if err != nil {
			ch <- triageDoneMsg{id: id, err: err}
			return
		}
		last := int64(0)
		progress := func(n int64) {
			// Progress is advisory: drop an update rather than wait for the screen.
			if n-last >= 256<<10 || n == total {
				last = n
				select {
				case ch <- triageProgressMsg{id: id, read: n, total: max(total, 0), ch: ch}:
				default:
				}
			}
		}
		var rep *triage.Report
		if r == nil {
			rep, err = readFolder(ctx, path, progress, now)
		} else {
			rep, err = readEvidence(ctx, name, r, progress, now)
			r.Close()
		}
		if err != nil {
			ch <- triageDoneMsg{id: id, err: err}
			return
		}
		ch <- triageDoneMsg{id: id, source: name, findings: rep.Findings, groups: rep.Groups, notes: rep.Notes, classified: rep.Classified()}
	}()
	return listen(ch)
}

// listen waits for the next message of a stream.
func listen(ch <-chan tea.Msg) tea.Cmd {
	return func() tea.Msg {
		msg, ok := <-ch
		if !ok {
			return nil
		}
		return msg
	}
}

func (t *triageScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.PasteMsg:
		// A paste is read at once, whichever pane has focus (bracketed paste keeps it
		// whole); a pasted path to a file reads the file.
		t.input.SetValue("")
		msg.Content = pastedLines(msg.Content)
		if strings.TrimSpace(msg.Content) != "" {
			return t.readInput(msg.Content)
		}
		return nil
	case inputKindMsg:
		if msg.file {
			return t.readFile(msg.path)
		}
		return t.readText(msg.text, msg.missing)
	case triageProgressMsg:
		if msg.id != t.readID {
			return nil
		}
		t.read, t.total = msg.read, msg.total
		var cmd tea.Cmd
		if t.total > 0 {
			// SetPercent's animation Cmd reads the model it was called on when it
			// fires: call it on a copy no later Update writes to.
			bar := t.bar
			cmd = bar.SetPercent(float64(t.read) / float64(t.total))
			t.bar = bar
		}
		return tea.Batch(cmd, listen(msg.ch))
	case progress.FrameMsg:
		var cmd tea.Cmd
		t.bar, cmd = t.bar.Update(msg)
		return cmd
	case triageDoneMsg:
		if msg.id != t.readID {
			return nil
		}
		return t.done(msg)
	case tea.KeyPressMsg:
		return t.key(msg)
	}
	if t.focus == 0 {
		var cmd tea.Cmd
		t.input, cmd = t.input.Update(msg)
		return cmd
	}
	return nil
}

func (t *triageScreen) done(msg triageDoneMsg) tea.Cmd {
	t.reading = false
	if msg.err != nil {
		t.err = oneLine(msg.err)
		return nil
	}
	if !msg.classified {
		// The command line's rule (unblock add): what nothing could classify changes nothing.
		t.findings, t.groups, t.notes = nil, nil, msg.notes
		if t.missing != "" {
			t.err = "no such file: " + sanitize.Line(t.missing)
			t.preview = nil
			return nil
		}
		t.err = "nothing in it could be read as a delivery failure, so nothing was added: paste the SMTP reply or the bounce itself, or answer the questions (tab)"
		return nil
	}
	t.findings, t.groups, t.notes = msg.findings, msg.groups, msg.notes
	c := t.s.cas
	t.added = c.Add(msg.findings, t.s.opts.Now()).New
	if !t.addOnly {
		if g, ok := topGroup(msg.groups); ok {
			if c.Provider == "" || len(c.Timeline) == t.added {
				c.Provider = g.Provider
			}
			if c.Route.Kind == "" && g.Route.Kind != "" {
				c.Route.Kind = g.Route.Kind
			}
		}
		t.focus = 1
		t.input.Blur()
	}
	return t.s.touch()
}

// topGroup is the group with most failures: what the case is about.
func topGroup(gs []triage.Group) (triage.Group, bool) {
	best := -1
	for i, g := range gs {
		if g.Mode == triage.Delivered || g.Mode == triage.AutoReply {
			continue
		}
		if best < 0 || g.Count > gs[best].Count {
			best = i
		}
	}
	if best < 0 {
		return triage.Group{}, false
	}
	return gs[best], true
}

func (t *triageScreen) key(km tea.KeyPressMsg) tea.Cmd {
	k := t.s.c.Keys
	switch {
	case key.Matches(km, k.Back):
		if t.reading && t.cancel != nil {
			t.cancel()
			t.reading = false
			t.readID++
			return flash("reading cancelled")
		}
		return emit(backMsg{})
	case key.Matches(km, k.Tab):
		if t.addOnly {
			return nil
		}
		t.focus = 1 - t.focus
		if t.focus == 0 {
			return t.input.Focus()
		}
		t.input.Blur()
		return nil
	}
	if t.focus == 0 {
		if key.Matches(km, k.Next) {
			v := strings.TrimSpace(t.input.Value())
			if v == "" {
				if t.addOnly {
					return emit(backMsg{})
				}
				if len(t.findings) > 0 || t.s.cas.Mode != "" {
					return t.confirm()
				}
				// Nothing to go on: say so, and create nothing.
				t.err = "nothing pasted yet: paste the SMTP reply or bounce, type the path of a file, or press tab to answer the questions"
				t.preview = nil
				return nil
			}
			t.input.SetValue("")
			return t.readInput(v)
		}
		var cmd tea.Cmd
		t.input, cmd = t.input.Update(km)
		return cmd
	}
	switch {
	case key.Matches(km, k.Up):
		t.field = (t.field + nFields - 1) % nFields
	case key.Matches(km, k.Down):
		t.field = (t.field + 1) % nFields
	case km.String() == "left" || km.String() == "h":
		return t.cycle(-1)
	case km.String() == "right" || km.String() == "l" || key.Matches(km, k.Toggle):
		return t.cycle(1)
	case key.Matches(km, k.Next):
		return t.confirm()
	}
	return nil
}

// cycle changes the selected field of the proposal to the next or previous choice.
func (t *triageScreen) cycle(d int) tea.Cmd {
	c := t.s.cas
	switch t.field {
	case fMode:
		c.Mode = triage.Mode(step(modeChoices, string(c.Mode), d))
	case fCause:
		c.Cause = step(causeChoices, c.Cause, d)
	case fProvider:
		c.Provider = step(providerChoices(), c.Provider, d)
		if !slices.Contains(controlChoices(c.Provider, ""), c.Control) {
			c.Control = "" // another provider's control is not this one's
		}
	case fControl:
		c.Control = step(controlChoices(c.Provider, c.Control), c.Control, d)
	case fRoute:
		c.Route.Kind = step(routeChoices(c.Role), c.RouteKind(), d)
		t.routeTouched = true
		return t.s.touch()
	}
	if !t.routeTouched && t.field != fControl {
		// The route follows the answers until the person picks one; with what happened
		// or whose control it was still unanswered, there is no route to propose.
		c.Route.Kind = ""
		if c.Provider != "" && c.Mode != "" {
			c.Route.Kind = casefile.DefaultRoute(c.Role, c.Provider, c.Mode, c.Cause)
		}
	}
	return t.s.touch()
}

// confirm accepts the proposal and goes on. Nothing is assumed: what happened and whose
// control it was come from the evidence or from the person's answers.
func (t *triageScreen) confirm() tea.Cmd {
	c := t.s.cas
	switch {
	case c.Mode == "":
		t.focus, t.field = 1, fMode
		t.input.Blur()
		return flashError("answer what happened to the mail (←/→) or paste the reply: nothing is assumed")
	case c.Provider == "":
		t.focus, t.field = 1, fProvider
		t.input.Blur()
		return flashError("answer whose control blocked it (←/→; \"unknown\" is an answer): nothing is assumed")
	}
	if c.Route.Kind == "" {
		c.Route.Kind = c.RouteKind()
	}
	return tea.Sequence(t.s.touch(), emit(nextMsg{}))
}

func (t *triageScreen) view() string {
	st := t.s.c.Styles
	w, _ := t.s.c.size()
	var b strings.Builder
	// The instructions give way to what was read, once something was.
	switch {
	case t.addOnly:
		b.WriteString(st.Heading.Render("Add new failures to this case") + "\n")
		if len(t.findings) == 0 {
			b.WriteString(st.Muted.Render(wrap("Paste the new bounces, replies or log lines (or a file path). Failures already in the case count once.", w)) + "\n")
		}
		b.WriteString("\n")
	case len(t.findings) > 0:
		b.WriteString(st.Heading.Render("What failed?") + "\n\n")
	default:
		b.WriteString(st.Heading.Render("What failed?") + "\n")
		b.WriteString(st.Muted.Render(wrap("Paste the SMTP reply, the bounce (DSN/.eml), headers of a filtered message or mail-log lines — or type the path of a file. Nothing to paste? Press tab and answer the questions.", w)) + "\n\n")
	}
	t.input.SetWidth(max(10, w-4))
	field := "  " + t.input.View()
	if t.focus == 0 {
		field = st.Accent.Render("▸ ") + t.input.View()
	}
	b.WriteString(field + "\n")
	switch {
	case t.reading:
		if t.total > 0 {
			t.bar.SetWidth(min(40, max(10, w-30)))
			fmt.Fprintf(&b, "  reading %s  %s %s of %s\n", t.source, t.bar.View(), size(t.read), size(t.total))
		} else {
			fmt.Fprintf(&b, "  reading %s …\n", t.source)
		}
	case t.err != "":
		b.WriteString(st.Fail.Render(indent(wrap(t.err, max(10, w-2)), 2)) + "\n")
	case t.source != "":
		fmt.Fprintf(&b, "  %s\n", st.Muted.Render(fmt.Sprintf("read %s: %s, %d new in the case", t.source, plural(len(t.findings), "finding"), t.added)))
	}
	// What was pasted is echoed only when nothing in it was understood.
	for _, l := range t.preview {
		if len(t.findings) > 0 {
			break
		}
		b.WriteString(st.Muted.Render(truncate("  │ "+l, w)) + "\n")
	}
	for _, n := range t.notes {
		b.WriteString(st.Muted.Render(truncate("  note: "+n, w)) + "\n")
	}
	b.WriteString("\n")
	if len(t.findings) > 0 {
		b.WriteString(st.Heading.Render("Findings") + "\n")
		shown := 1
		if t.addOnly {
			shown = 3
		}
		for i, f := range t.findings {
			if i == shown {
				b.WriteString(st.Muted.Render(fmt.Sprintf("  … and %d more", len(t.findings)-shown)) + "\n")
				break
			}
			// The IP before the names: a narrow screen cuts the end, and an IP cut short reads as another.
			what := strings.Join(nonEmpty(string(f.Mode), string(f.Cause), f.IP, f.Provider, f.Control, f.RecipientDomain), " · ")
			b.WriteString(truncate("  "+sanitize.Line(what), w) + "\n")
			b.WriteString(st.Muted.Render(truncate("    "+f.Text, w)) + "\n")
		}
		b.WriteString(t.adviceView(w))
		b.WriteString("\n")
	}
	if !t.addOnly {
		b.WriteString(t.proposalView(w))
	}
	return b.String()
}

// adviceView is what the command line's triage prints under a group: why the reply
// came (the finding's meaning), what to do about it, and where the case goes.
func (t *triageScreen) adviceView(w int) string {
	g, ok := topGroup(t.groups)
	if !ok {
		return ""
	}
	st := t.s.c.Styles
	var b strings.Builder
	line := func(label, text string) {
		if text == "" {
			return
		}
		body := wrap(sanitize.Line(text), max(10, w-7))
		b.WriteString("  " + st.Accent.Render(label) + " " + strings.ReplaceAll(body, "\n", "\n       ") + "\n")
	}
	for _, f := range t.findings {
		if f.Provider == g.Provider && f.Control == g.Control && f.IP == g.IP && (f.Meaning != "" || f.Advice != "") {
			line("why ", f.Meaning)
			line("do  ", f.Advice)
			break
		}
	}
	if g.Route.Kind != "" && g.Route.Kind != "none" {
		where := g.Route.Kind
		if d, ok := triage.DeskFor(g.Route.Kind); ok {
			where = d.Name + " (" + g.Route.Kind + ")"
		}
		if g.Route.URL != "" {
			where += " " + g.Route.URL
		} else if g.Route.Contact != "" {
			where += " <" + g.Route.Contact + ">"
		}
		line("go  ", where)
	}
	return b.String()
}

func (t *triageScreen) proposalView(w int) string {
	st := t.s.c.Styles
	c := t.s.cas
	var b strings.Builder
	title := "Proposed"
	if len(t.findings) == 0 {
		title = "A few questions"
	}
	b.WriteString(st.Heading.Render(title) + st.Muted.Render("  (tab here, ↑/↓ a question, ←/→ change the answer, enter confirm)") + "\n")
	routeName := ""
	if c.Route.Kind != "" || (c.Provider != "" && c.Mode != "") {
		route := c.RouteKind()
		routeName = route
		if d, ok := triage.DeskFor(route); ok {
			routeName = route + " — " + d.Name
		}
	}
	values := [nFields]string{string(c.Mode), c.Cause, c.Provider, c.Control, routeName}
	if c.Mode != "" {
		values[fMode] += st.Muted.Render("  " + modeMeaning[string(c.Mode)])
	}
	for i := range nFields {
		v := values[i]
		if v == "" {
			v = st.Muted.Render("—")
		}
		question := fieldQuestions[i]
		if i == fCause && c.Mode == triage.Filtering {
			// Filtered mail has no reply: its headers hold the filter's verdict.
			question = "Why, according to the filter?"
		}
		q := fmt.Sprintf("%-30s", question)
		if t.focus == 1 && t.field == i {
			b.WriteString(truncate(st.Accent.Render("▸ ")+st.Selected.Render(q)+" ‹ "+v+" ›", w) + "\n")
		} else {
			b.WriteString(truncate("  "+q+"   "+v, w) + "\n")
		}
	}
	return b.String()
}

// nonEmpty drops empty strings.
func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// step returns the choice d places from cur in choices (the first when cur is absent).
func step(choices []string, cur string, d int) string {
	if len(choices) == 0 {
		return cur
	}
	i := slices.Index(choices, cur)
	if i < 0 {
		if d < 0 {
			return choices[len(choices)-1]
		}
		return choices[0]
	}
	return choices[(i+d+len(choices))%len(choices)]
}

// providerChoices are the providers the triage knowledge knows, then "unknown".
func providerChoices() []string {
	var out []string
	add := func(p string) {
		if p != "" && p != "unknown" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	add("proofpoint")
	add("cloudmark")
	for _, t := range triage.Tables() {
		add(t.Provider)
	}
	for _, d := range triage.Desks() {
		add(d.Provider)
	}
	return append(out, "unknown")
}

// controlChoices are the controls the knowledge names for a provider.
func controlChoices(provider, cur string) []string {
	var out []string
	for _, t := range triage.Tables() {
		for _, r := range t.Rules {
			owner := r.Provider
			if owner == "" {
				owner = t.Provider
			}
			if owner == provider && r.Control != "" && !slices.Contains(out, r.Control) {
				out = append(out, r.Control)
			}
		}
	}
	if cur != "" && !slices.Contains(out, cur) {
		out = append(out, cur)
	}
	return out
}

// routeChoices are the desks open to someone in this role.
func routeChoices(role casefile.Role) []string {
	var out []string
	for _, d := range triage.Desks() {
		if d.Audience == "any" || d.Audience == string(role) {
			out = append(out, d.Kind)
		}
	}
	return out
}

// pastedLines undoes what terminals do to newlines in a paste: many send each line end
// as a carriage return (tmux, xterm), which would make a bounce one long line.
func pastedLines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// previewLines are the first n non-empty lines of untrusted text, made safe to show.
func previewLines(text string, n int) []string {
	var out []string
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		out = append(out, sanitize.Line(expandTabs(line)))
		if len(out) == n {
			break
		}
	}
	return out
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[2:])
		}
	}
	return p
}

// inputKindMsg says whether what was typed or pasted names a file or folder.
type inputKindMsg struct {
	text, path string
	file       bool
	missing    string // a path that looked like one but is not there
}

// readInput reads what was typed or pasted: a path to a file or folder, or the text
// itself. Whether the path exists is asked in a Cmd (a stat can hang on a dead network
// mount); text that cannot be a path is read at once.
func (t *triageScreen) readInput(text string) tea.Cmd {
	p := expandHome(strings.TrimSpace(text))
	if p == "" || strings.ContainsAny(p, "\n") || len(p) > 1024 {
		return t.readText(text, "")
	}
	return func() tea.Msg {
		_, err := os.Stat(p)
		msg := inputKindMsg{text: text, path: p, file: err == nil}
		if err != nil && looksLikePath(p) {
			msg.missing = p
		}
		return msg
	}
}

// looksLikePath says that one typed line reads as the name of a file rather than a
// reply: it has a folder separator, starts like a path, or ends in a file extension.
// Such a line is still triaged (a reply may begin with a path); only when nothing in it
// is a failure does the screen say there is no such file.
func looksLikePath(s string) bool {
	if strings.ContainsAny(s, "/\\") || strings.HasPrefix(s, "~") {
		return true
	}
	if strings.ContainsAny(s, " \t") {
		return false
	}
	ext := filepath.Ext(s)
	return len(ext) >= 2 && len(ext) <= 6 && strings.IndexFunc(ext[1:], func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) < 0
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
