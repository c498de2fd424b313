package checks

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/checks/dnsbl"
)

// trap is one zone built to catch a checker that reads the RFCs loosely, with the verdict
// the RFC requires (not what any program prints).
type trap struct {
	name   string
	id     string
	target Target
	status Status
	want   string // in the summary
	detail string // in the details or the fix, when set
	rfc    string // where the verdict comes from
}

func trapZone(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/traps.zone")
	if err != nil {
		t.Fatal(err)
	}
	k2048 := authTestKey(2048)
	ed := base64.StdEncoding.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey))
	return strings.NewReplacer(
		"{{RSA2048A}}", k2048[:100], "{{RSA2048B}}", k2048[100:],
		"{{RSA2048PKCS1}}", pkcs1Key(2048),
		"{{RSA2048}}", k2048,
		"{{RSA1024}}", authTestKey(1024),
		"{{RSA768}}", authTestKey(768),
		"{{RSA4096}}", authSplitTXT("v=DKIM1; k=rsa; p="+authTestKey(4096)),
		"{{ED25519}}", ed,
	).Replace(string(b))
}

func TestTraps(t *testing.T) {
	env, srv := liveEnv(t, trapZone(t)+dnsblHealthy()+`
10.2.0.192.zen.spamhaus.org. A 127.0.0.2
20.2.0.192.zen.spamhaus.org. A 127.0.0.10
21.2.0.192.zen.spamhaus.org. A 127.0.0.11
22.2.0.192.zen.spamhaus.org. A 127.255.255.254
23.2.0.192.zen.spamhaus.org. A 127.0.0.99
5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org. A 127.0.0.3
2.0.0.0.0.0.f.7.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.zen.spamhaus.org. A 127.0.0.2
blocked.bl.test.multi.uribl.com. A 127.0.0.1
*._report._dmarc.wild.vendor.test. TXT "v=DMARC1"
24.2.0.192.zen.spamhaus.org. A 127.0.0.2
24.2.0.192.zen.spamhaus.org. A 127.0.0.4
25.2.0.192.zen.spamhaus.org. A 127.255.255.255
bad.bl.test.dbl.spamhaus.org. A 127.0.1.2
evil.test.multi.uribl.com. A 127.0.0.2
blocked.bl.test.multi.surbl.org. A 127.0.0.1
`)
	srv.Hang("hang.spf.test")
	srv.ServFail("sf.spf.test")
	srv.ServFail("_dmarc.sf.dm.test")
	srv.ServFail("_dmarc.sforg.dm.test")
	srv.Refuse("refused.spf.test")
	srv.ServFail("sf._domainkey.dk.test")
	srv.ServFail("sf.mx.test")
	srv.ServFail("16.2.0.192.in-addr.arpa")
	srv.Hang("26.2.0.192.b.barracudacentral.org")
	ip := netip.MustParseAddr("192.0.2.10")
	other := netip.MustParseAddr("203.0.113.5")
	spfT := func(d string) Target { return Target{IP: ip, Domain: d} }
	dm := func(d string) Target { return Target{Domain: d} }
	dk := func(s string) Target { return Target{Domain: "dk.test", Selectors: []string{s}} }
	at := func(s string) Target { return Target{IP: netip.MustParseAddr(s)} }
	helo := func(h string) Target { return Target{IP: ip, HELO: h} }
	rc := func(d string) Target { return Target{IP: ip, RecipientDomain: d} }

	traps := []trap{
		// SPF
		{"strings joined without a space", "spf", Target{IP: netip.MustParseAddr("198.51.100.7"), Domain: "split.spf.test"}, Pass, "may send as split.spf.test", "", "7208 §3.3"},
		{"strings glued into one term", "spf", spfT("glued.spf.test"), Fail, "permerror", "", "7208 §3.3, §4.6"},
		{"a term split across strings", "spf", spfT("splitterm.spf.test"), Pass, "may send as splitterm.spf.test", "", "7208 §3.3"},
		{"a space before v=spf1", "spf", spfT("leading.spf.test"), Fail, "publishes no SPF record", `leading.spf.test. IN TXT "v=spf1 ip4:192.0.2.10 -all"`, "7208 §4.5 (the record begins with v=spf1)"},
		{"a tab after v=spf1", "spf", spfT("tabv.spf.test"), Fail, "publishes no SPF record", `tabv.spf.test. IN TXT "v=spf1 ip4:192.0.2.10 -all"`, "7208 §4.5 (the version ends at a space)"},
		{"several spaces between terms", "spf", spfT("double.spf.test"), Pass, "may send as double.spf.test", "", "7208 §12 (1*SP)"},
		{"v=spf10 is not SPF", "spf", spfT("spf10.spf.test"), Fail, "publishes no SPF record", "", "7208 §4.5"},
		{"v=spf1x is not SPF", "spf", spfT("spf1x.spf.test"), Fail, "publishes no SPF record", "", "7208 §4.5"},
		{"V=SPF1 upper case is SPF", "spf", spfT("upper.spf.test"), Pass, "may send as upper.spf.test", "", "7208 §4.5, §12 (ABNF is case-insensitive); suite example8"},
		{"two SPF records", "spf", spfT("two.spf.test"), Fail, "permerror", "", "7208 §4.5"},
		{"record behind a CNAME", "spf", spfT("cname.spf.test"), Pass, "may send as cname.spf.test", "", "1034 §3.6.2"},
		{"redirect ignored when all is present", "spf", Target{IP: other, Domain: "redirall.spf.test"}, Fail, "not authorized", "is never used", "7208 §6.1"},
		{"include of a domain with no SPF", "spf", spfT("incnospf.spf.test"), Fail, "permerror", "", "7208 §5.2"},
		{"include of NXDOMAIN", "spf", spfT("incnx.spf.test"), Fail, "permerror", "", "7208 §5.2"},
		{"three void lookups", "spf", spfT("void3.spf.test"), Fail, "permerror", "", "7208 §4.6.4"},
		{"exactly 10 lookups, exp= not counted", "spf", spfT("ten.spf.test"), Pass, "may send as ten.spf.test", `"lookups":10`, "7208 §4.6.4, §6.2"},
		{"11 lookups", "spf", spfT("eleven.spf.test"), Fail, "permerror", "", "7208 §4.6.4"},
		{"mx with 11 hosts", "spf", spfT("manymx.spf.test"), Fail, "permerror", "", "7208 §4.6.4"},
		{"ptr mechanism", "spf", Target{IP: netip.MustParseAddr("192.0.2.11"), Domain: "ptr.test"}, Warn, "ptr", "", "7208 §5.5"},
		{"a pass with a warning says it passes", "spf", Target{IP: netip.MustParseAddr("192.0.2.11"), Domain: "ptr.test"}, Warn, "192.0.2.11 may send as ptr.test (pass), but ptr", "", "7208 §5.5: the result is pass"},
		{"macros i, l, d", "spf", Target{IP: ip, Domain: "macro.spf.test", EnvelopeSender: "alice@macro.spf.test"}, Pass, "may send as macro.spf.test", "", "7208 §7"},
		{"macro l for another user", "spf", Target{IP: other, Domain: "macro.spf.test", EnvelopeSender: "bob@macro.spf.test"}, Fail, "not authorized", "", "7208 §7"},
		{"exp= with a fail", "spf", Target{IP: other, Domain: "exp.spf.test"}, Fail, "not authorized", "", "7208 §6.2"},
		{"ip4 /0 authorizes everyone", "spf", Target{IP: other, Domain: "slash0.spf.test"}, Fail, "0.0.0.0/0", "", "7208 §5.6 (equivalent to +all)"},
		{"bad CIDR length", "spf", spfT("badcidr.spf.test"), Fail, "permerror", "", "7208 §5.6"},
		{"trailing space", "spf", spfT("trail.spf.test"), Pass, "may send as trail.spf.test", "", "7208 §4.6.1; suite trail"},
		{"tab between terms", "spf", spfT("tab.spf.test"), Fail, "permerror", "", "7208 §12 (terms are separated by SP only)"},
		{"+all", "spf", spfT("plusall.spf.test"), Fail, "+all", "", "7208 §10.1"},
		{"?all", "spf", Target{IP: other, Domain: "qall.spf.test"}, Warn, "neutral", "", "7208 §2.6.2"},
		{"no all, IP listed", "spf", spfT("noall.spf.test"), Warn, "all", `"v=spf1 ip4:192.0.2.10 ~all"`, "7208 §4.7"},
		{"other TXT records beside SPF", "spf", spfT("crowd.spf.test"), Pass, "may send as crowd.spf.test", "", "7208 §4.5"},
		{"include times out", "spf", spfT("slowinc.spf.test"), Error, "no answer in time for hang.spf.test", "", "7208 §2.6.6, §5.2"},
		{"include after the match times out", "spf", spfT("lateinc.spf.test"), Warn, "does not depend on it", `"result":"pass"`, "7208 §4.6.2 (the first match ends evaluation)"},
		{"SERVFAIL on the record", "spf", spfT("sf.spf.test"), Error, "SERVFAIL", "", "7208 §4.4"},
		// blitiri expands %{p} to "unknown" without a PTR lookup: its fail is not the
		// receivers' (192.0.2.10's validated name is mail.helo.test, and it exists).
		{"%{p} macro", "spf", spfT("pmac.spf.test"), Error, "%{p}", "", "7208 §7.3 (p is the validated domain name of the IP)"},
		{"REFUSED on the record", "spf", spfT("refused.spf.test"), Error, "refused", "", "7208 §4.4"},

		// DMARC
		{"policy only at the org domain", "dmarc", dm("mail.org.dm.test"), Pass, "policy quarantine for mail.org.dm.test", "", "9989 §4.10 (sp=)"},
		{"v=DMARC1 not first", "dmarc", dm("notfirst.dm.test"), Fail, `must begin with "v=DMARC1;"`, `"v=DMARC1; p=reject"`, "9989 §4.7, 7489 §6.3"},
		{"no p= with rua is p=none", "dmarc", dm("nop.dm.test"), Warn, "p=none", `"v=DMARC1; p=quarantine; rua=`, "9989 §4.7, 7489 §6.6.3"},
		{"spaces and case in tags", "dmarc", dm("spaces.dm.test"), Pass, "policy reject", "", "9989 §4.8 (ABNF *WSP, case-insensitive values)"},
		{"_dmarc is a CNAME", "dmarc", dm("cname.dm.test"), Pass, "policy quarantine", "", "1034 §3.6.2"},
		{"two DMARC records", "dmarc", dm("two.dm.test"), Fail, "2 DMARC records", "delete all but one", "9989 §4.10.1, 7489 §6.6.3"},
		{"invalid p with rua is p=none", "dmarc", dm("badp.dm.test"), Warn, "p=block is not valid", "", "9989 §4.7, 7489 §6.6.3"},
		{"external rua not authorized", "dmarc", dm("ext.dm.test"), Warn, "has not agreed", "", "9989 §3 (7489 §7.1)"},
		{"external rua authorized by a wildcard", "dmarc", dm("extwild.dm.test"), Pass, "policy reject", `"authorized":true`, "7489 §7.1 (wildcards may be used)"},
		{"external rua authorized", "dmarc", dm("extok.dm.test"), Pass, "policy reject", "", "7489 §7.1"},
		{"np=", "dmarc", dm("np.dm.test"), Pass, "policy reject", `"np":"quarantine"`, "9989 §4.7"},
		{"np= for a subdomain that does not exist", "dmarc", dm("ghost.np.dm.test"), Pass, "policy quarantine (np=)", `"domain_exists":false`, "9989 §4.7 np, §3.2.9"},
		{"np= not for a subdomain that exists", "dmarc", dm("mail.np.dm.test"), Pass, "policy reject for mail.np.dm.test", `"domain_exists":true`, "9989 §4.7 np"},
		{"rua inside the org domain needs no authorization", "dmarc", dm("internal.dm.test"), Pass, "policy reject", "", "7489 §7.1 (same organizational domain)"},
		{"psd=y names the org domain below it", "dmarc", dm("mail.corp.psd.test"), Pass, "organizational domain corp.psd.test", "", "9989 §4.10.2"},
		{"SERVFAIL above a missing record", "dmarc", dm("mail.sforg.dm.test"), Error, "SERVFAIL", "", "9989 §4.10 (the walk cannot say absent)"},
		{"SERVFAIL above a found record", "dmarc", dm("own.sforg.dm.test"), Pass, "policy reject", "", "9989 §4.10 (the walk stops at the first record)"},
		{"t=y", "dmarc", dm("testing.dm.test"), Warn, "t=y", "", "9989 §4.7"},
		{"SERVFAIL on _dmarc", "dmarc", dm("sf.dm.test"), Error, "SERVFAIL", "", "9989 §4.10 (temperror, not none)"},

		// DKIM
		{"key split across strings with a space", "dkim", dk("split"), Pass, "key published", "", "6376 §3.6.2.2, §3.6.1 (FWS in p=)"},
		{"revoked key", "dkim", dk("revoked"), Fail, "revoked", "", "6376 §3.6.1"},
		{"ed25519", "dkim", dk("ed"), Pass, "key published", `"key_type":"ed25519"`, "8463"},
		{"1024-bit RSA", "dkim", dk("r1024"), Warn, "1024", "", "8301 §3.2"},
		{"4096-bit RSA", "dkim", dk("r4096"), Pass, "key published", `"bits":4096`, "8301 §3.2"},
		{"768-bit RSA", "dkim", dk("r768"), Fail, "768", "", "8301 §3.2"},
		{"h=sha1 only", "dkim", dk("sha1"), Fail, "sha1", "h=sha256", "8301 §3.1"},
		{"h=sha1:sha256", "dkim", dk("both"), Pass, "key published", "", "8301 §3.1"},
		{"t=y", "dkim", dk("ty"), Warn, "t=y", "", "6376 §3.6.1"},
		{"t=s", "dkim", dk("ts"), Pass, "key published", "", "6376 §3.6.1"},
		{"CNAME to an ESP", "dkim", dk("esp"), Pass, "key published", "sendgrid", "6376 §3.6.2.2"},
		{"unknown tags are ignored", "dkim", dk("unknown"), Pass, "key published", "", "6376 §3.2, §3.6.1"},
		{"v=DKIM2 is not a key", "dkim", dk("v2"), Fail, "broken", "", "6376 §3.6.1"},

		// PTR, FCrDNS, HELO
		{"two PTR names, one confirms", "fcrdns", at("192.0.2.11"), Pass, "right.ptr.test", "", "8601 §3 (iprev: any name)"},
		{"PTR through a CNAME", "ptr", at("192.0.2.12"), Pass, "classless.ptr.test", "", "2317"},
		{"PTR through a CNAME confirms", "fcrdns", at("192.0.2.12"), Pass, "forward-confirmed", "", "2317, 8601 §3"},
		{"generic PTR name", "ptr", at("192.0.2.13"), Warn, "generic", "", "receiver practice (M3AAWG)"},
		{"PTR name with only AAAA", "fcrdns", at("192.0.2.14"), Fail, "no PTR name resolves back", "", "8601 §3"},
		{"IPv6 nibble PTR", "fcrdns", at("2001:db8::5"), Pass, "forward-confirmed", "", "3596, 8601"},
		{"HELO address literal", "helo", helo("[192.0.2.10]"), Warn, "", "", "5321 §4.1.3"},
		{"HELO bare address", "helo", helo("192.0.2.10"), Fail, "", "", "5321 §4.1.1.1 (literal needs brackets)"},
		{"HELO localhost.localdomain", "helo", helo("localhost.localdomain"), Fail, "", "", "5321 §4.1.1.1 (FQDN)"},
		{"HELO with a trailing dot", "helo", helo("mail.helo.test."), Warn, "ends with a dot", "without the final dot", "5321 §4.1.2 (Domain has no root dot)"},
		{"HELO elsewhere", "helo", helo("elsewhere.helo.test"), Warn, "not to the sending IP", "", "5321 §4.1.4"},

		// MX, A
		{"MX to a CNAME", "mx", dm("tocname.mx.test"), Warn, "CNAME", "", "2181 §10.3, 5321 §5.1"},
		{"MX to an address", "mx", dm("toip.mx.test"), Fail, "192.0.2.25", "", "5321 §5.1, 1035 §3.3.9"},
		{"null MX", "mx", dm("null.mx.test"), Fail, "null MX", "", "7505 §4.2"},
		{"null MX beside another MX", "mx", dm("nullmix.mx.test"), Warn, "null MX (0 .) mixed", "Remove the null MX", "7505 §3"},
		{"one MX host does not resolve", "mx", dm("halfbad.mx.test"), Warn, "1 of 2 MX hosts resolve", "", "5321 §5.1"},
		{"only AAAA, no MX", "mx", dm("v6only.mx.test"), Warn, "implicit MX", "", "5321 §5.1"},

		// DNSBL
		{"SBL 127.0.0.2", "dnsbl", at("192.0.2.10"), Fail, "Spamhaus ZEN (SBL", "", "5782 §2.1"},
		{"PBL 127.0.0.10", "dnsbl", at("192.0.2.20"), Warn, "weigh little", "", "Spamhaus return codes"},
		{"PBL 127.0.0.11", "dnsbl", at("192.0.2.21"), Warn, "weigh little", "", "Spamhaus return codes"},
		{"public resolver refusal", "dnsbl", at("192.0.2.22"), Warn, "refusal code 127.255.255.254", `"state":"refused"`, "Spamhaus return codes"},
		{"unknown code", "dnsbl", at("192.0.2.23"), Warn, "127.0.0.99", `"state":"unknown"`, "5782 §2.1"},
		{"IPv6 by nibbles", "dnsbl", at("2001:db8::5"), Fail, "Spamhaus ZEN (CSS", "", "5782 §2.4"},
		{"IPv6 where most lists cover only IPv4", "dnsbl", at("2001:db8::6"), Warn, "does not cover IPv6", "", "5782 §5 (IPv6 test entry)"},
		{"URIBL and SURBL 127.0.0.1 is a refusal", "dnsbl", dm("blocked.bl.test"), Warn, "", `"state":"refused"`, "URIBL, SURBL return codes"},

		// second round
		{"redirect to a domain with no SPF", "spf", spfT("redirnospf.spf.test"), Fail, "permerror", "", "7208 §6.1"},
		{"include of a broken record", "spf", spfT("incbroken.spf.test"), Fail, "permerror", "", "7208 §5.2, §4.6"},
		{"include's -all is only no match", "spf", spfT("incdeny.spf.test"), Pass, "may send as incdeny.spf.test", "", "7208 §5.2 table"},
		{"include of +all", "spf", Target{IP: other, Domain: "incopen.spf.test"}, Fail, "+all", "stop including open.spf.test", "7208 §5.2: the include passes everyone"},
		{"unknown modifier ignored", "spf", spfT("unkmod.spf.test"), Pass, "may send as unkmod.spf.test", "", "7208 §6"},
		{"redirect= twice", "spf", spfT("tworedir.spf.test"), Fail, "permerror", "", "7208 §6"},
		{"a with a /24", "spf", Target{IP: netip.MustParseAddr("198.51.100.200"), Domain: "dualcidr.spf.test"}, Pass, "may send", "", "7208 §5.6"},
		{"IPv4-mapped IPv6 sender", "spf", Target{IP: netip.MustParseAddr("::ffff:192.0.2.10"), Domain: "v4only.spf.test"}, Pass, "may send", "", "7208 §5.6 (mapped addresses are IPv4)"},
		{"IPv6 sender, IPv4-only record", "spf", Target{IP: netip.MustParseAddr("2001:db8::5"), Domain: "v4only.spf.test"}, Fail, "not authorized", "", "7208 §5.6"},
		{"invalid sp falls back to p", "dmarc", dm("mail.spbad.dm.test"), Warn, "sp=maybe is not valid", `"applied_policy":"reject"`, "7489 §6.3, 9989 §4.7"},
		{"rua with a size limit", "dmarc", dm("size.dm.test"), Pass, "policy reject", "", "9989 §4.7 (mailto with !size)"},
		{"key for another service", "dkim", dk("svc"), Fail, "not for email", "s=email", "6376 §3.6.1 (s= must include email or *)"},
		{"unknown key type", "dkim", dk("dsa"), Fail, "", "", "6376 §3.6.1, 8463"},
		{"p= not base64", "dkim", dk("garbage"), Fail, "broken", "", "6376 §3.6.1"},
		{"selector absent", "dkim", dk("nosuch"), Fail, "has no key", "", "6376 §6.1.2"},
		{"SERVFAIL on the key", "dkim", dk("sf"), Error, "SERVFAIL", "", "6376 §6.1.2 (TEMPFAIL)"},
		{"ESP pool PTR", "ptr", at("192.0.2.15"), Pass, "", "sendgrid", "PROVIDERS.md shared pools"},
		{"PTR SERVFAIL", "ptr", at("192.0.2.16"), Error, "SERVFAIL", "", "8601 §3 (temperror)"},
		{"PTR absent", "ptr", at("192.0.2.17"), Fail, "no PTR record", "", "8601 §3"},
		{"MX host with only AAAA", "mx", dm("v6host.mx.test"), Pass, "every host resolves", "", "5321 §5.1"},
		{"MX SERVFAIL", "mx", dm("sf.mx.test"), Error, "", "", "5321 §5.1"},
		{"domain does not exist", "mx", dm("nxdomain.mx.test"), Fail, "does not exist", "", "5321 §5.1"},
		{"A in private space", "a", dm("private.a.test"), Warn, "not reachable", "", "1918"},
		{"SBL and XBL at once", "dnsbl", at("192.0.2.24"), Fail, "SBL", "XBL", "5782 §2.1 (several A records)"},
		{"rate-limit refusal", "dnsbl", at("192.0.2.25"), Warn, "127.255.255.255", `"state":"refused"`, "Spamhaus return codes"},
		{"URIBL lists the registered domain", "dnsbl", dm("news.evil.test"), Fail, "URIBL (URIBL black) for evil.test", `"subject":"evil.test"`, "URIBL usage: ask for the registered domain"},
		{"subdomain of a clean domain", "dnsbl", dm("news.clean.test"), Pass, "not listed on any of the 3 domain lists", "", "5782 §2.2"},
		{"DBL listing", "dnsbl", dm("bad.bl.test"), Fail, "Spamhaus DBL", "", "5782 §2.2"},
		{"one list times out", "dnsbl", at("192.0.2.26"), Warn, "could not be read", `"state":"error"`, "5782: silence is not 'not listed'"},

		// third round
		{"two void lookups are allowed", "spf", spfT("void2.spf.test"), Pass, "may send as void2.spf.test", "", "7208 §4.6.4 (more than 2 is the limit)"},
		{"12 lookups across includes", "spf", spfT("nested.spf.test"), Fail, "permerror", "", "7208 §4.6.4 (the limit is for the whole evaluation)"},
		{"SPF RR type only", "spf", spfT("spftype.spf.test"), Fail, "publishes no SPF record", "", "7208 §3.1, §14.1 (type 99 is not used)"},
		{"DMARC without a semicolon after v", "dmarc", dm("nosemi.dm.test"), Fail, "broken", `IN TXT "v=DMARC1; p=reject"`, "9989 §4.8 (tags are separated by ;)"},
		{"DKIM CNAME to nowhere", "dkim", dk("dangling"), Fail, "publishes no key", "turn DKIM on again", "6376 §6.1.2"},
		{"DKIM key without v=", "dkim", dk("nov"), Pass, "key published", "", "6376 §3.6.1 (v= is RECOMMENDED, not required)"},
		{"HELO single label", "helo", helo("mail"), Fail, "", "", "5321 §4.1.1.1 (FQDN)"},
		{"HELO with an underscore", "helo", helo("mail_1.helo.test"), Fail, "", "", "5321 §4.1.2 (let-dig-hyp)"},
		{"MX host on loopback", "mx", dm("loopmx.mx.test"), Warn, "127.0.0.1", "", "5321 §5.1, 1122 (loopback is not reachable)"},

		// fourth round
		{"%{ir} for an IPv6 sender", "spf", Target{IP: netip.MustParseAddr("2001:db8::5"), Domain: "macro6.spf.test"}, Pass, "may send", "", "7208 §7.3 (IPv6 %{i} is dotted nibbles)"},
		{"mx of a null MX matches nothing", "spf", Target{IP: other, Domain: "nullmxspf.spf.test"}, Fail, "not authorized", "", "7208 §5.4, 7505"},
		{"mx of a null MX, IP listed", "spf", spfT("nullmxspf.spf.test"), Pass, "may send", "", "7208 §5.4, 7505"},
		{"IDN domain as a U-label", "spf", spfT("bücher.spf.test"), Pass, "may send", "", "5890, 7208 §4.3"},
		{"IDN domain DMARC", "dmarc", dm("bücher.spf.test"), Pass, "policy reject", "", "9989 §4.10 (A-labels)"},
		{"upper-case domain", "dmarc", dm("ORG.DM.TEST"), Pass, "policy reject", "", "1035 §2.3.3 (case-insensitive)"},
		{"ed25519 key of 33 bytes", "dkim", dk("ed33"), Fail, "broken", "", "8463 §4.2 (32 bytes)"},
		{"bare PKCS#1 RSA key", "dkim", dk("pkcs1"), Pass, "key published", "", "6376 §3.6.1 (RSAPublicKey); verifiers accept both"},
		{"PTR of an IPv4-mapped address", "fcrdns", at("::ffff:192.0.2.11"), Pass, "forward-confirmed", "", "4291 §2.5.5.2 (it is the IPv4 address)"},
		{"DNSBL of an IPv4-mapped address", "dnsbl", at("::ffff:192.0.2.10"), Fail, "Spamhaus ZEN (SBL", "", "5782 §2.1"},
		{"HELO IPv6 literal", "helo", Target{IP: netip.MustParseAddr("2001:db8::5"), HELO: "[IPv6:2001:db8::5]"}, Warn, "", "", "5321 §4.1.3"},
		{"HELO IPv6 literal without its tag", "helo", Target{IP: netip.MustParseAddr("2001:db8::5"), HELO: "[2001:db8::5]"}, Fail, "", "", "5321 §4.1.3 (IPv6: tag required)"},

		// fifth round: what the field's checkers flag
		{"terms after all", "spf", spfT("afterall.spf.test"), Fail, "not authorized", "never", "7208 §5.1 (mechanisms after all are never tested)"},
		{"DMARC record at the apex", "dmarc", dm("apex.dm.test"), Fail, "no DMARC policy", `move the record from apex.dm.test to _dmarc.apex.dm.test. IN TXT "v=DMARC1; p=reject"`, "9989 §4.10 (only _dmarc names are asked)"},

		// MTA-STS and TLS-RPT records (RFC 8461 §3.1, RFC 8460 §3)
		{"two MTA-STS records", "mta-sts", dm("twosts.sts.test"), Fail, "2 MTA-STS records", "", "8461 §3.1 (more than one: no policy)"},
		{"MTA-STS id with a dash", "mta-sts", dm("badid.sts.test"), Fail, "id", "", "8461 §3.1 (id is 1*32 ALPHA/DIGIT)"},
		{"MTA-STS record without a policy host", "mta-sts", dm("nopol.sts.test"), Fail, "does not resolve", "", "8461 §3.3"},
		{"two TLS-RPT records", "tls-rpt", dm("tworpt.sts.test"), Fail, "2 TLS-RPT records", "", "8460 §3 (more than one: no TLS-RPT)"},
		{"TLS-RPT rua with another scheme", "tls-rpt", dm("badrua.sts.test"), Fail, "mailto: or https:", "", "8460 §3 (mailto or https)"},
		{"TLS-RPT with two destinations and no space", "tls-rpt", dm("okrpt.sts.test"), Pass, "https://reports.sts.test/v1", "", "8460 §3"},
		// A TAB is whitespace (WSP) in these records: the record is parsed as published,
		// not after its TAB was made visible.
		{"TAB between DMARC tags", "dmarc", dm("tab.dm.test"), Pass, "policy reject", `"p":"reject"`, "7489 §6.4 (dmarc-sep = *WSP \";\" *WSP), 9989 §4.8"},
		{"TAB between MTA-STS fields", "mta-sts", dm("tab.sts.test"), Fail, "does not resolve", `"id":"20240101"`, "8461 §3.1 (sts-field-delim = *WSP \";\" *WSP)"},
		{"TAB between TLS-RPT fields", "tls-rpt", dm("tab.sts.test"), Pass, "mailto:t@tab.sts.test", "", "8460 §3 (tlsrpt-field-delim = *WSP \";\" *WSP)"},
		{"a key and another TXT at the selector", "dkim", dk("mixed"), Fail, "other TXT record", `"other_records":["v=spf1 -all"]`, "6376 §3.6.2.2 (several records: the results are undefined)"},
		{"k=RSA in upper case", "dkim", dk("krsaup"), Fail, "case-sensitive", "", "6376 §3.2 (values are case-sensitive), §6.1.2"},
		{"TAB between DKIM tags and inside p=", "dkim", dk("tab"), Pass, "key published", `"bits":2048`, "6376 §3.2, §3.6.1 (FWS, which holds HTAB)"},
		{"key folded with CRLF between tags and inside p=", "dkim", dk("crlf"), Pass, "key published", `"bits":2048`, "6376 §3.2 (FWS = [*WSP CRLF] 1*WSP), §3.6.1"},

		// the recipient's filter, from its MX (PROVIDERS.md)
		{"Proofpoint MX in upper case", "recipient", rc("pp.rcpt.test"), Pass, "Proofpoint Enterprise", `"url":"https://ipcheck.proofpoint.com/?ip=192.0.2.10"`, "4343 (names are case-insensitive)"},
		{"Proofpoint Essentials", "recipient", rc("ppe.rcpt.test"), Pass, "Essentials", "", "PROVIDERS.md"},
		{"Microsoft 365", "recipient", rc("ms.rcpt.test"), Pass, "", `"provider":"microsoft"`, "PROVIDERS.md"},
		{"Google", "recipient", rc("gg.rcpt.test"), Pass, "", `"provider":"google"`, "PROVIDERS.md"},
		{"Mimecast", "recipient", rc("mc.rcpt.test"), Pass, "", `"provider":"mimecast"`, "PROVIDERS.md"},
		{"Barracuda", "recipient", rc("bc.rcpt.test"), Pass, "", `"provider":"barracuda"`, "PROVIDERS.md"},
		{"Cisco", "recipient", rc("cs.rcpt.test"), Pass, "", `"provider":"cisco"`, "PROVIDERS.md"},
		{"own servers", "recipient", rc("own.rcpt.test"), Pass, "not recognised", "", "PROVIDERS.md"},
		{"a look-alike MX name is not Proofpoint", "recipient", rc("lookalike.rcpt.test"), Pass, "not recognised", "", "suffix match on whole labels"},

		{"PTR localhost", "ptr", at("192.0.2.18"), Warn, "localhost", "", "1912 §2.1, 1033 (a PTR names the host)"},
		{"PTR localhost does not confirm", "fcrdns", at("192.0.2.18"), Fail, "no PTR name resolves back", "set its PTR to your mail server's name", "8601 §3"},
		{"PTR single label", "ptr", at("192.0.2.19"), Warn, "mailserver", "", "1912 §2.1 (a PTR names an FQDN)"},
	}
	if len(traps) < 40 {
		t.Fatalf("only %d traps", len(traps))
	}
	wrong := 0
	for _, tr := range traps {
		r := runLive(t, env, tr.id, tr.target)
		b, _ := json.Marshal(r.Details)
		bad := r.Status != tr.status || !strings.Contains(r.Summary, tr.want) ||
			tr.detail != "" && !strings.Contains(string(b)+r.Fix, tr.detail)
		if testing.Verbose() {
			t.Logf("%-8s %-45s %-5s %s | fix: %s", tr.id, tr.name, r.Status, r.Summary, strings.ReplaceAll(r.Fix, "\n", " / "))
		}
		if bad {
			wrong++
			t.Errorf("%s %s (RFC %s): got %s %q; want %s with %q %q\n\tdetails %s", tr.id, tr.name, tr.rfc, r.Status, r.Summary, tr.status, tr.want, tr.detail, clipFor(string(b)))
		}
	}
	t.Logf("%d traps, %d wrong", len(traps), wrong)
}

// pkcs1Key is p= for a bare PKCS#1 RSAPublicKey, as some publishers write it.
func pkcs1Key(bits int) string {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(977))
	return base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(&rsa.PublicKey{N: n, E: 65537}))
}

func clipFor(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

// TestTrapsDNSBLUnhealthy: a list whose RFC 5782 §5 test entry is missing proves nothing
// by its silence, and an answer outside 127/8 is a resolver rewriting NXDOMAIN.
func TestTrapsDNSBLUnhealthy(t *testing.T) {
	saved := dnsblZones
	defer func() { dnsblZones = saved }()
	var zen []dnsbl.Zone
	for _, z := range saved {
		if z.Zone == "zen.spamhaus.org" {
			zen = append(zen, z)
		}
	}
	dnsblZones = zen
	env, _ := liveEnv(t, "example.test. A 192.0.2.1\n")
	r := runLive(t, env, "dnsbl", Target{IP: netip.MustParseAddr("192.0.2.30")})
	if r.Status != Error || !strings.Contains(r.Summary, "self-test") {
		t.Errorf("list without its test entry: %s %q; want error naming the self-test", r.Status, r.Summary)
	}
	env, _ = liveEnv(t, "2.0.0.127.zen.spamhaus.org. A 127.0.0.2\n30.2.0.192.zen.spamhaus.org. A 192.0.2.200\n")
	r = runLive(t, env, "dnsbl", Target{IP: netip.MustParseAddr("192.0.2.30")})
	if r.Status != Error || !strings.Contains(r.Summary, "rewrites NXDOMAIN") {
		t.Errorf("answer outside 127/8: %s %q; want error naming NXDOMAIN rewriting", r.Status, r.Summary)
	}
}
