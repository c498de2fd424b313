package spf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"

	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

// blitiriSkips are the tests of rfc7208-tests.yml that blitiri.com.ar/go/spf v1.6.0 marks
// "skip" in its own copy of the suite: the ones it does not pass by itself.
var blitiriSkips = map[string]bool{
	"non-ascii-policy": true, "control-char-policy": true, "spftimeout": true,
	"detect-errors-anywhere": true, "redirect-is-modifier": true, "invalid-domain": true,
	"a-bad-domain": true, "a-null": true, "a-numeric": true, "a-numeric-toplabel": true,
	"a-bad-toplabel": true, "a-only-toplabel": true, "a-only-toplabel-trailing-dot": true,
	"a-colon-domain": true, "a-colon-domain-ip4mapped": true, "mx-bad-domain": true,
	"mx-null": true, "mx-numeric-top-label": true, "mx-colon-domain": true,
	"mx-colon-domain-ip4mapped": true, "mx-bad-toplab": true, "cidr4-032": true,
	"bare-ip6": true, "redirect-syntax-error": true, "exp-empty-domain": true,
	"exp-syntax-error": true, "exp-twice": true, "redirect-empty-domain": true,
	"unknown-modifier-syntax": true, "exp-only-macro-char": true, "p-macro-multiple": true,
}

// minTaken is how many of the 31 our checks before evaluation take; the test fails if
// the count drops.
const minTaken = 26

type suiteTest struct {
	Helo     string    `yaml:"helo"`
	Host     string    `yaml:"host"`
	MailFrom string    `yaml:"mailfrom"`
	Result   yaml.Node `yaml:"result"`
}

type scenario struct {
	Description string               `yaml:"description"`
	Tests       map[string]suiteTest `yaml:"tests"`
	ZoneData    map[string]yaml.Node `yaml:"zonedata"`
}

func strs(n *yaml.Node) []string {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}
	case yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			out = append(out, c.Value)
		}
		return out
	}
	return nil
}

// escapeTXT writes raw bytes in the presentation form miekg/dns packs.
func escapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// chunks splits a record into character-strings of at most 255 bytes.
func chunks(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, escapeTXT(s[:255]))
		s = s[255:]
	}
	return append(out, escapeTXT(s))
}

// serve builds a loopback server for a scenario's zonedata, following the suite's driver
// rules: an SPF record is also served as TXT unless the name has its own TXT; TIMEOUT
// means the queries the records before it do not answer time out. dnstest hangs whole
// names, so a name whose TXT comes before TIMEOUT keeps answering TXT and answers its
// other types with no data.
func serve(t *testing.T, zone map[string]yaml.Node) *dnstest.Server {
	srv := dnstest.Start(t, "")
	for name, recs := range zone {
		owner := dns.Fqdn(strings.ReplaceAll(name, " ", `\ `))
		hdr := func(rrtype uint16) dns.RR_Header {
			return dns.RR_Header{Name: owner, Rrtype: rrtype, Class: dns.ClassINET, Ttl: 300}
		}
		var txt, spfs [][]string
		timeout, txtBeforeTimeout, hasTXT := false, false, false
		for _, r := range recs.Content {
			if r.Kind == yaml.ScalarNode && r.Value == "TIMEOUT" {
				timeout = true
				continue
			}
			for i := 0; i+1 < len(r.Content); i += 2 {
				typ, val := r.Content[i].Value, r.Content[i+1]
				switch typ {
				case "TIMEOUT":
					timeout = true
				case "A", "AAAA":
					for _, s := range strs(val) {
						ip := netip.MustParseAddr(s)
						if ip.Is4() {
							srv.Add(&dns.A{Hdr: hdr(dns.TypeA), A: ip.AsSlice()})
						} else {
							srv.Add(&dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: ip.AsSlice()})
						}
					}
				case "MX":
					var pref uint16
					fmt.Sscan(val.Content[0].Value, &pref)
					srv.Add(&dns.MX{Hdr: hdr(dns.TypeMX), Preference: pref, Mx: dns.Fqdn(val.Content[1].Value)})
				case "PTR":
					for _, s := range strs(val) {
						srv.Add(&dns.PTR{Hdr: hdr(dns.TypePTR), Ptr: dns.Fqdn(s)})
					}
				case "CNAME":
					srv.Add(&dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: dns.Fqdn(val.Value)})
				case "TXT":
					// "NONE" says the name has no TXT, so its SPF is not served as TXT.
					hasTXT = true
					for _, s := range strs(val) {
						if s != "NONE" {
							txt = append(txt, chunks(s))
							txtBeforeTimeout = txtBeforeTimeout || !timeout
						}
					}
				case "SPF":
					if s := strs(val); len(s) > 0 {
						spfs = append(spfs, chunks(strings.Join(s, "")))
					}
				}
			}
		}
		if !hasTXT {
			txt = spfs
		}
		for _, parts := range txt {
			srv.Add(&dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: parts})
		}
		if timeout && !txtBeforeTimeout {
			srv.Hang(owner)
		}
	}
	return srv
}

// TestRFC7208Suite runs the openspf RFC 7208 suite through our resolver over the wire and
// our evaluation: every test blitiri passes must pass, and our checks before evaluation
// must take at least minTaken of the 31 it skips.
func TestRFC7208Suite(t *testing.T) {
	f, err := os.Open("testdata/rfc7208-tests.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var scenarios []scenario
	dec := yaml.NewDecoder(f)
	for {
		var s scenario
		err := dec.Decode(&s)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		scenarios = append(scenarios, s)
	}

	var (
		mu                    sync.Mutex
		total, passed, taken  int
		missed, failedBlitiri []string
	)
	var wg sync.WaitGroup
	// A few tests at a time: under -race on two cores, hundreds at once starve the
	// loopback server and answers time out.
	slots := make(chan struct{}, 16)
	for _, sc := range scenarios {
		srv := serve(t, sc.ZoneData)
		for name, tc := range sc.Tests {
			wg.Add(1)
			go func() {
				defer wg.Done()
				slots <- struct{}{}
				defer func() { <-slots }()
				res, err := resolver.New(resolver.Config{Servers: []string{srv.Addr}, Timeout: time.Second, Attempts: 2})
				if err != nil {
					t.Error(err)
					return
				}
				ip, err := netip.ParseAddr(tc.Host)
				if err != nil {
					t.Errorf("%s: host %q: %v", name, tc.Host, err)
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				v := Evaluate(ctx, res, ip, tc.Helo, tc.MailFrom)
				ok := slices.Contains(strs(&tc.Result), string(v.Result))
				mu.Lock()
				defer mu.Unlock()
				total++
				switch {
				case ok:
					passed++
					if blitiriSkips[name] {
						taken++
					}
				case blitiriSkips[name]:
					missed = append(missed, fmt.Sprintf("%s (want %v, got %s: %s)", name, strs(&tc.Result), v.Result, v.Reason))
				default:
					failedBlitiri = append(failedBlitiri, fmt.Sprintf("%s: want %v, got %s (%s)", name, strs(&tc.Result), v.Result, v.Reason))
				}
			}()
		}
	}
	wg.Wait()
	sort.Strings(failedBlitiri)
	sort.Strings(missed)
	for _, m := range failedBlitiri {
		t.Errorf("a test blitiri passes failed: %s", m)
	}
	if total != 203 {
		t.Errorf("ran %d tests, the suite has 203", total)
	}
	t.Logf("RFC 7208 suite: %d of %d pass; %d of the %d blitiri skips taken by our checks", passed, total, taken, len(blitiriSkips))
	for _, m := range missed {
		t.Logf("not taken: %s", m)
	}
	if taken < minTaken {
		t.Errorf("our checks take %d of blitiri's skipped tests, want at least %d", taken, minTaken)
	}
}
