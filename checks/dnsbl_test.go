package checks

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/checks/dnsbl"
)

// dnsblHealthy gives every list its RFC 5782 test entries, as live lists have.
func dnsblHealthy() string {
	var b strings.Builder
	for _, z := range dnsbl.Zones() {
		if z.Kind == dnsbl.KindIP {
			b.WriteString("2.0.0.127." + z.Zone + ". A 127.0.0.2\n")
		} else {
			b.WriteString("test." + z.Zone + ". A 127.0.1.2\n")
		}
	}
	return b.String()
}

func TestDNSBLCheck(t *testing.T) {
	env, s := liveEnv(t, dnsblHealthy()+`
1.2.0.192.zen.spamhaus.org. A 127.0.0.2
1.2.0.192.zen.spamhaus.org. TXT "https://check.spamhaus.org/sbl/query/SBL1 \027]0;owned\007"
2.2.0.192.zen.spamhaus.org. A 127.0.0.11
2.2.0.192.dnsbl-1.uceprotect.net. A 127.0.0.2
3.2.0.192.zen.spamhaus.org. A 127.255.255.254
4.2.0.192.zen.spamhaus.org. A 127.0.0.99
bad.example.dbl.spamhaus.org. A 127.0.1.2
`)
	s.Refuse("5.2.0.192.b.barracudacentral.org")
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	for _, c := range []liveCase{
		{"clean", Target{IP: ip("192.0.2.9"), Domain: "good.example"}, Pass, "not listed on any of the 8 IP lists and 3 domain lists"},
		{"sbl", Target{IP: ip("192.0.2.1")}, Fail, "Spamhaus ZEN (SBL"},
		{"pbl and uceprotect", Target{IP: ip("192.0.2.2")}, Warn, "weigh little"},
		{"public resolver refusal", Target{IP: ip("192.0.2.3")}, Warn, "Spamhaus ZEN (refusal code 127.255.255.254)"},
		{"unknown code", Target{IP: ip("192.0.2.4")}, Warn, "127.0.0.99"},
		{"barracuda refused", Target{IP: ip("192.0.2.5")}, Warn, "Barracuda Reputation Block List (REFUSED)"},
		{"dbl", Target{Domain: "bad.example"}, Fail, "Spamhaus DBL"},
		{"nothing", Target{HELO: "x.example"}, Skip, "no sending IP"},
	} {
		r := c.check(t, env, "dnsbl")
		if fix := map[string]string{"public resolver refusal": "public or open resolver", "barracuda refused": "register"}[c.name]; !strings.Contains(r.Fix, fix) {
			t.Errorf("%s: the fix does not say what to do: %q", c.name, r.Fix)
		}
		zones, _ := r.Details["zones"].([]map[string]any)
		if c.status != Skip && len(zones) == 0 {
			t.Errorf("%s: no zones in details", c.name)
		}
		b, _ := json.Marshal(zones)
		if strings.Contains(string(b), "\x1b") || strings.Contains(string(b), "\\u001b") {
			t.Errorf("%s: raw escape in zones: %s", c.name, b)
		}
		for _, z := range zones {
			for _, k := range []string{"zone", "state", "codes", "weight"} {
				if _, ok := z[k]; !ok {
					t.Errorf("%s: zone entry lacks %q: %v", c.name, k, z)
				}
			}
		}
	}
}

func TestDNSBLCheckUnreadable(t *testing.T) {
	// A resolver that answers every name with an address (an NXDOMAIN-rewriting ISP
	// resolver) and one that never answers.
	env, _ := liveEnv(t, "*.zen.spamhaus.org. A 198.51.100.1\n")
	saved := dnsblZones
	defer func() { dnsblZones = saved }()
	var zen []dnsbl.Zone
	for _, z := range saved {
		if z.Zone == "zen.spamhaus.org" {
			zen = append(zen, z)
		}
	}
	dnsblZones = zen
	r := runLive(t, env, "dnsbl", Target{IP: netip.MustParseAddr("192.0.2.1")})
	if r.Status != Error || !strings.Contains(r.Summary, "rewrites NXDOMAIN") || !strings.Contains(r.Fix, "use a resolver that does not") {
		t.Errorf("rewriting resolver: %s %q", r.Status, r.Summary)
	}
	env2, s2 := liveEnv(t, "")
	s2.Hang("1.2.0.192.zen.spamhaus.org")
	s2.Hang("2.0.0.127.zen.spamhaus.org")
	s2.Hang("1.0.0.127.zen.spamhaus.org")
	r = runLive(t, env2, "dnsbl", Target{IP: netip.MustParseAddr("192.0.2.1")})
	if r.Status != Error || !strings.Contains(r.Summary, "timeout") {
		t.Errorf("hanging server: %s %q", r.Status, r.Summary)
	}
}

// TestDNSBLListsItsNeverListedEntry (RFC 5782 §5: 127.0.0.1 must never be listed): a list
// that answers 1.0.0.127 lists everything, so its listing of the subject counts for
// nothing; the other lists decide, and the wildcard list is reported as unreadable.
func TestDNSBLListsItsNeverListedEntry(t *testing.T) {
	env, _ := liveEnv(t, dnsblHealthy()+`
1.0.0.127.dnsbl-1.uceprotect.net. A 127.0.0.2
7.2.0.192.dnsbl-1.uceprotect.net. A 127.0.0.2
1.0.0.127.zen.spamhaus.org. A 127.0.0.2
7.2.0.192.zen.spamhaus.org. A 127.0.0.2
`)
	r := runLive(t, env, "dnsbl", Target{IP: netip.MustParseAddr("192.0.2.7")})
	if r.Status != Warn || strings.Contains(r.Summary, "listed on") && !strings.Contains(r.Summary, "not listed on") {
		t.Errorf("wildcard lists: %s %q", r.Status, r.Summary)
	}
	if !strings.Contains(r.Summary, "answers its never-listed test entry") || r.Fix != "" && strings.Contains(r.Fix, "request removal") {
		t.Errorf("the wildcard lists are not named as such, or a delisting is asked: %q fix %q", r.Summary, r.Fix)
	}
	zones, _ := r.Details["zones"].([]map[string]any)
	seen := 0
	for _, z := range zones {
		if z["zone"] == "zen.spamhaus.org" || z["zone"] == "dnsbl-1.uceprotect.net" {
			seen++
			if z["state"] != string(dnsbl.Error) {
				t.Errorf("%v: state %v, want error", z["zone"], z["state"])
			}
		}
	}
	if seen != 2 {
		t.Errorf("%d of the 2 wildcard lists in the details", seen)
	}
}
