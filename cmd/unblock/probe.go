package main

// The probe verb: from the sending machine, ask the recipient's MX hosts whether they
// would take mail from the case's IP now (EHLO, STARTTLS, MAIL FROM, RCPT TO, then RSET
// and QUIT; never DATA), and record the answer in the case.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/checks/probe"
	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/sanitize"
)

func init() {
	verbs = append(verbs, probeCmd)
}

// probeFlags are shared by probe and watch.
type probeFlags struct {
	resolvers []string
	timeout   time.Duration // per MX host
	interval  time.Duration // between two probes from one IP to one host
	port      int           // SMTP port of MX hosts (tests point it at a loopback server)
}

func (f *probeFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringSliceVar(&f.resolvers, "resolver", nil, "DNS server to ask, HOST[:PORT] (default: /etc/resolv.conf)")
	fl.DurationVar(&f.timeout, "timeout", probe.DefaultHostTimeout, "time limit for each MX host")
	fl.DurationVar(&f.interval, "every-host-interval", casefile.DefaultProbeInterval, "least time between two probes from one IP to one MX host (at least 5m)")
	fl.IntVar(&f.port, "port", 25, "SMTP port of the MX hosts")
	_ = fl.MarkHidden("port")
}

func (f *probeFlags) options(s *casefile.Store) (casefile.WatchOptions, error) {
	var o casefile.WatchOptions
	if f.timeout <= 0 {
		return o, badInput("--timeout must be positive, not %s", f.timeout)
	}
	if f.port <= 0 || f.port > 65535 {
		return o, badInput("--port %d is not a port", f.port)
	}
	log, err := s.ProbeLog(f.interval)
	if err != nil {
		return o, badInput("--every-host-interval: %v", err)
	}
	res, err := f.resolver()
	if err != nil {
		return o, err
	}
	return casefile.WatchOptions{Resolver: res, Port: f.port, HostTimeout: f.timeout, Log: log, Now: now}, nil
}

func (f *probeFlags) resolver() (*resolver.Resolver, error) {
	res, err := resolver.ForRun(f.resolvers)
	if err != nil {
		return nil, badInput("--resolver: %v", err)
	}
	return res, nil
}

func probeCmd(a *app) *cobra.Command {
	f := &probeFlags{}
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "probe CASE",
		Short: "Ask the recipient's mail servers, from the sending IP, whether the block still holds",
		Long: `probe runs on the sending server. For each recipient domain of the case it connects to the
MX hosts in preference order (the first that answers) from the case's sending IP, says EHLO
with the case's HELO name, starts TLS where offered, gives MAIL FROM the envelope sender and
RCPT TO one recipient from the timeline, then RSET and QUIT. It never sends DATA: no message
is delivered. Each answer is recorded in the case's timeline, read like any reply.

A probe only tells about the IP it runs from. To stay polite it asks a host from one IP at
most once per --every-host-interval (15 minutes; never less than 5), remembered across runs.

Exit status: 0 accepted, 1 refused or deferred (or no host answered, or a host was asked
too recently to ask again), 2 bad input or this machine cannot send from the case's IP.`,
		Example: `  unblock probe 2026-11-22-proofpoint-192-0-2-1
  unblock probe 2026-11-22 --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProbe(cmd.Context(), a, f, args[0], dryRun)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what the probe would say, without connecting")
	return cmd
}

func runProbe(ctx context.Context, a *app, f *probeFlags, ref string, dryRun bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := a.store()
	if err != nil {
		return err
	}
	c, err := a.findCase(s, ref)
	if err != nil {
		return err
	}
	o, err := f.options(s)
	if err != nil {
		return err
	}
	ip, targets, err := c.ProbePlan()
	if err != nil {
		return badInput("%v", err)
	}
	if dryRun {
		return printProbePlan(ctx, a.stdout, c, o, targets)
	}
	if err := probe.CanBind(ip); err != nil {
		return badInput("%v", err)
	}
	o.Probe = true
	var rep casefile.WatchReport
	_, err = a.edit(s, c.Path(), func(c *casefile.Case) error {
		rep = c.Watch(ctx, o)
		return nil
	})
	if err != nil {
		return err
	}
	printProbes(a.stdout, rep, o)
	printChanges(a.stdout, rep)
	for _, n := range rep.Notes {
		fmt.Fprintln(a.stderr, "unblock: "+sanitize.Line(n))
	}
	fmt.Fprintf(a.stdout, "A probe only tells about the IP it runs from (%s).\n", ip)
	accepted, refused := false, false
	for _, p := range rep.Probes {
		switch p.Outcome {
		case probe.Accepted:
			accepted = true
		case probe.Refused, probe.Deferred:
			refused = true
		}
	}
	if len(rep.Probes) == 0 && (len(rep.Notes) > 0 || len(rep.Skipped) > 0) {
		// Nothing could be asked: the case lacks what a probe needs.
		return &exitError{code: 2}
	}
	if accepted && !refused {
		return nil
	}
	return foundProblems
}

// printProbePlan says what a probe would say, without connecting or claiming a probe.
func printProbePlan(ctx context.Context, w io.Writer, c *casefile.Case, o casefile.WatchOptions, targets []casefile.ProbeTarget) error {
	ip := c.IP()
	fmt.Fprintf(w, "Dry run: nothing is sent.\n")
	if err := probe.CanBind(mustAddr(ip)); err != nil {
		fmt.Fprintf(w, "Note: %s\n", sanitize.Line(err.Error()))
	}
	for _, t := range targets {
		if t.Skip != "" {
			fmt.Fprintf(w, "\n%s: not probed (%s)\n", t.Domain, t.Skip)
			continue
		}
		hosts := "its MX hosts"
		if mxs, err := o.Resolver.MX(ctx, t.Domain); err == nil {
			var names []string
			for _, m := range mxs {
				names = append(names, fmt.Sprintf("%s (%d)", strings.TrimSuffix(m.Host, "."), m.Pref))
			}
			hosts = strings.Join(names, ", ")
		} else if resolver.IsNotFound(err) {
			hosts = t.Domain + " itself (no MX)"
		}
		fmt.Fprintf(w, "\n%s: from %s to the first of %s that answers, port %d:\n", t.Domain, ip, sanitize.Line(hosts), o.Port)
		for _, line := range []string{
			"EHLO " + c.Identifiers.HELO,
			"STARTTLS (where offered), then EHLO " + c.Identifiers.HELO + " again",
			"MAIL FROM:<" + c.Identifiers.EnvelopeSender + ">",
			"RCPT TO:<" + t.Rcpt + ">",
			"RSET",
			"QUIT",
		} {
			fmt.Fprintln(w, "  "+sanitize.Line(line))
		}
		if mxs, err := o.Resolver.MX(ctx, t.Domain); err == nil && len(mxs) > 0 {
			first := strings.TrimSuffix(strings.ToLower(mxs[0].Host), ".")
			if last := o.Log.Last(ip, first); !last.IsZero() && now().Sub(last) < o.Log.Interval() {
				fmt.Fprintf(w, "  (%s was probed from %s at %s UTC: the next probe is allowed from %s UTC)\n", first, ip,
					last.Format("15:04"), last.Add(o.Log.Interval()).Format("15:04"))
			}
		}
	}
	return nil
}

func printProbes(w io.Writer, rep casefile.WatchReport, o casefile.WatchOptions) {
	for _, p := range rep.Probes {
		switch p.Outcome {
		case probe.Accepted, probe.Refused, probe.Deferred:
			tls := ""
			if p.TLS {
				tls = ", TLS"
			}
			fmt.Fprintf(w, "%s from %s → %s (%s%s) at %s UTC: %s at %s\n", p.Domain, p.From, p.MX, p.Addr, tls,
				p.At.UTC().Format("2006-01-02 15:04"), p.Outcome, strings.ToUpper(p.Stage))
			fmt.Fprintf(w, "  %s\n", sanitize.Line(p.Reply))
		case probe.Limited:
			next := o.Log.Last(p.From, p.MX).Add(o.Log.Interval())
			fmt.Fprintf(w, "%s from %s: not probed, %s (next probe allowed from %s UTC)\n", p.Domain, p.From, sanitize.Line(p.Problem), next.UTC().Format("15:04"))
		default:
			fmt.Fprintf(w, "%s from %s: %s\n", p.Domain, p.From, sanitize.Line(p.Problem))
		}
	}
	for _, t := range rep.Skipped {
		fmt.Fprintf(w, "%s: not probed (%s)\n", t.Domain, sanitize.Line(t.Skip))
	}
}

func printChanges(w io.Writer, rep casefile.WatchReport) {
	for _, ch := range rep.Changes {
		fmt.Fprintf(w, "%s UTC  %s  %s: %s → %s\n", ch.At.UTC().Format("2006-01-02 15:04"), rep.Case, ch.What, ch.From, ch.To)
	}
	if rep.Lifted {
		fmt.Fprintf(w, "%s: the block lifted at %s UTC", rep.Case, rep.LiftedAt.UTC().Format("2006-01-02 15:04"))
		if len(rep.Unread) > 0 {
			fmt.Fprintf(w, " (lists that could not be read: %s)", strings.Join(rep.Unread, ", "))
		}
		fmt.Fprintf(w, ". Resolve the case: unblock set %s --status resolved\n", rep.Case)
	}
}

func mustAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}

var errNoCases = errors.New("no open case to watch")
