package main

// The watch verb: for the open cases (or those named), re-run the blocklists and the probe
// (and the checks when asked) every --every or once, record every change of state in the
// timeline, and tell cron by the exit status what happened.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/checks/probe"
	"github.com/unblock-mail/unblock/sanitize"
)

func init() {
	verbs = append(verbs, watchCmd)
}

// Exit statuses of watch, for cron and systemd timers.
const (
	watchWorse  = 1
	watchBetter = 3
)

// watchParallel is how many cases are watched at once; probesPerHost how many
// conversations one MX host gets at once.
const (
	watchParallel = 64
	probesPerHost = 8
)

type watchFlags struct {
	probeFlags
	once   bool
	every  time.Duration
	notify string
	checks bool
}

func watchCmd(a *app) *cobra.Command {
	f := &watchFlags{}
	cmd := &cobra.Command{
		Use:   "watch [CASE...]",
		Short: "Run the blocklists and the probe again for open cases and record what changed",
		Long: `watch re-runs, for the open cases (or those named), the IP blocklists and the probe from the
sending IP (see "unblock probe"), and the live checks with --checks, every --every or once
with --once (for cron and systemd timers). Every change of state (listed → not listed,
refused → accepted, a new reply) is recorded once in the case's timeline. The block has
lifted when a probe is accepted where the case was last refused and no list that could be
read lists the IP: watch says "lifted at T" and proposes resolving the case.

--notify CMD runs CMD (with sh -c) once for each change, with the change as JSON on
standard input: {"case", "what", "from", "to", "at", "better"/"worse"}.

Exit status: 0 nothing changed, 1 something got worse, 3 something got better (worse wins
when both), 2 bad usage. A systemd service running it needs SuccessExitStatus=1 3.`,
		Example: `  unblock watch --once
  unblock watch 2026-11-22-proofpoint-192-0-2-1 --every 15m --notify 'notify-send unblock "$(cat)"'`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWatch(cmd.Context(), a, f, args)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.BoolVar(&f.once, "once", false, "watch once and exit (for cron and systemd timers)")
	fl.DurationVar(&f.every, "every", 30*time.Minute, "time between two rounds")
	fl.StringVar(&f.notify, "notify", "", "command to run for each change, the change as JSON on stdin")
	fl.BoolVar(&f.checks, "checks", false, "also re-run the live checks (SPF, DKIM, DMARC, rDNS, HELO …)")
	return cmd
}

func runWatch(ctx context.Context, a *app, f *watchFlags, refs []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if !f.once && f.every < casefile.MinProbeInterval {
		return badInput("--every %s is below %s: probes must stay polite", f.every, casefile.MinProbeInterval)
	}
	s, err := a.store()
	if err != nil {
		return err
	}
	if _, err := f.options(s); err != nil {
		return err
	}
	var paths []string
	for _, ref := range refs {
		c, err := a.findCase(s, ref)
		if err != nil {
			return err
		}
		paths = append(paths, c.Path())
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	w := &watcher{a: a, f: f, s: s, progress: isTerminal(a.stderr)}
	worse, better := false, false
	for round := 1; ; round++ {
		wr, bt, err := w.round(ctx, paths, round)
		if err != nil {
			return err
		}
		worse, better = worse || wr, better || bt
		if f.once || ctx.Err() != nil {
			break
		}
		next := time.Now().Add(f.every)
		if w.progress {
			fmt.Fprintf(a.stderr, "\rround %d done; next at %s (ctrl+c stops)\033[K", round, next.Format("15:04:05"))
		}
		select {
		case <-ctx.Done():
		case <-time.After(f.every):
		}
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintln(a.stderr, "\nunblock: watch stopped")
	}
	switch {
	case worse:
		return &exitError{code: watchWorse}
	case better:
		return &exitError{code: watchBetter}
	}
	return nil
}

type watcher struct {
	a        *app
	f        *watchFlags
	s        *casefile.Store
	progress bool
	mu       sync.Mutex // the output
}

// round watches every case once and reports whether anything got worse or better.
func (w *watcher) round(ctx context.Context, paths []string, round int) (worse, better bool, err error) {
	o, err := w.f.options(w.s)
	if err != nil {
		return false, false, err
	}
	o.Probe, o.Blocklists, o.Checks = true, true, w.f.checks
	o.Slots = casefile.NewHostSlots(probesPerHost)
	targets := paths
	if len(targets) == 0 {
		cases, lerr := w.s.List()
		if lerr != nil {
			fmt.Fprintln(w.a.stderr, "unblock: "+oneLine(lerr))
		}
		for _, c := range cases {
			if c.Status.IsOpen() {
				targets = append(targets, c.Path())
			}
		}
		if len(targets) == 0 {
			fmt.Fprintln(w.a.stderr, "unblock: "+errNoCases.Error())
			return false, false, nil
		}
	}
	sort.Strings(targets)
	// Say once per IP when this machine cannot probe from it, rather than once per case.
	var unbindable sync.Map
	var done atomic.Int64
	var wg sync.WaitGroup
	next := make(chan string)
	var reports []casefile.WatchReport
	for range min(watchParallel, len(targets)) {
		wg.Go(func() {
			for path := range next {
				rep, err := w.watchOne(ctx, path, o, &unbindable)
				n := done.Add(1)
				w.mu.Lock()
				if err != nil {
					fmt.Fprintf(w.a.stderr, "\r\033[Kunblock: %s: %s\n", path, oneLine(err))
				} else {
					reports = append(reports, rep)
					w.report(rep)
				}
				if w.progress {
					fmt.Fprintf(w.a.stderr, "\rround %d: %d/%d cases\033[K", round, n, len(targets))
				}
				w.mu.Unlock()
			}
		})
	}
	for _, p := range targets {
		if ctx.Err() != nil {
			break
		}
		next <- p
	}
	close(next)
	wg.Wait()
	if w.progress {
		fmt.Fprint(w.a.stderr, "\r\033[K")
	}
	for _, r := range reports {
		worse = worse || r.Worse()
		better = better || r.Better()
	}
	return worse, better, nil
}

// watchOne watches one case under its lock; an IP this machine cannot send from turns
// the probe off for that case, not the blocklists.
func (w *watcher) watchOne(ctx context.Context, path string, o casefile.WatchOptions, unbindable *sync.Map) (casefile.WatchReport, error) {
	var rep casefile.WatchReport
	_, err := w.s.Edit(path, func(c *casefile.Case) error {
		co := o
		if ip, err := netip.ParseAddr(c.IP()); err == nil {
			if err := probe.CanBind(ip); err != nil {
				co.Probe = false
				if _, seen := unbindable.LoadOrStore(ip, true); !seen {
					w.mu.Lock()
					fmt.Fprintf(w.a.stderr, "\r\033[Kunblock: not probing from %s: %s\n", ip, oneLine(err))
					w.mu.Unlock()
				}
			}
		}
		rep = c.Watch(ctx, co)
		return nil
	})
	if err != nil {
		return rep, err
	}
	for _, ch := range rep.Changes {
		w.notify(ctx, ch)
	}
	return rep, nil
}

// report prints what changed in one case (called with w.mu held).
func (w *watcher) report(rep casefile.WatchReport) {
	if len(rep.Changes) == 0 {
		return
	}
	if w.progress {
		fmt.Fprint(w.a.stderr, "\r\033[K")
	}
	printChanges(w.a.stdout, rep)
}

// notify runs --notify with one change as JSON on standard input. A failing command is
// reported and does not stop the watch.
func (w *watcher) notify(ctx context.Context, ch casefile.StateChange) {
	if w.f.notify == "" {
		return
	}
	data, err := json.Marshal(ch)
	if err != nil {
		return
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", w.f.notify)
	cmd.Stdin = bytes.NewReader(append(data, '\n'))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		w.mu.Lock()
		fmt.Fprintf(w.a.stderr, "\r\033[Kunblock: --notify failed for %s (%s): %s\n", ch.Case, oneLine(err), sanitize.Line(string(bytes.TrimSpace(out.Bytes()))))
		w.mu.Unlock()
	}
}

// isTerminal reports whether w is a terminal, where progress is shown in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
