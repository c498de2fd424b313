package main

import (
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/tui"
)

// sessionFlags are the flags of the terminal interface, shared by `unblock` and
// `unblock open`: the same --resolver and --timeout as `check`.
type sessionFlags struct {
	resolvers []string
	timeout   time.Duration
	skip      []string
}

func (f *sessionFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.resolvers, "resolver", nil, "DNS server the checks ask, HOST[:PORT] (default: the system's)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Second, "time limit of one run of the live checks")
	cmd.Flags().StringSliceVar(&f.skip, "skip", nil, "check ids not to run, comma-separated (space on a check's row changes it)")
}

// runSession opens the terminal interface, on a case when ref is set.
func runSession(a *app, cmd *cobra.Command, f *sessionFlags, ref string) error {
	var servers []string
	for _, s := range f.resolvers {
		addr, err := resolver.ServerAddr(s)
		if err != nil {
			return badInput("--resolver %s: %v", s, err)
		}
		servers = append(servers, addr)
	}
	if f.timeout <= 0 {
		return badInput("--timeout must be positive, not %s", f.timeout)
	}
	// The same ids and the same message for a wrong one as `unblock check --skip`.
	skipSet, err := (&checkFlags{skip: f.skip}).skipSet()
	if err != nil {
		return err
	}
	var skip []string
	for id := range skipSet {
		skip = append(skip, id)
	}
	slices.Sort(skip)
	st, err := casefile.Open(a.dir)
	if err != nil {
		return badInput("%v", err)
	}
	// The command line's clock: UNBLOCK_NOW fixes ids, created and sent times and what
	// is due, so the screens and the commands agree on the same case.
	st.Now = now
	if ref != "" {
		// A case that is not there is a usage error, said before the screen opens.
		if _, err := st.Find(ref); err != nil {
			return badInput("%v", err)
		}
	}
	return tui.Run(cmd.Context(), tui.Options{
		Store:     st,
		Case:      ref,
		Resolvers: servers,
		Timeout:   f.timeout,
		Skip:      skip,
		Now:       now,
		// Most terminals are dark; the terminal's answer to the background query
		// corrects this within the first frames.
		Dark: true,
	}, a.stdout)
}

func init() {
	verbs = append(verbs, func(a *app) *cobra.Command {
		var f sessionFlags
		cmd := &cobra.Command{
			Use:   "open CASE",
			Short: "Open a case in the terminal interface: its timeline, readiness and the next step",
			Long: `open shows a saved case's overview: its identifiers and route, the timeline of failures,
readiness, the last message and whether a follow-up is due. From there, p pastes new
failures, u re-runs the checks and writes the update, and enter continues with the
first step that is not complete. CASE is an id, a unique id prefix, or a path.`,
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runSession(a, cmd, &f, args[0])
			},
		}
		f.add(cmd)
		return cmd
	})
}
