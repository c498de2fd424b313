package casefile

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks/dnsbl"
	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/probe/probetest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

const watchZone = `
customer.example.     300 IN MX 10 mx1.customer.example.
mx1.customer.example. 300 IN A 127.0.0.20
2.0.0.127.bl.test.    300 IN A 127.0.0.2
5.0.0.127.bl.test.    300 IN A 127.0.0.2
`

const testZones = `zones:
  - zone: bl.test
    name: Test list
    kind: ip
    weight: 3
    codes:
      127.0.0.2: {meaning: "listed for testing"}
`

var watchIP = netip.MustParseAddr("127.0.0.5")

type watchFixture struct {
	store *Store
	mx    *probetest.Server
	dns   *dnstest.Server
	clock time.Time
	opts  WatchOptions
}

func newWatchFixture(t *testing.T) *watchFixture {
	t.Helper()
	f := &watchFixture{store: testStore(t), clock: t0}
	f.dns = dnstest.Start(t, watchZone)
	mx, err := probetest.Start("127.0.0.20:0", "mx1.customer.example")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mx.Close)
	mx.Block(watchIP)
	f.mx = mx
	zones, err := dnsbl.ParseZones([]byte(testZones))
	if err != nil {
		t.Fatal(err)
	}
	log, err := f.store.ProbeLog(0)
	if err != nil {
		t.Fatal(err)
	}
	f.opts = WatchOptions{Port: mx.Port(), HostTimeout: 2 * time.Second, Log: log, Now: func() time.Time { return f.clock },
		Probe: true, Blocklists: true, Zones: zones}
	return f
}

// watch runs one watch with a fresh resolver (a new run asks DNS afresh) and saves.
func (f *watchFixture) watch(t *testing.T, c *Case) WatchReport {
	t.Helper()
	r, err := resolver.New(resolver.Config{Servers: []string{f.dns.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	f.opts.Resolver = r
	rep := c.Watch(context.Background(), f.opts)
	if err := f.store.Save(c); err != nil {
		t.Fatal(err)
	}
	return rep
}

func blockedCase(t *testing.T, s *Store) *Case {
	t.Helper()
	c := &Case{Role: Sender, Provider: "proofpoint", Mode: triage.HardBlock}
	c.Identifiers.IPs = []string{watchIP.String()}
	c.Identifiers.HELO = "mail.example.com"
	c.Identifiers.EnvelopeSender = "bounces@example.com"
	f := pdrFinding(0, t0.Add(-2*time.Hour))
	f.IP, f.Text = watchIP.String(), "550 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=127.0.0.5"
	c.Add([]triage.Finding{f}, t0.Add(-time.Hour))
	if err := s.Create(c, false); err != nil {
		t.Fatal(err)
	}
	return c
}

func count(c *Case, kind EventKind, what string) int {
	n := 0
	for _, e := range c.Timeline {
		if e.Kind == kind && (what == "" || strings.HasPrefix(e.What, what)) {
			n++
		}
	}
	return n
}

func TestWatchFromRefusedToLifted(t *testing.T) {
	f := newWatchFixture(t)
	c := blockedCase(t, f.store)

	// 1. Refused, as the failure said: a probe event, no probe change; the list is news.
	rep := f.watch(t, c)
	if len(rep.Probes) != 1 || rep.Probes[0].Reply == "" || !strings.HasPrefix(rep.Probes[0].Reply, "554 5.7.0 Blocked") {
		t.Fatalf("probes = %+v notes %v", rep.Probes, rep.Notes)
	}
	if !rep.Worse() || rep.Better() || rep.Lifted || len(rep.Changes) != 1 || rep.Changes[0].What != "dnsbl bl.test" || rep.Changes[0].To != "listed" {
		t.Fatalf("changes = %+v", rep.Changes)
	}
	p := c.Probes(time.Time{})
	if len(p) != 1 || p[0].Stage != "mail" || p[0].ReplyCode != 554 || p[0].Provider != "proofpoint" || p[0].FromIP != "127.0.0.5" || p[0].MX != "mx1.customer.example" {
		t.Fatalf("probe event = %+v", p)
	}

	// 2. Five minutes later: the rate limit holds, nothing is asked of the server.
	conns := f.mx.Connections()
	f.clock = f.clock.Add(5 * time.Minute)
	rep = f.watch(t, c)
	if f.mx.Connections() != conns || len(rep.Changes) != 0 || len(c.Probes(time.Time{})) != 1 {
		t.Fatalf("rate limit: %d connections (was %d), changes %+v", f.mx.Connections(), conns, rep.Changes)
	}
	// Remembered across runs: another program (a new log on the same store) is held too.
	log2, _ := f.store.ProbeLog(0)
	if ok, last, err := log2.Reserve("127.0.0.5", "mx1.customer.example", f.clock); ok || err != nil || !last.Equal(t0) {
		t.Fatalf("a second program could probe again: ok=%v last=%v err=%v", ok, last, err)
	}

	// 3. Refused again after the interval: one event with counts, no change.
	f.clock = t0.Add(16 * time.Minute)
	rep = f.watch(t, c)
	if len(rep.Changes) != 0 || len(c.Probes(time.Time{})) != 1 || c.Probes(time.Time{})[0].AttemptCount() != 2 {
		t.Fatalf("same refusal again: changes %+v probes %+v", rep.Changes, c.Probes(time.Time{}))
	}

	// 4. The server accepts now, but the list still lists the IP: better, not lifted.
	f.mx.Unblock(watchIP)
	f.clock = t0.Add(32 * time.Minute)
	rep = f.watch(t, c)
	if !rep.Better() || rep.Worse() || rep.Lifted || len(rep.Changes) != 1 || rep.Changes[0].From != "refused" || rep.Changes[0].To != "accepted" {
		t.Fatalf("accepted while listed: %+v", rep.Changes)
	}

	// 5. The list cannot be read: named, but it does not hold the lift back.
	f.dns.ServFail("5.0.0.127.bl.test.")
	f.clock = t0.Add(48 * time.Minute)
	rep = f.watch(t, c)
	if !rep.Lifted || !rep.LiftedAt.Equal(t0.Add(32*time.Minute)) || len(rep.Unread) != 1 || rep.Unread[0] != "bl.test" {
		t.Fatalf("lifted=%v at %v unread %v changes %+v", rep.Lifted, rep.LiftedAt, rep.Unread, rep.Changes)
	}

	// 6. Nothing new: nothing recorded again.
	f.clock = t0.Add(64 * time.Minute)
	rep = f.watch(t, c)
	if len(rep.Changes) != 0 || rep.Lifted {
		t.Fatalf("a second lift: %+v", rep.Changes)
	}
	loaded, err := Load(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	if n := count(loaded, KindState, "block"); n != 1 {
		t.Errorf("%d lifted events, want 1", n)
	}
	if n := count(loaded, KindState, "probe"); n != 1 {
		t.Errorf("%d probe state events, want 1", n)
	}
	if n := count(loaded, KindState, "dnsbl"); n != 1 {
		t.Errorf("%d list state events, want 1", n)
	}
	if ps := loaded.Probes(time.Time{}); len(ps) != 2 || ps[1].Mode != "" || ps[1].ReplyCode != 250 || ps[1].AttemptCount() != 3 {
		t.Errorf("probe events = %+v, want 2 (refused ×2, accepted ×3, the acceptance without a failure mode)", ps)
	}
	if f.mx.Data() != 0 || f.mx.Commands("DATA") != 0 {
		t.Errorf("DATA was sent")
	}
	s := loaded.ProbeStanding(t0.Add(-time.Hour))
	if !strings.Contains(s, "has been accepted at RCPT TO since 2026-11-22 10:02 UTC") || !strings.Contains(s, "only about the IP it ran from") {
		t.Errorf("standing = %q", s)
	}
	data, _ := os.ReadFile(filepath.Join(f.store.Dir(), probeLogName))
	if !strings.Contains(string(data), "127.0.0.5 mx1.customer.example") {
		t.Errorf("probe log = %s", data)
	}
}

func TestProbeStandingStillRefused(t *testing.T) {
	f := newWatchFixture(t)
	c := blockedCase(t, f.store)
	f.opts.Blocklists = false
	f.watch(t, c)
	s := c.ProbeStanding(t0.Add(-time.Minute))
	want := "A probe from 127.0.0.5 to mx1.customer.example (customer.example) at 2026-11-22 09:30 UTC was still refused at MAIL with: 554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=127.0.0.5"
	if !strings.HasPrefix(s, want) {
		t.Errorf("standing =\n%q\nwant\n%q", s, want)
	}
	if c.ProbeStanding(t0.Add(time.Minute)) != "" {
		t.Errorf("a probe before the last message was counted")
	}
	// The update message counts the probe made since the last message sent.
	c.MarkSent(Message{Kind: "ipcheck-request", At: t0.Add(-time.Minute), Subject: "s", Text: "t"}, t0.Add(-time.Minute))
	m, err := Render(c, "update", RenderOptions{Now: t0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if flat := strings.Join(strings.Fields(m.Text), " "); !strings.Contains(flat, "was still refused at MAIL with: 554 5.7.0 Blocked") {
		t.Errorf("update without the probe:\n%s", m.Text)
	}
}

func TestProbePlanNamesWhatIsMissing(t *testing.T) {
	c := &Case{ID: "x"}
	if _, _, err := c.ProbePlan(); err == nil || !strings.Contains(err.Error(), "--ip") {
		t.Errorf("no IP: %v", err)
	}
	c.Identifiers.IPs = []string{"127.0.0.5"}
	if _, _, err := c.ProbePlan(); err == nil || !strings.Contains(err.Error(), "--helo") {
		t.Errorf("no HELO: %v", err)
	}
	c.Identifiers.HELO = "mail.example.com"
	if _, _, err := c.ProbePlan(); err == nil || !strings.Contains(err.Error(), "--envelope-sender") {
		t.Errorf("no sender: %v", err)
	}
	c.Identifiers.EnvelopeSender = "a@example.com"
	c.Identifiers.RecipientDomains = []string{"other.example"}
	_, ts, err := c.ProbePlan()
	if err != nil || len(ts) != 1 || ts[0].Skip == "" {
		t.Errorf("a domain without a recipient: %+v %v", ts, err)
	}
}

func TestProbeIntervalFloor(t *testing.T) {
	s := testStore(t)
	if _, err := s.ProbeLog(4 * time.Minute); err == nil {
		t.Error("an interval below five minutes was accepted")
	}
	if l, err := s.ProbeLog(5 * time.Minute); err != nil || l.Interval() != 5*time.Minute {
		t.Errorf("five minutes: %v", err)
	}
}
