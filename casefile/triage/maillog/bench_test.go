package maillog

import (
	"github.com/unblock-mail/unblock/casefile/triage/maillog/maillogtest"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchmarkPostfix reads a generated 100 MB Postfix log from a temporary file and reports
// the throughput, allocations per line and the largest live heap seen while reading.
func BenchmarkPostfix(b *testing.B) {
	const size = 100 << 20
	path := filepath.Join(b.TempDir(), "maillog")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	gen := maillogtest.NewPostfix(1, size)
	if _, err := io.Copy(f, gen); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	want := gen.Events()
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	var peak uint64
	var ms runtime.MemStats
	cpu0 := cpuTime()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		res, err := ReadPostfix(f, Options{Name: "maillog", Year: 2026}, func(e Event) error {
			n++
			if n%10000 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
			return nil
		})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		if n != want || res.Bytes != fi.Size() {
			b.Fatalf("read %d events of %d bytes, generated %d of %d", n, res.Bytes, want, fi.Size())
		}
		b.ReportMetric(float64(res.Lines), "lines/op")
	}
	b.StopTimer()
	// Wall-clock MB/s suffers when other processes share the cores; CPU time does not.
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(fi.Size())*float64(b.N)/cpu.Seconds()/1e6, "MB/cpu-s")
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// repeated reads b again and again up to n bytes.
type repeated struct {
	b   []byte
	off int
	n   int64
}

func (r *repeated) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(int64(len(p)), r.n)], r.b[r.off:])
	r.off = (r.off + k) % len(r.b)
	r.n -= int64(k)
	return k, nil
}

// BenchmarkExim reads the genuine Exim log over and over, 32 MB in all.
func BenchmarkExim(b *testing.B) {
	log, err := os.ReadFile("testdata/exim-4.96/mainlog")
	if err != nil {
		b.Fatal(err)
	}
	const size = 32 << 20
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := ReadExim(&repeated{b: log, n: size}, Options{Location: time.UTC}, func(Event) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n < size/len(log)*14 {
			b.Fatalf("%d events", n)
		}
	}
}
