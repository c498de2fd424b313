// Package dnsbl asks DNS blocklists (RFC 5782) about an IP address or a domain and reads
// each list's answer by that list's own table: a code the table does not know is
// unknown (never listed), a refusal code is the list declining to answer (never a
// listing), and an answer outside 127.0.0.0/8 is a resolver that rewrites NXDOMAIN.
// The lists are data (zones.yaml), each with a weight, so a PBL or UCEPROTECT hit does
// not read like an SBL hit.
package dnsbl

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/unblock-mail/unblock/checks/resolver"
)

// Kinds of list.
const (
	KindIP     = "ip"
	KindDomain = "domain"
)

// Code is what one answer of a list means.
type Code struct {
	Meaning string `yaml:"meaning"`
	Weight  int    `yaml:"weight"` // 0: the zone's weight
}

// Zone is one blocklist.
type Zone struct {
	Zone    string            `yaml:"zone"`
	Name    string            `yaml:"name"`
	Kind    string            `yaml:"kind"`
	Weight  int               `yaml:"weight"`
	Delist  string            `yaml:"delist"`
	Codes   map[string]Code   `yaml:"codes"`
	Bits    map[int]Code      `yaml:"bits"`
	Refusal map[string]string `yaml:"refusal"`
	Refused string            `yaml:"refused"`
}

// State is how a list answered, as the JSON contract spells it.
type State string

const (
	Listed    State = "listed"
	NotListed State = "not-listed"
	Refused   State = "refused" // the list declined to answer this resolver
	Unknown   State = "unknown" // an answer the list's table does not know
	Error     State = "error"   // no usable answer (timeout, SERVFAIL, a rewriting resolver)
)

// Result is one list's answer about one name.
type Result struct {
	Zone     Zone
	Query    string   // the name asked
	State    State    //
	Codes    []string // the A records answered, as text
	Meanings []string // what the known codes mean, in the order of Codes
	Weight   int      // the heaviest known code's weight; the zone's when not listed
	Reason   string   // the list's TXT record for a listing, sanitized
	Advice   string   // what to do: the refusal's remedy, or the delisting page
	Note     string   // why the state is error, refused or unknown, in a person's words
	Short    string   // the same in a few words, for a one-line summary
	Err      error    // the lookup error behind an error state
}

//go:embed zones.yaml
var zonesYAML []byte

// defaultZones are read on first use: most commands ask no list.
var defaultZones = sync.OnceValue(func() []Zone {
	zs, err := ParseZones(zonesYAML)
	if err != nil {
		panic(err) // embedded data; the tests load it
	}
	return zs
})

// Label is the short name of what a list's answer means: the part of its meaning before
// ":" ("SBL", "listed by SpamCop"), or, when that is only the list's own name ("DroneBL:
// IRC drone"), what follows it up to the first ";".
func Label(meaning, list string) string {
	label, rest, ok := strings.Cut(meaning, ":")
	if ok && strings.EqualFold(strings.TrimSpace(label), strings.TrimSpace(list)) {
		label, _, _ = strings.Cut(strings.TrimSpace(rest), ";")
	}
	return strings.TrimSpace(label)
}

// Zones returns the lists asked by default.
func Zones() []Zone { return slices.Clone(defaultZones()) }

// ParseZones reads a zone list in the format of zones.yaml.
func ParseZones(data []byte) ([]Zone, error) {
	var doc struct {
		Zones []Zone `yaml:"zones"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("blocklist zones: %w", err)
	}
	for i, z := range doc.Zones {
		if z.Zone == "" || (z.Kind != KindIP && z.Kind != KindDomain) || z.Weight < 1 {
			return nil, fmt.Errorf("blocklist zones: entry %d (%q) needs zone, kind ip|domain and a weight of at least 1", i+1, z.Zone)
		}
		for c := range z.Codes {
			if a, err := netip.ParseAddr(c); err != nil || !a.Is4() {
				return nil, fmt.Errorf("blocklist zones: %s: code %q is not an IPv4 address", z.Zone, c)
			}
		}
		for c := range z.Refusal {
			if _, err := netip.ParseAddr(c); err != nil {
				return nil, fmt.Errorf("blocklist zones: %s: refusal code %q is not an address", z.Zone, c)
			}
		}
	}
	return doc.Zones, nil
}

// QueryName is the name asked of zone for an IP address (reversed octets, or 32
// nibbles for IPv6) or a domain.
func QueryName(z Zone, subject string) (string, error) {
	if z.Kind == KindIP {
		a, err := netip.ParseAddr(subject)
		if err != nil {
			return "", fmt.Errorf("blocklist %s: %q is not an IP address", z.Zone, subject)
		}
		return resolver.ReverseName(a, z.Zone), nil
	}
	d, err := resolver.Normalize(subject)
	if err != nil {
		return "", err
	}
	return d + "." + strings.TrimSuffix(z.Zone, "."), nil
}

// Lookup asks zone about subject (an IP address for an ip list, a domain for a domain
// list) and reads the answer by the zone's table. A listing fetches the list's TXT
// reason.
func Lookup(ctx context.Context, r *resolver.Resolver, z Zone, subject string) Result {
	res := Result{Zone: z, Weight: z.Weight}
	q, err := QueryName(z, subject)
	if err != nil {
		res.State, res.Note, res.Err = Error, err.Error(), err
		res.Short = "bad query"
		return res
	}
	res.Query = q
	addrs, err := r.A(ctx, q)
	if err != nil {
		return readError(res, err)
	}
	res = read(res, addrs)
	if res.State == Listed {
		if txt, err := r.TXT(ctx, q); err == nil && len(txt) > 0 {
			res.Reason = strings.Join(txt, " ")
		}
	}
	return res
}

func readError(res Result, err error) Result {
	switch resolver.KindOf(err) {
	case resolver.NXDomain, resolver.NoData:
		res.State = NotListed
	case resolver.Refused:
		res.State, res.Err = Refused, err
		res.Short = "REFUSED"
		res.Advice = res.Zone.Refused
		res.Note = "the list's servers (or the resolver) answered REFUSED"
		if res.Advice == "" {
			res.Advice = "ask through a resolver of your own that the list answers"
		}
	default:
		res.State, res.Err = Error, err
		res.Note = err.Error()
		res.Short = resolver.KindOf(err).String()
	}
	return res
}

// read maps the A records of an answer to a state by the zone's table.
func read(res Result, addrs []netip.Addr) Result {
	z := res.Zone
	for _, a := range addrs {
		res.Codes = append(res.Codes, a.String())
	}
	slices.Sort(res.Codes)
	res.Weight = 0
	var unknown, refusal []string
	for _, a := range addrs {
		code := a.String()
		if !a.Is4() || a.As4()[0] != 127 {
			res.State, res.Short = Error, "the resolver rewrites NXDOMAIN"
			res.Note = fmt.Sprintf("the resolver answered %s, outside 127.0.0.0/8: it rewrites NXDOMAIN (an ISP or 'safe browsing' resolver), so this list cannot be read through it; use a resolver that does not", code)
			res.Weight = z.Weight
			return res
		}
		if why, ok := z.Refusal[code]; ok {
			refusal = append(refusal, why)
			continue
		}
		if c, ok := z.Codes[code]; ok {
			res.Meanings = append(res.Meanings, c.Meaning)
			res.Weight = max(res.Weight, weightOf(c, z))
			continue
		}
		if m, w, ok := bits(z, a); ok {
			res.Meanings = append(res.Meanings, m...)
			res.Weight = max(res.Weight, w)
			continue
		}
		unknown = append(unknown, code)
	}
	switch {
	case len(res.Meanings) > 0:
		res.State = Listed
		res.Advice = z.Delist
	case len(refusal) > 0:
		res.State, res.Short = Refused, "refusal code "+strings.Join(res.Codes, ", ")
		res.Advice = refusal[0]
		res.Note = "the answer is a refusal code, not a listing"
		res.Weight = z.Weight
	default:
		res.State, res.Short = Unknown, "unknown answer "+strings.Join(unknown, ", ")
		res.Note = fmt.Sprintf("answer %s is not in %s's table of codes: not counted as a listing", strings.Join(unknown, ", "), z.Zone)
		res.Weight = z.Weight
	}
	return res
}

func weightOf(c Code, z Zone) int {
	if c.Weight > 0 {
		return c.Weight
	}
	return z.Weight
}

// bits reads a list that adds its codes together (127.0.0.x, x a sum of bits).
func bits(z Zone, a netip.Addr) ([]string, int, bool) {
	if len(z.Bits) == 0 {
		return nil, 0, false
	}
	o := a.As4()
	if o[1] != 0 || o[2] != 0 {
		return nil, 0, false
	}
	v, w := int(o[3]), 0
	var out []string
	for _, bit := range slices.Sorted(maps.Keys(z.Bits)) {
		if v&bit != 0 {
			out = append(out, z.Bits[bit].Meaning)
			w = max(w, weightOf(z.Bits[bit], z))
			v &^= bit
		}
	}
	if v != 0 || len(out) == 0 {
		return nil, 0, false // a bit the table does not know: the whole answer is unknown
	}
	return out, w, true
}

// Health is a zone's RFC 5782 §5 self-test: its test entry must be listed and its
// never-listed entry must not be.
type Health struct {
	OK bool
	// ListsEverything is set when the zone answers its never-listed entry: its
	// listings mean nothing either (a wildcard, a parked or expired list domain).
	ListsEverything bool
	Note            string // what is wrong, when not OK
	Short           string // the same in a few words, for a summary
}

// CheckHealth asks zone for its test entries (RFC 5782 §5): 127.0.0.2 (listed) and
// 127.0.0.1 (not listed) for an ip list — for IPv6, ::FFFF:7F00:2 and ::FFFF:7F00:1 by
// nibbles, which a list that does not serve IPv6 lacks — and TEST and INVALID for a
// domain list. A zone whose test entry is missing does not answer (or does not answer
// this resolver), so its "not listed" proves nothing; a zone that lists the
// never-listed entry lists everything.
func CheckHealth(ctx context.Context, r *resolver.Resolver, z Zone, ipv6 bool) Health {
	listedQ, cleanQ := "2.0.0.127."+z.Zone, "1.0.0.127."+z.Zone
	switch {
	case z.Kind == KindDomain:
		listedQ, cleanQ = "test."+z.Zone, "invalid."+z.Zone
	case ipv6:
		listedQ, cleanQ = mappedNibbles(2)+z.Zone, mappedNibbles(1)+z.Zone
	}
	var (
		wg               sync.WaitGroup
		clean            []netip.Addr
		hitErr, cleanErr error
	)
	wg.Add(2)
	go func() { defer wg.Done(); _, hitErr = r.A(ctx, listedQ) }()
	go func() { defer wg.Done(); clean, cleanErr = r.A(ctx, cleanQ) }()
	wg.Wait()
	switch {
	case cleanErr == nil && len(clean) > 0:
		return Health{ListsEverything: true, Short: "answers its never-listed test entry",
			Note: fmt.Sprintf("%s answers %s for its never-listed test entry (RFC 5782 §5): it lists everything, so neither a listing nor its absence means anything", z.Zone, clean[0])}
	case cleanErr != nil && !resolver.IsNotFound(cleanErr):
		return Health{Note: "its never-listed test entry could not be read: " + cleanErr.Error()}
	case hitErr != nil && resolver.IsNotFound(hitErr) && ipv6:
		return Health{Short: "does not cover IPv6", Note: fmt.Sprintf("%s does not list its IPv6 test entry (::FFFF:7F00:2): it does not cover IPv6 addresses, so 'not listed' proves nothing", z.Zone)}
	case hitErr != nil && resolver.IsNotFound(hitErr):
		return Health{Note: fmt.Sprintf("%s does not list its own test entry: the list is gone or does not answer this resolver, so 'not listed' proves nothing", z.Zone)}
	case hitErr != nil:
		return Health{Note: "its test entry could not be read: " + hitErr.Error()}
	}
	return Health{OK: true}
}

// mappedNibbles is the reversed nibble form of ::FFFF:7F00:n with a trailing dot. It is
// spelled out because netip and ReverseName would turn the mapped address into IPv4.
func mappedNibbles(n byte) string {
	var a [16]byte
	a[10], a[11], a[12], a[15] = 0xff, 0xff, 0x7f, n
	const hex = "0123456789abcdef"
	var b strings.Builder
	for i := 15; i >= 0; i-- {
		b.WriteByte(hex[a[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[a[i]>>4])
		b.WriteByte('.')
	}
	return b.String()
}

// Check asks every zone of the subject's kind at once, each with its health check, and
// returns the results in the zones' order. A zone whose health check fails turns a
// "not listed" into error: the absence of a listing from a list that does not answer
// proves nothing.
func Check(ctx context.Context, r *resolver.Resolver, zones []Zone, kind, subject string) []Result {
	var picked []Zone
	for _, z := range zones {
		if z.Kind == kind {
			picked = append(picked, z)
		}
	}
	ipv6 := false
	if a, err := netip.ParseAddr(subject); err == nil && !a.Unmap().Is4() {
		ipv6 = true
	}
	out := make([]Result, len(picked))
	var wg sync.WaitGroup
	for i, z := range picked {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h Health
			var hw sync.WaitGroup
			hw.Add(1)
			go func() { defer hw.Done(); h = CheckHealth(ctx, r, z, ipv6 && z.Kind == KindIP) }()
			res := Lookup(ctx, r, z, subject)
			hw.Wait()
			if h.ListsEverything && res.State != Error && res.State != Refused {
				// RFC 5782 §5: a list that lists 127.0.0.1 lists everything; its
				// answer about the subject counts for nothing, a listing included.
				res.State, res.Note, res.Short = Error, h.Note, h.Short
				res.Codes, res.Meanings, res.Weight, res.Reason = nil, nil, 0, ""
			}
			if res.State == NotListed && !h.OK {
				res.State, res.Note, res.Short = Error, h.Note, h.Short
				if res.Short == "" {
					res.Short = "fails its RFC 5782 self-test"
				}
			}
			out[i] = res
		}()
	}
	wg.Wait()
	return out
}
