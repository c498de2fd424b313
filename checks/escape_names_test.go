package checks

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/checks/iprev"
)

// TestNamesWithEscapeBytes (RFC 1035 §5.1 presentation escapes \DDD; RFC 1123 §2.1 host
// names): a PTR name holding ESC is looked up by the bytes it holds, not by its escaped
// text, so its A record is found; the ptr check reports the oddity, and no fix asks to
// publish what exists.
func TestNamesWithEscapeBytes(t *testing.T) {
	env, srv := liveEnv(t, `
9.2.0.192.in-addr.arpa.   PTR mail\027[31m.esc.test.
mail\027[31m.esc.test.    A 192.0.2.9
8.2.0.192.in-addr.arpa.   PTR gone\027.esc.test.
`)
	ip := netip.MustParseAddr("192.0.2.9")
	fc := runLive(t, env, "fcrdns", Target{IP: ip})
	if fc.Status != Pass || !strings.Contains(fc.Summary, `mail\027[31m.esc.test → 192.0.2.9`) || !strings.Contains(fc.Summary, "ESC") {
		t.Errorf("fcrdns: %s %q", fc.Status, fc.Summary)
	}
	if srv.Queries(`mail\027[31m.esc.test`, "A") != 1 {
		t.Errorf("the name was asked %d times, want once", srv.Queries(`mail\027[31m.esc.test`, "A"))
	}
	p := runLive(t, env, "ptr", Target{IP: ip})
	if p.Status != Warn || !strings.Contains(p.Summary, `ESC (written \027)`) || strings.Contains(p.Fix, "Publish mail") {
		t.Errorf("ptr: %s %q fix %q", p.Status, p.Summary, p.Fix)
	}
	h := runLive(t, env, "helo", Target{IP: ip, HELO: "mail.esc.test"})
	if strings.Contains(h.Fix, `introduce itself as mail\027`) {
		t.Errorf("helo: the fix asks to use a name no host has: %q", h.Fix)
	}
	// A name with ESC that does not resolve: the fix changes the PTR, never "publish
	// gone\027.esc.test": no one can publish an address for a name no host has.
	g := runLive(t, env, "fcrdns", Target{IP: netip.MustParseAddr("192.0.2.8")})
	if g.Status != Fail || strings.Contains(g.Fix, "Publish gone") {
		t.Errorf("unresolved odd name: %s %q fix %q", g.Status, g.Summary, g.Fix)
	}
}

func TestOddity(t *testing.T) {
	for name, want := range map[string]string{
		"mail.example.com":         "",
		`mail\027[31m.example.com`: `ESC (written \027), "["`,
		`a\000b.example`:           `NUL (written \000)`,
		`under_score.example`:      `"_"`,
		`sp\032ace.example`:        `space (written \032)`,
	} {
		got := iprev.Oddity(name)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("Oddity(%q) = %q, want %q", name, got, want)
		}
	}
}
