package spf

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

const lintZone = `
good.test.       TXT "v=spf1 mx include:_spf.esp.test ip4:192.0.2.10 -all"
good.test.       MX 10 mx.good.test.
mx.good.test.    A 192.0.2.25
_spf.esp.test.   TXT "v=spf1 include:_a.esp.test include:_b.esp.test ~all"
_a.esp.test.     TXT "v=spf1 ip4:198.51.100.0/24 ~all"
_b.esp.test.     TXT "v=spf1 ip6:2001:db8::/32 ~all"
loop.test.       TXT "v=spf1 include:loop2.test -all"
loop2.test.      TXT "v=spf1 include:loop.test -all"
two.test.        TXT "v=spf1 -all"
two.test.        TXT "v=spf1 ip4:192.0.2.1 -all"
plusall.test.    TXT "v=spf1 +all"
qall.test.       TXT "v=spf1 ptr ?all"
noall.test.      TXT "v=spf1 ip4:192.0.2.1"
syntax.test.     TXT "v=spf1 ip4:192.0.2.1 -all moo"
void.test.       TXT "v=spf1 a:n1.void.test a:n2.void.test a:n3.void.test -all"
many.test.       TXT "v=spf1 a:h1.many.test a:h2.many.test a:h3.many.test a:h4.many.test a:h5.many.test a:h6.many.test include:_spf.esp.test mx:good.test exists:h1.many.test -all"
missing.test.    TXT "v=spf1 include:nothing.test -all"
nothing.test.    A 192.0.2.1
escape.test.     TXT "v=spf1 ip4:192.0.2.1 \027[31m -all"
cname.test.      CNAME cname2.test.
cname2.test.     CNAME cname.test.
`

func init() {
	for i := 1; i <= 6; i++ {
		lintExtra += fmt.Sprintf("h%d.many.test. A 192.0.2.%d\n", i, i)
	}
	for i := 0; i < 20; i++ {
		lintExtra += fmt.Sprintf("d%d.deep.test. TXT \"v=spf1 include:d%d.deep.test -all\"\n", i, i+1)
	}
	lintExtra += "d20.deep.test. TXT \"v=spf1 -all\"\n"
}

var lintExtra string

func lintServer(t *testing.T) (*dnstest.Server, *resolver.Resolver) {
	t.Helper()
	srv := dnstest.Start(t, lintZone+lintExtra)
	res, err := resolver.New(resolver.Config{Servers: []string{srv.Addr}, Timeout: time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return srv, res
}

func hasProblem(r *Report, level Level, text string) bool {
	for _, p := range r.Problems {
		if p.Level == level && strings.Contains(p.Text, text) {
			return true
		}
	}
	return false
}

func TestLint(t *testing.T) {
	_, res := lintServer(t)
	ctx := context.Background()
	cases := []struct {
		domain  string
		level   Level
		text    string
		lookups int
	}{
		{"good.test", "", "", 4},
		{"loop.test", LevelFail, "loop", -1},
		{"two.test", LevelFail, "2 SPF records", -1},
		{"plusall.test", LevelFail, "+all authorizes", 0},
		{"qall.test", LevelWarn, "?all asserts nothing", 1},
		{"qall.test", LevelWarn, "ptr: slow", 1},
		{"noall.test", LevelWarn, "no all term", 0},
		{"syntax.test", LevelFail, `"moo": unknown mechanism`, -1},
		{"void.test", LevelFail, "3 lookups return nothing", 3},
		{"many.test", LevelFail, "needs 11 DNS lookups", 11},
		{"missing.test", LevelFail, "has no SPF record", 1},
		{"d0.deep.test", LevelFail, "nested more than 10 deep", -1},
		{"escape.test", LevelFail, "characters other than printable ASCII", -1},
		{"cname.test", LevelError, "CNAME loop", -1},
	}
	for _, c := range cases {
		r := Lint(ctx, res, c.domain)
		if c.level == "" && len(r.Problems) > 0 {
			t.Errorf("%s: unexpected problems %+v", c.domain, r.Problems)
		}
		if c.level != "" && !hasProblem(r, c.level, c.text) {
			t.Errorf("%s: want %s %q, got %+v", c.domain, c.level, c.text, r.Problems)
		}
		if c.lookups >= 0 && r.Lookups != c.lookups {
			t.Errorf("%s: %d lookups, want %d", c.domain, r.Lookups, c.lookups)
		}
		for _, p := range r.Problems {
			if strings.ContainsRune(p.Text, 0x1b) || strings.ContainsRune(p.Term, 0x1b) {
				t.Errorf("%s: raw escape in %q", c.domain, p.Text)
			}
		}
	}
	if r := Lint(ctx, res, "cname.test"); r.Err == nil || r.Found {
		t.Errorf("CNAME loop: want an error, never absent; got found=%v err=%v", r.Found, r.Err)
	}
	r := Lint(ctx, res, "good.test")
	if got := r.Root.Terms[1]; got.Term != "include:_spf.esp.test" || got.Lookups != 3 {
		t.Errorf("include cost: %+v, want 3 lookups (itself and its two includes)", got)
	}
}

// TestLintHugeRecord: a 64 KB TXT answer comes over TCP after a truncated UDP answer and is
// reported, not printed whole.
func TestLintHugeRecord(t *testing.T) {
	srv, res := lintServer(t)
	var b strings.Builder
	b.WriteString("v=spf1")
	for i := 0; b.Len() < 62000; i++ {
		fmt.Fprintf(&b, " ip4:10.%d.%d.0/24", i/256, i%256)
	}
	b.WriteString(" -all")
	srv.Add(&dns.TXT{Hdr: dns.RR_Header{Name: "huge.test.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: chunks(b.String())})
	r := Lint(context.Background(), res, "huge.test")
	if !r.Found || r.Err != nil {
		t.Fatalf("huge record: found=%v err=%v", r.Found, r.Err)
	}
	if !hasProblem(r, LevelWarn, "bytes; over 450") {
		t.Errorf("no length warning: %+v", r.Problems)
	}
	if len(r.Root.Record) > 1100 {
		t.Errorf("record kept whole in the tree: %d bytes", len(r.Root.Record))
	}
	if srv.Queries("huge.test", "TXT") < 2 {
		t.Errorf("want a UDP then a TCP query, got %d", srv.Queries("huge.test", "TXT"))
	}
}

// TestLintHang: a server that never answers gives error, bounded by the context.
func TestLintHang(t *testing.T) {
	srv, res := lintServer(t)
	srv.Hang("good.test")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	r := Lint(ctx, res, "good.test")
	if r.Err == nil || r.Found {
		t.Errorf("hang: want an error, got found=%v err=%v", r.Found, r.Err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("hang took %v", d)
	}
}

func TestEvaluate(t *testing.T) {
	_, res := lintServer(t)
	ctx := context.Background()
	cases := []struct {
		ip, sender string
		want       Result
	}{
		{"192.0.2.10", "bounce@good.test", Pass},
		{"192.0.2.25", "bounce@good.test", Pass},
		{"198.51.100.7", "bounce@good.test", Pass},
		{"203.0.113.1", "bounce@good.test", Fail},
		{"203.0.113.1", "bounce@nothing.test", None},
		{"192.0.2.1", "x@syntax.test", PermError},
		{"192.0.2.1", "x@two.test", PermError},
		{"192.0.2.1", "x@bad..test", None},
	}
	for _, c := range cases {
		v := Evaluate(ctx, res, netip.MustParseAddr(c.ip), "mail.good.test", c.sender)
		if v.Result != c.want {
			t.Errorf("%s from %s: %s (%s), want %s", c.sender, c.ip, v.Result, v.Reason, c.want)
		}
	}
}

func TestParseRecord(t *testing.T) {
	good := []string{"v=spf1", "v=spf1 -all", "V=SPF1 a/24//64 mx:%{d}.example.com ip6:2001:db8::/32 exp=explain.%{d} ~all",
		"v=spf1 include:_spf.google.com  ~all ", "v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all"}
	for _, s := range good {
		r, err := ParseRecord(s)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if _, err := ParseRecord(r.String()); err != nil {
			t.Errorf("%q printed back as %q does not parse: %v", s, r.String(), err)
		}
	}
	bad := map[string]string{
		"v=spf1 ip4:1.2.3.4/032":                 "ip4:1.2.3.4/032",
		"v=spf1 a:museum":                        "a:museum",
		"v=spf1 a:abc.123":                       "a:abc.123",
		"v=spf1 redirect=a.test redirect=b.test": "redirect=b.test",
		"v=spf1 exp=%{r}.example.com":            "exp=%{r}.example.com",
		"v=spf1 -all foo=%abc":                   "foo=%abc",
		"v=spf1 redirect:x.test":                 "redirect:x.test",
		"v=spf1 ip6":                             "ip6",
		"v=spf1 include:":                        "include:",
		"v=spf1 a:x.test\rptr":                   "a:x.test\rptr",
	}
	for s, term := range bad {
		_, err := ParseRecord(s)
		se, ok := err.(*SyntaxError)
		if !ok {
			t.Errorf("%q: want a syntax error, got %v", s, err)
			continue
		}
		if se.Term != term {
			t.Errorf("%q: error names %q, want %q", s, se.Term, term)
		}
	}
	r, _ := ParseRecord("v=spf1 mx include:_spf.esp.test -all")
	if got := r.Authorize("ip4:192.0.2.7").String(); got != "v=spf1 mx include:_spf.esp.test ip4:192.0.2.7 -all" {
		t.Errorf("Authorize: %q", got)
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"v=spf1 -all", "v=spf1 a/24//64 mx:%{d}.x.test ~all", "v=spf1 exp=%{r}", "v=spf1 ip6:::1/128"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err == nil {
			if _, err := ParseRecord(r.String()); err != nil {
				t.Fatalf("%q printed back as %q: %v", s, r.String(), err)
			}
		}
	})
}
