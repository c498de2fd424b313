package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/sanitize"
)

// Options configure a session.
type Options struct {
	// Store holds the cases.
	Store *casefile.Store
	// Case, when set, opens that case's overview (an id, an id prefix or a path).
	Case string
	// Resolvers are the DNS servers the checks ask (host:port); empty means the system's.
	Resolvers []string
	// Skip are the ids of checks not to run (--skip); space on a row changes it.
	Skip []string
	// Timeout bounds one run of the checks (10 s when zero).
	Timeout time.Duration
	// CheckEnv, when set, replaces the environment the checks run in (tests).
	CheckEnv func() (*checks.Env, error)
	// Clipboard writes to the native clipboard; nil uses the system's where present.
	Clipboard func(string) error
	// Now is the clock (tests fix it).
	Now func() time.Time
	// NoColor draws without colour (NO_COLOR).
	NoColor bool
	// Dark is the first guess of the background until the terminal answers.
	Dark bool
}

// Model is the root: it owns the size, the open case and its lock, routing between
// screens, autosaving, the status line and the quit guard.
type Model struct {
	c    *Common
	opts Options
	help help.Model

	cur     screenID
	screens map[screenID]screen
	prev    []screenID // where esc goes

	cas     *casefile.Case
	sess    *session
	created bool // the case exists on disk
	lock    *casefile.Lock
	force   bool // create even if a case for the same IP is open
	// createTo is the screen a new case's creation was on the way to.
	createTo screenID

	// While a save runs in a Cmd the case belongs to it: messages wait in held and
	// View shows the last frame, so nothing reads the case while it is written.
	saving    bool
	saveID    int
	held      []tea.Msg
	lastFrame string
	afterSave tea.Cmd // what to do once the save is through (navigate, quit)

	status    string
	statusBad bool
	// statusWarn marks a status that is not a success: something was not done.
	statusWarn bool
	statusID   int

	dup       *casefile.DuplicateError
	carry     []triage.Finding // findings to add to the case being opened instead of a duplicate
	quitAsk   bool
	showHelp  bool
	helpView  *helpView
	quitting  bool
	printText string // printed on quit when the person asked for it
	loadErr   error

	// listing counts the passes over the case files still running: one may rewrite the
	// store's index, so whoever removes the store waits for them (Wait).
	listing sync.WaitGroup
}

// Wait returns once the passes over the case files the model started are through.
func (m *Model) Wait() { m.listing.Wait() }

// New returns the root model of a session.
func New(opts Options) *Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	m := &Model{c: newCommon(opts.Dark, opts.NoColor), opts: opts, screens: map[screenID]screen{}}
	m.help = help.New()
	m.helpView = newHelpView()
	m.restyleHelp()
	return m
}

func (m *Model) restyleHelp() {
	if m.c.NoColor {
		m.help.Styles = help.Styles{}
	} else {
		m.help.Styles = help.DefaultStyles(m.c.IsDark)
	}
}

// Init asks for the background colour and loads what the session starts with.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.RequestBackgroundColor}
	if m.opts.Case != "" {
		cmds = append(cmds, m.openCase(m.opts.Case))
	} else {
		cmds = append(cmds, m.listCases())
	}
	return tea.Batch(cmds...)
}

// Messages of the root's own I/O.
type (
	casesMsg struct {
		cases []casefile.Summary
		err   error
		quick bool // from the index as it is; a confirmed list follows
	}
	openedMsg struct {
		cas  *casefile.Case
		lock *casefile.Lock
		err  error
	}
	savedMsg struct {
		id      int
		dirty   int // the session's edit count when the save started
		created bool
		lock    *casefile.Lock
		err     error
	}
	clearStatusMsg struct{ id int }
	showMsg        struct{ to screenID }
	showKindMsg    struct{ kind string }
	quitNowMsg     struct{}
)

func (m *Model) listCases() tea.Cmd {
	st := m.opts.Store
	return func() tea.Msg {
		cases, err := st.QuickSummaries()
		return casesMsg{cases, err, true}
	}
}

// openCase loads a case and takes its lock, so no other program writes it meanwhile.
func (m *Model) openCase(ref string) tea.Cmd {
	st := m.opts.Store
	return func() tea.Msg {
		path, err := st.Resolve(ref)
		if err != nil {
			return openedMsg{err: err}
		}
		// The same lock as the command line's, by the case's file; the case is read
		// once the lock is held, so nothing changes it between reading and locking.
		l, err := st.LockPath(path)
		if err != nil {
			return openedMsg{err: err}
		}
		c, err := st.Load(path)
		if err != nil {
			l.Unlock()
			return openedMsg{err: err}
		}
		return openedMsg{cas: c, lock: l}
	}
}

// save writes the case in a Cmd; then is run once it is through.
func (m *Model) save(then tea.Cmd) tea.Cmd {
	if m.cas == nil || m.opts.Store == nil {
		return then
	}
	m.saving = true
	m.saveID++
	m.afterSave = then
	id, st, c, create, force, edits := m.saveID, m.opts.Store, m.cas, !m.created, m.force, m.sess.edits
	return func() tea.Msg {
		if create {
			if err := st.Create(c, force); err != nil {
				return savedMsg{id: id, dirty: edits, created: false, err: err}
			}
			l, err := st.LockCase(c)
			return savedMsg{id: id, dirty: edits, created: true, lock: l, err: err}
		}
		return savedMsg{id: id, dirty: edits, err: st.Save(c)}
	}
}

// Update routes a message: the root's own first, then the current screen.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m.saving {
		if s, ok := msg.(savedMsg); ok && s.id == m.saveID {
			return m, m.saved(s)
		}
		m.held = append(m.held, msg)
		return m, nil
	}
	return m, m.handle(msg)
}

func (m *Model) handle(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.Width, m.c.Height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		return nil
	case tea.BackgroundColorMsg:
		m.c.setBackground(msg.IsDark())
		m.restyleHelp()
		for _, s := range m.screens {
			if r, ok := s.(interface{ restyle() }); ok {
				r.restyle()
			}
		}
		return nil
	case casesMsg:
		return m.gotCases(msg)
	case openedMsg:
		if msg.err != nil && m.carry != nil && m.cas != nil && !m.created {
			// The case that covers the paste could not be opened (another session holds
			// it): the new case and its paste stay where they were, nothing goes elsewhere.
			m.carry = nil
			m.sess.dirty = true
			return flashError(oneLine(msg.err) + ": your new case is still here; ctrl+s again to create it anyway (f), or add the paste to that case later")
		}
		if msg.err != nil {
			m.loadErr = msg.err
			m.cur = scrPicker
			if _, ok := m.screens[scrPicker]; !ok {
				m.screens[scrPicker] = newPicker(m.c, nil)
			}
			return tea.Batch(flashError(oneLine(msg.err)), m.listCases())
		}
		m.setCase(msg.cas, msg.lock, true)
		if _, ok := m.screens[scrPicker]; ok {
			m.prev = []screenID{scrPicker}
		}
		var cmd tea.Cmd
		if m.carry != nil {
			// The failures pasted into a duplicate go to the case that covers them.
			n := m.cas.Add(m.carry, m.opts.Now()).New
			m.carry = nil
			m.sess.touch()
			cmd = flash(fmt.Sprintf("%s from what you pasted added to this case", plural(n, "new failure")))
		}
		return tea.Batch(cmd, m.show(scrOverview))
	case flashMsg:
		m.statusID++
		m.status, m.statusBad, m.statusWarn = sanitize.Line(msg.text), msg.bad, msg.warn
		id := m.statusID
		return tea.Tick(6*time.Second, func(time.Time) tea.Msg { return clearStatusMsg{id} })
	case saveMsg:
		if m.dirty() && !m.saving {
			return m.save(nil)
		}
		return nil
	case clearStatusMsg:
		if msg.id == m.statusID {
			m.status = ""
		}
		return nil
	case showMsg:
		return m.show(msg.to)
	case nextMsg:
		return m.next()
	case backMsg:
		return m.back()
	case gotoMsg:
		return m.leaveTo(msg.to)
	case newCaseMsg:
		m.startWizard()
		return m.show(scrRole)
	case pickMsg:
		m.release()
		return m.openCase(msg.ref)
	case printMsg:
		m.printText = msg.text
		return nil
	case quitNowMsg:
		return m.quit()
	case addFailuresMsg:
		t := newTriage(m.sess)
		t.addOnly = true
		m.screens[scrTriage] = t
		return m.leaveTo(scrTriage)
	case writeMsg:
		cs := m.screens[scrChecks].(*checksScreen)
		cs.then = emit(showKindMsg(msg))
		m.prev = append(m.prev, m.cur)
		m.cur = scrChecks
		return cs.start("")
	case showKindMsg:
		m.screens[scrMessage].(*messageScreen).show(msg.kind)
		if m.cur == scrChecks {
			m.cur = scrMessage
			return nil
		}
		return m.leaveTo(scrMessage)
	case probedMsg:
		if o, ok := m.screens[scrOverview].(*overview); ok {
			return o.probed(msg)
		}
		return nil
	case tea.KeyPressMsg:
		if cmd, done := m.key(msg); done {
			return cmd
		}
	}
	if s := m.screens[m.cur]; s != nil {
		return s.update(msg)
	}
	return nil
}

// key handles the keys that mean the same on every screen.
func (m *Model) key(msg tea.KeyPressMsg) (tea.Cmd, bool) {
	k := m.c.Keys
	if m.dup != nil {
		switch msg.String() {
		case "enter":
			ref := m.dup.Existing.ID
			if m.dup.Existing.Path != "" {
				ref = m.dup.Existing.Path // its file, even when renamed from its id
			}
			m.dup = nil
			if t, ok := m.screens[scrTriage].(*triageScreen); ok {
				m.carry = t.findings
			}
			m.sess.dirty = false
			m.release()
			return m.openCase(ref), true
		case "f":
			m.dup = nil
			m.force = true
			return m.save(m.afterDup()), true
		case "esc":
			m.dup = nil
			return nil, true
		case "ctrl+c":
			return tea.Quit, true
		}
		return nil, true
	}
	if m.quitAsk {
		switch msg.String() {
		case "y", "s":
			if !m.savable() {
				return nil, true
			}
			m.quitAsk = false
			// Quit only once the save is through: a failed save keeps the session.
			return m.save(emit(quitNowMsg{})), true
		case "n":
			return m.quit(), true
		case "esc":
			m.quitAsk = false
			return nil, true
		case "ctrl+c":
			return m.quit(), true
		}
		return nil, true
	}
	editing := false
	if s := m.screens[m.cur]; s != nil {
		editing = s.editing()
	}
	switch {
	case msg.String() == "ctrl+c" || (!editing && key.Matches(msg, k.Quit)):
		// What is typed in a field but not yet stored counts as unsaved too.
		if f, ok := m.screens[m.cur].(interface{ flush() }); ok && m.cas != nil {
			f.flush()
		}
		if m.dirty() {
			m.quitAsk = true
			return nil, true
		}
		return m.quit(), true
	case msg.String() == "f1" || (!editing && key.Matches(msg, k.Help)):
		m.showHelp = !m.showHelp
		return nil, true
	case m.showHelp && key.Matches(msg, k.Back):
		m.showHelp = false
		return nil, true
	case m.showHelp:
		// The help covers the screen: keys meant for the screen would act unseen. The
		// rest scroll the list.
		m.helpView.vp, _ = m.helpView.vp.Update(msg)
		return nil, true
	}
	return nil, false
}

func (m *Model) quit() tea.Cmd {
	m.quitting = true
	m.release()
	return tea.Quit
}

// savable reports that the case can be written: a case not yet created needs its IP or
// domain first (the id and the duplicate guard are made of them).
func (m *Model) savable() bool {
	return m.created || m.cas.IP() != "" || m.cas.Identifiers.Domain != ""
}

// dirty reports that the case changed since it was last saved.
func (m *Model) dirty() bool { return m.sess != nil && m.sess.dirty }

// release gives up the open case's lock (leaving it for another case, or quitting).
func (m *Model) release() {
	if m.lock != nil {
		m.lock.Unlock()
		m.lock = nil
	}
}

func (m *Model) saved(s savedMsg) tea.Cmd {
	m.saving = false
	then := m.afterSave
	m.afterSave = nil
	var cmds []tea.Cmd
	var dup *casefile.DuplicateError
	switch {
	case errors.As(s.err, &dup):
		m.dup = dup
		then = nil
		m.stay()
		m.notCreated(s)
	case s.err != nil:
		cmds = append(cmds, flashError("not saved: "+oneLine(s.err)))
		then = nil
		m.stay()
		m.notCreated(s)
	default:
		if s.dirty == m.sess.edits {
			// Nothing changed while the save ran (held messages are replayed below).
			m.sess.dirty = false
		}
		if s.created {
			m.created = true
			m.lock = s.lock
		}
	}
	if then != nil {
		cmds = append(cmds, then)
	}
	// Replay what arrived during the save, in order.
	held := m.held
	m.held = nil
	for i, h := range held {
		if m.saving {
			m.held = append(m.held, held[i:]...)
			break
		}
		cmds = append(cmds, m.handle(h))
	}
	return tea.Batch(cmds...)
}

// notCreated forgets the id a refused creation gave the case: it names no file (and,
// for a duplicate, it is the other case's).
func (m *Model) notCreated(s savedMsg) {
	if !m.created && !s.created {
		m.cas.ID = ""
	}
}

// stay undoes the step a refused save was on its way to take: the screen did not change.
func (m *Model) stay() {
	if n := len(m.prev); n > 0 && m.prev[n-1] == m.cur {
		m.prev = m.prev[:n-1]
	}
}

// afterDup is where a forced creation continues: where the person was going.
func (m *Model) afterDup() tea.Cmd { return emit(showMsg{m.createTo}) }

// confirmCases lists the cases again, every file's stamp checked against the index. The
// command it returns must be run: Wait waits for it.
func (m *Model) confirmCases() tea.Cmd {
	st := m.opts.Store
	m.listing.Add(1)
	return func() tea.Msg {
		defer m.listing.Done()
		cases, err := st.Summaries()
		return casesMsg{cases, err, false}
	}
}

func (m *Model) gotCases(msg casesMsg) tea.Cmd {
	if !msg.quick {
		// The confirmation of a list already shown: refresh the picker where it is.
		if p, ok := m.screens[scrPicker].(*picker); ok && msg.err == nil {
			p.setCases(msg.cases)
		}
		return nil
	}
	var cmd tea.Cmd
	if msg.err != nil {
		cmd = flashError(oneLine(msg.err))
	}
	if len(msg.cases) == 0 && msg.err == nil {
		m.startWizard()
		return tea.Batch(cmd, m.show(scrRole))
	}
	m.screens[scrPicker] = newPicker(m.c, msg.cases)
	return tea.Batch(cmd, m.show(scrPicker), m.confirmCases())
}

// startWizard begins a new case in memory; it is created on disk once its identifiers
// are confirmed (its id and the duplicate guard need the IP or domain).
func (m *Model) startWizard() {
	m.release()
	// Nothing but the role's first choice is filled in: provider, mode and route come from
	// the evidence or the person's answers.
	m.setCase(&casefile.Case{Role: casefile.Sender}, nil, false)
	m.prev = nil
	if _, ok := m.screens[scrPicker]; ok {
		m.prev = []screenID{scrPicker}
	}
}

func (m *Model) setCase(c *casefile.Case, l *casefile.Lock, created bool) {
	m.cas, m.lock, m.created, m.force = c, l, created, false
	s := newSession(m.c, m.opts, c)
	m.sess = s
	m.screens[scrRole] = newRole(s)
	m.screens[scrTriage] = newTriage(s)
	m.screens[scrIdents] = newIdents(s)
	m.screens[scrChecks] = newChecks(s)
	m.screens[scrEvidence] = newEvidence(s)
	m.screens[scrMessage] = newMessage(s)
	m.screens[scrOverview] = newOverview(s)
	m.prev = nil
}

// show makes a screen current without saving (the caller has saved if needed).
func (m *Model) show(to screenID) tea.Cmd {
	m.cur = to
	if s := m.screens[to]; s != nil {
		return s.enter()
	}
	return nil
}

// leaveTo leaves the current screen for another, saving the case first when it changed.
func (m *Model) leaveTo(to screenID) tea.Cmd {
	if to == m.cur {
		return nil
	}
	m.prev = append(m.prev, m.cur)
	return m.autosave(to)
}

func (m *Model) autosave(to screenID) tea.Cmd {
	switch {
	case m.cas == nil:
	case m.created && m.dirty():
		return m.save(m.show(to))
	case !m.created && (stepNumber(to) > stepNumber(scrIdents) || to == scrOverview):
		// A new case is created once its identifiers are confirmed: its id and the
		// duplicate guard (Store.Create, the command line's) need the IP or domain the
		// person confirmed, not a guess. Before that it lives in memory.
		// The screen is shown once the case exists: a refused duplicate stays here.
		m.createTo = to
		return m.save(emit(showMsg{to}))
	}
	return m.show(to)
}

func (m *Model) next() tea.Cmd {
	n := stepNumber(m.cur)
	if n == 0 || n == len(wizardSteps) {
		return m.leaveTo(scrOverview)
	}
	return m.leaveTo(wizardSteps[n])
}

func (m *Model) back() tea.Cmd {
	if len(m.prev) == 0 {
		if n := stepNumber(m.cur); n > 1 {
			return m.autosave(wizardSteps[n-2])
		}
		if m.cur == scrOverview {
			// Opened with `unblock open`: esc goes on to the list of cases.
			return tea.Sequence(m.autosave(scrLoading), m.listCases())
		}
		return nil
	}
	to := m.prev[len(m.prev)-1]
	m.prev = m.prev[:len(m.prev)-1]
	if to == scrPicker {
		// Back to the list: release this case and show the list as it is now.
		cmd := m.autosave(scrPicker)
		return tea.Sequence(cmd, m.listCases())
	}
	return m.autosave(to)
}

// View draws the frame: title bar, the screen, the status line and the help footer.
func (m *Model) View() tea.View {
	var v tea.View
	v.AltScreen = true
	v.WindowTitle = "unblock"
	if m.saving && m.lastFrame != "" {
		v.SetContent(m.lastFrame)
		return v
	}
	if m.quitting {
		v.SetContent("")
		return v
	}
	frame := m.frame()
	m.lastFrame = frame
	v.SetContent(frame)
	// Terminals that show a progress bar (in the tab or taskbar) show a large file's read
	// and a run of the checks there too.
	switch s := m.screens[m.cur].(type) {
	case *triageScreen:
		if s.reading && s.total > 0 {
			v.ProgressBar = tea.NewProgressBar(tea.ProgressBarDefault, int(100*s.read/s.total))
		} else if s.reading {
			v.ProgressBar = tea.NewProgressBar(tea.ProgressBarIndeterminate, 0)
		}
	case *checksScreen:
		if s.running > 0 {
			v.ProgressBar = tea.NewProgressBar(tea.ProgressBarDefault, 100*(len(s.rows)-s.running)/max(1, len(s.rows)))
		}
	}
	return v
}

func (m *Model) frame() string {
	w, h := m.c.size()
	st := m.c.Styles
	header := m.header(w)
	footer := m.footer(w)
	body := ""
	switch {
	case m.dup != nil:
		body = m.dupView(w)
	case m.quitAsk && !m.savable():
		body = st.Heading.Render("This case is not saved yet.") + "\n\n" +
			wrap("A new case is saved once it has a sending IP or domain (step 3): quitting now keeps nothing.", w) + "\n\n" +
			"  n    quit without saving\n  esc  stay"
	case m.quitAsk:
		body = st.Heading.Render("Unsaved changes.") + "\n\n" +
			"  y    save and quit\n  n    quit without saving\n  esc  stay"
	case m.showHelp:
		body = m.helpView.view(m.c, w, h-lipgloss.Height(header)-lipgloss.Height(footer))
	default:
		if s := m.screens[m.cur]; s != nil {
			body = s.view()
		} else {
			body = st.Muted.Render("Loading cases…")
		}
	}
	bodyH := h - lipgloss.Height(header) - lipgloss.Height(footer)
	body = fit(body, w, bodyH)
	return header + "\n" + body + "\n" + footer
}

func (m *Model) header(w int) string {
	st := m.c.Styles
	left := st.Title.Render("unblock")
	name := stepNames[m.cur]
	if t, ok := m.screens[m.cur].(interface{ title() string }); ok && t.title() != "" {
		name = t.title()
	} else if n := stepNumber(m.cur); n > 0 {
		name = fmt.Sprintf("%s · step %d of %d", name, n, len(wizardSteps))
	}
	left += "  " + st.Heading.Render(name)
	right := ""
	if m.cas != nil && m.cur != scrPicker {
		id := m.cas.ID
		if id == "" {
			id = "new case"
		}
		right = st.Muted.Render(id)
		if m.dirty() {
			right += st.Warn.Render(" •")
		}
	}
	gap := w - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return truncate(left, w)
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m *Model) footer(w int) string {
	st := m.c.Styles
	status := ""
	if m.status != "" {
		switch {
		case m.statusBad:
			status = st.Fail.Render("✗ " + m.status)
		case m.statusWarn:
			status = st.Warn.Render("! " + m.status)
		default:
			status = st.Flash.Render("✓ " + m.status)
		}
	}
	keys, tail := m.footerKeys()
	// The screen's keys are cut to the width; help and quit always show.
	end := m.help.ShortHelpView(tail)
	line := ""
	if len(tail) == 0 {
		end = ""
	}
	if len(keys) > 0 {
		line = truncate(m.help.ShortHelpView(keys), max(0, w-lipgloss.Width(end)-3)) + m.help.Styles.ShortSeparator.Render(" • ")
	}
	return truncate(status, w) + "\n" + truncate(line+end, w)
}

// footerKeys are the keys that work now: a dialog's own, else the screen's, with help
// and quit (only ctrl+c while letters are text).
func (m *Model) footerKeys() (keys, tail []key.Binding) {
	b := func(k, desc string) key.Binding { return key.NewBinding(key.WithKeys(k), key.WithHelp(k, desc)) }
	k := m.c.Keys
	switch {
	case m.dup != nil:
		return []key.Binding{b("enter", "open that case"), b("f", "create anyway"), b("esc", "back")}, []key.Binding{b("ctrl+c", "quit")}
	case m.quitAsk && !m.savable():
		return []key.Binding{b("n", "quit without saving"), b("esc", "stay")}, nil
	case m.quitAsk:
		return []key.Binding{b("y", "save and quit"), b("n", "quit without saving"), b("esc", "stay")}, nil
	case m.showHelp:
		return []key.Binding{b("↑/↓", "scroll"), b("esc", "close help")}, []key.Binding{k.Quit}
	}
	editing := false
	if s := m.screens[m.cur]; s != nil {
		keys = s.help()
		editing = s.editing()
	}
	if editing {
		// Letters are text here: f1 shows the help and only ctrl+c quits.
		return keys, []key.Binding{b("f1", "help"), b("ctrl+c", "quit")}
	}
	return keys, []key.Binding{k.Help, k.Quit}
}

func (m *Model) dupView(w int) string {
	st := m.c.Styles
	d := m.dup
	return st.Warn.Render("A case for this is already open") + "\n\n" +
		wrap(fmt.Sprintf("Case %s covers %s. One case per IP keeps one timeline: add the new failures there instead of opening a duplicate.", d.Existing.ID, d.Why), w) +
		"\n\n  enter  open " + d.Existing.ID + " (what you pasted is added to it)\n  f      create a new case anyway\n  esc    back to the identifiers"
}

// Run runs a session in the terminal. On quit it prints the last message when the person
// asked for it.
func Run(ctx context.Context, opts Options, stdout io.Writer) error {
	if os.Getenv("NO_COLOR") != "" {
		opts.NoColor = true
	}
	m := New(opts)
	popts := []tea.ProgramOption{tea.WithContext(ctx)}
	in, out, closeTTY := terminal(stdout)
	defer closeTTY()
	if in != nil {
		popts = append(popts, tea.WithInput(in))
	}
	if out != nil {
		popts = append(popts, tea.WithOutput(out))
	}
	p := tea.NewProgram(m, popts...)
	_, err := p.Run()
	m.release()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return err
	}
	if m.printText != "" {
		fmt.Fprintln(stdout, m.printText)
	}
	return nil
}

// oneLine makes an error printable in the status line.
func oneLine(err error) string { return sanitize.Line(strings.TrimSpace(err.Error())) }
