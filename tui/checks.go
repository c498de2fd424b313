package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/sanitize"
)

// The checks screen's I/O results; run is the id of the run they belong to.
type (
	checkResultMsg struct {
		run int
		res checks.Result
		ch  <-chan checks.Result
	}
	checksDoneMsg struct{ run int }
	checksEnvMsg  struct {
		run  int
		only string
		env  *checks.Env
		err  error
	}
)

// checkRow is one check as the screen shows it.
type checkRow struct {
	id      string
	running bool
	res     checks.Result
	has     bool
}

// checksScreen is step 4: every check at once, each row settling as its result comes.
type checksScreen struct {
	s       *session
	rows    []checkRow
	sel     int
	run     int
	cancel  context.CancelFunc
	spin    spinner.Model
	running int
	envErr  string
	ran     bool
	// skipped are the checks the person chose not to run (--skip, or space on the row).
	skipped map[string]bool
	// scroll is the first line of the details pane shown; it resets with the selection.
	scroll int
	// then is where to go once a run ends: the overview's update runs the checks first.
	then tea.Cmd
}

func newChecks(s *session) *checksScreen {
	cs := &checksScreen{s: s, spin: spinner.New(spinner.WithSpinner(spinner.Dot)), skipped: map[string]bool{}}
	for _, id := range checks.IDs() {
		cs.rows = append(cs.rows, checkRow{id: id})
	}
	for _, id := range s.opts.Skip {
		cs.skipped[id] = true
	}
	// What the case holds from an earlier run is shown until the checks run again.
	for _, a := range s.cas.Authentication {
		if i := cs.index(a.ID); i >= 0 {
			cs.rows[i].res = checks.Result{ID: a.ID, Status: checks.Status(a.Status), Summary: a.Summary, Fix: a.Fix}
			cs.rows[i].has = true
		}
	}
	return cs
}

func (cs *checksScreen) index(id string) int {
	return slices.IndexFunc(cs.rows, func(r checkRow) bool { return r.id == id })
}

func (cs *checksScreen) enter() tea.Cmd {
	if !cs.ran && cs.running == 0 {
		return cs.start("")
	}
	return nil
}

func (cs *checksScreen) editing() bool { return false }

func (cs *checksScreen) help() []key.Binding {
	k := cs.s.c.Keys
	scroll := key.NewBinding(key.WithKeys("pgup", "pgdown"), key.WithHelp("pgup/pgdn", "scroll details"))
	if cs.running > 0 {
		return []key.Binding{k.Up, k.Down, scroll, k.Cancel, k.Back}
	}
	skip := k.Toggle
	skip.SetHelp("space", "skip / run")
	if len(cs.rows) > 0 && cs.skipped[cs.rows[cs.sel].id] {
		skip.SetHelp("space", "run it")
	} else if len(cs.rows) > 0 {
		skip.SetHelp("space", "skip it")
	}
	return []key.Binding{k.Next, k.Up, k.Down, skip, k.Rerun, k.RerunAll, scroll, k.Back}
}

// skippedResult is what a skipped row shows until it runs again.
func skippedResult(id string) checks.Result {
	return checks.Result{ID: id, Status: checks.Skip, Summary: "skipped on request (space runs it)"}
}

// toggleSkip skips the selected check, or runs it again when it was skipped.
func (cs *checksScreen) toggleSkip() tea.Cmd {
	if len(cs.rows) == 0 {
		return nil
	}
	if cs.running > 0 {
		return flash("the checks are still running: wait, or press x to cancel")
	}
	r := &cs.rows[cs.sel]
	if cs.skipped[r.id] {
		delete(cs.skipped, r.id)
		return tea.Batch(flash(r.id+" runs again"), cs.start(r.id))
	}
	cs.skipped[r.id] = true
	r.res, r.has = skippedResult(r.id), true
	// A skipped check says nothing about the sender: its earlier result leaves the case.
	cs.s.cas.Authentication = slices.DeleteFunc(cs.s.cas.Authentication, func(a casefile.AuthCheck) bool { return a.ID == r.id })
	return tea.Batch(cs.s.touch(), flash(r.id+" skipped: the case and the message leave it out"))
}

// target is what the checks are about: the case's identifiers, as the command line's
// check --case takes them (casefile.CheckTarget).
func (cs *checksScreen) target() checks.Target { return cs.s.cas.CheckTarget() }

// start runs every check (or only one): the environment is built in a Cmd, since
// reading resolv.conf is I/O.
func (cs *checksScreen) start(only string) tea.Cmd {
	if cs.cancel != nil {
		cs.cancel()
	}
	cs.run++
	cs.ran = true
	cs.envErr = ""
	run := cs.run
	cs.running = 0
	for i := range cs.rows {
		r := &cs.rows[i]
		switch {
		case cs.skipped[r.id]:
			r.running = false
			r.res, r.has = skippedResult(r.id), true
		case only == "" || r.id == only:
			r.running = true
			cs.running++
		default:
			r.running = false
		}
	}
	opts := cs.s.opts
	return tea.Batch(cs.spin.Tick, func() tea.Msg {
		env, err := checkEnv(opts)
		return checksEnvMsg{run: run, only: only, env: env, err: err}
	})
}

// checkEnv is the environment of a run: the resolvers given, else the system's.
func checkEnv(opts Options) (*checks.Env, error) {
	if opts.CheckEnv != nil {
		return opts.CheckEnv()
	}
	servers := opts.Resolvers
	if len(servers) == 0 {
		var err error
		if servers, err = resolver.SystemServers("/etc/resolv.conf"); err != nil {
			return nil, fmt.Errorf("no DNS resolver: %v (give one with --resolver)", err)
		}
	}
	r, err := resolver.New(resolver.Config{Servers: servers})
	if err != nil {
		return nil, err
	}
	return &checks.Env{Resolver: r, Now: opts.Now}, nil
}

func (cs *checksScreen) launch(msg checksEnvMsg) tea.Cmd {
	if msg.err != nil {
		cs.envErr = oneLine(msg.err)
		cs.stopAll()
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cs.s.opts.Timeout)
	cs.cancel = cancel
	skip := map[string]bool{}
	for _, r := range cs.rows {
		if cs.skipped[r.id] || (msg.only != "" && r.id != msg.only) {
			skip[r.id] = true
		}
	}
	ch := checks.Run(ctx, msg.env, cs.target(), skip)
	return nextResult(msg.run, ch)
}

func nextResult(run int, ch <-chan checks.Result) tea.Cmd {
	return func() tea.Msg {
		r, ok := <-ch
		if !ok {
			return checksDoneMsg{run: run}
		}
		return checkResultMsg{run: run, res: r, ch: ch}
	}
}

func (cs *checksScreen) stopAll() {
	for i := range cs.rows {
		cs.rows[i].running = false
	}
	cs.running = 0
}

// results are the latest result of every check that has one.
func (cs *checksScreen) results() []checks.Result {
	var out []checks.Result
	for _, r := range cs.rows {
		if r.has {
			out = append(out, r.res)
		}
	}
	return out
}

func (cs *checksScreen) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case checksEnvMsg:
		if msg.run != cs.run {
			return nil
		}
		return cs.launch(msg)
	case checkResultMsg:
		if msg.run != cs.run {
			return nil
		}
		i := cs.index(msg.res.ID)
		if i >= 0 && cs.rows[i].running {
			cs.rows[i].res, cs.rows[i].has, cs.rows[i].running = msg.res, true, false
			cs.running--
		}
		return nextResult(msg.run, msg.ch)
	case checksDoneMsg:
		if msg.run != cs.run {
			return nil
		}
		cs.stopAll()
		if cs.cancel != nil {
			cs.cancel()
		}
		cs.s.cas.RecordChecks(cs.results(), cs.s.opts.Now())
		// A check the person skipped here says nothing about the sender: an earlier
		// result of it leaves the case, so no message cites it.
		cs.s.cas.Authentication = slices.DeleteFunc(cs.s.cas.Authentication, func(a casefile.AuthCheck) bool { return cs.skipped[a.ID] })
		then := cs.then
		cs.then = nil
		return tea.Sequence(cs.s.touch(), then)
	case spinner.TickMsg:
		if cs.running == 0 {
			return nil
		}
		var cmd tea.Cmd
		cs.spin, cmd = cs.spin.Update(msg)
		return cmd
	case tea.KeyPressMsg:
		return cs.key(msg)
	}
	return nil
}

func (cs *checksScreen) key(km tea.KeyPressMsg) tea.Cmd {
	k := cs.s.c.Keys
	switch {
	case key.Matches(km, k.Up):
		if cs.sel > 0 {
			cs.sel--
			cs.scroll = 0
		}
	case key.Matches(km, k.Down):
		if cs.sel < len(cs.rows)-1 {
			cs.sel++
			cs.scroll = 0
		}
	case km.String() == "pgdown":
		cs.scroll += max(1, cs.paneLines()-2)
	case km.String() == "pgup":
		cs.scroll = max(0, cs.scroll-max(1, cs.paneLines()-2))
	case key.Matches(km, k.Toggle):
		return cs.toggleSkip()
	case key.Matches(km, k.Cancel):
		if cs.running > 0 && cs.cancel != nil {
			// The runner reports what was still waiting as "error", never as a failure.
			cs.cancel()
			return flash("cancelled: checks still running report that they could not finish")
		}
	case key.Matches(km, k.Rerun):
		if cs.running == 0 && len(cs.rows) > 0 {
			return cs.start(cs.rows[cs.sel].id)
		}
	case key.Matches(km, k.RerunAll):
		if cs.running == 0 {
			return cs.start("")
		}
	case key.Matches(km, k.Next):
		if cs.running > 0 {
			return flash("the checks are still running: wait, or press x to cancel")
		}
		return emit(nextMsg{})
	case key.Matches(km, k.Back):
		if cs.running > 0 && cs.cancel != nil {
			cs.cancel()
		}
		return emit(backMsg{})
	}
	return nil
}

// glyph is a status's mark; each status has its own shape so colour is never needed.
func glyph(st Styles, s checks.Status) string {
	switch s {
	case checks.Pass:
		return st.OK.Render("✓ pass")
	case checks.Warn:
		return st.Warn.Render("! warn")
	case checks.Fail:
		return st.Fail.Render("✗ FAIL")
	case checks.Error:
		return st.Error.Render("? could not check")
	case checks.Skip:
		return st.Muted.Render("– skip")
	}
	return st.Muted.Render("·")
}

func (cs *checksScreen) view() string {
	st := cs.s.c.Styles
	w, _ := cs.s.c.size()
	var b strings.Builder
	t := cs.target()
	who := t.Domain
	if t.IP.IsValid() {
		who = t.IP.String() + " " + who
	}
	heading := "Proving your side: "
	if cs.s.cas.Role == casefile.Customer {
		// A customer admin's case is about a sender's mail: the checks look at that sender.
		heading = "Checking the sender: "
	}
	b.WriteString(st.Heading.Render(heading) + st.Text.Render(sanitize.Line(who)) + "\n")
	switch {
	case cs.envErr != "":
		b.WriteString(st.Error.Render(wrap("? the checks could not start: "+cs.envErr, w)) + "\n")
	case cs.running > 0:
		b.WriteString(st.Muted.Render(fmt.Sprintf("%d of %d checks running… x cancels", cs.running, len(cs.rows))) + "\n")
	case len(cs.rows) == 0:
		b.WriteString(st.Muted.Render("no checks are built into this program") + "\n")
	default:
		b.WriteString(st.Muted.Render(cs.tally()) + "\n")
	}
	b.WriteString("\n")
	listH, paneH := cs.layout()
	// When not every row fits, the last line says how many more there are.
	rowsH := listH
	if len(cs.rows) > listH {
		rowsH = listH - 1
	}
	start := 0
	if cs.sel >= rowsH {
		start = cs.sel - rowsH + 1
	}
	end := min(len(cs.rows), start+rowsH)
	// The id column is as wide as the widest id, so every status lines up.
	idW := 0
	for _, r := range cs.rows {
		idW = max(idW, ansi.StringWidth(r.id))
	}
	for i := start; i < end; i++ {
		r := cs.rows[i]
		var status, summary string
		switch {
		case r.running:
			status = cs.spin.View() + " " + st.Muted.Render("checking")
		case r.has:
			status = glyph(st, r.res.Status)
			summary = sanitize.Line(r.res.Summary)
			if r.res.Status == checks.Skip && strings.HasPrefix(summary, "no ") && strings.HasSuffix(summary, " given") {
				summary += ": add it on step 3 (esc)"
			}
		default:
			status = st.Muted.Render("·")
		}
		line := padRight(r.id, idW) + " " + padRight(status, 19) + " " + summary
		if i == cs.sel {
			b.WriteString(truncate(st.Accent.Render("▸ ")+line, w) + "\n")
		} else {
			b.WriteString(truncate("  "+line, w) + "\n")
		}
	}
	if end < len(cs.rows) {
		b.WriteString(st.Muted.Render(fmt.Sprintf("  ↓ %d more (↓ to scroll)", len(cs.rows)-end)) + "\n")
	}
	if len(cs.rows) > 0 {
		b.WriteString("\n" + cs.detail(w, paneH))
	}
	return b.String()
}

// layout shares what the three lines above the list leave between the list and the
// detail pane: the rows it shows and the pane's inner lines.
func (cs *checksScreen) layout() (listH, paneH int) {
	_, bodyH := cs.s.c.body()
	avail := bodyH - 3
	listH = min(len(cs.rows), max(3, avail-8))
	return listH, max(2, avail-listH-3)
}

func (cs *checksScreen) paneLines() int { _, h := cs.layout(); return h }

// tally counts the statuses, keeping "could not check" apart from failures.
func (cs *checksScreen) tally() string {
	n := map[checks.Status]int{}
	for _, r := range cs.rows {
		if r.has {
			n[r.res.Status]++
		}
	}
	parts := []string{fmt.Sprintf("%d pass", n[checks.Pass])}
	if n[checks.Warn] > 0 {
		parts = append(parts, fmt.Sprintf("%d warn", n[checks.Warn]))
	}
	parts = append(parts, fmt.Sprintf("%d fail", n[checks.Fail]))
	if n[checks.Error] > 0 {
		parts = append(parts, fmt.Sprintf("%d could not be checked", n[checks.Error]))
	}
	if n[checks.Skip] > 0 {
		parts = append(parts, fmt.Sprintf("%d skipped", n[checks.Skip]))
	}
	return "done: " + strings.Join(parts, " · ")
}

// detail is the pane of the selected check: its summary, what it means when it could
// not run, the fix, and its details in sentences. pgup/pgdn scroll it.
func (cs *checksScreen) detail(w, h int) string {
	st := cs.s.c.Styles
	r := cs.rows[cs.sel]
	inner := max(10, w-4)
	head := st.Heading.Render(r.id)
	if r.has {
		head += "  " + glyph(st, r.res.Status)
	}
	var lines []string
	add := func(s string) { lines = append(lines, strings.Split(s, "\n")...) }
	switch {
	case r.running:
		add(st.Muted.Render("checking…"))
	case !r.has:
		add(st.Muted.Render("not run yet"))
	default:
		add(wrap(sanitize.Line(r.res.Summary), inner))
		if r.res.Status == checks.Error {
			add(st.Error.Render(wrap("This check could not run, so it says nothing about your setup: it is not a failure. Re-run it (r) when the network allows.", inner)))
		}
		if r.res.Fix != "" {
			add(st.Accent.Render("Fix: ") + wrap(strings.ReplaceAll(sanitize.Text(r.res.Fix), "\t", " "), inner-5)) // a tab has no width the layout can count
		}
		for _, d := range detailSentences(r.id, r.res.Details) {
			// One line at a time: a multi-line Render pads every line to the widest.
			for _, l := range strings.Split(wrap(d, inner), "\n") {
				lines = append(lines, st.Muted.Render(l))
			}
		}
	}
	// The heading stays; the rest scrolls, with a last line saying where it is.
	room := max(1, h-1)
	if len(lines) > room {
		room = max(1, room-1)
		cs.scroll = min(cs.scroll, len(lines)-room)
		end := min(len(lines), cs.scroll+room)
		shown := append([]string{head}, lines[cs.scroll:end]...)
		where := fmt.Sprintf("lines %d–%d of %d · pgup/pgdn scroll", cs.scroll+1, end, len(lines))
		body := fit(strings.Join(shown, "\n"), inner, len(shown)) + "\n" + st.Muted.Render(truncate(where, inner))
		return st.Pane.Width(w).Render(body)
	}
	cs.scroll = 0
	body := append([]string{head}, lines...)
	return st.Pane.Width(w).Render(fit(strings.Join(body, "\n"), inner, len(body)))
}
