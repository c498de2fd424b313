// Package probetest runs a recipient's mail server on loopback for tests of the probe: a
// real go-smtp server with a self-signed certificate that refuses MAIL FROM with a
// Proofpoint block for the source addresses it is told to block, accepts the others, can
// change its mind while it runs, answer slowly, or not at all, and counts every command
// it is sent (the proof that a probe never sends DATA).
package probetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Server is a running loopback mail server.
type Server struct {
	Addr string // host:port it listens on
	Host string // the name it greets with

	mu       sync.Mutex
	blocked  map[netip.Addr]bool
	silent   bool
	latency  time.Duration
	commands map[string]int // verb → count, over all connections
	conns    int
	open     int // conversations open now: accepted, QUIT not yet said
	maxOpen  int // the most open at once
	data     int
	sources  []netip.Addr
	helos    []string

	srv  *smtp.Server
	l    net.Listener
	done chan struct{}
}

// Start listens on addr ("127.0.0.10:0", or a fixed port) as host, with STARTTLS.
func Start(addr, host string) (*Server, error) { return start(addr, host, true) }

// StartPlain is Start without STARTTLS, as some receivers still are.
func StartPlain(addr, host string) (*Server, error) { return start(addr, host, false) }

func start(addr, host string, withTLS bool) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	cert, err := selfSigned(host)
	if err != nil {
		l.Close()
		return nil, err
	}
	s := &Server{Addr: l.Addr().String(), Host: host, blocked: map[netip.Addr]bool{}, commands: map[string]int{}, l: l, done: make(chan struct{})}
	s.srv = smtp.NewServer(backend{s})
	s.srv.Domain = host
	if withTLS {
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.Debug = &commandLog{s: s}
	go func() {
		defer close(s.done)
		s.srv.Serve(&slowListener{Listener: l, s: s})
	}()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() {
	s.srv.Close()
	s.l.Close()
	<-s.done
}

// Port is the port the server listens on.
func (s *Server) Port() int { return s.l.Addr().(*net.TCPAddr).Port }

// Block makes MAIL FROM refused for connections from ip; Unblock accepts them again.
func (s *Server) Block(ip netip.Addr)   { s.mu.Lock(); s.blocked[ip] = true; s.mu.Unlock() }
func (s *Server) Unblock(ip netip.Addr) { s.mu.Lock(); delete(s.blocked, ip); s.mu.Unlock() }

// SetSilent makes the server accept connections and never say a word.
func (s *Server) SetSilent(on bool) { s.mu.Lock(); s.silent = on; s.mu.Unlock() }

// SetLatency delays every reply by d.
func (s *Server) SetLatency(d time.Duration) { s.mu.Lock(); s.latency = d; s.mu.Unlock() }

// Commands is how often a verb (EHLO, MAIL, RCPT, DATA, RSET, QUIT …) was sent.
func (s *Server) Commands(verb string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.commands[verb]
}

// MaxOpen is the most conversations that were open at once (accepted, and the client had
// not yet said QUIT: the client holds its slot until QUIT is answered).
func (s *Server) MaxOpen() int { s.mu.Lock(); defer s.mu.Unlock(); return s.maxOpen }

// Connections is how many connections the server accepted.
func (s *Server) Connections() int { s.mu.Lock(); defer s.mu.Unlock(); return s.conns }

// Data is how many times a DATA command reached the session.
func (s *Server) Data() int { s.mu.Lock(); defer s.mu.Unlock(); return s.data }

// Sources are the addresses connections came from, in order.
func (s *Server) Sources() []netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]netip.Addr(nil), s.sources...)
}

// HELOs are the names clients gave in EHLO, as the server knew them at MAIL FROM.
func (s *Server) HELOs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.helos...)
}

// BlockReply is the refusal a blocked source gets, as Proofpoint words it.
func BlockReply(ip netip.Addr) *smtp.SMTPError {
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Blocked - see https://ipcheck.proofpoint.com/?ip=" + ip.String()}
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	ap, _ := netip.ParseAddrPort(c.Conn().RemoteAddr().String())
	return &session{s: b.s, from: ap.Addr(), conn: c}, nil
}

type session struct {
	s    *Server
	from netip.Addr
	conn *smtp.Conn
}

func (x *session) Reset()        {}
func (x *session) Logout() error { return nil }
func (x *session) Mail(string, *smtp.MailOptions) error {
	x.s.mu.Lock()
	blocked := x.s.blocked[x.from]
	x.s.helos = append(x.s.helos, x.conn.Hostname())
	x.s.mu.Unlock()
	if blocked {
		return BlockReply(x.from)
	}
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !strings.Contains(to, "@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return nil
}
func (x *session) Data(r io.Reader) error {
	x.s.mu.Lock()
	x.s.data++
	x.s.mu.Unlock()
	_, err := io.Copy(io.Discard, r)
	return err
}

// commandLog counts the verbs the server reads (go-smtp's Debug sees both directions:
// client lines start with a letter, replies with digits).
type commandLog struct {
	s *Server
}

func (l *commandLog) Write(p []byte) (int, error) {
	for line := range strings.SplitSeq(string(p), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] < 'A' || line[0] > 'z' {
			continue
		}
		verb := strings.ToUpper(strings.Fields(line)[0])
		if i := strings.IndexByte(verb, ':'); i >= 0 {
			verb = verb[:i]
		}
		l.s.mu.Lock()
		l.s.commands[verb]++
		if verb == "QUIT" {
			l.s.open--
		}
		l.s.mu.Unlock()
	}
	return len(p), nil
}

// slowListener counts connections, holds silent ones, and delays replies.
type slowListener struct {
	net.Listener
	s *Server
}

func (l *slowListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.s.mu.Lock()
		l.s.conns++
		l.s.open++
		l.s.maxOpen = max(l.s.maxOpen, l.s.open)
		if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
			l.s.sources = append(l.s.sources, ap.Addr())
		}
		silent := l.s.silent
		l.s.mu.Unlock()
		if silent {
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
				l.s.mu.Lock()
				l.s.open-- // it never hears a QUIT
				l.s.mu.Unlock()
			}()
			continue
		}
		return &slowConn{Conn: c, s: l.s}, nil
	}
}

type slowConn struct {
	net.Conn
	s *Server
}

func (c *slowConn) Write(p []byte) (int, error) {
	c.s.mu.Lock()
	d := c.s.latency
	c.s.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
	return c.Conn.Write(p)
}

func selfSigned(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// ErrNoPort is returned by StartSet when no common port could be found.
var ErrNoPort = errors.New("probetest: no port free on every address")

// StartSet starts one server per address (127.0.0.x), all on the same port (the probe
// dials every MX host on one port), named by hosts.
func StartSet(addrs, hosts []string) ([]*Server, error) {
	for range 20 {
		first, err := Start(addrs[0]+":0", hosts[0])
		if err != nil {
			return nil, err
		}
		set := []*Server{first}
		for i := 1; i < len(addrs); i++ {
			s, err := Start(fmt.Sprintf("%s:%d", addrs[i], first.Port()), hosts[i])
			if err != nil {
				break
			}
			set = append(set, s)
		}
		if len(set) == len(addrs) {
			return set, nil
		}
		for _, s := range set {
			s.Close()
		}
	}
	return nil, ErrNoPort
}
