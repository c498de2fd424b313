package checks

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

// benchMaxInFlight is the bound on lookups in flight every run uses: the blocklist check
// alone asks 33 names at once (11 zones, each with its two test entries and the query).
const benchMaxInFlight = resolver.DefaultMaxInFlight

// benchDelay is what the loopback server waits before every answer: a far resolver.
const benchDelay = 50 * time.Millisecond

// benchDepth is the longest chain of lookups in benchZone where each needs the answer of
// the one before: the SPF record of shop.test → its include _spf.esp.test → that one's
// include _nb1.esp.test (the mx term's MX → address is only two deep; PTR → address,
// MX → address and the DMARC walk → a report destination are two). Every other lookup
// of every check can start at once with one of these.
const benchDepth = 3

// benchZone is a realistic sender: an MX, an ESP include two levels deep, a DKIM selector
// delegated to the ESP, DMARC with an external report destination, PTR and HELO that
// agree, and a recipient domain behind a filtering provider.
const benchZone = `
shop.test.                      TXT "v=spf1 mx include:_spf.esp.test ip4:192.0.2.0/28 -all"
shop.test.                      MX 10 mx1.shop.test.
shop.test.                      MX 20 mx2.shop.test.
shop.test.                      A 127.0.0.1
mx1.shop.test.                  A 127.0.0.1
mx2.shop.test.                  A 127.0.0.1
mail.shop.test.                 A 192.0.2.10
mail.shop.test.                 TXT "v=spf1 a -all"
10.2.0.192.in-addr.arpa.        PTR mail.shop.test.
_spf.esp.test.                  TXT "v=spf1 include:_nb1.esp.test include:_nb2.esp.test ~all"
_nb1.esp.test.                  TXT "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:1::/48 ~all"
_nb2.esp.test.                  TXT "v=spf1 ip4:203.0.113.0/24 ~all"
s1._domainkey.shop.test.        CNAME s1.domainkey.u9.wl.esp.test.
s1.domainkey.u9.wl.esp.test.    TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
_dmarc.shop.test.               TXT "v=DMARC1; p=quarantine; rua=mailto:agg@reports.esp.test"
shop.test._report._dmarc.reports.esp.test. TXT "v=DMARC1"
customer.test.                  MX 10 mx0a-00069f02.pphosted.test.
mx0a-00069f02.pphosted.test.    A 127.0.0.1
`

// closedPort returns a loopback port nobody listens on, so SMTP probes end at once.
func benchClosedPort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func benchRun(b *testing.B, srv *dnstest.Server, maxInFlight, port int) (time.Duration, *resolver.Resolver) {
	res, err := resolver.New(resolver.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, MaxInFlight: maxInFlight})
	if err != nil {
		b.Fatal(err)
	}
	env := &Env{Resolver: res, SMTPPort: port, Now: time.Now}
	t := Target{IP: netip.MustParseAddr("192.0.2.10"), Domain: "shop.test", EnvelopeSender: "bounce@shop.test",
		HELO: "mail.shop.test", Selectors: []string{"s1"}, RecipientDomain: "customer.test"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	n := 0
	for r := range Run(ctx, env, t, nil) {
		n++
		if r.Status == Fail && r.ID != "starttls" {
			b.Logf("%s: %s %s", r.ID, r.Status, r.Summary)
		}
	}
	if n != len(IDs()) {
		b.Fatalf("%d results for %d checks", n, len(IDs()))
	}
	return time.Since(start), res
}

// BenchmarkChecksConcurrent runs every registered check for a realistic target against a
// server that delays each answer by 50 ms. The run must finish within (benchDepth + 1) ×
// 50 ms; the note reports the ratio to the same lookups made one at a time and the most
// lookups that were in flight at once.
func BenchmarkChecksConcurrent(b *testing.B) {
	srv, err := dnstest.New(benchZone)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.SetDelay(benchDelay)
	port := benchClosedPort(b)

	// The same lookups one at a time: one query in flight.
	before := srv.Total()
	serial, _ := benchRun(b, srv, 1, port)
	queries := srv.Total() - before

	bound := time.Duration(benchDepth+1) * benchDelay
	var total time.Duration
	var maxInFlight int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, res := benchRun(b, srv, benchMaxInFlight, port)
		total += d
		if _, m := res.Stats(); m > maxInFlight {
			maxInFlight = m
		}
	}
	b.StopTimer()
	mean := total / time.Duration(b.N)
	b.ReportMetric(float64(mean.Milliseconds()), "ms/run")
	b.ReportMetric(float64(bound.Milliseconds()), "bound-ms")
	b.ReportMetric(float64(serial.Milliseconds()), "serial-ms")
	b.ReportMetric(float64(serial)/float64(mean), "speedup")
	b.ReportMetric(float64(queries), "queries")
	b.ReportMetric(float64(maxInFlight), "max-in-flight")
	b.Logf("%d checks, %d queries: %v a run (bound %v), %v one at a time, %.1fx; at most %d in flight (limit %d)",
		len(IDs()), queries, mean, bound, serial, float64(serial)/float64(mean), maxInFlight, benchMaxInFlight)
	if mean > bound {
		b.Errorf("a run took %v, over the bound of (%d + 1) × %v = %v", mean, benchDepth, benchDelay, bound)
	}
	if maxInFlight > benchMaxInFlight {
		b.Errorf("%d lookups in flight, over the bound of %d", maxInFlight, benchMaxInFlight)
	}
}
