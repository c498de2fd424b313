package checks

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/netip"
	"strings"
	"testing"
)

// testKey returns p= for an RSA public key of bits bits (only the size matters here).
func authTestKey(bits int) string {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(977))
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func authSplitTXT(s string) string {
	out := ""
	for len(s) > 200 {
		out += `"` + s[:200] + `" `
		s = s[200:]
	}
	return out + `"` + s + `"`
}

// authZone is a realistic sending domain and its faulty neighbours.
var authZone = fmt.Sprintf(`
good.test.                  TXT "v=spf1 mx include:_spf.esp.test ip4:192.0.2.10 -all"
good.test.                  MX 10 mx.good.test.
mx.good.test.               A 127.0.0.25
mail.good.test.             A 192.0.2.10
mail.good.test.             TXT "v=spf1 a -all"
10.2.0.192.in-addr.arpa.    PTR mail.good.test.
_spf.esp.test.              TXT "v=spf1 ip4:198.51.100.0/24 ~all"
_dmarc.good.test.           TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"
s1._domainkey.good.test.    CNAME s1.domainkey.u1.wl.sendgrid.net.
s1.domainkey.u1.wl.sendgrid.net. TXT "v=DKIM1; k=rsa; " %s
google._domainkey.good.test. TXT "v=DKIM1; k=rsa; " %s
weak._domainkey.good.test.  TXT "v=DKIM1; k=rsa; p=%s"
tiny._domainkey.good.test.  TXT "v=DKIM1; k=rsa; p=%s"
old._domainkey.good.test.   TXT "v=DKIM1; p="
neutral.test.               TXT "v=spf1 ip4:198.51.100.1 ?all"
_dmarc.neutral.test.        TXT "v=DMARC1; p=none; pct=100; rua=mailto:r@reports.vendor.test"
none.test.                  A 192.0.2.99
broken.test.                TXT "v=spf1 ip4:192.0.2.10 -all include:"
_dmarc.broken.test.         TXT "v=DMARC1; p=reject"
_dmarc.broken.test.         TXT "v=DMARC1; p=none"
escape.test.                TXT "v=spf1 ip4:192.0.2.10 \027]0;pwned\007 -all"
_dmarc.escape.test.         TXT "v=DMARC1; p=none; rua=mailto:\027[2Jx@escape.test"
esc._domainkey.escape.test. TXT "v=DKIM1; p=\027[31mAAAA"
loop.test.                  TXT "v=spf1 include:loop2.test -all"
loop2.test.                 TXT "v=spf1 include:loop.test -all"
cname.test.                 CNAME cname2.test.
cname2.test.                CNAME cname.test.
`, authSplitTXT("p="+authTestKey(2048)), authSplitTXT("p="+authTestKey(2048)), authTestKey(1024), authTestKey(768))

func TestSPFCheck(t *testing.T) {
	env, srv := authEnv(t, authZone)
	srv.ServFail("servfail.test")
	ip := netip.MustParseAddr("192.0.2.10")
	other := netip.MustParseAddr("203.0.113.5")
	cases := []authCase{
		{"pass", Target{IP: ip, Domain: "good.test", HELO: "mail.good.test"}, Pass, "192.0.2.10 may send as good.test (pass", ""},
		{"envelope sender's domain", Target{IP: ip, Domain: "neutral.test", EnvelopeSender: "bounce@good.test"}, Pass, "192.0.2.10 may send as good.test", ""},
		{"esp include", Target{IP: netip.MustParseAddr("198.51.100.9"), Domain: "good.test"}, Pass, "may send as good.test", ""},
		{"domain only", Target{Domain: "good.test"}, Pass, "good.test publishes an SPF record: 2 of 10 lookups", ""},
		{"not authorized", Target{IP: other, Domain: "good.test"}, Fail, "203.0.113.5 is not authorized to send as good.test (fail)",
			`good.test. IN TXT "v=spf1 mx include:_spf.esp.test ip4:192.0.2.10 ip4:203.0.113.5 -all"`},
		{"no record", Target{IP: ip, Domain: "none.test"}, Fail, "none.test publishes no SPF record", `none.test. IN TXT "v=spf1 ip4:192.0.2.10 ~all"`},
		{"neutral", Target{IP: ip, Domain: "neutral.test"}, Warn, "gets neutral", "ip4:192.0.2.10 ~all"},
		{"helo fails", Target{IP: other, HELO: "mail.good.test"}, Warn, "the HELO name mail.good.test gets fail", ""},
		{"syntax error after match", Target{IP: ip, Domain: "broken.test"}, Fail, "permerror", ""},
		{"include loop", Target{IP: other, Domain: "loop.test"}, Fail, "loop", ""},
		{"escape sequence", Target{IP: ip, Domain: "escape.test"}, Fail, "permerror", ""},
		{"servfail", Target{IP: ip, Domain: "servfail.test"}, Error, "SERVFAIL", ""},
		{"cname loop", Target{IP: ip, Domain: "cname.test"}, Error, "CNAME chain", ""},
		{"nothing", Target{IP: ip}, Skip, "no sending domain", ""},
	}
	for _, c := range cases {
		r := c.run(t, env, "spf")
		if c.name == "pass" {
			if r.Details["lookups"] != 2 {
				t.Errorf("pass: lookups %v, want 2 (mx and the include)", r.Details["lookups"])
			}
			if h, _ := r.Details["helo"].(map[string]any); h["result"] != "pass" {
				t.Errorf("pass: HELO verdict %v", r.Details["helo"])
			}
		}
	}
}

// TestSPFCheckHostile: a 20-deep include chain, a 64 KB record, and an answer that only
// fits over TCP.
func TestSPFCheckHostile(t *testing.T) {
	env, srv := authEnv(t, authZone)
	zone := ""
	for i := 0; i < 20; i++ {
		zone += fmt.Sprintf("d%d.deep.test. TXT \"v=spf1 include:d%d.deep.test -all\"\n", i, i+1)
	}
	zone += "d20.deep.test. TXT \"v=spf1 ip4:192.0.2.10 -all\"\n"
	huge := "v=spf1"
	for i := 0; len(huge) < 62000; i++ {
		huge += fmt.Sprintf(" ip4:10.%d.%d.0/24", i/256, i%256)
	}
	huge += " ip4:192.0.2.10 -all"
	zone += "huge.test. TXT " + authSplitTXT(huge) + "\n"
	if err := srv.AddZone(zone); err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("192.0.2.10")
	authCase{"20-deep chain", Target{IP: ip, Domain: "d0.deep.test"}, Fail, "permerror", ""}.run(t, env, "spf")
	r := authCase{"64 KB record", Target{IP: ip, Domain: "huge.test"}, Warn, "bytes; over 450", ""}.run(t, env, "spf")
	if rec, _ := r.Details["record"].(string); len(rec) > 1100 {
		t.Errorf("64 KB record kept whole in the details: %d bytes", len(rec))
	}
	if mf, _ := r.Details["mail_from"].(map[string]any); mf["result"] != "pass" {
		t.Errorf("64 KB record: verdict %v", r.Details["mail_from"])
	}

	srv.TruncateUDP(true)
	before := srv.Queries("good.test", "TXT")
	authCase{"truncated UDP", Target{IP: ip, Domain: "good.test"}, Pass, "may send as good.test", ""}.run(t, env, "spf")
	if srv.Queries("good.test", "TXT")-before < 2 {
		t.Error("truncated UDP answer was not retried over TCP")
	}
}

// TestSPFOpenPolicyFix: the fix for a policy that lets everyone pass (all, +all, +ALL, or
// ?all, or no all) ends it in ~all and keeps the checked IP authorized, so publishing it
// does not softfail the very mail checked; it is never the record as published.
func TestSPFOpenPolicyFix(t *testing.T) {
	env, _ := liveEnv(t, `
bare.open.test.  TXT "v=spf1 all"
upper.open.test. TXT "v=spf1 a +ALL"
plus.open.test.  TXT "v=spf1 ip4:198.51.100.0/24 +all"
q.open.test.     TXT "v=spf1 ip4:203.0.113.5 ?all"
none.open.test.  TXT "v=spf1 ip4:198.51.100.7"
`)
	ip := netip.MustParseAddr("203.0.113.5")
	for domain, want := range map[string]string{
		"bare.open.test":  `"v=spf1 ip4:203.0.113.5 ~all"`,
		"upper.open.test": `"v=spf1 a ip4:203.0.113.5 ~all"`,
		"plus.open.test":  `"v=spf1 ip4:198.51.100.0/24 ip4:203.0.113.5 ~all"`,
		"q.open.test":     `"v=spf1 ip4:203.0.113.5 ~all"`,
		"none.open.test":  `"v=spf1 ip4:198.51.100.7 ip4:203.0.113.5 ~all"`,
	} {
		r := runLive(t, env, "spf", Target{IP: ip, Domain: domain})
		if !strings.Contains(r.Fix, domain+". IN TXT "+want) {
			t.Errorf("%s: %s %q\nfix: %s\nwant %s", domain, r.Status, r.Summary, r.Fix, want)
		}
	}
}

// TestSPFNeutralOneFix: an IP that gets neutral from ?all is given one record to publish,
// not two complete records (publishing both would be a permerror, RFC 7208 §4.5).
func TestSPFNeutralOneFix(t *testing.T) {
	env, _ := liveEnv(t, `q.neutral.test. TXT "v=spf1 ip4:198.51.100.7 ?all"`)
	r := runLive(t, env, "spf", Target{IP: netip.MustParseAddr("203.0.113.5"), Domain: "q.neutral.test"})
	if n := strings.Count(r.Fix, "IN TXT \"v=spf1"); n != 1 || !strings.Contains(r.Fix, `"v=spf1 ip4:198.51.100.7 ip4:203.0.113.5 ~all"`) {
		t.Errorf("%d SPF records offered:\n%s", n, r.Fix)
	}
}
