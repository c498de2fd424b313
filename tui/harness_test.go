package tui

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

// updating reports -update, the flag teatest's golden package defines: rewrite goldens.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// fixedNow is the clock of every test: goldens do not move with the day.
var fixedNow = time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)

func clock() time.Time { return fixedNow }

// fixtureZone is what the loopback DNS server answers: the sender of the Proofpoint
// bounce in testdata (example.com, 192.0.2.225) set up properly, and a recipient
// domain whose MX is Proofpoint's.
const fixtureZone = `
$ORIGIN example.com.
@            300 IN A     192.0.2.80
@            300 IN MX    10 inbound.example.com.
inbound      300 IN A     127.0.0.1
@            300 IN TXT   "v=spf1 ip4:192.0.2.225 -all"
_dmarc       300 IN TXT   "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
mx100.qin    300 IN A     192.0.2.225
$ORIGIN 2.0.192.in-addr.arpa.
225          300 IN PTR   mx100.qin.example.com.
$ORIGIN example.org.
@            300 IN MX    10 mx0a-00069f02.pphosted.com.
@            300 IN A     192.0.2.90
$ORIGIN pphosted.com.
; Loopback, where nothing listens on the SMTP port: the STARTTLS probe is refused at once.
mx0a-00069f02 300 IN A    127.0.0.1
`

// testStore is an empty case store in a temporary directory, on the fixed clock.
func testStore(t testing.TB) *casefile.Store {
	t.Helper()
	st, err := casefile.Open(filepath.Join(t.TempDir(), "cases"))
	if err != nil {
		t.Fatal(err)
	}
	st.Now = clock
	return st
}

// testOptions are a session's options against a loopback DNS server.
func testOptions(t testing.TB, st *casefile.Store) (Options, *clipboardSpy) {
	t.Helper()
	opts, spy, _ := testOptionsDNS(t, st)
	return opts, spy
}

// testOptionsDNS is testOptions with the DNS server, for tests that make it misbehave.
func testOptionsDNS(t testing.TB, st *casefile.Store) (Options, *clipboardSpy, *dnstest.Server) {
	t.Helper()
	dns := dnstest.Start(t, fixtureZone)
	spy := &clipboardSpy{}
	return Options{
		Store:   st,
		Timeout: 20 * time.Second,
		Now:     clock,
		NoColor: true,
		Dark:    true,
		CheckEnv: func() (*checks.Env, error) {
			r, err := resolver.New(resolver.Config{Servers: []string{dns.Addr}, Timeout: 2 * time.Second, Attempts: 2})
			if err != nil {
				return nil, err
			}
			// Port 1 on loopback refuses at once: the SMTP probe reports it could not
			// connect rather than waiting.
			return &checks.Env{Resolver: r, SMTPPort: 1, Now: clock}, nil
		},
		Clipboard: spy.write,
	}, spy, dns
}

// clipboardSpy stands in for the system clipboard.
type clipboardSpy struct {
	mu   sync.Mutex
	text string
}

func (c *clipboardSpy) write(s string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.text = s
	return nil
}

func (c *clipboardSpy) get() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.text
}

// driver runs the root model the way the Bubble Tea runtime does, without a terminal:
// commands run in goroutines, their messages come back through a channel in order.
type driver struct {
	t    testing.TB
	m    *Model
	msgs chan tea.Msg
	done chan struct{}
}

func newDriver(t testing.TB, opts Options, w, h int) *driver {
	t.Helper()
	d := &driver{t: t, m: New(opts), msgs: make(chan tea.Msg, 1024), done: make(chan struct{})}
	t.Cleanup(func() {
		// A pass over the case files may still be writing the index, and the store's
		// directory is removed after this: the messages in flight are handled (a batch
		// may hold the pass) and the passes waited for.
		d.drain(20 * time.Millisecond)
		close(d.done)
		waited := make(chan struct{})
		go func() { d.m.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			t.Error("a pass over the case files did not finish within 10 s")
		}
		if d.m.lock != nil {
			d.m.lock.Unlock()
		}
	})
	d.send(tea.WindowSizeMsg{Width: w, Height: h})
	d.run(d.m.Init())
	return d
}

func (d *driver) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		msg := cmd()
		select {
		case d.msgs <- msg:
		case <-d.done:
		}
	}()
}

// send gives a message to the model as the runtime would, expanding batches and
// sequences.
func (d *driver) send(msg tea.Msg) {
	switch m := msg.(type) {
	case nil:
		return
	case tea.BatchMsg:
		for _, c := range m {
			d.run(c)
		}
		return
	}
	if v := reflect.ValueOf(msg); v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeFor[tea.Cmd]() {
		// tea.Sequence: one after the other, each message handled before the next runs.
		cmds := make([]tea.Cmd, v.Len())
		for i := range cmds {
			cmds[i] = v.Index(i).Interface().(tea.Cmd)
		}
		go func() {
			for _, c := range cmds {
				if c == nil {
					continue
				}
				msg := c()
				select {
				case d.msgs <- msg:
				case <-d.done:
					return
				}
			}
		}()
		return
	}
	_, cmd := d.m.Update(msg)
	d.run(cmd)
}

// keys presses keys: names such as "enter", "esc", "tab", "space", "up", "ctrl+c", or
// text typed one rune at a time.
func (d *driver) keys(ks ...string) {
	for _, k := range ks {
		for _, msg := range keyMsgs(k) {
			d.send(msg)
			d.drain(5 * time.Millisecond)
		}
	}
}

func keyMsgs(k string) []tea.Msg {
	named := map[string]tea.Key{
		"enter": {Code: tea.KeyEnter}, "esc": {Code: tea.KeyEscape}, "tab": {Code: tea.KeyTab},
		"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift}, "space": {Code: tea.KeySpace, Text: " "},
		"up": {Code: tea.KeyUp}, "down": {Code: tea.KeyDown}, "left": {Code: tea.KeyLeft},
		"right": {Code: tea.KeyRight}, "ctrl+c": {Code: 'c', Mod: tea.ModCtrl},
		"ctrl+s": {Code: 's', Mod: tea.ModCtrl}, "backspace": {Code: tea.KeyBackspace},
		"ctrl+u": {Code: 'u', Mod: tea.ModCtrl}, "pgdown": {Code: tea.KeyPgDown}, "pgup": {Code: tea.KeyPgUp},
		"f1": {Code: tea.KeyF1},
	}
	if key, ok := named[k]; ok {
		return []tea.Msg{tea.KeyPressMsg(key)}
	}
	var out []tea.Msg
	for _, r := range k {
		out = append(out, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return out
}

// drain handles the messages that arrive until none has for quiet.
func (d *driver) drain(quiet time.Duration) {
	for {
		select {
		case msg := <-d.msgs:
			d.send(msg)
		case <-time.After(quiet):
			return
		}
	}
}

// until handles messages until cond holds, failing after a few seconds.
func (d *driver) until(what string, cond func() bool) {
	d.t.Helper()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case msg := <-d.msgs:
			d.send(msg)
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			d.t.Fatalf("timed out waiting for %s; screen:\n%s", what, d.screen())
		}
	}
}

// waitText waits until the screen shows s.
func (d *driver) waitText(s string) {
	d.t.Helper()
	d.until(fmt.Sprintf("%q on screen", s), func() bool { return strings.Contains(d.screen(), s) })
}

// screen is the current frame without escape sequences.
func (d *driver) screen() string { return ansi.Strip(d.m.View().Content) }

// golden compares the frame, once the messages in flight are handled, with a golden file.
func (d *driver) golden(t *testing.T, name string) {
	t.Helper()
	d.drain(30 * time.Millisecond)
	golden(t, name, d.screen())
}

// golden compares the frame with testdata/golden/name.txt (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	got = trimLines(got)
	if updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tui -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// trimLines drops trailing spaces, which terminals do not show either.
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// openCase opens a saved case's overview in a w×h interface, as `unblock open CASE` does.
func openCase(t testing.TB, st *casefile.Store, id string, w, h int) *driver {
	t.Helper()
	opts, _ := testOptions(t, st)
	opts.Case = id
	d := newDriver(t, opts, w, h)
	d.waitText("Timeline")
	return d
}
