package tui

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

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
	// then is where to go once a run ends: the overview's update runs the checks first.
	then tea.Cmd
}

func newChecks(s *session) *checksScreen {
	cs := &checksScreen{s: s, spin: spinner.New(spinner.WithSpinner(spinner.Dot))}
	for _, id := range checks.IDs() {
		cs.rows = append(cs.rows, checkRow{id: id})
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
	if cs.running > 0 {
		return []key.Binding{k.Up, k.Down, k.Cancel, k.Back}
	}
	return []key.Binding{k.Next, k.Up, k.Down, k.Rerun, k.RerunAll, k.Back}
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
		if only == "" || cs.rows[i].id == only {
			cs.rows[i].running = true
			cs.running++
		} else {
			cs.rows[i].running = false
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
	var skip map[string]bool
	if msg.only != "" {
		skip = map[string]bool{}
		for _, r := range cs.rows {
			if r.id != msg.only {
				skip[r.id] = true
			}
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
		}
	case key.Matches(km, k.Down):
		if cs.sel < len(cs.rows)-1 {
			cs.sel++
		}
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
	b.WriteString(st.Heading.Render("Proving your side: ") + st.Text.Render(sanitize.Line(who)) + "\n")
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
	// The list and the detail pane share what the three lines above leave.
	_, bodyH := cs.s.c.body()
	avail := bodyH - 3
	listH := min(len(cs.rows), max(3, avail-8))
	paneH := max(2, avail-listH-3)
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
	for i := start; i < end; i++ {
		r := cs.rows[i]
		var status, summary string
		switch {
		case r.running:
			status = cs.spin.View() + " " + st.Muted.Render("checking")
		case r.has:
			status = glyph(st, r.res.Status)
			summary = sanitize.Line(r.res.Summary)
		default:
			status = st.Muted.Render("·")
		}
		line := fmt.Sprintf("%-10s ", r.id) + padRight(status, 19) + " " + summary
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

// detail is the pane of the selected check: summary, fix and details.
func (cs *checksScreen) detail(w, h int) string {
	st := cs.s.c.Styles
	r := cs.rows[cs.sel]
	inner := max(10, w-4)
	var b strings.Builder
	b.WriteString(st.Heading.Render(r.id))
	if r.has {
		b.WriteString("  " + glyph(st, r.res.Status))
	}
	b.WriteString("\n")
	switch {
	case r.running:
		b.WriteString(st.Muted.Render("checking…"))
	case !r.has:
		b.WriteString(st.Muted.Render("not run yet"))
	default:
		b.WriteString(wrap(sanitize.Line(r.res.Summary), inner))
		if r.res.Status == checks.Error {
			b.WriteString("\n" + st.Error.Render(wrap("This check could not run, so it says nothing about your setup: it is not a failure. Re-run it (r) when the network allows.", inner)))
		}
		if r.res.Fix != "" {
			b.WriteString("\n" + st.Accent.Render("Fix: ") + wrap(sanitize.Line(r.res.Fix), inner-5))
		}
		for _, d := range detailLines(r.res.Details) {
			// One line at a time: a multi-line Render pads every line to the widest.
			b.WriteString("\n" + st.Muted.Render(truncate(d, inner)))
		}
	}
	body := b.String()
	if n := lineCount(body); n > h {
		body = fit(body, inner, h-1) + "\n" + st.Muted.Render(fmt.Sprintf("… %d more lines (a wider or taller terminal shows them)", n-h+1))
	} else {
		body = fit(body, inner, n)
	}
	return st.Pane.Width(w).Render(body)
}

func lineCount(s string) int { return strings.Count(s, "\n") + 1 }

// detailLines shows a check's details: one line per value, lists one item a line, maps
// as key=value pairs, sorted, every value made safe to show.
func detailLines(d map[string]any) []string {
	var out []string
	for _, k := range sortedKeys(reflect.ValueOf(d)) {
		v := reflect.ValueOf(d[k.String()])
		for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
			v = v.Elem()
		}
		switch {
		case v.IsValid() && (v.Kind() == reflect.Slice || v.Kind() == reflect.Array) && v.Type().Elem().Kind() != reflect.Uint8:
			out = append(out, sanitize.Line(k.String())+":")
			for i := range v.Len() {
				out = append(out, "  - "+inline(v.Index(i)))
			}
		default:
			out = append(out, sanitize.Line(k.String())+": "+inline(v))
		}
	}
	return out
}

// inline writes a value on one line: a map as its key=value pairs.
func inline(v reflect.Value) string {
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
		v = v.Elem()
	}
	if !v.IsValid() {
		return ""
	}
	if v.Kind() == reflect.Map {
		var parts []string
		for _, k := range sortedKeys(v) {
			if x := inline(v.MapIndex(k)); x != "" {
				parts = append(parts, fmt.Sprintf("%v=%s", k.Interface(), x))
			}
		}
		return strings.Join(parts, " ")
	}
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8 {
		var parts []string
		for i := range v.Len() {
			parts = append(parts, inline(v.Index(i)))
		}
		return strings.Join(parts, ", ")
	}
	return sanitize.Line(fmt.Sprint(v.Interface()))
}

func sortedKeys(m reflect.Value) []reflect.Value {
	keys := m.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i].Interface()) < fmt.Sprint(keys[j].Interface()) })
	return keys
}
