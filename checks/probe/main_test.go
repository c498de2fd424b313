package probe

import (
	"os"
	"testing"

	"github.com/unblock-mail/unblock/checks/dialer"
)

// Probes in tests bind and dial 127.x only; a dial anywhere else fails the run.
func TestMain(m *testing.M) { os.Exit(dialer.TestMain(m)) }
