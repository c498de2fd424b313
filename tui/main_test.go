package tui

import (
	"os"
	"testing"

	"github.com/unblock-mail/unblock/checks/dialer"
)

// The screens run real checks and probes against loopback servers; a dial anywhere else
// fails the run, naming it.
func TestMain(m *testing.M) { os.Exit(dialer.TestMain(m)) }
