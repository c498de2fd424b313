package checks

import (
	"context"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

// authEnv starts a loopback DNS server with zone and returns an Env over it.
func authEnv(t testing.TB, zone string) (*Env, *dnstest.Server) {
	t.Helper()
	s := dnstest.Start(t, zone)
	r, err := resolver.New(resolver.Config{Servers: []string{s.Addr}, Timeout: time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Resolver: r, SMTPPort: 1, Now: time.Now}, s
}

// runCheck runs one registered check through Run, with every other check skipped, so the
// runner's own rules (Applies, the deadline) apply.
func authRunCheck(t *testing.T, env *Env, id string, tg Target) Result {
	t.Helper()
	skip := map[string]bool{}
	for _, other := range IDs() {
		skip[other] = other != id
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for r := range Run(ctx, env, tg, skip) {
		if r.ID == id {
			authNoRawControl(t, r)
			return r
		}
	}
	t.Fatalf("check %q gave no result", id)
	return Result{}
}

// authNoRawControl fails when anything in a result, once marshalled, holds a control
// character other than newline: escape sequences from DNS must have been made visible.
func authNoRawControl(t *testing.T, r Result) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("%s: result does not marshal: %v", r.ID, err)
	}
	var back any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			for _, c := range x {
				if (c < 0x20 && c != '\n') || c == 0x7f || (c >= 0x80 && c < 0xa0) {
					t.Errorf("%s: raw control character %U in %q", r.ID, c, x)
					return
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(back)
}

type authCase struct {
	name   string
	target Target
	status Status
	want   string // in the summary
	fix    string // in the fix, when given
}

func (c authCase) run(t *testing.T, env *Env, id string) Result {
	t.Helper()
	r := authRunCheck(t, env, id, c.target)
	if r.Status != c.status || !strings.Contains(r.Summary, c.want) {
		t.Errorf("%s/%s: %s %q; want %s containing %q", id, c.name, r.Status, r.Summary, c.status, c.want)
	}
	if c.fix != "" && !strings.Contains(r.Fix, c.fix) {
		t.Errorf("%s/%s: fix %q, want it to contain %q", id, c.name, r.Fix, c.fix)
	}
	if r.Status == Fail && r.Fix == "" {
		t.Errorf("%s/%s: a failure without a fix", id, c.name)
	}
	return r
}

func TestRunStreamsAndSkips(t *testing.T) {
	env, _ := authEnv(t, authZone)
	tg := Target{IP: netip.MustParseAddr("192.0.2.10"), Domain: "good.test", HELO: "mail.good.test"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var ids []string
	// The MX resolves to loopback, where nothing listens on port 1: the probes end at once.
	for r := range Run(ctx, env, tg, map[string]bool{"dkim": true}) {
		ids = append(ids, r.ID)
		if r.ID == "dkim" && (r.Status != Skip || !strings.Contains(r.Summary, "skipped")) {
			t.Errorf("dkim not skipped: %+v", r)
		}
	}
	slices.Sort(ids)
	want := IDs()
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("results for %v, want one per registered check %v", ids, want)
	}
}

// TestRunDeadlineHolds: with a server that never answers, the run ends at its deadline and
// every check that needed DNS reports error, never fail.
func TestRunDeadlineHolds(t *testing.T) {
	env, srv := authEnv(t, authZone)
	for _, n := range []string{"good.test", "_dmarc.good.test", "_dmarc.test", "s1._domainkey.good.test", "mail.good.test", "10.2.0.192.in-addr.arpa"} {
		srv.Hang(n)
	}
	slow, err := resolver.New(resolver.Config{Servers: []string{srv.Addr}, Timeout: 5 * time.Second, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	env.Resolver = slow
	tg := Target{IP: netip.MustParseAddr("192.0.2.10"), Domain: "good.test", HELO: "mail.good.test", Selectors: []string{"s1"}}
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	start := time.Now()
	got := map[string]Result{}
	for r := range Run(ctx, env, tg, nil) {
		got[r.ID] = r
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("run took %v with a 400ms deadline", d)
	}
	for _, id := range []string{"spf", "dkim", "dmarc"} {
		if r := got[id]; r.Status != Error {
			t.Errorf("%s under a hanging server: %s %q, want error", id, r.Status, r.Summary)
		}
	}
	for id, r := range got {
		if r.Status == Fail {
			t.Errorf("%s failed after the deadline: %q", id, r.Summary)
		}
	}
}

func TestWorst(t *testing.T) {
	cases := []struct {
		in   []Status
		want Status
	}{
		{nil, Skip},
		{[]Status{Pass, Warn}, Warn},
		{[]Status{Warn, Error, Pass}, Error},
		{[]Status{Error, Fail, Skip}, Fail},
	}
	for _, c := range cases {
		var rs []Result
		for _, s := range c.in {
			rs = append(rs, Result{Status: s})
		}
		if got := Worst(rs); got != c.want {
			t.Errorf("Worst(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestRunDeadlineHoldsForStuckCheck: a check that ignores its context does not hold the run
// past the deadline and RunGrace; it is reported as error.
func TestRunDeadlineHoldsForStuckCheck(t *testing.T) {
	env, _ := authEnv(t, authZone)
	release := make(chan struct{})
	saved := registry
	t.Cleanup(func() { close(release); registry = saved })
	registry = []Check{
		{ID: "stuck", Run: func(context.Context, *Env, Target) Result { <-release; return Result{Status: Fail} }},
		{ID: "quick", Run: func(context.Context, *Env, Target) Result { return Result{Status: Pass, Summary: "ok"} }},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	got := map[string]Result{}
	for r := range Run(ctx, env, Target{Domain: "good.test"}, nil) {
		got[r.ID] = r
	}
	if d := time.Since(start); d > 100*time.Millisecond+RunGrace+time.Second {
		t.Errorf("run took %v", d)
	}
	if got["stuck"].Status != Error || got["quick"].Status != Pass {
		t.Errorf("results %+v", got)
	}
}
