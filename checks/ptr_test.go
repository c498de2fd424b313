package checks

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/casefile/triage"
)

const ptrZone = `
1.2.0.192.in-addr.arpa. PTR mail.example.com.
mail.example.com. A 192.0.2.1
2.2.0.192.in-addr.arpa. PTR 192-0-2-2.dsl.isp.example.
192-0-2-2.dsl.isp.example. A 192.0.2.2
3.2.0.192.in-addr.arpa. PTR o1.ptr1234.sendgrid.net.
o1.ptr1234.sendgrid.net. A 192.0.2.3
4.2.0.192.in-addr.arpa. PTR elsewhere.example.com.
elsewhere.example.com. A 198.51.100.4
5.2.0.192.in-addr.arpa. PTR gone.example.com.
6.2.0.192.in-addr.arpa. PTR broken.example.com.
8.2.0.192.in-addr.arpa. PTR evil\027[31m.example.com.
`

func TestPTRCheck(t *testing.T) {
	env, s := liveEnv(t, ptrZone)
	s.ServFail("7.2.0.192.in-addr.arpa")
	s.ServFail("broken.example.com")
	ip := func(s string) Target { return Target{IP: netip.MustParseAddr(s), Domain: "example.com"} }
	for _, c := range []liveCase{
		{"good", ip("192.0.2.1"), Pass, "has PTR mail.example.com"},
		{"generic", ip("192.0.2.2"), Warn, "dynamic or generic"},
		{"esp", ip("192.0.2.3"), Pass, "Twilio SendGrid's sending pool"},
		{"none", ip("192.0.2.9"), Fail, "no PTR record"},
		{"servfail", ip("192.0.2.7"), Error, "SERVFAIL"},
		{"no ip", Target{Domain: "example.com"}, Skip, "no sending IP"},
	} {
		r := c.check(t, env, "ptr")
		if c.name == "none" && !strings.Contains(r.Fix, "mail.example.com. IN A 192.0.2.9") {
			t.Errorf("fix lacks the record: %q", r.Fix)
		}
		if c.name == "esp" {
			esp, _ := r.Details["esp"].(map[string]any)
			route, _ := esp["route"].(triage.Route)
			if esp["provider"] != "esp:sendgrid" || route.Kind != "esp-support" || route.URL == "" {
				t.Errorf("esp details: %v", r.Details)
			}
		}
	}
	// A PTR name carrying an escape sequence never reaches the result raw.
	r := runLive(t, env, "ptr", ip("192.0.2.8"))
	if strings.Contains(r.Summary, "\x1b") {
		t.Errorf("raw escape: %q", r.Summary)
	}
}

func TestFCrDNSCheck(t *testing.T) {
	env, s := liveEnv(t, ptrZone)
	s.ServFail("7.2.0.192.in-addr.arpa")
	s.ServFail("broken.example.com")
	ip := func(s string) Target { return Target{IP: netip.MustParseAddr(s)} }
	for _, c := range []liveCase{
		{"confirmed", ip("192.0.2.1"), Pass, "192.0.2.1 → mail.example.com → 192.0.2.1"},
		{"elsewhere", ip("192.0.2.4"), Fail, "elsewhere.example.com → 198.51.100.4"},
		{"name gone", ip("192.0.2.5"), Fail, "gone.example.com → NXDOMAIN"},
		{"name servfail", ip("192.0.2.6"), Error, "SERVFAIL"},
		{"no ptr", ip("192.0.2.9"), Fail, "nothing to confirm"},
		{"ptr servfail", ip("192.0.2.7"), Error, "SERVFAIL"},
		{"no ip", Target{Domain: "example.com"}, Skip, "no sending IP"},
	} {
		r := c.check(t, env, "fcrdns")
		if c.name == "elsewhere" && !strings.Contains(r.Fix, "elsewhere.example.com. IN A 192.0.2.4") {
			t.Errorf("fix: %q", r.Fix)
		}
	}
}

func TestRecipientCheck(t *testing.T) {
	env, s := liveEnv(t, `
customer.example. MX 10 mx0a-00069f02.pphosted.com.
customer.example. MX 20 mx0b-00069f02.pphosted.com.
small.example. MX 10 mx1-us1.ppe-hosted.com.
ms.example. MX 0 ms-example.mail.protection.outlook.com.
own.example. MX 10 mail.own.example.
nomx.example. A 192.0.2.50
null.example. MX 0 .
`)
	s.ServFail("broken.example")
	ip := netip.MustParseAddr("192.0.2.1")
	for _, c := range []liveCase{
		{"proofpoint", Target{IP: ip, RecipientDomain: "customer.example"}, Pass, "filtered by Proofpoint Enterprise"},
		{"essentials", Target{IP: ip, RecipientDomain: "small.example"}, Pass, "Proofpoint Essentials"},
		{"microsoft", Target{IP: ip, RecipientDomain: "ms.example"}, Pass, "Microsoft 365"},
		{"unknown", Target{IP: ip, RecipientDomain: "own.example"}, Pass, "not recognised"},
		{"no mx", Target{RecipientDomain: "nomx.example"}, Warn, "no MX"},
		{"null", Target{RecipientDomain: "null.example"}, Fail, "null MX"},
		{"nxdomain", Target{RecipientDomain: "typo.example"}, Fail, "does not exist"},
		{"servfail", Target{RecipientDomain: "broken.example"}, Error, "SERVFAIL"},
		{"none", Target{IP: ip}, Skip, "no recipient domain"},
	} {
		r := c.check(t, env, "recipient")
		if c.name == "proofpoint" && r.Details["provider"] != "proofpoint" {
			t.Errorf("provider: %v", r.Details)
		}
		// Who filters is no claim of a block: the summary asks for no delisting (a
		// customer's false positive goes elsewhere); the sender's desk is in the details.
		if c.name == "proofpoint" && (strings.Contains(r.Summary, "delist") || !strings.Contains(fmt.Sprint(r.Details["route"]), "https://ipcheck.proofpoint.com/?ip=192.0.2.1")) {
			t.Errorf("summary %q, details %v", r.Summary, r.Details)
		}
	}
}
