package main

import (
	"context"
	"fmt"
	"github.com/unblock-mail/unblock/checks/dialer"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts in testdata/script run this binary as "unblock".
func TestMain(m *testing.M) {
	dialer.GuardLoopback() // the in-process tests too
	testscript.Main(m, map[string]func(){
		// The scripts' checks and probes dial loopback only: a dial elsewhere fails the
		// command whatever it would have printed.
		"unblock": func() {
			dialer.GuardLoopback()
			code := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			if r := dialer.Refused(); len(r) > 0 {
				fmt.Fprintf(os.Stderr, "test dialed outside loopback: %v\n", r)
				code = 97
			}
			os.Exit(code)
		},
		// case_bench_test.go: writes the benchmark's big case in a process of its own.
		bigCaseCommand: bigCaseMain,
	})
}

// TestScripts runs every testdata/script/*.txtar: the command line as a user types it,
// with stdout, stderr and exit status compared.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/script",
		Cmds: scriptCmds, // check_test.go: a loopback DNS server for the check scripts
		Setup: func(env *testscript.Env) error {
			env.Setenv("UNBLOCK_DIR", env.WorkDir+"/cases")
			env.Setenv("NO_COLOR", "1")
			return nil
		},
	})
}
