package checks

import (
	"os"
	"testing"

	"github.com/unblock-mail/unblock/checks/dialer"
)

// TestMain holds every test of the checks to loopback: the SMTP probe and the MTA-STS
// fetch dial through package dialer, which refuses and records any other address, and
// the run fails naming it.
func TestMain(m *testing.M) {
	os.Exit(dialer.TestMain(m))
}
