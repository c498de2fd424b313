package casefile

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// cpuTime is the process's CPU time so far. The machine is shared: beside wall-clock
// time, the benchmarks report CPU milliseconds per operation, which other work on the
// machine disturbs much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkLoad10k loads a case with 10,000 timeline events (target: under 50 ms).
func BenchmarkLoad10k(b *testing.B) {
	s := testStore(b)
	c := bigCase(10000)
	if err := s.Create(c, false); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := cpuTime()
	defer func() { reportCPU(b, start) }()
	for b.Loop() {
		got, err := s.Find(c.ID)
		if err != nil {
			b.Fatal(err)
		}
		if len(got.Timeline) != 10000 {
			b.Fatalf("loaded %d events", len(got.Timeline))
		}
	}
}

// BenchmarkSave10k saves a changed case with 10,000 timeline events (target: under 50 ms).
func BenchmarkSave10k(b *testing.B) {
	s := testStore(b)
	c := bigCase(10000)
	if err := s.Create(c, false); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := cpuTime()
	defer func() { reportCPU(b, start) }()
	i := 0
	for b.Loop() {
		i++
		c.Title = fmt.Sprintf("PDR block, save %d", i)
		if err := s.Save(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkList1000 lists a store of 1,000 cases (target: under 200 ms).
func BenchmarkList1000(b *testing.B) {
	s := testStore(b)
	for i := range 1000 {
		c := bigCase(5)
		c.Identifiers.IPs = []string{fmt.Sprintf("198.51.%d.%d", i/256, i%256)}
		if err := s.Create(c, true); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := cpuTime()
	defer func() { reportCPU(b, start) }()
	for b.Loop() {
		cases, err := s.List()
		if err != nil {
			b.Fatal(err)
		}
		if len(cases) != 1000 {
			b.Fatalf("listed %d cases", len(cases))
		}
	}
}

// big100k is a saved case of 100,000 timeline events (issue 12's big case).
func big100k(b *testing.B) (*Store, *Case) {
	b.Helper()
	s := testStore(b)
	c := bigCase(100000)
	for i := range c.Timeline {
		// Every failure to another address: what made the recipient list quadratic.
		c.Timeline[i].Recipients = []string{fmt.Sprintf("user%d@customer.example", i)}
	}
	if err := s.Create(c, false); err != nil {
		b.Fatal(err)
	}
	if st, err := os.Stat(c.Path()); err == nil {
		b.Logf("100,000-event case: %.1f MiB", float64(st.Size())/(1<<20))
	}
	return s, c
}

// BenchmarkShow100k: what `show` does: find, load, readiness and what was seen
// (target: under 1 s).
func BenchmarkShow100k(b *testing.B) {
	s, c := big100k(b)
	b.ResetTimer()
	start := cpuTime()
	defer func() { reportCPU(b, start) }()
	for b.Loop() {
		got, err := s.Find(c.ID)
		if err != nil {
			b.Fatal(err)
		}
		got.Readiness()
		got.Seen()
	}
}

// BenchmarkAddOne100k: what `add` does with one new failure (target: under 1 s).
func BenchmarkAddOne100k(b *testing.B) {
	s, c := big100k(b)
	b.ResetTimer()
	start := cpuTime()
	defer func() { reportCPU(b, start) }()
	i := 0
	for b.Loop() {
		i++
		if _, err := s.Edit(c.ID, func(c *Case) error {
			c.AddFindings([]triage.Finding{pdrFinding(i, t0.Add(time.Duration(i)*time.Second))})
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMessageUpdate100k: what `message --kind update` does (target: under 1 s).
func BenchmarkMessageUpdate100k(b *testing.B) {
	s, c := big100k(b)
	first, err := Render(c, "", RenderOptions{Now: t0})
	if err != nil {
		b.Fatal(err)
	}
	c.MarkSent(first, t0)
	if err := s.Save(c); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := cpuTime()
	defer func() { reportCPU(b, start) }()
	for b.Loop() {
		// Printing is a preview: the case is read, rendered, never written.
		v, err := s.View(c.ID)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Render(v, "update", RenderOptions{Now: t0}); err != nil {
			b.Fatal(err)
		}
	}
}

// store10k fills a store with 10,000 small cases written directly (a Create each, with
// its fsyncs, would take minutes), as a long-used store holds them.
func store10k(b *testing.B) *Store {
	b.Helper()
	s := testStore(b)
	proto := bigCase(5)
	proto.Schema, proto.Status, proto.Created, proto.Updated = SchemaVersion, StatusOpen, t0, t0
	if err := os.MkdirAll(s.Dir(), 0o700); err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		c := proto.clone()
		c.ID = fmt.Sprintf("2026-11-22-proofpoint-198-51-%d-%d", i/256, i%256)
		c.Identifiers.IPs = []string{fmt.Sprintf("198.51.%d.%d", i/256, i%256)}
		data, err := Marshal(c)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(s.PathOf(c.ID), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkList10k: `list` of 10,000 cases from the index ("index"), with no index
// ("cold": every case read once, then the index written), against reading every case
// file once ("read-every-file", what `cat` does; the yardstick).
func BenchmarkList10k(b *testing.B) {
	s := store10k(b)
	b.Run("read-every-file", func(b *testing.B) {
		entries, _ := os.ReadDir(s.Dir())
		for b.Loop() {
			for _, e := range entries {
				if _, err := os.ReadFile(filepath.Join(s.Dir(), e.Name())); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			os.Remove(filepath.Join(s.Dir(), indexName))
			if sums, err := s.Summaries(); err != nil || len(sums) != 10000 {
				b.Fatalf("%d cases, %v", len(sums), err)
			}
		}
	})
	b.Run("index", func(b *testing.B) {
		s.Summaries()
		start := cpuTime()
		defer func() { reportCPU(b, start) }()
		for b.Loop() {
			if sums, err := s.Summaries(); err != nil || len(sums) != 10000 {
				b.Fatalf("%d cases, %v", len(sums), err)
			}
		}
	})
}

// BenchmarkNew10k: `new` in a store of 10,000 cases: the duplicate guard from the index,
// then the case written (with its fsyncs).
func BenchmarkNew10k(b *testing.B) {
	s := store10k(b)
	s.Summaries()
	i := 0
	for b.Loop() {
		i++
		c := bigCase(1)
		c.Identifiers.IPs = []string{fmt.Sprintf("203.0.%d.%d", i/256%256, i%256)}
		if err := s.Create(c, false); err != nil {
			b.Fatal(err)
		}
	}
}
