package tui

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/probe/probetest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

// TestOverviewProbeNow: o on the overview probes the recipient's MX from the case's IP (a
// loopback server that refuses it, then accepts it), and the overview shows the history.
func TestOverviewProbeNow(t *testing.T) {
	st := testStore(t)
	ip := netip.MustParseAddr("127.0.0.8")
	dns := dnstest.Start(t, "customer.example. 300 IN MX 10 mx1.customer.example.\nmx1.customer.example. 300 IN A 127.0.0.32\n")
	mx, err := probetest.Start("127.0.0.32:0", "mx1.customer.example")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mx.Close)
	mx.Block(ip)

	c := &casefile.Case{Role: casefile.Sender, Provider: "proofpoint", Mode: triage.HardBlock, Title: "PDR block"}
	c.Identifiers.IPs = []string{ip.String()}
	c.Identifiers.HELO = "mail.example.com"
	c.Identifiers.EnvelopeSender = "bounces@example.com"
	c.Add([]triage.Finding{{Mode: triage.HardBlock, Provider: "proofpoint", IP: ip.String(), ReplyCode: 554, EnhancedCode: "5.7.0",
		Recipient: "ann@customer.example", RecipientDomain: "customer.example", At: fixedNow.Add(-time.Hour),
		Text: "554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=127.0.0.8"}}, fixedNow.Add(-time.Hour))
	if err := st.Create(c, false); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	now := fixedNow
	tick := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	opts, _ := testOptions(t, st)
	opts.Case, opts.Now = c.ID, tick
	opts.CheckEnv = func() (*checks.Env, error) {
		r, err := resolver.New(resolver.Config{Servers: []string{dns.Addr}})
		return &checks.Env{Resolver: r, SMTPPort: mx.Port(), Now: tick}, err
	}
	d := newDriver(t, opts, 120, 40)
	d.waitText("Timeline")
	if strings.Contains(d.screen(), "Probes") || !strings.Contains(d.screen(), "o probe now") {
		t.Fatalf("before any probe: no history, the key in the help:\n%s", d.screen())
	}
	d.keys("o")
	d.waitText("refused at MAIL")
	if !strings.Contains(d.screen(), "127.0.0.8 → mx1.customer.example") {
		t.Errorf("the probe is not in the overview:\n%s", d.screen())
	}

	mx.Unblock(ip)
	mu.Lock()
	now = now.Add(16 * time.Minute)
	mu.Unlock()
	d.keys("o")
	d.waitText("the block lifted at 2026-11-20 09:46 UTC")
	d.waitText("block: refused → lifted")
	d.until("the case saved", func() bool {
		saved, err := casefile.Load(st.PathOf(c.ID))
		return err == nil && len(saved.States(time.Time{})) == 2
	})
	if mx.Commands("DATA") != 0 {
		t.Error("DATA was sent")
	}
}

// TestOverviewProbeNotHeld: o when this machine does not hold the case's IP probes
// nothing, and the status line says so with a warning mark, not a tick.
func TestOverviewProbeNotHeld(t *testing.T) {
	st := testStore(t)
	dns := dnstest.Start(t, "customer.example. 300 IN MX 10 mx1.customer.example.\nmx1.customer.example. 300 IN A 127.0.0.33\n")
	c := &casefile.Case{Role: casefile.Sender, Provider: "proofpoint", Mode: triage.HardBlock, Title: "PDR block"}
	c.Identifiers.IPs = []string{"192.0.2.225"} // TEST-NET: no interface here holds it
	c.Identifiers.HELO = "mail.example.com"
	c.Identifiers.EnvelopeSender = "bounces@example.com"
	c.Add([]triage.Finding{{Mode: triage.HardBlock, Provider: "proofpoint", IP: "192.0.2.225", ReplyCode: 554,
		Recipient: "ann@customer.example", RecipientDomain: "customer.example", At: fixedNow.Add(-time.Hour),
		Text: "554 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.225"}}, fixedNow.Add(-time.Hour))
	if err := st.Create(c, false); err != nil {
		t.Fatal(err)
	}
	opts, _ := testOptions(t, st)
	opts.Case = c.ID
	opts.CheckEnv = func() (*checks.Env, error) {
		r, err := resolver.New(resolver.Config{Servers: []string{dns.Addr}})
		return &checks.Env{Resolver: r, SMTPPort: 1, Now: clock}, err
	}
	d := newDriver(t, opts, 120, 40)
	d.waitText("Timeline")
	d.keys("o")
	d.waitText("not probed")
	screen := d.screen()
	if strings.Contains(screen, "✓ not probed") || !strings.Contains(screen, "! not probed") {
		t.Errorf("a probe that did not run is shown as a success:\n%s", screen)
	}
}
