package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/probe/probetest"
)

// manyStore is a store of n open cases, each from its own loopback IP (127.1.x.y), blocked
// at one of `domains` recipient domains (at most ten) whose MX hosts (127.0.0.40-49)
// answer after latency, as does the DNS server.
type manyStore struct {
	dir     string
	dns     *dnstest.Server
	servers []*probetest.Server
}

func newManyStore(tb testing.TB, n, domains int, latency time.Duration) *manyStore {
	tb.Helper()
	var zone strings.Builder
	var addrs, hosts []string
	for k := range domains {
		fmt.Fprintf(&zone, "d%d.example. 300 IN MX 10 mx%d.d%d.example.\nmx%d.d%d.example. 300 IN A 127.0.0.%d\n", k, k, k, k, k, 40+k)
		addrs = append(addrs, fmt.Sprintf("127.0.0.%d", 40+k))
		hosts = append(hosts, fmt.Sprintf("mx%d.d%d.example", k, k))
	}
	m := &manyStore{dir: filepath.Join(tb.TempDir(), "cases")}
	m.dns = dnstest.Start(tb, zone.String())
	set, err := probetest.StartSet(addrs, hosts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		for _, s := range set {
			s.Close()
		}
	})
	m.servers = set
	s, err := casefile.Open(m.dir)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		ip := netip.AddrFrom4([4]byte{127, 1, byte(i / 250), byte(i%250 + 1)}).String()
		d := fmt.Sprintf("d%d.example", i%domains)
		c := &casefile.Case{Role: casefile.Sender, Provider: "proofpoint", Mode: triage.HardBlock, Status: casefile.StatusOpen}
		c.Identifiers.IPs = []string{ip}
		c.Identifiers.HELO = "mail.example.com"
		c.Identifiers.EnvelopeSender = "bounces@example.com"
		c.Add([]triage.Finding{{
			Mode: triage.HardBlock, Provider: "proofpoint", IP: ip, ReplyCode: 554, EnhancedCode: "5.7.0",
			Recipient: "ann@" + d, RecipientDomain: d, At: time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC),
			Text: "554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=" + ip,
		}}, time.Date(2026, 12, 2, 13, 5, 0, 0, time.UTC))
		if err := s.Create(c, true); err != nil {
			tb.Fatal(err)
		}
		if i%2 == 0 {
			for _, srv := range set {
				srv.Block(netip.MustParseAddr(ip))
			}
		}
	}
	m.dns.SetDelay(latency)
	for _, srv := range set {
		srv.SetLatency(latency)
	}
	return m
}

// watchOnce runs "unblock watch --once" as a user would, at the given time.
func (m *manyStore) watchOnce(tb testing.TB, at time.Time) (int, string, string) {
	tb.Setenv("UNBLOCK_NOW", at.Format(time.RFC3339))
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"watch", "--once", "--dir", m.dir, "--resolver", m.dns.Addr,
		"--port", fmt.Sprint(m.servers[0].Port()), "--timeout", "5s"}, strings.NewReader(""), &out, &errs)
	return code, out.String(), errs.String()
}

func (m *manyStore) probes() int {
	n := 0
	for _, s := range m.servers {
		n += s.Commands("MAIL") // one MAIL FROM per probe
	}
	return n
}

// TestWatchManyCases is the small version of BenchmarkWatch1000: 48 cases at two
// recipient domains, 50 ms of latency on every DNS answer and every SMTP reply, well within
// a bound, and no host asked more than probesPerHost conversations at once.
func TestWatchManyCases(t *testing.T) {
	m := newManyStore(t, 48, 2, 50*time.Millisecond)
	start := time.Now()
	code, out, errs := m.watchOnce(t, time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC))
	took := time.Since(start)
	if code != 3 {
		t.Fatalf("exit %d, want 3 (half the cases are accepted now)\n%s", code, errs)
	}
	if n := strings.Count(out, "the block lifted"); n != 24 {
		t.Errorf("%d lifted, want 24", n)
	}
	if p := m.probes(); p != 48 {
		t.Errorf("%d probes, want one per case", p)
	}
	for _, s := range m.servers {
		if s.Commands("DATA") != 0 {
			t.Fatal("DATA was sent")
		}
		// Probes are spread per host: 24 cases each, all watched at once, and no host gets
		// more than probesPerHost conversations at once (but does get that many).
		if s.MaxOpen() != probesPerHost {
			t.Errorf("%s had up to %d conversations at once, want %d", s.Host, s.MaxOpen(), probesPerHost)
		}
	}
	if took > 15*time.Second {
		t.Errorf("48 cases took %s", took)
	}
	t.Logf("48 cases in %s", took)
}

// BenchmarkWatch1000: "unblock watch --once" over 1,000 open cases against a loopback
// resolver and mail servers that answer after 50 ms; it must finish within a minute.
func BenchmarkWatch1000(b *testing.B) {
	m := newManyStore(b, 1000, 10, 50*time.Millisecond)
	at := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		code, _, errs := m.watchOnce(b, at)
		took := time.Since(start)
		if code != 0 && code != 3 {
			b.Fatalf("exit %d\n%s", code, errs)
		}
		if took > time.Minute {
			b.Errorf("1,000 cases took %s", took)
		}
		b.ReportMetric(took.Seconds(), "s/round")
		at = at.Add(16 * time.Minute) // past the probe interval: every case is probed again
	}
	b.ReportMetric(float64(m.probes())/float64(b.N), "probes/round")
}
