// Package iprev checks what a receiver learns from a sending IP's reverse DNS and the
// HELO name (RFC 8601 §3 "iprev", RFC 5321 §4.1.4): the IP's PTR names, whether one of
// them resolves back to the IP (forward-confirmed reverse DNS), whether the name looks
// like a dynamic or generic access address, and whether the HELO name is a real host
// name that belongs with the IP.
package iprev

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/unblock-mail/unblock/checks/resolver"
)

// Name is one PTR name and what it resolves to.
type Name struct {
	Name      string
	Addrs     []netip.Addr
	Err       error // the forward lookup's error; NXDOMAIN/no data prove the name has no address
	Confirmed bool  // Addrs holds the IP
}

// Result is the reverse DNS of one IP.
type Result struct {
	IP    netip.Addr
	Names []Name
	Err   error // the PTR lookup's error
}

// maxNames bounds the forward lookups made for one IP: RFC 8601 §3 lets a verifier stop
// after a few, and a PTR set of hundreds is an attack on the checker.
const maxNames = 10

// Lookup asks the PTR names of ip and, at once, the addresses of each.
func Lookup(ctx context.Context, r *resolver.Resolver, ip netip.Addr) Result {
	res := Result{IP: ip.Unmap()}
	names, err := r.PTR(ctx, res.IP)
	if err != nil {
		res.Err = err
		return res
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) > maxNames {
		names = names[:maxNames]
	}
	res.Names = make([]Name, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		res.Names[i].Name = n
		wg.Add(1)
		go func() {
			defer wg.Done()
			var addrs []netip.Addr
			var err error
			if res.IP.Is4() {
				addrs, err = r.A(ctx, n)
			} else {
				addrs, err = r.AAAA(ctx, n)
			}
			res.Names[i].Addrs, res.Names[i].Err = addrs, err
			res.Names[i].Confirmed = slices.Contains(addrs, res.IP)
		}()
	}
	wg.Wait()
	return res
}

// Confirmed returns the first forward-confirmed name, if any.
func (r Result) Confirmed() (string, bool) {
	for _, n := range r.Names {
		if n.Confirmed {
			return n.Name, true
		}
	}
	return "", false
}

// Conclusive reports whether every unconfirmed name's forward lookup proved absence or
// gave other addresses; false when one could not be checked (so "not confirmed" would
// be a guess).
func (r Result) Conclusive() bool {
	for _, n := range r.Names {
		if !n.Confirmed && n.Err != nil && !resolver.IsNotFound(n.Err) {
			return false
		}
	}
	return true
}

// genericWords are labels (or label prefixes) access networks put in the names of
// addresses handed to customers; receivers score such names as "not a mail server".
var genericWords = []string{"dyn", "dynamic", "dhcp", "pool", "dsl", "adsl", "vdsl", "xdsl",
	"cable", "ppp", "pppoe", "dialup", "dial", "broadband", "static-ip", "staticip", "customer",
	"cust", "client", "unassigned", "nat"}

// Generic reports whether name looks like a generic access-network name for ip: the
// address's digits in the name (192-0-2-1, 1.2.0.192, c0000201) or words such as dyn,
// dhcp, pool, dsl, cable, ppp, static-ip. why says which.
func Generic(name string, ip netip.Addr) (bool, string) {
	name = strings.ToLower(name)
	if ip.Is4() {
		o := ip.As4()
		s := [4]string{}
		for i, b := range o {
			s[i] = strconv.Itoa(int(b))
		}
		tokens := strings.FieldsFunc(name, func(r rune) bool { return r < '0' || r > '9' })
		for i := 0; i+1 < len(tokens); i++ {
			a, b := tokens[i], tokens[i+1]
			if (a == s[2] && b == s[3]) || (a == s[3] && b == s[2]) || (a == s[0] && b == s[1]) || (a == s[1] && b == s[0]) {
				return true, "the name carries the address's digits"
			}
		}
		hex := fmt.Sprintf("%02x%02x%02x%02x", o[0], o[1], o[2], o[3])
		if strings.Contains(name, hex) {
			return true, "the name carries the address in hexadecimal"
		}
	}
	// The first labels (not the operator's domain) hold the access words.
	labels := strings.Split(name, ".")
	if len(labels) > 2 {
		labels = labels[:len(labels)-2]
	}
	for _, l := range labels {
		if strings.Contains(l, "static-ip") || strings.Contains(l, "staticip") {
			return true, `the name says "static-ip"`
		}
		for _, part := range strings.FieldsFunc(l, func(r rune) bool { return r == '-' || (r >= '0' && r <= '9') }) {
			for _, w := range genericWords {
				if part == w || (len(w) >= 3 && strings.HasPrefix(part, w) && w != "nat" && w != "cust") {
					return true, fmt.Sprintf("the name says %q", w)
				}
			}
		}
	}
	return false, ""
}

// HELO problems, in the order they are looked for.
var (
	ErrHELOEmpty     = errors.New("no HELO name")
	ErrHELOLocalhost = errors.New("localhost is not the name of a mail server on the Internet")
	ErrHELOBareIP    = errors.New("an IP address is not a valid HELO name; an address literal needs brackets, and receivers expect a host name")
	ErrHELOLiteral   = errors.New("an address literal is valid SMTP (RFC 5321 §4.1.3) but receivers expect a host name that matches the reverse DNS")
	ErrHELONotFQDN   = errors.New("not a fully qualified domain name (RFC 5321 §4.1.1.1)")
	// ErrHELOBadLiteral is brackets around something that is not an address literal.
	ErrHELOBadLiteral = errors.New(`not a valid address literal: an IPv4 address in brackets, or "IPv6:" and an IPv6 address (RFC 5321 §4.1.3)`)
)

// HELO is what a HELO name says about the sender.
type HELO struct {
	Name      string
	Syntax    error        // one of the ErrHELO* when the name itself is wrong
	Literal   netip.Addr   // the address of an address literal
	Addrs     []netip.Addr // what the name resolves to
	Err       error        // the address lookup's error
	ToIP      bool         // the name resolves to the IP
	MatchRDNS bool         // the name is one of the IP's forward-confirmed PTR names
}

// CheckHELO examines a HELO name for a sending IP, given the IP's reverse DNS.
func CheckHELO(ctx context.Context, r *resolver.Resolver, helo string, ip netip.Addr, rdns Result) HELO {
	h := HELO{Name: strings.TrimSuffix(strings.ToLower(strings.TrimSpace(helo)), ".")}
	ip = ip.Unmap()
	switch {
	case h.Name == "":
		h.Syntax = ErrHELOEmpty
		return h
	case h.Name == "localhost" || strings.HasPrefix(h.Name, "localhost."):
		h.Syntax = ErrHELOLocalhost
		return h
	case strings.HasPrefix(h.Name, "["):
		a, ok := addressLiteral(h.Name)
		if !ok {
			h.Syntax = ErrHELOBadLiteral
			return h
		}
		h.Literal, h.ToIP = a, a.Unmap() == ip
		h.Syntax = ErrHELOLiteral
		return h
	}
	if _, err := netip.ParseAddr(h.Name); err == nil {
		h.Syntax = ErrHELOBareIP
		return h
	}
	if !strings.Contains(h.Name, ".") {
		h.Syntax = ErrHELONotFQDN
		return h
	}
	if _, err := resolver.Normalize(h.Name); err != nil {
		h.Syntax = fmt.Errorf("%w: %v", ErrHELONotFQDN, err)
		return h
	}
	h.Addrs, h.Err = r.IPs(ctx, h.Name)
	h.ToIP = ip.IsValid() && slices.Contains(h.Addrs, ip)
	for _, n := range rdns.Names {
		if n.Confirmed && n.Name == h.Name {
			h.MatchRDNS = true
		}
	}
	return h
}

// addressLiteral reads an RFC 5321 §4.1.3 address literal, lower-cased: "[192.0.2.1]" or
// "[ipv6:2001:db8::1]". An IPv6 address needs its tag, and an IPv4 one must not have it.
func addressLiteral(s string) (netip.Addr, bool) {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return netip.Addr{}, false
	}
	inner := s[1 : len(s)-1]
	v6, tagged := strings.CutPrefix(inner, "ipv6:")
	if tagged {
		a, err := netip.ParseAddr(v6)
		return a, err == nil && a.Is6() && a.Zone() == ""
	}
	a, err := netip.ParseAddr(inner)
	return a, err == nil && a.Is4()
}

// Oddity says what bytes no host name has a name holds (RFC 1123 §2.1, RFC 952: letters,
// digits and hyphens), naming control bytes such as ESC; "" for a host name. Names come
// in presentation form, so a byte outside printable ASCII reads "\DDD".
func Oddity(name string) string {
	var odd []string
	seen := map[string]bool{}
	for i := 0; i < len(name); i++ {
		c := name[i]
		var what string
		switch {
		case c == '\\' && i+3 < len(name) && isDigits(name[i+1:i+4]):
			v, _ := strconv.Atoi(name[i+1 : i+4])
			what = byteName(byte(v)) + " (written " + name[i:i+4] + ")"
			i += 3
		case c == '\\' && i+1 < len(name):
			what = strconv.Quote(name[i+1 : i+2])
			i++
		case c < 0x20 || c == 0x7f:
			what = byteName(c)
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.':
			continue
		default:
			what = strconv.Quote(string(c))
		}
		if !seen[what] {
			seen[what] = true
			odd = append(odd, what)
		}
	}
	if len(odd) == 0 {
		return ""
	}
	return "holds bytes no host name has: " + strings.Join(odd, ", ")
}

func isDigits(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// byteName names a byte a person cannot see: ESC, NUL, DEL, or its code.
func byteName(b byte) string {
	names := map[byte]string{0: "NUL", 7: "BEL", 8: "BS", 9: "TAB", 10: "LF", 13: "CR", 27: "ESC", 32: "space", 127: "DEL"}
	if n, ok := names[b]; ok {
		return n
	}
	if b < 0x20 {
		return fmt.Sprintf("control byte 0x%02x", b)
	}
	if b >= 0x80 {
		return fmt.Sprintf("byte 0x%02x", b)
	}
	return strconv.Quote(string(b))
}
