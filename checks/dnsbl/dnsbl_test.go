package dnsbl

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

// healthy gives every default zone its RFC 5782 test entries.
func healthy() string {
	var b strings.Builder
	for _, z := range Zones() {
		if z.Kind == KindIP {
			b.WriteString("2.0.0.127." + z.Zone + ". A 127.0.0.2\n")
		} else {
			b.WriteString("test." + z.Zone + ". A 127.0.1.2\n")
		}
	}
	return b.String()
}

func newResolver(t *testing.T, s *dnstest.Server) *resolver.Resolver {
	t.Helper()
	r, err := resolver.New(resolver.Config{Servers: []string{s.Addr}, Timeout: 300 * time.Millisecond, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func zone(t *testing.T, name string) Zone {
	t.Helper()
	for _, z := range Zones() {
		if z.Zone == name {
			return z
		}
	}
	t.Fatalf("no zone %s", name)
	return Zone{}
}

func TestZonesData(t *testing.T) {
	zs := Zones()
	if len(zs) < 8 {
		t.Fatalf("only %d zones", len(zs))
	}
	zen := zone(t, "zen.spamhaus.org")
	if zen.Codes["127.0.0.10"].Weight != 1 || zen.Codes["127.0.0.2"].Weight != 3 {
		t.Errorf("PBL must weigh less than SBL: %+v", zen.Codes)
	}
	if zone(t, "dbl.spamhaus.org").Refusal["127.255.255.254"] == "" {
		t.Error("DBL lost Spamhaus's refusal codes")
	}
	for _, bad := range []string{
		"zones: [{zone: x.example, kind: ip}]",
		"zones: [{zone: x.example, kind: asn, weight: 1}]",
		"zones: [{zone: x.example, kind: ip, weight: 1, codes: {nonsense: {meaning: x}}}]",
		"zones: [{zone: x.example, kind: ip, weight: 1, colour: red}]",
	} {
		if _, err := ParseZones([]byte(bad)); err == nil {
			t.Errorf("ParseZones(%q) accepted", bad)
		}
	}
}

func TestQueryName(t *testing.T) {
	z := zone(t, "zen.spamhaus.org")
	q, _ := QueryName(z, "192.0.2.1")
	if q != "1.2.0.192.zen.spamhaus.org" {
		t.Errorf("v4: %s", q)
	}
	q, _ = QueryName(z, "2001:db8::1")
	if !strings.HasPrefix(q, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen") {
		t.Errorf("v6: %s", q)
	}
	if _, err := QueryName(z, "not-an-ip"); err == nil {
		t.Error("accepted a non-IP for an ip list")
	}
}

func TestLookupStates(t *testing.T) {
	s := dnstest.Start(t, healthy()+`
1.2.0.192.zen.spamhaus.org. A 127.0.0.2
1.2.0.192.zen.spamhaus.org. TXT "Listed \027[31mSBL\027[0m see https://check.spamhaus.org/"
2.2.0.192.zen.spamhaus.org. A 127.0.0.10
3.2.0.192.zen.spamhaus.org. A 127.255.255.254
4.2.0.192.zen.spamhaus.org. A 127.0.0.77
5.2.0.192.zen.spamhaus.org. A 198.51.100.1
1.2.0.192.dnsbl-1.uceprotect.net. A 127.0.0.2
spammer.example.multi.surbl.org. A 127.0.0.72
odd.example.multi.surbl.org. A 127.0.0.2
public.example.multi.uribl.com. A 127.0.0.1
`)
	r := newResolver(t, s)
	ctx := context.Background()
	zen := zone(t, "zen.spamhaus.org")

	sbl := Lookup(ctx, r, zen, "192.0.2.1")
	if sbl.State != Listed || sbl.Weight != 3 || !strings.Contains(sbl.Meanings[0], "SBL") {
		t.Errorf("SBL: %+v", sbl)
	}
	if strings.Contains(sbl.Reason, "\x1b") || !strings.Contains(sbl.Reason, "␛") {
		t.Errorf("TXT reason not sanitized: %q", sbl.Reason)
	}
	if sbl.Advice != zen.Delist {
		t.Errorf("advice %q", sbl.Advice)
	}
	pbl := Lookup(ctx, r, zen, "192.0.2.2")
	if pbl.State != Listed || pbl.Weight != 1 || !strings.Contains(pbl.Meanings[0], "PBL") {
		t.Errorf("PBL: %+v", pbl)
	}
	ref := Lookup(ctx, r, zen, "192.0.2.3")
	if ref.State != Refused || !strings.Contains(ref.Advice, "public") {
		t.Errorf("refusal: %+v", ref)
	}
	unk := Lookup(ctx, r, zen, "192.0.2.4")
	if unk.State != Unknown || len(unk.Codes) != 1 || unk.Codes[0] != "127.0.0.77" {
		t.Errorf("unknown code: %+v", unk)
	}
	rw := Lookup(ctx, r, zen, "192.0.2.5")
	if rw.State != Error || !strings.Contains(rw.Note, "rewrites NXDOMAIN") {
		t.Errorf("rewrite: %+v", rw)
	}
	clean := Lookup(ctx, r, zen, "192.0.2.9")
	if clean.State != NotListed {
		t.Errorf("clean: %+v", clean)
	}
	uce := Lookup(ctx, r, zone(t, "dnsbl-1.uceprotect.net"), "192.0.2.1")
	if uce.State != Listed || uce.Weight != 1 {
		t.Errorf("UCEPROTECT must weigh 1: %+v", uce)
	}
	surbl := zone(t, "multi.surbl.org")
	sum := Lookup(ctx, r, surbl, "spammer.example")
	if sum.State != Listed || len(sum.Meanings) != 2 {
		t.Errorf("SURBL 8+64: %+v", sum)
	}
	if odd := Lookup(ctx, r, surbl, "odd.example"); odd.State != Unknown {
		t.Errorf("SURBL unknown bit: %+v", odd)
	}
	if u := Lookup(ctx, r, zone(t, "multi.uribl.com"), "public.example"); u.State != Refused {
		t.Errorf("URIBL 127.0.0.1: %+v", u)
	}
}

func TestLookupDNSFailures(t *testing.T) {
	s := dnstest.Start(t, healthy())
	s.Refuse("1.2.0.192.b.barracudacentral.org")
	s.ServFail("1.2.0.192.bl.spamcop.net")
	s.Hang("1.2.0.192.bl.mailspike.net")
	r := newResolver(t, s)
	ctx := context.Background()
	b := Lookup(ctx, r, zone(t, "b.barracudacentral.org"), "192.0.2.1")
	if b.State != Refused || !strings.Contains(b.Advice, "register") {
		t.Errorf("Barracuda REFUSED: %+v", b)
	}
	if sc := Lookup(ctx, r, zone(t, "bl.spamcop.net"), "192.0.2.1"); sc.State != Error || resolver.KindOf(sc.Err) != resolver.ServFail {
		t.Errorf("SERVFAIL: %+v", sc)
	}
	if ms := Lookup(ctx, r, zone(t, "bl.mailspike.net"), "192.0.2.1"); ms.State != Error || resolver.KindOf(ms.Err) != resolver.Timeout {
		t.Errorf("hang: %+v", ms)
	}
}

func TestCheckHealth(t *testing.T) {
	s := dnstest.Start(t, `
2.0.0.127.zen.spamhaus.org. A 127.0.0.2
1.0.0.127.bl.spamcop.net. A 127.0.0.2
2.0.0.127.bl.spamcop.net. A 127.0.0.2
`)
	r := newResolver(t, s)
	ctx := context.Background()
	if h := CheckHealth(ctx, r, zone(t, "zen.spamhaus.org"), false); !h.OK {
		t.Errorf("healthy zone: %+v", h)
	}
	if h := CheckHealth(ctx, r, zone(t, "bl.spamcop.net"), false); h.OK || !strings.Contains(h.Note, "never-listed") {
		t.Errorf("lists everything: %+v", h)
	}
	if h := CheckHealth(ctx, r, zone(t, "bl.mailspike.net"), false); h.OK || !strings.Contains(h.Note, "proves nothing") {
		t.Errorf("dead zone: %+v", h)
	}
	// A dead zone turns "not listed" into error in Check.
	res := Check(ctx, r, Zones(), KindIP, "192.0.2.1")
	for _, x := range res {
		switch x.Zone.Zone {
		case "zen.spamhaus.org":
			if x.State != NotListed {
				t.Errorf("zen: %+v", x)
			}
		case "bl.mailspike.net":
			if x.State != Error {
				t.Errorf("dead mailspike: %+v", x)
			}
		}
		if x.Zone.Kind != KindIP {
			t.Errorf("domain list asked for an IP: %s", x.Zone.Zone)
		}
	}
}

func TestIPv6Nibbles(t *testing.T) {
	a := netip.MustParseAddr("2001:db8::2")
	if got := mappedNibbles(2); got != "2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0." {
		t.Errorf("mapped test entry: %s", got)
	}
	// Only ZEN serves IPv6 here: it has the IPv6 test entry, the others do not.
	s := dnstest.Start(t, healthy()+resolver.ReverseName(a, "zen.spamhaus.org")+". A 127.0.0.4\n"+
		mappedNibbles(2)+"zen.spamhaus.org. A 127.0.0.2\n")
	r := newResolver(t, s)
	if res := Lookup(context.Background(), r, zone(t, "zen.spamhaus.org"), a.String()); res.State != Listed || !strings.Contains(res.Meanings[0], "XBL") {
		t.Errorf("v6 XBL: %+v", res)
	}
	for _, res := range Check(context.Background(), r, Zones(), KindIP, "2001:db8::3") {
		want := Error // no IPv6 test entry: "not listed" would prove nothing
		if res.Zone.Zone == "zen.spamhaus.org" {
			want = NotListed
		}
		if res.State != want {
			t.Errorf("%s for IPv6: %s (%s), want %s", res.Zone.Zone, res.State, res.Note, want)
		}
	}
}

func TestLabel(t *testing.T) {
	for _, c := range []struct{ meaning, list, want string }{
		{"SBL: Spamhaus Block List, a known spam source", "Spamhaus ZEN", "SBL"},
		{"listed by SpamCop: spam reports from its users", "SpamCop", "listed by SpamCop"},
		{"UCEPROTECT level 1: this address hit its spam traps; few receivers reject on it", "UCEPROTECT level 1", "this address hit its spam traps"},
		{"DroneBL: IRC drone", "DroneBL", "IRC drone"},
		{"no colon here", "X", "no colon here"},
	} {
		if got := Label(c.meaning, c.list); got != c.want {
			t.Errorf("Label(%q, %q) = %q, want %q", c.meaning, c.list, got, c.want)
		}
	}
}
