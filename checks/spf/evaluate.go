package spf

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"

	"blitiri.com.ar/go/spf"

	"github.com/unblock-mail/unblock/checks/resolver"
)

// Result is a check_host result (RFC 7208 §2.6).
type Result string

const (
	None      Result = "none"
	Neutral   Result = "neutral"
	Pass      Result = "pass"
	Fail      Result = "fail"
	SoftFail  Result = "softfail"
	TempError Result = "temperror"
	PermError Result = "permerror"
)

// Verdict is the outcome of check_host for one identity.
type Verdict struct {
	Result Result
	Domain string // the domain whose policy was evaluated
	// Reason says why, in words: the matched mechanism, the DNS error, the syntax error.
	Reason string
	Err    error
}

// ErrPMacro is why a verdict is temperror when an evaluated record uses the p macro.
var ErrPMacro = errors.New("the policy uses the %{p} macro (the validated PTR name, RFC 7208 §7.3; SHOULD NOT be used), which this check cannot evaluate, so it cannot say what receivers compute")

// pMacro finds a p macro (%{p…} or %{P…}) in a record.
var pMacro = regexp.MustCompile(`%\{[pP]`)

// Evaluate runs check_host (RFC 7208 §4) for ip with the identity sender (an address, or
// "postmaster@<helo>" for the HELO identity, §2.3). Before evaluation it checks the domain
// itself (§4.3), and every record fetched on the way is parsed strictly, so a syntax error
// anywhere in a record that was evaluated is a permerror even after a match (§4.6).
func Evaluate(ctx context.Context, res *resolver.Resolver, ip netip.Addr, helo, sender string) Verdict {
	domain := sender
	if i := strings.LastIndexByte(sender, '@'); i >= 0 {
		domain = sender[i+1:]
	}
	if domain == "" {
		domain = helo
	}
	v := Verdict{Domain: strings.ToLower(strings.TrimSuffix(domain, "."))}
	if !ip.IsValid() {
		v.Result, v.Reason = PermError, "no valid IP address to evaluate"
		return v
	}
	if err := CheckDomain(domain); err != nil {
		// §4.3: a malformed domain is not looked up; the result is none.
		v.Result, v.Reason, v.Err = None, err.Error(), err
		return v
	}
	a := &adapter{res: res, v4: ip.Unmap().Is4()}
	r, err := spf.CheckHostWithSender(net.IP(ip.Unmap().AsSlice()), helo, sender,
		spf.WithResolver(a), spf.WithContext(ctx))
	v.Result, v.Err = Result(r), err
	if synErr := a.syntaxError(); synErr != nil && v.Result != TempError {
		// A record the evaluation fetched is broken: §4.6 makes that permerror
		// wherever the error sits and whether or not something matched first.
		v.Result, v.Err = PermError, synErr
	}
	if a.usesPMacro() && v.Result != Pass && v.Result != TempError && v.Result != PermError {
		// blitiri expands %{p} to "unknown" without looking (the one macro it skips): a
		// fail, softfail or neutral may be its own, not what receivers compute. The
		// result is not claimed; the check says it could not be made.
		v.Result, v.Err = TempError, ErrPMacro
	}
	if v.Result == TempError && ctx.Err() != nil {
		v.Err = errors.Join(err, ctx.Err())
	}
	v.Reason = reason(v)
	return v
}

func reason(v Verdict) string {
	var se *SyntaxError
	switch {
	case errors.As(v.Err, &se):
		return "record syntax error: " + se.Error()
	case errors.Is(v.Err, spf.ErrLookupLimitReached):
		return "more than 10 DNS lookups (RFC 7208 §4.6.4)"
	case errors.Is(v.Err, spf.ErrVoidLookupLimitReached):
		return "more than 2 lookups returned nothing (RFC 7208 §4.6.4)"
	case errors.Is(v.Err, spf.ErrMultipleRecords):
		return "several SPF records at one name"
	case errors.Is(v.Err, spf.ErrNoResult):
		return "no SPF record"
	case errors.Is(v.Err, spf.ErrMatchedAll):
		return "matched all"
	case errors.Is(v.Err, spf.ErrMatchedIP):
		return "matched an ip4/ip6 term"
	case errors.Is(v.Err, spf.ErrMatchedA):
		return "matched an a term"
	case errors.Is(v.Err, spf.ErrMatchedMX):
		return "matched an mx term"
	case errors.Is(v.Err, spf.ErrMatchedPTR):
		return "matched a ptr term"
	case errors.Is(v.Err, spf.ErrMatchedExists):
		return "matched an exists term"
	case v.Err != nil:
		return v.Err.Error()
	case v.Result == Neutral:
		return "nothing matched and the record has no all term"
	}
	return ""
}

// adapter gives blitiri.com.ar/go/spf our resolver. Errors reach it as *net.DNSError,
// unwrapped, because it tells "not found" from "temporary" by type assertion.
//
// Two workarounds for where blitiri's check_host differs from RFC 7208, kept here so
// blitiri stays as it is:
//   - §5.3/§5.4/§4.6.4: an "a" or "mx" lookup asks the address type of the connection,
//     so for an IPv4 client a name with only AAAA records is a void lookup. blitiri asks
//     for both families through LookupIPAddr; for an IPv4 client the adapter answers
//     with A records alone. (For an IPv6 client both families are returned as before:
//     "exists" must still see A records, §5.7, and blitiri asks it through the same call.)
//   - §7.3: a macro-expanded name over 253 characters is cut from the left, label by
//     label, before it is asked. blitiri passes it on whole; every lookup here cuts it.
type adapter struct {
	res *resolver.Resolver
	v4  bool // the client is IPv4

	mu     sync.Mutex
	synErr error
	pMacro bool // an evaluated record uses %{p}
}

func (a *adapter) usesPMacro() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pMacro
}

func (a *adapter) syntaxError() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.synErr
}

// LookupTXT is only asked for the records check_host evaluates (the top domain, include
// and redirect targets), so each SPF record it returns is parsed strictly here.
func (a *adapter) LookupTXT(ctx context.Context, name string) ([]string, error) {
	name = TruncateName(name)
	txts, err := a.res.TXT(ctx, name)
	if err != nil {
		return nil, netError(name, err)
	}
	var spfs []string
	for _, t := range txts {
		if IsRecord(t) {
			spfs = append(spfs, t)
		}
	}
	if len(spfs) == 1 {
		if pMacro.MatchString(spfs[0]) {
			a.mu.Lock()
			a.pMacro = true
			a.mu.Unlock()
		}
		if _, err := ParseRecord(spfs[0]); err != nil {
			a.mu.Lock()
			if a.synErr == nil {
				a.synErr = err
			}
			a.mu.Unlock()
		}
	}
	return txts, nil
}

func (a *adapter) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	name = TruncateName(name)
	mxs, err := a.res.MX(ctx, name)
	if err != nil {
		return nil, netError(name, err)
	}
	out := make([]*net.MX, 0, len(mxs))
	for _, m := range mxs {
		out = append(out, &net.MX{Host: m.Host + ".", Pref: m.Pref})
	}
	return out, nil
}

func (a *adapter) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	host = TruncateName(host)
	lookup := a.res.IPs
	if a.v4 {
		lookup = a.res.A
	}
	ips, err := lookup(ctx, host)
	if err != nil {
		return nil, netError(host, err)
	}
	out := make([]net.IPAddr, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.IPAddr{IP: net.IP(ip.AsSlice())})
	}
	return out, nil
}

func (a *adapter) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "invalid address", Name: addr}
	}
	names, err := a.res.PTR(ctx, ip)
	if err != nil {
		return nil, resolver.NetError(err)
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, n+".")
	}
	return out, nil
}

// MaxNameLength is the longest domain name in presentation form without the final dot
// (RFC 7208 §7.3, RFC 1035 §2.3.4).
const MaxNameLength = 253

// TruncateName cuts a name longer than MaxNameLength from the left, removing whole
// labels with their dots until it fits (RFC 7208 §7.3).
func TruncateName(name string) string {
	root := strings.HasSuffix(name, ".")
	n := strings.TrimSuffix(name, ".")
	if len(n) <= MaxNameLength {
		return name
	}
	for len(n) > MaxNameLength {
		i := strings.IndexByte(n, '.')
		if i < 0 {
			break
		}
		n = n[i+1:]
	}
	if root {
		n += "."
	}
	return n
}

// netError converts a lookup error for blitiri. A name that cannot be asked at all (an
// empty label, a label over 63 bytes, the root of a null MX) is "no such host", as the
// standard library reports it, so the term does not match instead of a temperror.
func netError(name string, err error) error {
	if resolver.KindOf(err) == resolver.Malformed {
		if _, nerr := resolver.Normalize(name); nerr != nil {
			return &net.DNSError{Err: "invalid domain name", Name: name, IsNotFound: true}
		}
	}
	return resolver.NetError(err)
}
