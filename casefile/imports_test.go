package casefile

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoUIImports: the case is domain code; the TUI depends on it, never the reverse
// (DESIGN.md), so nothing under casefile may pull in the TUI or a charm.land package.
func TestNoUIImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test=false", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list listed only %d packages: %q", len(deps), deps)
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "charm.land/") || strings.HasPrefix(d, "github.com/charmbracelet/") || strings.HasSuffix(d, "/unblock/tui") || strings.Contains(d, "/unblock/tui/") {
			t.Errorf("casefile depends on %s", d)
		}
	}
}
