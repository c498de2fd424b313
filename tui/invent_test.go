package tui

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// TestNothingInvented: enter on an empty field, text nothing can read and a mistyped
// path each say why and leave no case behind, and nothing is filled in meanwhile.
func TestNothingInvented(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprint(sz.w), func(t *testing.T) {
			st := testStore(t)
			opts, _ := testOptions(t, st)
			d := newDriver(t, opts, sz.w, sz.h)
			d.waitText("Who are you")
			d.keys("enter")
			d.waitText("What failed?")
			ts := d.m.screens[scrTriage].(*triageScreen)

			d.keys("enter")
			d.waitText("nothing pasted yet")
			// While the field has focus ? is text; f1 shows the keys all the same.
			d.keys("f1")
			d.waitText("Everywhere")
			d.golden(t, fmt.Sprintf("help-%d", sz.w))
			if !d.m.showHelp || !strings.Contains(d.screen(), "esc close help") {
				t.Fatalf("f1 on a text field did not show the keys:\n%s", d.screen())
			}
			d.keys("down", "esc")
			if d.m.showHelp || d.m.cur != scrTriage {
				t.Fatal("esc did not close the help")
			}
			if d.m.cur != scrTriage {
				t.Fatalf("enter on an empty field moved to screen %d", d.m.cur)
			}

			d.send(tea.PasteMsg{Content: "hello, is anyone there?\nthanks"})
			d.waitText("nothing in it could be read as a delivery failure")
			if len(d.m.cas.Timeline) != 0 || len(ts.findings) != 0 {
				t.Errorf("unreadable text reached the case: %d events, %d findings", len(d.m.cas.Timeline), len(ts.findings))
			}

			missing := filepath.Join(t.TempDir(), "bounce.eml")
			d.keys(missing, "enter")
			d.waitText("no such file")
			if !strings.Contains(ts.err, missing) || len(d.m.cas.Timeline) != 0 {
				t.Errorf("mistyped path: error %q, %d events", ts.err, len(d.m.cas.Timeline))
			}
			d.keys("bounces.log", "enter")
			d.until("the second path", func() bool { return ts.err == "no such file: bounces.log" })

			c := d.m.cas
			if c.Provider != "" || c.Mode != "" || c.Route.Kind != "" || c.Cause != "" || c.Control != "" {
				t.Errorf("filled in without evidence: provider %q mode %q route %q cause %q control %q", c.Provider, c.Mode, c.Route.Kind, c.Cause, c.Control)
			}
			// The questions show nothing chosen, and enter there creates nothing.
			d.keys("tab")
			d.waitText("A few questions")
			if strings.Contains(d.screen(), "proofpoint") || strings.Contains(d.screen(), "hard-block") {
				t.Errorf("the questions show an answer nobody gave:\n%s", d.screen())
			}
			d.keys("enter")
			d.waitText("answer what happened")
			d.drain(30 * time.Millisecond)
			d.golden(t, fmt.Sprintf("triage-nothing-%d", sz.w))
			if list, _ := st.List(); len(list) != 0 || d.m.created {
				t.Fatalf("%d cases on disk after nothing was read", len(list))
			}
		})
	}
}

// TestTriageAdvice: the triage screen says why the reply came, what to do and where the
// case goes, as the command line's triage prints it.
func TestTriageAdvice(t *testing.T) {
	st := testStore(t)
	opts, _ := testOptions(t, st)
	d := newDriver(t, opts, 120, 35)
	d.waitText("Who are you")
	d.keys("enter")
	d.waitText("What failed?")
	d.send(tea.PasteMsg{Content: readBounce(t)})
	d.waitText("Proposed")
	ts := d.m.screens[scrTriage].(*triageScreen)
	f := ts.findings[0]
	if f.Meaning == "" || f.Advice == "" {
		t.Fatalf("the fixture's finding has no meaning or advice: %+v", f)
	}
	screen := d.screen()
	for _, want := range []string{"why  " + f.Meaning, "do   " + firstWords(f.Advice, 6), "go   Proofpoint IP check", "https://ipcheck.proofpoint.com/?ip=192.0.2.225"} {
		if !strings.Contains(screen, want) {
			t.Errorf("triage screen lacks %q:\n%s", want, screen)
		}
	}
}

func firstWords(s string, n int) string {
	w := strings.Fields(s)
	return strings.Join(w[:min(n, len(w))], " ")
}

// TestHelpListsEveryKey: ? lists every binding of the key map and every key any screen's
// footer offers, and a dialog's footer lists the dialog's keys only.
func TestHelpListsEveryKey(t *testing.T) {
	st := testStore(t)
	c := timelineCase(t, st, 3)
	opts, _ := testOptions(t, st)
	m := New(opts)
	m.c.Width, m.c.Height = 120, 200
	list := m.helpView.view(m.c, 120, 200)
	has := func(k key.Binding) bool {
		for _, line := range strings.Split(list, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), k.Help().Key+" ") {
				return true
			}
		}
		return false
	}
	km := reflect.ValueOf(m.c.Keys)
	for i := range km.NumField() {
		if k := km.Field(i).Interface().(key.Binding); !has(k) {
			t.Errorf("? does not list %s (%s)", km.Type().Field(i).Name, k.Help().Key)
		}
	}
	m.setCase(c, nil, true)
	m.screens[scrPicker] = newPicker(m.c, nil)
	for id, s := range m.screens {
		m.cur = id
		s.enter()
		keys, _ := m.footerKeys()
		if ts, ok := s.(*triageScreen); ok {
			ts.focus = 1
			more, _ := m.footerKeys()
			keys = append(keys, more...)
		}
		for _, k := range keys {
			if !has(k) {
				t.Errorf("screen %d's footer offers %q, which ? does not list", id, k.Help().Key)
			}
		}
	}
	// A dialog's footer: its keys, and not the ones it ignores.
	m.cur = scrOverview
	m.quitAsk = true
	f := m.footer(120)
	if !strings.Contains(f, "y save and quit") || strings.Contains(f, "? help") {
		t.Errorf("the unsaved dialog's footer: %q", f)
	}
	m.quitAsk = false
	m.showHelp = true
	if f := m.footer(120); !strings.Contains(f, "esc close help") {
		t.Errorf("the help's footer: %q", f)
	}
}
