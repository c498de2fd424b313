package tui

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/unblock-mail/unblock/casefile"
)

// BenchmarkUpdateView is one key press handled and the frame drawn, on each screen of a
// case with 10,000 timeline events: what typing costs.
func BenchmarkUpdateView(b *testing.B) {
	st := testStore(b)
	c := timelineCase(b, st, 10000)
	c, err := casefile.Load(st.PathOf(c.ID))
	if err != nil {
		b.Fatal(err)
	}
	opts, _ := testOptions(b, st)
	for _, tc := range []struct {
		name string
		scr  screenID
		key  tea.Msg
	}{
		{"overview", scrOverview, tea.KeyPressMsg{Code: tea.KeyDown}},
		{"evidence", scrEvidence, tea.KeyPressMsg{Code: tea.KeyDown}},
		{"message", scrMessage, tea.KeyPressMsg{Code: tea.KeyDown}},
		{"triage", scrTriage, tea.KeyPressMsg{Code: 'a', Text: "a"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m := New(opts)
			m.Update(tea.WindowSizeMsg{Width: 120, Height: 35})
			m.setCase(c, nil, true)
			m.show(tc.scr)
			m.View()
			for b.Loop() {
				m.Update(tc.key)
				m.View()
			}
		})
	}
}

// BenchmarkFirstFrame is the start of a session: the model built and its first frame
// drawn ("first"), then the 20 saved cases listed and the picker drawn ("picker"; the
// listing runs in a Cmd, so the first frame does not wait for it).
func BenchmarkFirstFrame(b *testing.B) {
	st := testStore(b)
	for i := range 20 {
		c := &casefile.Case{Role: casefile.Sender, Provider: "proofpoint", Title: fmt.Sprintf("case %d", i),
			Identifiers: casefile.Identifiers{IPs: []string{fmt.Sprintf("192.0.2.%d", i+1)}}}
		if err := st.Create(c, false); err != nil {
			b.Fatal(err)
		}
	}
	opts, _ := testOptions(b, st)
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			m := New(opts)
			m.Init()
			m.Update(tea.WindowSizeMsg{Width: 120, Height: 35})
			if v := m.View(); v.Content == "" {
				b.Fatal("empty first frame")
			}
		}
	})
	b.Run("picker", func(b *testing.B) {
		for b.Loop() {
			m := New(opts)
			m.Update(tea.WindowSizeMsg{Width: 120, Height: 35})
			m.Update(m.listCases()())
			if m.cur != scrPicker {
				b.Fatalf("first screen %d, want the picker", m.cur)
			}
			m.View()
		}
	})
}

// BenchmarkOverviewRefresh is what a change to a 10,000-event case costs the overview:
// the chart bucketed, readiness and the counts since the last message recomputed (once
// per change, not per frame).
func BenchmarkOverviewRefresh(b *testing.B) {
	st := testStore(b)
	c := timelineCase(b, st, 10000)
	opts, _ := testOptions(b, st)
	o := newOverview(newSession(newCommon(true, true), opts, c))
	for b.Loop() {
		o.refresh()
	}
}

// BenchmarkPicker10k is the picker's first frame on a store of 10,000 cases, from the
// store's index (issue 12: it read every case whole first; target under 100 ms).
func BenchmarkPicker10k(b *testing.B) {
	st := testStore(b)
	proto := &casefile.Case{Role: casefile.Sender, Provider: "proofpoint", Title: "case",
		Identifiers: casefile.Identifiers{IPs: []string{"192.0.2.1"}}}
	if err := st.Create(proto, false); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(proto.Path())
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		id := fmt.Sprintf("2026-11-22-proofpoint-198-51-%d-%d", i/256, i%256)
		text := strings.ReplaceAll(string(data), proto.ID, id)
		text = strings.ReplaceAll(text, "192.0.2.1", fmt.Sprintf("198.51.%d.%d", i/256, i%256))
		if err := os.WriteFile(st.PathOf(id), []byte(text), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	if sums, err := st.Summaries(); err != nil || len(sums) != 10001 { // the index, built once
		b.Fatalf("%d cases, %v", len(sums), err)
	}
	opts, _ := testOptions(b, st)
	// The machine is shared: CPU milliseconds per frame beside the wall clock.
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	defer func() {
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
		b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
	}()
	for b.Loop() {
		m := New(opts)
		m.Update(tea.WindowSizeMsg{Width: 120, Height: 35})
		m.Update(m.listCases()())
		if m.cur != scrPicker {
			b.Fatalf("first screen %d, want the picker", m.cur)
		}
		if v := m.View(); !strings.Contains(v.Content, "10001 saved cases") {
			b.Fatalf("picker frame:\n%s", v.Content)
		}
	}
}
