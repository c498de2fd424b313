// Command unblock turns an email delivery failure into a support case that gets answered.
//
// This file wires the command line (cobra with fang) to the domain packages; each verb
// lives in its own file and registers itself. No domain logic lives here.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"charm.land/fang/v2"
	"github.com/spf13/cobra"

	"github.com/unblock-mail/unblock/sanitize"
)

// version is set at release with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// app is what every verb needs: where cases live and the standard streams.
type app struct {
	dir    string        // --dir; empty means UNBLOCK_DIR or the default
	wait   time.Duration // --wait of the verbs that change a case
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// verbs are added by each verb's file in init.
var verbs []func(*app) *cobra.Command

// exitError carries an exit status: 1 the command ran and found problems, 2 bad usage or
// bad input. A nil err prints nothing (the output already said it).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// badInput is exit status 2 with a one-line reason.
func badInput(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

// foundProblems is exit status 1, silently: the output already shows the problems.
var foundProblems = &exitError{code: 1}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func newRoot(a *app) *cobra.Command {
	var session sessionFlags
	root := &cobra.Command{
		Use:   "unblock",
		Short: "Turn an email delivery failure into a support case that gets answered",
		Long: `unblock reads a bounce, proves your own side with live DNS and SMTP checks, collects
the evidence a support engineer needs, and writes the message that routes the case to
the right desk (Proofpoint, Cloudmark, Microsoft, Gmail, Yahoo, Mimecast …).

Run it without arguments for the guided terminal interface; every step is also a verb
for scripts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSession(a, cmd, &session, "")
		},
	}
	session.add(root)
	root.PersistentFlags().StringVar(&a.dir, "dir", "", "directory of case files (default $UNBLOCK_DIR, else $XDG_DATA_HOME/unblock/cases)")
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: 2, err: err}
	})
	for _, v := range verbs {
		root.AddCommand(v(a))
	}
	return root
}

// run executes the command line and returns the exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if s := os.Getenv("UNBLOCK_NOW"); s != "" {
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			// A script moving through days must not get the real clock for a typo.
			fmt.Fprintf(stderr, "unblock: UNBLOCK_NOW %q is not an RFC 3339 time such as 2026-12-06T12:00:00Z\n", sanitize.Line(s))
			return 2
		}
	}
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(a)
	root.SetArgs(args)
	err := fang.Execute(ctx, root,
		fang.WithVersion(version),
		fang.WithErrorHandler(func(w io.Writer, _ fang.Styles, err error) {
			if msg := oneLine(err); msg != "" {
				fmt.Fprintln(w, "unblock: "+msg)
			}
		}),
	)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	// cobra's own errors (unknown command, bad argument count) are usage errors.
	return 2
}

// oneLine makes an error printable on one line: it may carry text from outside.
func oneLine(err error) string {
	return sanitize.Line(strings.TrimSpace(err.Error()))
}
