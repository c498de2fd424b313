package unblock_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDomainDoesNotImportTheTUI keeps the house rule of DESIGN.md: checks and casefile
// never depend on the terminal interface or any charm.land package, so the command line
// and the TUI share one domain.
func TestDomainDoesNotImportTheTUI(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./checks/...", "./casefile/...", "./sanitize/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "charm.land/") || strings.HasPrefix(dep, "github.com/charmbracelet/") ||
			strings.HasSuffix(dep, "/unblock/tui") || strings.Contains(dep, "/unblock/tui/") {
			t.Errorf("domain packages depend on %s", dep)
		}
	}
}
