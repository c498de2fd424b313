// Package smtptest runs SMTP servers on loopback for tests of the STARTTLS probe: a real
// go-smtp server with a self-signed certificate (valid, expired, for another name, or
// none at all), and raw listeners that misbehave (never answer, refuse at the greeting).
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Cert makes a self-signed certificate for name (and more names), valid from notBefore
// to notAfter, and a pool that trusts it.
func Cert(tb testing.TB, name string, notBefore, notAfter time.Time, more ...string) (tls.Certificate, *x509.CertPool) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              append([]string{name}, more...),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

type backend struct{}

func (backend) NewSession(*smtp.Conn) (smtp.Session, error) { return session{}, nil }

type session struct{}

func (session) Reset()                               {}
func (session) Logout() error                        { return nil }
func (session) Mail(string, *smtp.MailOptions) error { return nil }
func (session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (session) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }

// Server starts a go-smtp server on 127.0.0.1 announcing domain in its greeting. With
// tlsConfig nil it does not offer STARTTLS. It returns the port.
func Server(tb testing.TB, domain string, tlsConfig *tls.Config) int {
	tb.Helper()
	return ServerAt(tb, "127.0.0.1:0", domain, tlsConfig)
}

// ServerAt is Server listening on addr (another loopback address, or a given port).
func ServerAt(tb testing.TB, addr, domain string, tlsConfig *tls.Config) int {
	tb.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	s := smtp.NewServer(backend{})
	s.Domain = domain
	s.TLSConfig = tlsConfig
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Serve(l); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			tb.Log(err)
		}
	}()
	// Close the listener too: a Close that comes before Serve has registered it
	// would leave Serve accepting forever.
	tb.Cleanup(func() { s.Close(); l.Close(); <-done })
	return l.Addr().(*net.TCPAddr).Port
}

// Raw starts a listener that hands each connection to talk (which may write a canned
// greeting, or nothing at all) and closes it when talk returns or the test ends.
func Raw(tb testing.TB, talk func(net.Conn)) int {
	tb.Helper()
	return RawAt(tb, "127.0.0.1:0", talk)
}

// RawAt is Raw listening on addr (another loopback address, or a given port).
func RawAt(tb testing.TB, addr string, talk func(net.Conn)) int {
	tb.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	stop := make(chan struct{})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				go func() { <-stop; c.Close() }()
				talk(c)
			}()
		}
	}()
	tb.Cleanup(func() { close(stop); l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// ClosedPort returns a loopback port nothing listens on.
func ClosedPort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// Addr is 127.0.0.1:port.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
