package resolver_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

const zone = `
example.com.          TXT   "v=spf1 " "ip4:192.0.2.0/24 -all"
example.com.          MX    10 mx2.example.com.
example.com.          MX    5 mx1.example.com.
mx1.example.com.      A     192.0.2.10
mx1.example.com.      AAAA  2001:db8::10
alias.example.com.    CNAME mx1.example.com.
loop1.example.com.    CNAME loop2.example.com.
loop2.example.com.    CNAME loop1.example.com.
out.example.com.      CNAME target.example.net.
target.example.net.   A     198.51.100.7
deep.sub.example.com. A     192.0.2.99
hostile.example.com.  TXT   "v=spf1 \027[2J\027]52;c;aGk=\007 -all"
10.2.0.192.in-addr.arpa. PTR mx1.example.com.
`

func newResolver(t *testing.T, srv *dnstest.Server, cfg resolver.Config) *resolver.Resolver {
	t.Helper()
	cfg.Servers = []string{srv.Addr}
	r, err := resolver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAnswersAndAbsence(t *testing.T) {
	srv := dnstest.Start(t, zone)
	r := newResolver(t, srv, resolver.Config{})
	ctx := context.Background()

	txt, err := r.TXT(ctx, "Example.COM.")
	if err != nil || len(txt) != 1 || txt[0] != "v=spf1 ip4:192.0.2.0/24 -all" {
		t.Fatalf("TXT = %q, %v", txt, err)
	}
	mx, err := r.MX(ctx, "example.com")
	if err != nil || len(mx) != 2 || mx[0].Host != "mx1.example.com" || mx[0].Pref != 5 {
		t.Fatalf("MX = %+v, %v", mx, err)
	}
	ips, err := r.IPs(ctx, "alias.example.com")
	if err != nil || len(ips) != 2 {
		t.Fatalf("IPs via CNAME = %v, %v", ips, err)
	}
	ans, err := r.Query(ctx, "out.example.com", dns.TypeA)
	if err != nil || len(ans.CNAMEs) != 1 || ans.CNAMEs[0] != "target.example.net" {
		t.Fatalf("CNAME to another zone = %+v, %v", ans, err)
	}
	ptr, err := r.PTR(ctx, netip.MustParseAddr("192.0.2.10"))
	if err != nil || len(ptr) != 1 || ptr[0] != "mx1.example.com" {
		t.Fatalf("PTR = %v, %v", ptr, err)
	}

	_, err = r.TXT(ctx, "nothing.example.org")
	if resolver.KindOf(err) != resolver.NXDomain || !resolver.IsNotFound(err) {
		t.Errorf("missing name: %v (kind %v)", err, resolver.KindOf(err))
	}
	_, err = r.TXT(ctx, "mx1.example.com")
	if resolver.KindOf(err) != resolver.NoData || !resolver.IsNotFound(err) {
		t.Errorf("no TXT at existing name: %v", err)
	}
	_, err = r.A(ctx, "sub.example.com") // empty non-terminal: exists, no data
	if resolver.KindOf(err) != resolver.NoData {
		t.Errorf("empty non-terminal: %v", err)
	}
	_, err = r.A(ctx, "loop1.example.com")
	if resolver.KindOf(err) != resolver.Loop || resolver.IsNotFound(err) {
		t.Errorf("CNAME loop: %v", err)
	}
}

func TestFailuresAreNotAbsence(t *testing.T) {
	srv := dnstest.Start(t, zone)
	srv.ServFail("broken.example.com.")
	srv.Refuse("refused.example.com.")
	srv.Hang("slow.example.com.")
	r := newResolver(t, srv, resolver.Config{Timeout: 100 * time.Millisecond})
	ctx := context.Background()

	for name, want := range map[string]resolver.Kind{
		"broken.example.com":  resolver.ServFail,
		"refused.example.com": resolver.Refused,
		"slow.example.com":    resolver.Timeout,
	} {
		_, err := r.TXT(ctx, name)
		if resolver.KindOf(err) != want || resolver.IsNotFound(err) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
		var ne *net.DNSError
		if !errors.As(resolver.NetError(err), &ne) || ne.IsNotFound || !ne.IsTemporary {
			t.Errorf("%s: NetError = %#v", name, ne)
		}
	}
	if got := srv.Queries("slow.example.com", "TXT"); got != 2 {
		t.Errorf("timeout asked %d times, want 2 (one retry)", got)
	}
	var ne *net.DNSError
	_, err := r.TXT(ctx, "nothing.example.org")
	if !errors.As(resolver.NetError(err), &ne) || !ne.IsNotFound {
		t.Errorf("NXDOMAIN as net error: %#v", ne)
	}
}

func TestDeadlineHolds(t *testing.T) {
	srv := dnstest.Start(t, zone)
	srv.Hang("slow.example.com.")
	r := newResolver(t, srv, resolver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.TXT(ctx, "slow.example.com")
	if resolver.KindOf(err) != resolver.Timeout {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the run deadline did not hold: %v", d)
	}
}

func TestTruncatedAnswerUsesTCP(t *testing.T) {
	big := strings.Repeat("x", 250)
	var b strings.Builder
	b.WriteString("big.example.com. TXT")
	for i := 0; i < 260; i++ { // about 64 KB
		b.WriteString(` "` + big + `"`)
	}
	srv := dnstest.Start(t, zone+b.String()+"\n")
	r := newResolver(t, srv, resolver.Config{})
	txt, err := r.TXT(context.Background(), "big.example.com")
	if err != nil || len(txt) != 1 || len(txt[0]) != 260*250 {
		t.Fatalf("64 KB TXT: %d records, err %v", len(txt), err)
	}

	srv.TruncateUDP(true)
	r = newResolver(t, srv, resolver.Config{})
	txt, err = r.TXT(context.Background(), "example.com")
	if err != nil || len(txt) != 1 {
		t.Fatalf("TC bit: %q, %v", txt, err)
	}
}

func TestEscapesMadeVisible(t *testing.T) {
	srv := dnstest.Start(t, zone)
	r := newResolver(t, srv, resolver.Config{})
	txt, err := r.TXT(context.Background(), "hostile.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(txt[0], "\x1b\x07") || !strings.Contains(txt[0], "␛[2J") {
		t.Fatalf("TXT not sanitized: %q", txt[0])
	}
}

func TestAskedOnceAndBounded(t *testing.T) {
	srv := dnstest.Start(t, zone)
	srv.SetDelay(20 * time.Millisecond)
	r := newResolver(t, srv, resolver.Config{MaxInFlight: 4})
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); r.TXT(context.Background(), "example.com") }()
		go func(i int) {
			defer wg.Done()
			r.A(context.Background(), strings.Repeat("a", i%20+1)+".example.com")
		}(i)
	}
	wg.Wait()
	if n := srv.Queries("example.com", "TXT"); n != 1 {
		t.Errorf("example.com TXT asked %d times by 50 callers, want 1", n)
	}
	sent, most := r.Stats()
	if sent != 21 || most > 4 {
		t.Errorf("sent %d (want 21), most in flight %d (want ≤ 4)", sent, most)
	}
}

func TestServerAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1": "192.0.2.1:53", "192.0.2.1:5353": "192.0.2.1:5353",
		"2001:db8::1": "[2001:db8::1]:53", "[2001:db8::1]:53": "[2001:db8::1]:53",
		"dns.example": "dns.example:53",
	} {
		if got, err := resolver.ServerAddr(in); got != want || err != nil {
			t.Errorf("ServerAddr(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := resolver.ServerAddr("bad server"); err == nil {
		t.Error("a server with a space was accepted")
	}
}

func TestReverseName(t *testing.T) {
	if got := resolver.ReverseName(netip.MustParseAddr("192.0.2.25"), "zen.spamhaus.org"); got != "25.2.0.192.zen.spamhaus.org" {
		t.Error(got)
	}
	got := resolver.ReverseName(netip.MustParseAddr("2001:db8::1"), "zone.example.")
	if !strings.HasPrefix(got, "1.0.0.0.") || !strings.HasSuffix(got, "8.b.d.0.1.0.0.2.zone.example") || strings.Count(got, ".") != 33 {
		t.Error(got)
	}
}
