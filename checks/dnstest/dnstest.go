// Package dnstest runs a real DNS server on loopback, serving fixture zones written in
// master-file format, for tests that must go over the wire. It can misbehave on purpose:
// delay every answer, never answer some names, answer SERVFAIL or REFUSED, or truncate
// every UDP answer so the client must retry over TCP.
package dnstest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server is a running loopback DNS server. Its zone and behaviour may be changed while it
// runs.
type Server struct {
	Addr string // 127.0.0.1:port, the same port for UDP and TCP

	mu       sync.Mutex
	records  map[string][]dns.RR // owner (lower case, FQDN) → records
	names    map[string]bool     // owners and every ancestor up to the root (empty non-terminals exist)
	hang     map[string]bool
	servfail map[string]bool
	refused  map[string]bool
	delay    time.Duration
	truncate bool
	queries  map[string]int // "name/TYPE" → count
	total    int

	udp, tcp *dns.Server
}

// Start serves zone (master-file text; names should be absolute, ending in a dot, or
// relative to $ORIGIN) on 127.0.0.1 and stops the server when the test ends.
func Start(tb testing.TB, zone string) *Server {
	tb.Helper()
	s, err := New(zone)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// New starts a server outside a test (benchmarks, the TUI's demo). Close it when done.
func New(zone string) (*Server, error) {
	s := &Server{
		records: map[string][]dns.RR{}, names: map[string]bool{},
		hang: map[string]bool{}, servfail: map[string]bool{}, refused: map[string]bool{},
		queries: map[string]int{},
	}
	if err := s.AddZone(zone); err != nil {
		return nil, err
	}
	pc, l, err := listenPair()
	if err != nil {
		return nil, err
	}
	s.Addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve)}
	s.tcp = &dns.Server{Listener: l, Handler: dns.HandlerFunc(s.serve)}
	started := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-started
	<-started
	return s, nil
}

// listenPair binds UDP and TCP on one loopback port. The UDP port is random; another
// process may hold the same TCP port, so try a few.
func listenPair() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, nil, lastErr
}

// Close stops the server.
func (s *Server) Close() {
	s.udp.Shutdown()
	s.tcp.Shutdown()
}

// AddZone adds the records of a master-file text.
func (s *Server) AddZone(zone string) error {
	zp := dns.NewZoneParser(strings.NewReader(zone), ".", "fixture")
	zp.SetDefaultTTL(300)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return fmt.Errorf("fixture zone: %w", err)
	}
	s.Add(rrs...)
	return nil
}

// Add adds records.
func (s *Server) Add(rrs ...dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rr := range rrs {
		owner := strings.ToLower(dns.Fqdn(rr.Header().Name))
		s.records[owner] = append(s.records[owner], rr)
		for n := owner; ; {
			s.names[n] = true
			i := strings.IndexByte(n, '.')
			if i < 0 || n == "." {
				break
			}
			n = n[i+1:]
			if n == "" {
				break
			}
		}
	}
}

// Hang makes the server never answer questions for name.
func (s *Server) Hang(name string) { s.set(s.hang, name) }

// ServFail makes the server answer SERVFAIL for name.
func (s *Server) ServFail(name string) { s.set(s.servfail, name) }

// Refuse makes the server answer REFUSED for name.
func (s *Server) Refuse(name string) { s.set(s.refused, name) }

func (s *Server) set(m map[string]bool, name string) {
	s.mu.Lock()
	m[strings.ToLower(dns.Fqdn(name))] = true
	s.mu.Unlock()
}

// SetDelay delays every answer by d.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// TruncateUDP makes every UDP answer come back empty with the TC bit set.
func (s *Server) TruncateUDP(on bool) {
	s.mu.Lock()
	s.truncate = on
	s.mu.Unlock()
}

// Queries returns how often name was asked for qtype ("TXT", "A" …); with qtype "" any type.
func (s *Server) Queries(name, qtype string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.ToLower(dns.Fqdn(name))
	if qtype != "" {
		return s.queries[name+"/"+qtype]
	}
	n := 0
	for k, v := range s.queries {
		if strings.HasPrefix(k, name+"/") {
			n += v
		}
	}
	return n
}

// Total returns how many questions the server received.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	_, isUDP := w.RemoteAddr().(*net.UDPAddr)

	s.mu.Lock()
	s.queries[name+"/"+dns.TypeToString[q.Qtype]]++
	s.total++
	delay, hang, truncate := s.delay, s.hang[name], s.truncate && isUDP
	servfail, refused := s.servfail[name], s.refused[name]
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	m.RecursionAvailable = true
	if !hang && !servfail && !refused && !truncate {
		s.answer(m, name, q.Qtype)
	}
	s.mu.Unlock()

	if hang {
		return
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	switch {
	case servfail:
		m.Rcode = dns.RcodeServerFailure
	case refused:
		m.Rcode = dns.RcodeRefused
	case truncate:
		m.Truncated = true
	}
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	if isUDP {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil && opt.UDPSize() > dns.MinMsgSize {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// answer fills m like an authoritative server that also chases CNAMEs inside its data.
// Called with s.mu held.
func (s *Server) answer(m *dns.Msg, name string, qtype uint16) {
	seen := map[string]bool{}
	for hop := 0; hop < 10 && !seen[name]; hop++ {
		seen[name] = true
		rrs := s.lookup(name)
		if rrs == nil {
			if hop == 0 && !s.names[name] {
				m.Rcode = dns.RcodeNameError
			}
			return
		}
		var cname *dns.CNAME
		for _, rr := range rrs {
			if rr.Header().Rrtype == qtype || qtype == dns.TypeANY {
				m.Answer = append(m.Answer, rr)
			} else if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if len(m.Answer) > 0 && m.Answer[len(m.Answer)-1].Header().Rrtype == qtype || cname == nil || qtype == dns.TypeCNAME {
			return
		}
		m.Answer = append(m.Answer, cname)
		name = strings.ToLower(cname.Target)
	}
}

// lookup returns the records at name, synthesising from a wildcard at the closest
// encloser (RFC 4592) when the name itself does not exist.
func (s *Server) lookup(name string) []dns.RR {
	if rrs := s.records[name]; rrs != nil {
		return rrs
	}
	if s.names[name] {
		return nil
	}
	for n := name; ; {
		i := strings.IndexByte(n, '.')
		if i < 0 || i == len(n)-1 {
			return nil
		}
		n = n[i+1:]
		if wild := s.records["*."+n]; wild != nil {
			out := make([]dns.RR, len(wild))
			for j, rr := range wild {
				c := dns.Copy(rr)
				c.Header().Name = name
				out[j] = c
			}
			return out
		}
		if s.names[n] {
			return nil
		}
	}
}
