package triage

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestUnseen triages inputs written for this test from PROVIDERS.md and RFC 3463/7372,
// worded differently from the examples the tables were built on (reworded, truncated,
// folded, quoted by other MTAs, other casing, IPv6). Expectations are in
// testdata/unseen/expected.tsv; they were written before the program was run on the inputs.
func TestUnseen(t *testing.T) {
	dir := filepath.Join("testdata", "unseen")
	fh, err := os.Open(filepath.Join(dir, "expected.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	rows, wrong := 0, 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		col := strings.Split(line, "\t")
		if len(col) != 11 {
			t.Fatalf("expected.tsv: %d columns in %q", len(col), line)
		}
		rows++
		name := col[0]
		rep, err := ReadPath(context.Background(), filepath.Join(dir, name), Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			wrong++
			continue
		}
		if c := controlIn(rep); c != "" {
			t.Errorf("%s: the report carries a raw control character in %s", name, c)
		}
		f, ok := primaryFinding(rep)
		if !ok {
			t.Errorf("%s: no finding", name)
			wrong++
			continue
		}
		code := ""
		if f.ReplyCode != 0 {
			code = strconv.Itoa(f.ReplyCode)
		}
		got := []string{string(f.Mode), string(f.Cause), f.Provider, f.Receiver, f.Control, f.IP, code, f.EnhancedCode, f.Route.Kind}
		fields := []string{"mode", "cause", "provider", "receiver", "control", "ip", "reply", "enhanced", "route"}
		var diffs []string
		for i, want := range col[1:10] {
			if want == "*" {
				continue
			}
			if want == "-" {
				want = ""
			}
			if got[i] != want {
				diffs = append(diffs, fields[i]+"="+strconv.Quote(got[i])+" want "+strconv.Quote(want))
			}
		}
		if note := col[10]; note != "-" && !strings.Contains(strings.Join(f.Notes, "\n"), note) {
			diffs = append(diffs, "notes "+strconv.Quote(strings.Join(f.Notes, "; "))+" lack "+strconv.Quote(note))
		}
		if len(diffs) > 0 {
			wrong++
			t.Errorf("%s: %s", name, strings.Join(diffs, ", "))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// Every input has its expectation, once.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries)-1 != rows {
		t.Errorf("%d inputs in %s, %d rows in expected.tsv", len(entries)-1, dir, rows)
	}
	if rows < 80 {
		t.Errorf("only %d unseen inputs", rows)
	}
	t.Logf("%d unseen inputs, %d wrong", rows, wrong)
}

// primaryFinding is what a person reads first: the first finding that says something.
func primaryFinding(rep *Report) (Finding, bool) {
	for _, f := range rep.Findings {
		if f.Mode != UnknownMode || f.Cause != UnknownCause {
			return f, true
		}
	}
	if len(rep.Findings) > 0 {
		return rep.Findings[0], true
	}
	return Finding{}, false
}

// controlIn finds a string in the report's JSON that holds a control character (other
// than none at all: even newlines are made visible in findings) and names its key.
func controlIn(rep *Report) string {
	data, err := json.Marshal(rep)
	if err != nil {
		return "(marshal: " + err.Error() + ")"
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return "(unmarshal: " + err.Error() + ")"
	}
	var walk func(key string, v any) string
	walk = func(key string, v any) string {
		switch x := v.(type) {
		case string:
			for _, r := range x {
				if r < 0x20 || (r >= 0x7f && r < 0xa0) {
					return key + "=" + strconv.QuoteToASCII(x)
				}
			}
		case []any:
			for _, e := range x {
				if s := walk(key, e); s != "" {
					return s
				}
			}
		case map[string]any:
			for k, e := range x {
				if s := walk(k, e); s != "" {
					return s
				}
			}
		}
		return ""
	}
	return walk("", v)
}
