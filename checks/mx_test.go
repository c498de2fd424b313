package checks

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/resolver"
)

const mxZone = `
good.example. MX 10 mx1.good.example.
good.example. MX 20 mx2.good.example.
mx1.good.example. A 192.0.2.10
mx2.good.example. AAAA 2001:db8::10
good.example. A 192.0.2.80

implicit.example. A 192.0.2.81
nothing.example. TXT "v=spf1 -all"
null.example. MX 0 .
half.example. MX 10 mx1.good.example.
half.example. MX 20 missing.half.example.
half.example. A 10.0.0.1
alias.example. MX 10 mail.alias.example.
mail.alias.example. CNAME mx1.good.example.
literal.example. MX 10 192.0.2.10.
dead.example. MX 10 missing.dead.example.
slow.example. MX 10 mx.slow.example.
broken.example. MX 10 mx1.good.example.
`

func TestMXCheck(t *testing.T) {
	env, s := liveEnv(t, mxZone)
	s.Hang("mx.slow.example")
	s.ServFail("servfail.example")
	s.Refuse("refused.example")
	for _, c := range []liveCase{
		{"two hosts", Target{Domain: "good.example"}, Pass, "every host resolves"},
		{"implicit", Target{Domain: "implicit.example"}, Warn, "implicit MX"},
		{"no mx no a", Target{Domain: "nothing.example"}, Fail, "no MX and no A/AAAA"},
		{"nxdomain", Target{Domain: "absent.example"}, Fail, "NXDOMAIN"},
		{"null mx", Target{Domain: "null.example"}, Fail, "null MX (RFC 7505)"},
		{"one missing", Target{Domain: "half.example"}, Warn, "1 of 2 MX hosts resolve"},
		{"cname", Target{Domain: "alias.example"}, Warn, "alias"},
		{"ip literal", Target{Domain: "literal.example"}, Fail, "IP address"},
		{"none resolve", Target{Domain: "dead.example"}, Fail, "no MX host resolves"},
		{"host hangs", Target{Domain: "slow.example"}, Error, "could not be resolved"},
		{"servfail", Target{Domain: "servfail.example"}, Error, "SERVFAIL"},
		{"refused", Target{Domain: "refused.example"}, Error, "REFUSED"},
		{"no domain", Target{IP: netip.MustParseAddr("192.0.2.1")}, Skip, "no sending domain"},
	} {
		c.check(t, env, "mx")
	}
}

func TestACheck(t *testing.T) {
	env, s := liveEnv(t, mxZone)
	s.ServFail("servfail.example")
	for _, c := range []liveCase{
		{"address", Target{Domain: "good.example"}, Pass, "resolves to 192.0.2.80"},
		{"private", Target{Domain: "half.example"}, Warn, "10.0.0.1"},
		{"mx only", Target{Domain: "alias.example"}, Pass, "its MX receives"},
		{"nothing", Target{Domain: "nothing.example"}, Fail, "neither"},
		{"null mx only", Target{Domain: "null.example"}, Fail, "neither"},
		{"nxdomain", Target{Domain: "absent.example"}, Fail, "does not exist"},
		{"servfail", Target{Domain: "servfail.example"}, Error, "SERVFAIL"},
		{"no domain", Target{IP: netip.MustParseAddr("192.0.2.1")}, Skip, "no sending domain"},
	} {
		c.check(t, env, "a")
	}
}

// TestLiveChecksHoldRunDeadline: with a DNS server that never answers and a resolver
// that would wait 5 s, every live check ends at the run's deadline with
// error, never fail.
func TestLiveChecksHoldRunDeadline(t *testing.T) {
	env, s := liveEnv(t, "")
	s.SetDelay(time.Second) // longer than the run, short enough for the server to shut down soon
	slow, err := resolver.New(resolver.Config{Servers: []string{s.Addr}, Timeout: 5 * time.Second, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	env.Resolver = slow
	ids := []string{"ptr", "fcrdns", "helo", "mx", "a", "dnsbl", "recipient", "starttls", "mta-sts", "tls-rpt"}
	skip := map[string]bool{}
	for _, id := range IDs() {
		skip[id] = !slices.Contains(ids, id)
	}
	tg := Target{IP: netip.MustParseAddr("192.0.2.1"), Domain: "shop.example", HELO: "mail.shop.example", RecipientDomain: "customer.example"}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	got := map[string]Result{}
	for r := range Run(ctx, env, tg, skip) {
		got[r.ID] = r
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("run took %v with a 300ms deadline", took)
	}
	for _, id := range ids {
		if r := got[id]; r.Status != Error {
			t.Errorf("%s: %s %q, want error", id, r.Status, r.Summary)
		}
	}
}

// TestMXAskAAndAAAATogether (issue 11 class 10; RFC 5321 §5.1 asks for the exchangers'
// addresses, both families): with every answer 150 ms late, the MX check costs two round
// trips (MX, then A and AAAA together), not three, and each question goes out once.
func TestMXAskAAndAAAATogether(t *testing.T) {
	env, s := liveEnv(t, mxZone)
	env.Resolver, _ = resolver.New(resolver.Config{Servers: []string{s.Addr}, Timeout: 2 * time.Second, Attempts: 1})
	const delay = 150 * time.Millisecond
	s.SetDelay(delay)
	start := time.Now()
	r := runLive(t, env, "mx", Target{Domain: "good.example"})
	took := time.Since(start)
	if r.Status != Pass {
		t.Fatalf("%s %q", r.Status, r.Summary)
	}
	if took >= 3*delay {
		t.Errorf("the MX check took %v: three round trips of %v, A and AAAA were asked one after the other", took, delay)
	}
	for _, q := range []string{"A", "AAAA"} {
		if n := s.Queries("mx1.good.example", q); n != 1 {
			t.Errorf("mx1.good.example %s asked %d times", q, n)
		}
	}
}
