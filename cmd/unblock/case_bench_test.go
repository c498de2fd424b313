package main

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
)

// BenchmarkCase100k runs the built binary on a case of 100,000 timeline events (issue
// 12: every operation under a second), end to end as the user runs it: `show`, `add` of
// one new failure from a log, and `message --kind update` (a preview). Beside them, in
// the same run, `cat` of the case file: reading it once is the floor. Each reports the
// wall-clock and the process's CPU milliseconds per run (the machine may be shared) and
// its peak resident memory. UNBLOCK_BENCH_BASE names another build of unblock (an earlier
// commit's) to run the same operations on its own copy of the case, for a ratio in the
// same run.
//
//	go test -run '^$' -bench Case100k -benchtime 5x ./cmd/unblock/
func BenchmarkCase100k(b *testing.B) {
	const events = 100_000
	tmp := b.TempDir()
	bin := buildUnblock(b, tmp)
	dir := filepath.Join(tmp, "cases")
	// Written by another process: a child's peak memory counts its parent's at the
	// fork, so this one stays small.
	gen := filepath.Join(tmp, bigCaseCommand)
	if err := os.Symlink(os.Args[0], gen); err != nil {
		b.Fatal(err)
	}
	out, err := exec.Command(gen, dir, fmt.Sprint(events)).CombinedOutput()
	if err != nil {
		b.Fatalf("writing the case: %v\n%s", err, out)
	}
	id, path, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if st, err := os.Stat(path); err == nil {
		b.Logf("%d-event case: %.1f MiB", events, float64(st.Size())/(1<<20))
	}
	run := func(b *testing.B, dir, want, name string, args ...string) (wall, cpu time.Duration, rss float64) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "UNBLOCK_DIR="+dir, "NO_COLOR=1", "UNBLOCK_NOW=2026-11-23T09:30:00Z")
		var out headWriter
		var errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
		}
		wall = time.Since(start)
		if !bytes.Contains(out.head, []byte(want)) {
			b.Fatalf("%s %s: the start of the output lacks %q:\n%.2000s", name, strings.Join(args, " "), want, out.head)
		}
		return wall, cpu + cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), peakRSS(cmd.ProcessState)
	}
	bench := func(name, dir string, args func(i int) ([]string, string)) {
		b.Run(name, func(b *testing.B) {
			var wall, cpu time.Duration
			var rss float64
			i := 0
			for b.Loop() {
				i++
				a, want := args(i)
				w, c, r := run(b, dir, want, a[0], a[1:]...)
				wall, cpu, rss = wall+w, cpu+c, max(rss, r)
			}
			b.ReportMetric(float64(wall.Milliseconds())/float64(b.N), "wall-ms/op")
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
			b.ReportMetric(rss, "peak-RSS-MB")
		})
	}
	bench("cat", dir, func(int) ([]string, string) { return []string{"cat", path}, "timeline:" })
	ops := func(suffix, bin, dir string) {
		// The store's index made by this build, as any earlier command of it leaves it.
		if out, err := exec.Command(bin, "--dir", dir, "list").CombinedOutput(); err != nil {
			b.Fatalf("list: %v\n%s", err, out)
		}
		bench("show"+suffix, dir, func(int) ([]string, string) { return []string{bin, "show", id}, id })
		bench("message-update"+suffix, dir, func(int) ([]string, string) {
			return []string{bin, "message", id, "--kind", "update"}, "192.0.2.1"
		})
		bench("add-one"+suffix, dir, func(i int) ([]string, string) {
			// A failure not yet in the case: a new recipient, a new minute.
			log := filepath.Join(tmp, fmt.Sprintf("add%d.log", i))
			line := fmt.Sprintf("Nov 23 08:%02d:%02d mx100 postfix/smtp[4242]: %dA2B3C: to=<new%d@customer.example>, relay=mx0a-00069f02.pphosted.com[198.51.100.18]:25, delay=1, delays=0/0/0.5/0, dsn=5.7.0, status=bounced (host mx0a-00069f02.pphosted.com[198.51.100.18] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1 (in reply to RCPT TO command))\n",
				i/60%60, i%60, i, i)
			if err := os.WriteFile(log, []byte(line), 0o600); err != nil {
				b.Fatal(err)
			}
			return []string{bin, "add", id, "--year", "2026", "--zone", "UTC", log}, "added 1 of 1 findings"
		})
	}
	base := os.Getenv("UNBLOCK_BENCH_BASE")
	baseDir := filepath.Join(tmp, "base-cases")
	if base != "" {
		// Its own copy: each build keeps its own index of the store.
		if out, err := exec.Command("cp", "-a", dir, baseDir).CombinedOutput(); err != nil {
			b.Fatalf("copying the case: %v\n%s", err, out)
		}
	}
	ops("", bin, dir)
	if base != "" {
		ops("-base", base, baseDir)
	}
}

// headWriter keeps the start of a command's output and counts the rest: the benchmark's
// own memory stays small (see bigCaseMain).
type headWriter struct {
	head []byte
	n    int64
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := 64<<10 - len(w.head); room > 0 {
		w.head = append(w.head, p[:min(room, len(p))]...)
	}
	w.n += int64(len(p))
	return len(p), nil
}

const bigCaseCommand = "unblock-bench-bigcase"

// bigCaseMain (unblock-bench-bigcase DIR N) saves in DIR a case of N failures, each to
// another recipient with the reply as a Postfix log quotes it (what add records), with a
// message marked sent (so that an update can be written),
// through the store as a program would, and prints its id and path.
func bigCaseMain() {
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	s, err := casefile.Open(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	t0 := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	s.Now = func() time.Time { return t0 }
	c := &casefile.Case{Role: casefile.Sender, Provider: "proofpoint", Mode: triage.HardBlock, Title: "PDR block of 192.0.2.1"}
	c.Identifiers.IPs = []string{"192.0.2.1"}
	c.Identifiers.Domain = "example.com"
	c.Timeline = make([]casefile.Event, n)
	for i := range c.Timeline {
		at := t0.Add(-time.Duration(n-i) * time.Minute)
		c.Timeline[i] = casefile.Event{Kind: casefile.KindFailure, At: at, Added: at,
			RecipientDomain: "customer.example", Recipients: []string{fmt.Sprintf("user%d@customer.example", i)},
			Reply:     "host mx0a-00069f02.pphosted.com[198.51.100.18] said: 550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1 (in reply to RCPT TO command)",
			ReplyCode: 550, EnhancedCode: "5.7.0",
			Source: fmt.Sprintf("maillog:%d", i+1), Provider: "proofpoint", Control: "dynamic-reputation", IP: "192.0.2.1", Mode: triage.HardBlock}
	}
	if err := s.Create(c, false); err != nil {
		log.Fatal(err)
	}
	m, err := casefile.Render(c, "", casefile.RenderOptions{Now: t0})
	if err != nil {
		log.Fatal(err)
	}
	c.MarkSent(m, t0)
	if err := s.Save(c); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.ID, c.Path())
	os.Exit(0)
}
