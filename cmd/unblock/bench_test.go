package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage/maillog/maillogtest"
)

// The end-to-end benchmark of triage on a mail log, as a user runs it: the built binary,
// a generated Postfix log in a file, the output into a pipe. Beside it, in the same run,
// the tools people use today on the same file: pflogsumm (when installed) and
// grep -c status=bounced. Each reports MB/s of log read and the peak resident memory of
// the process. The size is 60 MB unless UNBLOCK_BENCH_MB says (600 for the large run);
// the SES and SendGrid events are 20 MB each unless UNBLOCK_BENCH_ESP_MB says.
//
//	go test -run '^$' -bench Triage -benchtime 1x ./cmd/unblock/
//	UNBLOCK_BENCH_MB=600 UNBLOCK_BENCH_ESP_MB=200 go test -run '^$' -bench Triage -benchtime 1x -timeout 60m ./cmd/unblock/

func benchSize(env string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(env), 10, 64); err == nil && v > 0 {
		return v << 20
	}
	return def << 20
}

// buildUnblock builds the command into dir.
func buildUnblock(b *testing.B, dir string) string {
	bin := filepath.Join(dir, "unblock")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// generate writes a generator's output to a file.
func generate(b *testing.B, path string, r io.Reader) int64 {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(f, r)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return n
}

// run is one run of a command with its output to a pipe.
type runResult struct {
	out     int64 // bytes written
	lines   int
	tail    []byte // the end of the output
	rssMB   float64
	cpu     time.Duration // user and system time of the process
	elapsed time.Duration
	code    int
}

func runPiped(b *testing.B, name string, args ...string) runResult {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var res runResult
	br := bufio.NewReaderSize(pipe, 1<<20)
	tail := make([]byte, 0, 8<<10)
	for {
		chunk, err := br.ReadSlice('\n')
		res.out += int64(len(chunk))
		if len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
			res.lines++
		}
		if len(tail)+len(chunk) > cap(tail) {
			tail = tail[:0]
		}
		tail = append(tail, chunk[:min(len(chunk), cap(tail))]...)
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			b.Fatal(err)
		}
	}
	err = cmd.Wait()
	res.elapsed = time.Since(start)
	res.tail = tail
	if err != nil {
		var ee *exec.ExitError
		if !errorsAs(err, &ee) {
			b.Fatalf("%s: %v\n%s", name, err, stderr.String())
		}
		res.code = ee.ExitCode()
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.rssMB = float64(ru.Maxrss) / 1024 // kilobytes on Linux
	}
	res.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if res.code != 0 && name != "grep" {
		b.Fatalf("%s exited %d: %s", name, res.code, stderr.String())
	}
	return res
}

func errorsAs(err error, target **exec.ExitError) bool {
	ee, ok := err.(*exec.ExitError)
	if ok {
		*target = ee
	}
	return ok
}

// report gives the wall-clock rate and, since the cores may be shared with other work that
// slows every process alike, the rate per second of the process's own CPU time.
func report(b *testing.B, size int64, res runResult) {
	b.ReportMetric(float64(size)/1e6/res.elapsed.Seconds(), "MB/s")
	b.ReportMetric(float64(size)/1e6/res.cpu.Seconds(), "MB/cpu-s")
	b.ReportMetric(res.rssMB, "peak-RSS-MB")
	b.ReportMetric(float64(res.out)/1e6, "out-MB")
}

func BenchmarkTriage(b *testing.B) {
	dir := b.TempDir()
	bin := buildUnblock(b, dir)
	log := filepath.Join(dir, "mail.log")
	gen := maillogtest.NewPostfix(1, benchSize("UNBLOCK_BENCH_MB", 60))
	size := generate(b, log, gen)
	failures := gen.Counts["deferred"] + gen.Counts["bounced"]
	b.Logf("postfix log: %d MB, %d lines, %d events, %d failures", size>>20, gen.Lines, gen.Events(), failures)
	triageArgs := []string{"triage", "--year", "2026", "--zone", "UTC"}

	b.Run("postfix/text", func(b *testing.B) {
		for b.Loop() {
			res := runPiped(b, bin, append(triageArgs, log)...)
			if !bytes.Contains(res.tail, []byte("daily volume")) && !bytes.Contains(res.tail, []byte("--all lists each")) {
				b.Fatalf("no summary at the end:\n%s", res.tail)
			}
			report(b, size, res)
		}
	})
	b.Run("postfix/all", func(b *testing.B) {
		for b.Loop() {
			report(b, size, runPiped(b, bin, append(triageArgs, "--all", log)...))
		}
	})
	b.Run("postfix/json", func(b *testing.B) {
		for b.Loop() {
			res := runPiped(b, bin, append(triageArgs, "--json", log)...)
			if !bytes.Contains(res.tail, []byte(`"inputs"`)) {
				b.Fatalf("JSON does not end with its inputs:\n%s", res.tail)
			}
			report(b, size, res)
		}
	})
	b.Run("postfix/jsonl", func(b *testing.B) {
		for b.Loop() {
			res := runPiped(b, bin, append(triageArgs, "--jsonl", log)...)
			if res.lines != failures {
				b.Fatalf("%d findings, generated %d failures", res.lines, failures)
			}
			report(b, size, res)
		}
	})
	b.Run("grep", func(b *testing.B) {
		for b.Loop() {
			res := runPiped(b, "grep", "-c", "status=bounced", log)
			if got := string(bytes.TrimSpace(res.tail)); got != strconv.Itoa(gen.Counts["bounced"]) {
				b.Fatalf("grep counted %s bounces, generated %d", got, gen.Counts["bounced"])
			}
			report(b, size, res)
		}
	})
	b.Run("pflogsumm", func(b *testing.B) {
		path, err := exec.LookPath("pflogsumm")
		if err != nil {
			b.Log("pflogsumm is not installed (apt-get install pflogsumm): no comparison")
			return
		}
		for b.Loop() {
			report(b, size, runPiped(b, path, log))
		}
	})

	espSize := benchSize("UNBLOCK_BENCH_ESP_MB", 20)
	for _, esp := range []struct {
		name string
		gen  *maillogtest.ESP
	}{{"ses", maillogtest.NewSES(2, espSize)}, {"sendgrid", maillogtest.NewSendGrid(3, espSize)}} {
		path := filepath.Join(dir, esp.name+".json")
		n := generate(b, path, esp.gen)
		b.Logf("%s events: %d MB, %v", esp.name, n>>20, esp.gen.Counts)
		for _, mode := range []string{"text", "json"} {
			b.Run(fmt.Sprintf("%s/%s", esp.name, mode), func(b *testing.B) {
				args := []string{"triage", path}
				if mode == "json" {
					args = []string{"triage", "--json", path}
				}
				for b.Loop() {
					report(b, n, runPiped(b, bin, args...))
				}
			})
		}
		os.Remove(path)
	}
}
