package main

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the scripts in testdata/script run this binary as "unblock".
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"unblock": func() { os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
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
