package checks

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/checks/spf"
)

// spfLimitZone holds policies whose trouble lies after the term that matches, names whose
// macro expansion runs past 253 characters, and names with only IPv6 addresses.
var spfLimitZone = `
late11.lim.test.   TXT "v=spf1 ip4:192.0.2.10 include:i1.lim.test include:i2.lim.test include:i3.lim.test include:i4.lim.test include:i5.lim.test include:i6.lim.test include:i7.lim.test include:i8.lim.test include:i9.lim.test include:i10.lim.test include:i11.lim.test -all"
early11.lim.test.  TXT "v=spf1 include:i1.lim.test include:i2.lim.test include:i3.lim.test include:i4.lim.test include:i5.lim.test include:i6.lim.test include:i7.lim.test include:i8.lim.test include:i9.lim.test include:i10.lim.test include:i11.lim.test ip4:192.0.2.10 -all"
` + func() string {
	var b strings.Builder
	for i := 1; i <= 11; i++ {
		b.WriteString("i" + itoa(i) + `.lim.test. TXT "v=spf1 ip4:198.51.100.` + itoa(i) + ` -all"` + "\n")
	}
	return b.String()
}() + `
latenospf.lim.test. TXT "v=spf1 ip4:192.0.2.10 include:nospf.lim.test -all"
nospf.lim.test.     TXT "some verification token"
latebad.lim.test.   TXT "v=spf1 ip4:192.0.2.10 include:bad.lim.test -all"
earlybad.lim.test.  TXT "v=spf1 include:bad.lim.test ip4:192.0.2.10 -all"
bad.lim.test.       TXT "v=spf1 ip4:198.51.100.0/33 -all"
latevoid.lim.test.  TXT "v=spf1 ip4:192.0.2.10 a:gone1.lim.test a:gone2.lim.test a:gone3.lim.test -all"
long.lim.test.      TXT "v=spf1 exists:%{l}.%{l}.%{l}.%{l}.x.lim.test -all"
` + strings.Repeat("a", 63) + "." + strings.Repeat("a", 63) + "." + strings.Repeat("a", 63) + `.x.lim.test. A 127.0.0.2
v6void.lim.test.    TXT "v=spf1 a:v6a.lim.test a:v6b.lim.test a:v6c.lim.test ip4:192.0.2.10 -all"
v6a.lim.test.       AAAA 2001:db8::1
v6b.lim.test.       AAAA 2001:db8::2
v6c.lim.test.       AAAA 2001:db8::3
`

func itoa(i int) string { return strconv.Itoa(i) }

// TestSPFStatusAfterMatch: RFC 7208 §4.6.2 ends evaluation at the first match, so limits
// that lie after it (§4.6.4 more than 10 lookups or 2 void lookups, §5.2 an include
// without SPF) do not change the result for this IP: the check passes that result on as
// a warning with the fix, and fails only when the limit comes first.
func TestSPFStatusAfterMatch(t *testing.T) {
	env, _ := liveEnv(t, spfLimitZone)
	ip := netip.MustParseAddr("192.0.2.10")
	for _, c := range []struct {
		name, domain string
		status       Status
		want, fix    string
	}{
		{"§4.6.4 eleven lookups after the match", "late11.lim.test", Warn, "the result for 192.0.2.10 is pass", "cut the policy to 10 lookups"},
		{"§4.6.4 eleven lookups before the match", "early11.lim.test", Fail, "permerror", ""},
		{"§5.2 include without SPF after the match", "latenospf.lim.test", Warn, "the result for 192.0.2.10 is pass", "have nospf.lim.test publish SPF"},
		{"§4.6 syntax error in an include after the match", "latebad.lim.test", Warn, "the result for 192.0.2.10 is pass", "correct or remove"},
		{"§4.6 syntax error in an include before the match", "earlybad.lim.test", Fail, "permerror", ""},
		{"§4.6.4 three void lookups after the match", "latevoid.lim.test", Warn, "the result for 192.0.2.10 is pass", "remove the a:, mx: and include: terms"},
	} {
		r := runLive(t, env, "spf", Target{IP: ip, Domain: c.domain})
		mf, _ := r.Details["mail_from"].(map[string]any)
		notes := strings.Join(anyStrings(r.Details["notes"]), "\n")
		if r.Status != c.status || !strings.Contains(r.Summary+"\n"+notes, c.want) || !strings.Contains(r.Fix, c.fix) {
			t.Errorf("%s: %s %q notes %q fix %q; want %s with %q, fix %q", c.name, r.Status, r.Summary, notes, r.Fix, c.status, c.want, c.fix)
		}
		if c.status == Warn && (mf["result"] != "pass" || !strings.Contains(r.Summary+notes, "192.0.2.10 may send as "+c.domain)) {
			t.Errorf("%s: the match is the result: %v %q", c.name, mf, r.Summary)
		}
	}
}

func anyStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// TestSPFMacroOver253 (RFC 7208 §7.3): a name longer than 253 characters after macro
// expansion is cut from the left, whole labels at a time; the cut name is what is asked.
func TestSPFMacroOver253(t *testing.T) {
	env, srv := liveEnv(t, spfLimitZone)
	local := strings.Repeat("a", 63)
	v := spf.Evaluate(t.Context(), env.Resolver, netip.MustParseAddr("192.0.2.10"), "", local+"@long.lim.test")
	if v.Result != spf.Pass {
		t.Errorf("exists with a 268-character expansion: %s (%s); want pass on the name cut to 204 characters", v.Result, v.Reason)
	}
	cut := strings.Repeat(local+".", 3) + "x.lim.test"
	if srv.Queries(cut, "A") != 1 {
		t.Errorf("the cut name %s… was asked %d times", cut[:20], srv.Queries(cut, "A"))
	}
	for in, want := range map[string]string{
		"short.example":                           "short.example",
		strings.Repeat("b", 63) + "." + cut:       cut,
		strings.Repeat("b", 63) + "." + cut + ".": cut + ".",
		strings.Repeat("c.", 130) + "example":     strings.Repeat("c.", 123) + "example",
	} {
		if got := spf.TruncateName(in); got != want {
			t.Errorf("TruncateName(%d chars) = %d chars %.20q…, want %d", len(in), len(got), got, len(want))
		}
	}
}

// TestSPFVoidByAddressFamily (RFC 7208 §5.3 and §4.6.4): an IPv4 client's "a" asks for A
// records only, so three names with only AAAA records are three void lookups: permerror.
func TestSPFVoidByAddressFamily(t *testing.T) {
	env, srv := liveEnv(t, spfLimitZone)
	v := spf.Evaluate(t.Context(), env.Resolver, netip.MustParseAddr("192.0.2.10"), "", "x@v6void.lim.test")
	if v.Result != spf.PermError || !strings.Contains(v.Reason, "returned nothing") {
		t.Errorf("IPv4 client: %s (%s); want permerror for 3 void lookups", v.Result, v.Reason)
	}
	if n := srv.Queries("v6a.lim.test", "AAAA"); n != 0 {
		t.Errorf("an IPv4 client's a: asked AAAA %d times", n)
	}
	r := runLive(t, env, "spf", Target{IP: netip.MustParseAddr("192.0.2.10"), Domain: "v6void.lim.test"})
	if r.Status != Fail || !strings.Contains(r.Summary, "permerror") {
		t.Errorf("check: %s %q", r.Status, r.Summary)
	}
}
