package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/casefile/triage/maillog/maillogtest"
)

// BenchmarkAddLog adds a whole generated Postfix log (UNBLOCK_BENCH_MB, 60 by default) to
// a case, as a user runs it: the binary, a real file. Repeated failures become counted
// events, so the case stays small whatever the size of the log; memory stays bounded.
func BenchmarkAddLog(b *testing.B) {
	dir := b.TempDir()
	bin := buildUnblock(b, dir)
	log := filepath.Join(dir, "mail.log")
	size := generate(b, log, maillogtest.NewPostfix(1, benchSize("UNBLOCK_BENCH_MB", 60)))
	b.Setenv("UNBLOCK_DIR", filepath.Join(dir, "cases"))
	for b.Loop() {
		os.RemoveAll(filepath.Join(dir, "cases"))
		fields := strings.Fields(string(runPiped(b, bin, "new", "--mode", "hard-block").tail))
		if len(fields) != 2 {
			b.Fatalf("new printed %q", fields)
		}
		res := runPiped(b, bin, "add", fields[0], "--year", "2026", "--zone", "UTC", log)
		report(b, size, res)
		st, err := os.Stat(fields[1])
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(st.Size())/1e3, "case-KB")
		b.Logf("%s", res.tail)
	}
}
