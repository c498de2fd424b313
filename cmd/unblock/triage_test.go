package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"charm.land/lipgloss/v2"
)

// deferrals writes n Proofpoint deferrals of n messages, a minute apart.
func deferrals(n int, from int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "Nov 22 10:%02d:00 mta postfix/smtp[9653]: %09X: to=<u%d@example.net>, relay=mx0a-0011.pphosted.com[192.0.2.9]:25, delay=1, delays=0/0/1/0, dsn=4.7.1, status=deferred (host mx0a-0011.pphosted.com[192.0.2.9] said: 421 Deferred - see https://ipcheck.proofpoint.com/?ip=198.51.100.4 (in reply to RCPT TO command))\n",
			i%60, 0xA0000+i, i)
	}
	return b.String()
}

func runTriage(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"triage", "--year", "2026", "--zone", "UTC", "--ip", "198.51.100.4"}, args...), strings.NewReader(""), &out, &errb)
	if errb.Len() > 0 {
		t.Logf("stderr: %s", errb.String())
	}
	return out.String(), code
}

// The summary leads; the failures one by one are asked for when there are many.
func TestTriageSummaryFirst(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.log")
	os.WriteFile(path, []byte(deferrals(25, 0)), 0o644)
	row := regexp.MustCompile(`(?m)f\.log:\d+ +u\d+@example\.net +deferral +ip-reputation +proofpoint +dynamic-reputation +198\.51\.100\.4 +421 4\.7\.1$`)

	out, code := runTriage(t, path)
	if code != 0 || !strings.HasPrefix(out, "deferral ip-reputation · proofpoint · dynamic-reputation · 198.51.100.4 · 25×\n") ||
		!strings.Contains(out, "\n25 failures: --all lists each") || strings.Contains(out, "SOURCE") || len(row.FindAllString(out, -1)) != 0 {
		t.Errorf("default output (exit %d):\n%s", code, out)
	}

	out, code = runTriage(t, "--all", path)
	head := strings.Index(out, "\nSOURCE ")
	if code != 0 || !strings.HasPrefix(out, "deferral ip-reputation") || head < 0 || strings.Index(out, "daily volume") > head ||
		len(row.FindAllString(out, -1)) != 25 || len(row.FindAllString(out[head:], -1)) != 25 {
		t.Errorf("--all (exit %d):\n%s", code, out)
	}

	out, code = runTriage(t, "--jsonl", path)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 25 {
		t.Fatalf("--jsonl: %d lines, exit %d", len(lines), code)
	}
	for _, l := range lines {
		var f struct {
			Source string
			Route  struct {
				Kind string
				Asks []string
			}
		}
		if err := json.Unmarshal([]byte(l), &f); err != nil || f.Route.Kind != "wait" || len(f.Route.Asks) == 0 || !strings.HasPrefix(f.Source, path+":") {
			t.Errorf("--jsonl: a finding with its whole route: %v, %+v", err, f)
		}
	}

	out, code = runTriage(t, "--json", path)
	var doc struct {
		Findings []struct {
			Route   map[string]any
			Meaning string
		}
		Groups []struct {
			Count   int
			Meaning string
			Route   struct {
				Kind string
				Asks []string
			}
		}
		Progressions []json.RawMessage
		DailyVolume  []struct{ Messages, Deferred int } `json:"daily_volume"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
		t.Fatalf("--json (exit %d): %v\n%s", code, err, out)
	}
	if len(doc.Findings) != 25 || len(doc.Findings[0].Route) != 1 || doc.Findings[0].Route["kind"] != "wait" || doc.Findings[0].Meaning != "" ||
		len(doc.Groups) != 1 || doc.Groups[0].Count != 25 || len(doc.Groups[0].Route.Asks) == 0 || doc.Groups[0].Meaning == "" ||
		len(doc.Progressions) != 25 || len(doc.DailyVolume) != 1 || doc.DailyVolume[0].Deferred != 25 {
		t.Errorf("--json: %d findings, first %+v; groups %+v; %d progressions; days %+v",
			len(doc.Findings), doc.Findings[0], doc.Groups, len(doc.Progressions), doc.DailyVolume)
	}
}

// syncBuffer is written by the command while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// --follow prints failures as the log grows and the summary when interrupted.
func TestTriageFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	os.WriteFile(path, []byte(deferrals(1, 0)), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"triage", "--follow", "--year", "2026", "--zone", "UTC", path}, strings.NewReader(""), &out, &errb)
	}()
	waitFor := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if strings.Count(out.String(), "mail.log:") == n {
				return
			}
		}
		t.Fatalf("waiting for %d failures:\n%s%s", n, out.String(), errb.String())
	}
	waitFor(1)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(deferrals(2, 1))
	f.Close()
	waitFor(3)
	if strings.Contains(out.String(), "daily volume") {
		t.Errorf("summary before the end:\n%s", out.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, errb.String())
	}
	if s := out.String(); !strings.Contains(s, "· 3×") || !strings.Contains(s, "2026-11-22 mta: 3 messages, 3 attempts") {
		t.Errorf("summary after following:\n%s", s)
	}
}

// TestTriageJSONBadInput: --json with an input that cannot be read leaves stdout empty
// when nothing was found before it, and otherwise closes the document with its error:
// stdout never holds half a document.
func TestTriageJSONBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "reply.txt")
	os.WriteFile(good, []byte("554 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.4\n"), 0o644)
	missing := filepath.Join(dir, "nope.txt")
	out, code := runTriage(t, "--json", missing)
	if code != 2 || out != "" {
		t.Fatalf("a missing file alone: exit %d, stdout %q", code, out)
	}
	out, code = runTriage(t, "--json", good, missing)
	var doc struct {
		Findings []map[string]any `json:"findings"`
		Error    string           `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 2 {
		t.Fatalf("a good file then a missing one: exit %d, %v:\n%s", code, err, out)
	}
	if len(doc.Findings) != 1 || !strings.Contains(doc.Error, "nope.txt") {
		t.Fatalf("the document has %d findings and error %q", len(doc.Findings), doc.Error)
	}
}

// TestTriageYearFromUnblockNow: UNBLOCK_NOW decides the year of a log's stamps as it
// fixes every other date: a line from the day before is not put in the year before
// because the machine's clock is earlier.
func TestTriageYearFromUnblockNow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	os.WriteFile(path, []byte("Dec 30 09:14:00 mta postfix/smtp[9653]: 4AB12C: to=<u@example.net>, relay=mx0a-0011.pphosted.com[192.0.2.9]:25, delay=1, delays=0/0/1/0, dsn=5.7.1, status=bounced (host mx0a-0011.pphosted.com[192.0.2.9] said: 554 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.4 (in reply to RCPT TO command))\n"), 0o644)
	for _, c := range []struct{ now, want string }{
		{"2031-12-31T10:00:00Z", "2031-12-30T09:14:00Z"},
		{"2032-01-02T10:00:00Z", "2031-12-30T09:14:00Z"},
	} {
		t.Setenv("UNBLOCK_NOW", c.now)
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"triage", "--zone", "UTC", "--json", path}, strings.NewReader(""), &out, &errb)
		if code != 0 || !strings.Contains(out.String(), `"at":"`+c.want+`"`) {
			t.Errorf("UNBLOCK_NOW %s: exit %d, want at %s:\n%.400s\n%s", c.now, code, c.want, out.String(), errb.String())
		}
	}
}

// TestListFlagsKeepEveryLine: --ip "$(cat ips.txt)" and the like keep every value, on
// lines, with commas or spaces; none is dropped silently.
func TestListFlagsKeepEveryLine(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"new", "--dir", dir, "--ip", "192.0.2.7\n192.0.2.8\n", "--selector", "s1\ns2, s3", "--recipient-domain", "a.example b.example", "--domain", "example.com"},
		strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	path := strings.Fields(out.String())[1]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ips: [192.0.2.7, 192.0.2.8]", "selectors: [s1, s2, s3]", "recipient_domains: [a.example, b.example]"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("the case lacks %q:\n%s", want, data)
		}
	}
}

// A long source keeps its end, as many columns as fit and no more, whatever its letters.
func TestShortSource(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"/var/log/mail.log:12", 40, "/var/log/mail.log:12"},
		{"/tmp/BenchmarkTriage1234567890/001/mail.log:786652", 24, "…890/001/mail.log:786652"},
		{"/srv/журнал/почта.log:7", 12, "…почта.log:7"},
		{"/srv/日本語のログ/メール.log:9", 12, "…ール.log:9"},
		{"日本語", 1, "…"},
	} {
		got := shortSource(c.in, c.n)
		if got != c.want || lipgloss.Width(got) > c.n {
			t.Errorf("shortSource(%q, %d) = %q (%d columns), want %q", c.in, c.n, got, lipgloss.Width(got), c.want)
		}
	}
}

// --follow refused (an empty file, a folder, one that does not exist) leaves stdout empty:
// the table's head is not written before there is a log to follow.
func TestTriageFollowRefusedStdoutEmpty(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.log")
	os.WriteFile(empty, nil, 0o644)
	for _, arg := range []string{empty, dir, filepath.Join(dir, "missing.log")} {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"triage", "--follow", arg}, strings.NewReader(""), &out, &errb)
		if code != 2 || out.Len() != 0 || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("--follow %s: exit %d, stdout %q, stderr %q", arg, code, out.String(), errb.String())
		}
	}
}
