package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/unblock-mail/unblock/casefile/reports/reportstest"
)

// benchReports is the store the benchmark reads: 10,000 aggregate reports from ten
// receivers, a third each as .xml, .xml.gz and .zip, 150 records each (about 1 GB of XML).
const (
	benchReports = 10_000
	benchRecords = 150
)

// benchStore writes the store once into the temporary directory and reuses it: writing
// a gigabyte of reports takes longer than reading it.
func benchStore(b *testing.B) (dir string, xmlBytes int64) {
	b.Helper()
	dir = filepath.Join(os.TempDir(), fmt.Sprintf("unblock-bench-reports-%d-%d-v2", benchReports, benchRecords))
	done := filepath.Join(dir, ".complete")
	if data, err := os.ReadFile(done); err == nil {
		fmt.Sscan(string(data), &xmlBytes)
		return dir, xmlBytes
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	ips := []string{"203.0.113.25", "203.0.113.26", "203.0.113.27", "2001:db8::25"}
	for i := range benchReports {
		rep := reportstest.Random(rng, i, benchRecords, ips)
		var buf bytes.Buffer
		reportstest.Write(&buf, rep)
		xmlBytes += int64(buf.Len())
		if _, err := reportstest.Save(dir, i, rep); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(done, []byte(fmt.Sprint(xmlBytes)), 0o600); err != nil {
		b.Fatal(err)
	}
	return dir, xmlBytes
}

// peakRSS is the largest resident set of the commands run, in MB.
func peakRSS(ps *os.ProcessState) float64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return float64(ru.Maxrss) / 1024 // Linux: kilobytes
	}
	return 0
}

// BenchmarkReportsStore sums 10,000 aggregate reports end to end, as the user runs it:
// the binary reading the folder and printing JSON. Beside it, dmarc-cat (Debian's
// DMARC report reader, which reads one report per run) over the same files, when it is
// installed: parsedmarc is not packaged for Debian and PyPI is out of reach here.
func BenchmarkReportsStore(b *testing.B) {
	dir, xmlBytes := benchStore(b)
	bin := buildUnblock(b, b.TempDir())
	b.Run("unblock", func(b *testing.B) {
		var rss, cpu float64
		for b.Loop() {
			cmd := exec.Command(bin, "reports", "--json", dir)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil {
				b.Fatalf("%v: %s", err, errb.String())
			}
			if !bytes.Contains(out.Bytes(), []byte(fmt.Sprintf(`"reports": %d`, benchReports))) {
				b.Fatalf("not all reports read: %s", errb.String())
			}
			rss = max(rss, peakRSS(cmd.ProcessState))
			cpu += cpuSeconds(cmd.ProcessState)
		}
		perOp := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(xmlBytes)/1e6/perOp, "MB/s")
		b.ReportMetric(benchReports/perOp, "reports/s")
		b.ReportMetric(rss, "peak-RSS-MB")
		b.ReportMetric(cpu/float64(b.N), "CPU-s/op")
		b.ReportMetric(float64(xmlBytes)/1e6, "XML-MB")
	})
	b.Run("dmarc-cat", func(b *testing.B) {
		tool, err := exec.LookPath("dmarc-cat")
		if err != nil {
			b.Skip("dmarc-cat is not installed (apt-get install dmarc-cat)")
		}
		var files []string
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
				files = append(files, p)
			}
			return nil
		})
		var rss, cpu float64
		for b.Loop() {
			for _, f := range files {
				// -N: no DNS lookups of the IPs, which would measure the resolver.
				cmd := exec.Command(tool, "-N", f)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("dmarc-cat %s: %v\n%s", f, err, out)
				}
				rss = max(rss, peakRSS(cmd.ProcessState))
				cpu += cpuSeconds(cmd.ProcessState)
			}
		}
		perOp := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(xmlBytes)/1e6/perOp, "MB/s")
		b.ReportMetric(benchReports/perOp, "reports/s")
		b.ReportMetric(rss, "peak-RSS-MB")
		b.ReportMetric(cpu/float64(b.N), "CPU-s/op")
	})
}

// cpuSeconds is the processor time a command took: on a shared machine it says more
// than the wall clock.
func cpuSeconds(ps *os.ProcessState) float64 { return (ps.UserTime() + ps.SystemTime()).Seconds() }
