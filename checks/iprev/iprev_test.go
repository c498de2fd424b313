package iprev

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

const zone = `
1.2.0.192.in-addr.arpa. PTR mail.example.com.
mail.example.com. A 192.0.2.1
2.2.0.192.in-addr.arpa. PTR other.example.com.
other.example.com. A 192.0.2.99
3.2.0.192.in-addr.arpa. PTR gone.example.com.
4.2.0.192.in-addr.arpa. PTR broken.example.com.
2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR mail6.example.com.
mail6.example.com. AAAA 2001:db8::2
helo.example.com. A 192.0.2.1
elsewhere.example.com. A 198.51.100.7
`

func setup(t *testing.T) (*dnstest.Server, *resolver.Resolver) {
	s := dnstest.Start(t, zone)
	s.ServFail("broken.example.com")
	r, err := resolver.New(resolver.Config{Servers: []string{s.Addr}, Timeout: 300 * time.Millisecond, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

func TestLookup(t *testing.T) {
	_, r := setup(t)
	ctx := context.Background()
	cases := []struct {
		ip         string
		confirmed  bool
		conclusive bool
		ptrErr     resolver.Kind
	}{
		{"192.0.2.1", true, true, 0},
		{"192.0.2.2", false, true, 0},
		{"192.0.2.3", false, true, 0},
		{"192.0.2.4", false, false, 0},
		{"192.0.2.5", false, true, resolver.NXDomain},
		{"2001:db8::2", true, true, 0},
		{"::ffff:192.0.2.1", true, true, 0},
	}
	for _, c := range cases {
		res := Lookup(ctx, r, netip.MustParseAddr(c.ip))
		_, ok := res.Confirmed()
		if ok != c.confirmed || res.Conclusive() != c.conclusive || resolver.KindOf(res.Err) != c.ptrErr {
			t.Errorf("%s: confirmed %v conclusive %v err %v; want %v %v %v", c.ip, ok, res.Conclusive(), res.Err, c.confirmed, c.conclusive, c.ptrErr)
		}
	}
}

func TestGeneric(t *testing.T) {
	ip := netip.MustParseAddr("203.0.113.45")
	for _, c := range []struct {
		name    string
		generic bool
	}{
		{"mail.example.com", false},
		{"mx1.outbound.example.net", false},
		{"203-0-113-45.dsl.isp.example", true},
		{"45.113.0.203.broadband.example", true},
		{"host-113-45.isp.example", true},
		{"cb00712d.isp.example", true},
		{"dyn-customer.isp.example", true},
		{"dhcp.isp.example", true},
		{"pool-a.isp.example", true},
		{"cable7.isp.example", true},
		{"ppp12.isp.example", true},
		{"static-ip-nine.isp.example", true},
		{"smtp.dynamics.example", false}, // the operator's own domain is not judged
		{"o1.ptr1234.sendgrid.net", false},
	} {
		got, why := Generic(c.name, ip)
		if got != c.generic {
			t.Errorf("Generic(%s) = %v (%s), want %v", c.name, got, why, c.generic)
		}
		if got && why == "" {
			t.Errorf("Generic(%s) gives no reason", c.name)
		}
	}
}

func TestCheckHELO(t *testing.T) {
	_, r := setup(t)
	ctx := context.Background()
	ip := netip.MustParseAddr("192.0.2.1")
	rdns := Lookup(ctx, r, ip)
	cases := []struct {
		helo            string
		syntax          error
		toIP, matchRDNS bool
		notFound        bool
	}{
		{"mail.example.com", nil, true, true, false},
		{"MAIL.example.com.", nil, true, true, false},
		{"helo.example.com", nil, true, false, false},
		{"elsewhere.example.com", nil, false, false, false},
		{"nowhere.example.com", nil, false, false, true},
		{"localhost", ErrHELOLocalhost, false, false, false},
		{"localhost.localdomain", ErrHELOLocalhost, false, false, false},
		{"192.0.2.1", ErrHELOBareIP, false, false, false},
		{"[192.0.2.1]", ErrHELOLiteral, true, false, false},
		{"mailhost", ErrHELONotFQDN, false, false, false},
		{"bad..name.example", ErrHELONotFQDN, false, false, false},
	}
	for _, c := range cases {
		h := CheckHELO(ctx, r, c.helo, ip, rdns)
		if !errors.Is(h.Syntax, c.syntax) && !(c.syntax == nil && h.Syntax == nil) {
			t.Errorf("%s: syntax %v, want %v", c.helo, h.Syntax, c.syntax)
		}
		if h.ToIP != c.toIP || h.MatchRDNS != c.matchRDNS || resolver.IsNotFound(h.Err) != c.notFound {
			t.Errorf("%s: toIP %v rdns %v err %v", c.helo, h.ToIP, h.MatchRDNS, h.Err)
		}
	}
}
