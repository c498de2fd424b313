// Package checks proves the sender's side with live DNS and SMTP checks. Each check is a
// small function registered under its id (spf, dkim, dmarc, ptr …); Run starts them all at
// once over one shared resolver and streams each Result as it settles.
//
// The protocol knowledge lives in sub-packages (checks/spf, checks/dmarc …) that parse,
// look up and evaluate; the files here turn their verdicts into a Result a person reads.
package checks

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/checks/resolver"
)

// Status is a check's verdict.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	// Error means the check could not be made (a DNS timeout, port 25 blocked). It is
	// never shown or counted as a failure, and never as "missing".
	Error Status = "error"
	Skip  Status = "skip"
)

// Result is one check's outcome, as the JSON contract of DESIGN.md spells it.
type Result struct {
	ID       string         `json:"id"`
	Status   Status         `json:"status"`
	Summary  string         `json:"summary"`
	Fix      string         `json:"fix,omitempty"`
	Duration time.Duration  `json:"-"`
	Details  map[string]any `json:"details,omitempty"`
}

// Target is what the checks are about.
type Target struct {
	IP              netip.Addr `json:"ip,omitzero"`
	Domain          string     `json:"domain,omitempty"`          // the sending (MAIL FROM or From) domain
	EnvelopeSender  string     `json:"envelope_sender,omitempty"` // MAIL FROM address, when known
	HELO            string     `json:"helo,omitempty"`
	Selectors       []string   `json:"selectors,omitempty"` // DKIM selectors
	RecipientDomain string     `json:"recipient_domain,omitempty"`
	SMTPHost        string     `json:"smtp_host,omitempty"` // host to probe for STARTTLS instead of the MX
}

// Env is what every check gets: the shared resolver and the run's settings.
type Env struct {
	Resolver *resolver.Resolver
	// SMTPPort is the port SMTP probes use (25; tests point it at a loopback server).
	SMTPPort int
	// SMTPReplyTimeout bounds each SMTP host's wait for its greeting and each reply
	// (0: smtpprobe.DefaultReplyTimeout), so a silent host ends its own check.
	SMTPReplyTimeout time.Duration
	// Now is the clock (tests fix it).
	Now func() time.Time
}

// Check is one registered check.
type Check struct {
	ID string
	// Applies says whether the target has what the check needs; a check that does not
	// apply is reported as skip with Why.
	Applies func(Target) (ok bool, why string)
	Run     func(ctx context.Context, env *Env, t Target) Result
}

var registry []Check

// register adds a check; called from each check's file in init, in the order the table
// of DESIGN.md lists them.
func register(c Check) { registry = append(registry, c) }

// IDs returns the ids of all registered checks.
func IDs() []string {
	out := make([]string, len(registry))
	for i, c := range registry {
		out[i] = c.ID
	}
	return out
}

// Run starts every check not in skip at once and sends each Result on the returned
// channel as it finishes; the channel closes when all are done. The run is bounded by
// ctx: a check still waiting when ctx ends reports error, never fail, and one that has
// not returned RunGrace after it is reported as error without waiting for it.
func Run(ctx context.Context, env *Env, t Target, skip map[string]bool) <-chan Result {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.SMTPPort == 0 {
		env.SMTPPort = 25
	}
	t = t.ALabels()
	out := make(chan Result, len(registry))
	pending := 0
	waiting := map[string]bool{} // touched only before the collector starts, then by it
	done := make(chan Result, len(registry))
	for _, c := range registry {
		if skip[c.ID] {
			out <- Result{ID: c.ID, Status: Skip, Summary: "skipped on request"}
			continue
		}
		if c.Applies != nil {
			if ok, why := c.Applies(t); !ok {
				out <- Result{ID: c.ID, Status: Skip, Summary: why}
				continue
			}
		}
		pending++
		waiting[c.ID] = true
		go func(c Check) {
			start := time.Now()
			r := c.Run(ctx, env, t)
			r.ID = c.ID
			r.Duration = time.Since(start)
			if ctx.Err() != nil && r.Status == Fail {
				// A verdict reached after the deadline cannot be trusted to be complete.
				r.Status = Error
			}
			done <- r
		}(c)
	}
	go func() {
		defer close(out)
		ctxDone := ctx.Done()
		var late <-chan time.Time
		for pending > 0 {
			select {
			case r := <-done:
				pending--
				waiting[r.ID] = false
				out <- r
			case <-ctxDone:
				// Checks get a moment to report their own error (it says more than
				// ours), then the run ends whatever they do: the deadline holds.
				ctxDone, late = nil, time.After(RunGrace)
			case <-late:
				for _, c := range registry {
					if waiting[c.ID] {
						out <- Result{ID: c.ID, Status: Error, Summary: "no result before the run's deadline"}
					}
				}
				return
			}
		}
	}()
	return out
}

// RunGrace is how long Run waits past its deadline for checks to report.
const RunGrace = 250 * time.Millisecond

// Worst returns the most serious status among results: fail, then error, warn, pass.
func Worst(results []Result) Status {
	rank := map[Status]int{Skip: 0, Pass: 1, Warn: 2, Error: 3, Fail: 4}
	w := Skip
	for _, r := range results {
		if rank[r.Status] > rank[w] {
			w = r.Status
		}
	}
	return w
}

// ALabels returns the target with internationalized domain names in their A-label form
// (xn--…), the form on the wire and in DNS (RFC 5890; RFC 9989 §4.10 and RFC 7208 §4.3
// look up A-labels). Names that are ASCII already, or that do not convert, are left as
// given for the checks to report.
func (t Target) ALabels() Target {
	conv := func(name string) string {
		for i := 0; i < len(name); i++ {
			if name[i] >= 0x80 {
				if a, err := resolver.Normalize(name); err == nil {
					return a
				}
				return name
			}
		}
		return name
	}
	t.Domain = conv(t.Domain)
	t.RecipientDomain = conv(t.RecipientDomain)
	t.HELO = conv(t.HELO)
	t.SMTPHost = conv(t.SMTPHost)
	if i := strings.LastIndexByte(t.EnvelopeSender, '@'); i >= 0 {
		t.EnvelopeSender = t.EnvelopeSender[:i+1] + conv(t.EnvelopeSender[i+1:])
	}
	return t
}
