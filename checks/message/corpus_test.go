package message

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Real messages from Sisimai's set-of-emails are read without error and every test gives
// a result with a status and a summary.
func TestCorpusMessagesRead(t *testing.T) {
	files, err := filepath.Glob("testdata/sisimai/*.eml")
	if err != nil || len(files) < 5 {
		t.Fatalf("corpus files: %v (%d)", err, len(files))
	}
	for _, f := range files {
		raw, err := ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := Parse(raw, Options{Now: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)})
		if err := m.NotAMessage(); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(m.Fields) < 3 {
			t.Errorf("%s: only %d header fields read", f, len(m.Fields))
		}
		for _, r := range m.Test() {
			if !strings.HasPrefix(r.ID, "message/") || r.Status == "" || r.Summary == "" {
				t.Errorf("%s: incomplete result %+v", f, r)
			}
		}
	}
}

func TestReadRefusesNonMessage(t *testing.T) {
	m := Parse([]byte("\x1b[31mhello world, no header here\n"), Options{})
	err := m.NotAMessage()
	if err == nil || strings.Contains(err.Error(), "\x1b") {
		t.Fatalf("want a sanitized error, got %v", err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.eml")); err == nil || !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
}
