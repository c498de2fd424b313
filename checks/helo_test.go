package checks

import (
	"net/netip"
	"testing"
)

const heloZone = `
1.2.0.192.in-addr.arpa. PTR mail.example.com.
mail.example.com. A 192.0.2.1
other.example.com. A 192.0.2.1
elsewhere.example.com. A 198.51.100.7
`

func TestHELOCheck(t *testing.T) {
	env, s := liveEnv(t, heloZone)
	s.ServFail("broken.example.com")
	ip := netip.MustParseAddr("192.0.2.1")
	for _, c := range []liveCase{
		{"matches rdns", Target{IP: ip, HELO: "mail.example.com"}, Pass, "forward-confirmed PTR name"},
		{"resolves to ip", Target{IP: ip, HELO: "other.example.com"}, Pass, "resolves to 192.0.2.1 (the PTR name is mail.example.com)"},
		{"no ip", Target{HELO: "other.example.com"}, Pass, "no sending IP"},
		{"elsewhere", Target{IP: ip, HELO: "elsewhere.example.com"}, Warn, "not to the sending IP"},
		{"localhost", Target{IP: ip, HELO: "localhost"}, Fail, "localhost"},
		{"bare ip", Target{IP: ip, HELO: "192.0.2.1"}, Fail, "not a valid HELO"},
		{"literal", Target{IP: ip, HELO: "[192.0.2.1]"}, Warn, "address literal"},
		{"other literal", Target{IP: ip, HELO: "[192.0.2.9]"}, Warn, "not the sending IP"},
		{"single label", Target{IP: ip, HELO: "mailhost"}, Fail, "fully qualified"},
		{"nxdomain", Target{IP: ip, HELO: "nowhere.example.com"}, Fail, "does not resolve"},
		{"servfail", Target{IP: ip, HELO: "broken.example.com"}, Error, "SERVFAIL"},
		{"none", Target{IP: ip}, Skip, "no HELO"},
	} {
		r := c.check(t, env, "helo")
		if c.status == Fail && r.Fix == "" {
			t.Errorf("%s: no fix", c.name)
		}
	}
}
