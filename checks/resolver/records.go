package resolver

import (
	"context"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/unblock-mail/unblock/sanitize"
)

// TXT returns each TXT record with its character-strings joined (RFC 7208 §3.3), decoded
// from the wire and sanitized: a record that carries escape sequences comes back with
// them made visible. A tab is kept (sanitize.Record): it is whitespace the record's
// parser must see as such.
func (r *Resolver) TXT(ctx context.Context, name string) ([]string, error) {
	ans, err := r.Query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ans.Records))
	for _, rr := range ans.Records {
		var b strings.Builder
		for _, s := range rr.(*dns.TXT).Txt {
			b.WriteString(unescape(s))
		}
		out = append(out, sanitize.Record(b.String()))
	}
	return out, nil
}

// TXTStrings returns each TXT record's character-strings unjoined, decoded and sanitized
// as TXT sanitizes them:
// the lint of a record needs to see a string over 255 bytes or a split in the wrong place.
func (r *Resolver) TXTStrings(ctx context.Context, name string) ([][]string, error) {
	ans, err := r.Query(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([][]string, 0, len(ans.Records))
	for _, rr := range ans.Records {
		var parts []string
		for _, s := range rr.(*dns.TXT).Txt {
			parts = append(parts, sanitize.Record(unescape(s)))
		}
		out = append(out, parts)
	}
	return out, nil
}

// unescape reverses miekg/dns's presentation escapes (\" \\ \DDD) to the wire bytes.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b = append(b, s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if v, err := strconv.Atoi(s[i+1 : i+4]); err == nil && v < 256 {
				b = append(b, byte(v))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// A returns the IPv4 addresses of name.
func (r *Resolver) A(ctx context.Context, name string) ([]netip.Addr, error) {
	return r.addrs(ctx, name, dns.TypeA)
}

// AAAA returns the IPv6 addresses of name.
func (r *Resolver) AAAA(ctx context.Context, name string) ([]netip.Addr, error) {
	return r.addrs(ctx, name, dns.TypeAAAA)
}

func (r *Resolver) addrs(ctx context.Context, name string, qtype uint16) ([]netip.Addr, error) {
	ans, err := r.Query(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, rr := range ans.Records {
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A); ok {
				out = append(out, a.Unmap())
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA); ok {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// IPs asks A and AAAA at once. It fails only when both fail; a not-found error is
// returned only when both prove absence.
func (r *Resolver) IPs(ctx context.Context, name string) ([]netip.Addr, error) {
	var (
		wg         sync.WaitGroup
		v4, v6     []netip.Addr
		err4, err6 error
	)
	wg.Add(2)
	go func() { defer wg.Done(); v4, err4 = r.A(ctx, name) }()
	go func() { defer wg.Done(); v6, err6 = r.AAAA(ctx, name) }()
	wg.Wait()
	out := append(v4, v6...)
	switch {
	case len(out) > 0:
		return out, nil
	case err4 != nil && !IsNotFound(err4):
		return nil, err4
	case err6 != nil && !IsNotFound(err6):
		return nil, err6
	}
	return nil, err4
}

// MX is one mail exchanger.
type MX struct {
	Host string // lower case, no trailing dot; "" for a null MX (RFC 7505)
	Pref uint16
}

// MX returns name's mail exchangers sorted by preference.
func (r *Resolver) MX(ctx context.Context, name string) ([]MX, error) {
	ans, err := r.Query(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]MX, 0, len(ans.Records))
	for _, rr := range ans.Records {
		mx := rr.(*dns.MX)
		out = append(out, MX{Host: strings.ToLower(strings.TrimSuffix(mx.Mx, ".")), Pref: mx.Preference})
	}
	slices.SortStableFunc(out, func(a, b MX) int { return int(a.Pref) - int(b.Pref) })
	return out, nil
}

// PTR returns the reverse names of addr.
func (r *Resolver) PTR(ctx context.Context, addr netip.Addr) ([]string, error) {
	rev, err := dns.ReverseAddr(addr.Unmap().String())
	if err != nil {
		return nil, &Error{Name: addr.String(), Type: dns.TypePTR, Kind: Malformed, Err: err}
	}
	ans, err := r.Query(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ans.Records))
	for _, rr := range ans.Records {
		out = append(out, strings.ToLower(strings.TrimSuffix(rr.(*dns.PTR).Ptr, ".")))
	}
	return out, nil
}

// ReverseName is the name a blocklist or PTR query asks for addr under zone:
// reversed octets for IPv4, 32 reversed nibbles for IPv6.
func ReverseName(addr netip.Addr, zone string) string {
	addr = addr.Unmap()
	var b strings.Builder
	if addr.Is4() {
		o := addr.As4()
		for i := 3; i >= 0; i-- {
			b.WriteString(strconv.Itoa(int(o[i])))
			b.WriteByte('.')
		}
	} else {
		o := addr.As16()
		const hex = "0123456789abcdef"
		for i := 15; i >= 0; i-- {
			b.WriteByte(hex[o[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hex[o[i]>>4])
			b.WriteByte('.')
		}
	}
	b.WriteString(strings.TrimSuffix(zone, "."))
	return b.String()
}
