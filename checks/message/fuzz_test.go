package message

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/checks"
)

// FuzzTest feeds arbitrary bytes to the pure tests: they must never panic, and every
// result must have an id, a status and a summary free of raw control characters.
func FuzzTest(f *testing.F) {
	files, _ := filepath.Glob("testdata/sisimai/*.eml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(plainHead + "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\n"))
	f.Add([]byte("Received: from a (b [1.2.3.4]) by c with ESMTPS; x\r\nARC-Seal: i=1; cv=none\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, r := range Test(raw, Options{Now: testNow}) {
			if r.ID == "" || r.Summary == "" || (r.Status != checks.Pass && r.Status != checks.Warn && r.Status != checks.Fail && r.Status != checks.Skip && r.Status != checks.Error) {
				t.Fatalf("bad result %+v", r)
			}
			if strings.ContainsAny(r.Summary+r.Fix, "\x00\x07\x1b\x7f\u009b") {
				t.Fatalf("%s: raw control in %q", r.ID, r.Summary)
			}
		}
	})
}
