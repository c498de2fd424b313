// Package resolver is the DNS client every live check shares: explicit servers, EDNS0,
// TCP when an answer is truncated, a per-query timeout with a retry, a cache for the run
// with in-flight de-duplication (a name two checks need is asked once), and a bound on
// lookups in flight. It keeps every way a lookup can end apart — NXDOMAIN, no data,
// SERVFAIL, REFUSED, timeout — because "could not be checked" must never read as
// "missing".
package resolver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/idna"

	"github.com/unblock-mail/unblock/sanitize"
)

// Defaults for Config fields left zero.
const (
	DefaultTimeout     = 2 * time.Second // per query, per attempt
	DefaultAttempts    = 2               // one retry
	DefaultMaxInFlight = 64              // a full run asks ~35 names in its first round (33 of them blocklists)
	maxCNAMEChain      = 8
	ednsBufferSize     = 1232 // the DNS Flag Day 2020 size: no IP fragmentation
)

// Config sets up a Resolver. Servers are host:port; a host without a port gets :53.
type Config struct {
	Servers     []string
	Timeout     time.Duration
	Attempts    int
	MaxInFlight int
}

// Resolver answers queries for one run. It is safe for concurrent use.
type Resolver struct {
	servers  []string
	timeout  time.Duration
	attempts int
	slots    chan struct{}

	mu    sync.Mutex
	cache map[key]*entry

	sent     atomic.Int64
	inFlight atomic.Int64
	maxSeen  atomic.Int64
}

type key struct {
	name  string
	qtype uint16
}

type entry struct {
	done   chan struct{}
	msg    *dns.Msg
	server string
	err    error
}

// New returns a resolver for the configured servers.
func New(cfg Config) (*Resolver, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("no DNS server given")
	}
	r := &Resolver{
		timeout:  cfg.Timeout,
		attempts: cfg.Attempts,
		cache:    map[key]*entry{},
	}
	for _, s := range cfg.Servers {
		addr, err := ServerAddr(s)
		if err != nil {
			return nil, err
		}
		r.servers = append(r.servers, addr)
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.attempts <= 0 {
		r.attempts = DefaultAttempts
	}
	n := cfg.MaxInFlight
	if n <= 0 {
		n = DefaultMaxInFlight
	}
	r.slots = make(chan struct{}, n)
	return r, nil
}

// ServerAddr normalises a server given as host, host:port, IPv6 or [IPv6]:port.
func ServerAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	if host, port, err := net.SplitHostPort(s); err == nil && host != "" && port != "" {
		return s, nil
	}
	if s != "" && !strings.ContainsAny(s, " /[]") {
		return net.JoinHostPort(s, "53"), nil
	}
	return "", fmt.Errorf("DNS server %q: want host or host:port", s)
}

// SystemConf is where the system's DNS servers are listed.
const SystemConf = "/etc/resolv.conf"

// ForRun returns the resolver for one run of the checks: the servers given (host or
// host:port, as on the command line), else the system's.
func ForRun(servers []string) (*Resolver, error) {
	if len(servers) == 0 {
		sys, err := SystemServers(SystemConf)
		if err != nil {
			return nil, err
		}
		servers = sys
	}
	return New(Config{Servers: servers})
}

// SystemServers reads the nameserver lines of a resolv.conf file.
func SystemServers(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading DNS servers: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			// A link-local IPv6 server carries a zone (fe80::1%eth0): keep it.
			if a, err := netip.ParseAddr(fields[1]); err == nil {
				out = append(out, netip.AddrPortFrom(a, 53).String())
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no nameserver: give one with --resolver", path)
	}
	return out, sc.Err()
}

// Servers returns the servers in the order they are tried.
func (r *Resolver) Servers() []string { return slices.Clone(r.servers) }

// Stats reports the queries sent over the wire and the most that were in flight at once.
func (r *Resolver) Stats() (sent, maxInFlight int64) { return r.sent.Load(), r.maxSeen.Load() }

// Answer is a positive answer: the records of the asked type at the end of any CNAME chain.
type Answer struct {
	Name    string   // the name asked, as given (lower case, no trailing dot)
	Type    uint16   // dns.TypeA, dns.TypeTXT …
	Records []dns.RR // of Type only
	CNAMEs  []string // the chain followed from Name, in order
}

// Kind says how a lookup ended without an answer.
type Kind int

const (
	NXDomain  Kind = iota + 1 // the name does not exist
	NoData                    // the name exists, no record of the type
	ServFail                  // the server failed (often DNSSEC or a broken zone)
	Refused                   // the server refused to answer
	Timeout                   // no answer in time
	Network                   // the server could not be reached
	Malformed                 // the question or the answer made no sense
	Loop                      // a CNAME chain loops or is too long
)

func (k Kind) String() string {
	switch k {
	case NXDomain:
		return "NXDOMAIN"
	case NoData:
		return "no data"
	case ServFail:
		return "SERVFAIL"
	case Refused:
		return "REFUSED"
	case Timeout:
		return "timeout"
	case Network:
		return "network error"
	case Malformed:
		return "malformed"
	case Loop:
		return "CNAME loop"
	}
	return "unknown"
}

// Error is every failed lookup.
type Error struct {
	Name   string
	Type   uint16
	Kind   Kind
	Server string // who said so, when one did
	Err    error  // the underlying error, if any
	// CNAMEs is the alias chain followed before the answer: a dangling alias (an ESP's
	// DKIM selector that was removed) is NXDOMAIN at the end of it.
	CNAMEs []string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: %s", dns.TypeToString[e.Type], e.Name, e.Kind)
	if e.Server != "" {
		s += " from " + e.Server
	}
	if e.Err != nil && e.Kind != NXDomain && e.Kind != NoData {
		s += " (" + e.Err.Error() + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// NotFound reports the two answers that prove absence: NXDOMAIN and no data.
func (e *Error) NotFound() bool { return e.Kind == NXDomain || e.Kind == NoData }

// IsNotFound reports whether err proves the record absent (as opposed to not checkable).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.NotFound()
}

// KindOf returns the Kind of a lookup error, or 0.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

// NetError converts a lookup error to the *net.DNSError that code written for the
// standard library (blitiri.com.ar/go/spf, go-msgauth) recognises: IsNotFound for
// NXDOMAIN/no data, IsTemporary for everything that might work next time.
func NetError(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		return &net.DNSError{Err: err.Error(), IsTemporary: true}
	}
	return &net.DNSError{
		Err:         e.Kind.String(),
		Name:        e.Name,
		Server:      e.Server,
		IsNotFound:  e.NotFound(),
		IsTimeout:   e.Kind == Timeout,
		IsTemporary: !e.NotFound() && e.Kind != Malformed && e.Kind != Loop,
	}
}

// Normalize lower-cases a name, drops the trailing dot and converts Unicode labels to
// A-labels. It refuses names that cannot be asked.
func Normalize(name string) (string, error) {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	if name == "" {
		return "", errors.New("empty domain name")
	}
	if !isASCII(name) {
		// Label by label: an ASCII label such as _dmarc or _domainkey is not a host
		// name and IDNA would refuse its underscore; only U-labels are converted.
		labels := strings.Split(name, ".")
		for i, l := range labels {
			if isASCII(l) {
				continue
			}
			a, err := idna.Lookup.ToASCII(l)
			if err != nil {
				return "", fmt.Errorf("domain %q: %v", sanitize.Line(name), err)
			}
			labels[i] = a
		}
		name = strings.Join(labels, ".")
	}
	if _, ok := dns.IsDomainName(name); !ok || len(name) > 253 {
		return "", fmt.Errorf("domain %q is not a valid name", sanitize.Line(name))
	}
	return strings.ToLower(name), nil
}

// Query asks for name/qtype and follows CNAMEs. A nil error means at least one record.
func (r *Resolver) Query(ctx context.Context, name string, qtype uint16) (*Answer, error) {
	n, err := Normalize(name)
	if err != nil {
		return nil, &Error{Name: sanitize.Line(name), Type: qtype, Kind: Malformed, Err: err}
	}
	return r.query(ctx, n, qtype, 0, nil)
}

func (r *Resolver) query(ctx context.Context, name string, qtype uint16, depth int, chain []string) (*Answer, error) {
	msg, server, err := r.cached(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	ans := &Answer{Name: name, Type: qtype, CNAMEs: chain}
	cur := name
	seen := map[string]bool{cur: true}
	for {
		var next string
		// Names are kept in presentation form (a PTR holding ESC reads "mail\027…" and
		// is asked by its wire bytes); owners are compared as wire bytes on both sides.
		wire := unescape(cur)
		for _, rr := range msg.Answer {
			h := rr.Header()
			if !strings.EqualFold(unescape(strings.TrimSuffix(h.Name, ".")), wire) {
				continue
			}
			if h.Rrtype == qtype {
				ans.Records = append(ans.Records, rr)
			} else if c, ok := rr.(*dns.CNAME); ok && next == "" {
				next = strings.ToLower(strings.TrimSuffix(c.Target, "."))
			}
		}
		if len(ans.Records) > 0 || next == "" {
			break
		}
		ans.CNAMEs = append(ans.CNAMEs, next)
		if seen[next] || len(ans.CNAMEs) > maxCNAMEChain {
			return nil, &Error{Name: name, Type: qtype, Kind: Loop, Server: server,
				Err: fmt.Errorf("chain %s", strings.Join(append([]string{name}, ans.CNAMEs...), " → "))}
		}
		seen[next] = true
		cur = next
	}
	if len(ans.Records) > 0 {
		return ans, nil
	}
	if len(ans.CNAMEs) > len(chain) && msg.Rcode == dns.RcodeSuccess {
		// The server gave the alias but not its target (an authoritative server for
		// another zone does this): ask for the target.
		target := ans.CNAMEs[len(ans.CNAMEs)-1]
		if depth >= maxCNAMEChain || slices.Contains(chain, target) || target == name {
			return nil, &Error{Name: name, Type: qtype, Kind: Loop, Server: server}
		}
		a, err := r.query(ctx, target, qtype, depth+1, ans.CNAMEs)
		if a != nil {
			a.Name = name
		}
		return a, err
	}
	kind := NoData
	if msg.Rcode == dns.RcodeNameError {
		kind = NXDomain
	}
	return nil, &Error{Name: name, Type: qtype, Kind: kind, Server: server, CNAMEs: slices.Clone(ans.CNAMEs)}
}

// cached returns the server's response for name/qtype, asking at most once per run.
func (r *Resolver) cached(ctx context.Context, name string, qtype uint16) (*dns.Msg, string, error) {
	k := key{name, qtype}
	r.mu.Lock()
	e, ok := r.cache[k]
	if !ok {
		e = &entry{done: make(chan struct{})}
		r.cache[k] = e
		r.mu.Unlock()
		e.msg, e.server, e.err = r.exchange(ctx, name, qtype)
		if ctx.Err() != nil && e.err != nil {
			// Our caller gave up; do not keep the failure for callers with more time.
			r.mu.Lock()
			delete(r.cache, k)
			r.mu.Unlock()
		}
		close(e.done)
	} else {
		r.mu.Unlock()
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, "", &Error{Name: name, Type: qtype, Kind: Timeout, Err: ctx.Err()}
	}
	return e.msg, e.server, e.err
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
