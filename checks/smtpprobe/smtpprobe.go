// Package smtpprobe connects to an SMTP server as a sending server would: greeting, EHLO,
// STARTTLS (RFC 3207), and reports what it met — the banner, the TLS version, and whether
// the certificate is valid for the name and not expired. It keeps apart the answers a
// person acts on differently: STARTTLS not offered, the handshake failing, the
// certificate being invalid, and the port being unreachable from this machine (which is
// about this machine's network, not about the server).
package smtpprobe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/unblock-mail/unblock/checks/dialer"
	"github.com/unblock-mail/unblock/sanitize"
)

// Outcome is what the probe met.
type Outcome string

const (
	TLSValid        Outcome = "tls-valid"           // STARTTLS worked and the certificate is valid for the name
	CertInvalid     Outcome = "certificate-invalid" // STARTTLS worked; the certificate is expired, for another name or untrusted
	HandshakeFailed Outcome = "handshake-failed"    // STARTTLS was offered but no TLS session came of it
	NotOffered      Outcome = "not-offered"         // the server does not offer STARTTLS
	Rejected        Outcome = "rejected"            // the server refused this machine at the greeting or EHLO
	Unreachable     Outcome = "unreachable"         // no TCP connection to the port from here
	NoAnswer        Outcome = "no-answer"           // connected, but the server did not answer in time
)

// Options says whom to probe and how.
type Options struct {
	Host    string // the server's name: the certificate must be valid for it
	Addr    string // host:port to dial; the probe does not resolve names itself
	HELO    string // the name to introduce the probe with after TLS; default this machine's name
	RootCAs *x509.CertPool
	Now     time.Time // the time the certificate is judged at; zero: now
	// ConnectTimeout bounds the TCP connect (default DefaultConnectTimeout): a blocked
	// port 25 drops packets, and the rest of the run should not wait for it.
	ConnectTimeout time.Duration
	// ReplyTimeout bounds each wait for the server (the greeting, each reply, each TLS
	// read); default DefaultReplyTimeout. It is this host's own bound: a server that
	// accepts and never speaks ends its probe, not the whole run.
	ReplyTimeout time.Duration
}

// DefaultConnectTimeout is how long the probe waits for a TCP connection.
const DefaultConnectTimeout = 5 * time.Second

// DefaultReplyTimeout is how long the probe waits for the greeting or any one reply. RFC
// 5321 §4.5.3.2 asks senders for minutes; a probe that a person waits for uses seconds.
const DefaultReplyTimeout = 4 * time.Second

// Result is what the probe met.
type Result struct {
	Host       string
	Addr       string
	Outcome    Outcome
	Banner     string   // the greeting, sanitized
	Extensions []string // the EHLO keywords before TLS
	Reply      string   // the server's reply that ended the probe, sanitized
	TLSVersion string   // "TLS 1.3"
	Cipher     string
	Cert       *Cert
	Problem    string // what is wrong, in words, for every outcome but TLSValid
	Err        error
}

// Cert is the server's leaf certificate as far as a person needs it.
type Cert struct {
	Subject  string
	Names    []string
	Issuer   string
	NotAfter time.Time
}

// maxTranscript bounds what the probe keeps of the plaintext conversation.
const maxTranscript = 16 << 10

// recorder keeps the plaintext part of the conversation: go-smtp does not expose the
// greeting or the EHLO reply, and a failed STARTTLS leaves no client to ask.
//
// It also puts the probe's name into the first EHLO: go-smtp's STARTTLS client greets
// with "EHLO localhost" before TLS and takes a chosen name only after, and receivers
// that refuse "localhost" would turn the probe into a rejection.
type recorder struct {
	net.Conn
	helo    string
	timeout time.Duration // per read; go-smtp's own per-command timeout is minutes
	mu      sync.Mutex
	buf     bytes.Buffer
	stop    bool
	sent    bool // the first EHLO has gone out
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	first := !r.sent && !r.stop
	r.sent = true
	r.mu.Unlock()
	if first && r.helo != "" && bytes.Equal(p, []byte("EHLO localhost\r\n")) {
		if _, err := r.Conn.Write([]byte("EHLO " + r.helo + "\r\n")); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return r.Conn.Write(p)
}

func (r *recorder) Read(p []byte) (int, error) {
	if r.timeout > 0 {
		_ = r.Conn.SetReadDeadline(time.Now().Add(r.timeout))
	}
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	if !r.stop && r.buf.Len() < maxTranscript {
		r.buf.Write(p[:n])
	}
	r.mu.Unlock()
	return n, err
}

func (r *recorder) transcript() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stop = true
	return r.buf.String()
}

// Probe talks to opts.Addr until it knows the outcome; it is bounded by ctx.
func Probe(ctx context.Context, opts Options) Result {
	res := Result{Host: opts.Host, Addr: opts.Addr}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.HELO == "" {
		opts.HELO = localName()
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.ReplyTimeout <= 0 {
		opts.ReplyTimeout = DefaultReplyTimeout
	}
	conn, err := dialer.Dial(ctx, "tcp", opts.Addr, opts.ConnectTimeout)
	if err != nil {
		res.Outcome, res.Err = Unreachable, err
		res.Problem = fmt.Sprintf("no connection to %s from this machine (%s); many networks and cloud providers block outbound port 25, so this says nothing about the server", opts.Addr, shortNetErr(err))
		return res
	}
	// go-smtp sets its own deadline per command and clears it after; closing the
	// connection when the run's context ends is what makes the deadline hold.
	stopClose := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopClose()
	rec := &recorder{Conn: conn, helo: opts.HELO, timeout: opts.ReplyTimeout}
	tlsCfg := &tls.Config{
		ServerName: opts.Host,
		// Verified below against opts.RootCAs and opts.Now, so that a bad certificate is
		// reported as such rather than as a failed handshake.
		InsecureSkipVerify: true, //nolint:gosec
	}
	c, err := startTLS(ctx, rec, tlsCfg)
	talk := parseTranscript(rec.transcript())
	res.Banner, res.Extensions = talk.banner, talk.extensions
	if err != nil {
		conn.Close()
		return failed(ctx, res, talk, err)
	}
	defer c.Close()
	if deadline, ok := ctx.Deadline(); ok {
		c.CommandTimeout = time.Until(deadline)
	}
	// The handshake runs with the first command over TLS.
	helloErr := c.Hello(opts.HELO)
	state, _ := c.TLSConnectionState()
	if !state.HandshakeComplete {
		res.Outcome, res.Err = HandshakeFailed, helloErr
		res.Problem = "STARTTLS was accepted but the TLS handshake failed"
		if helloErr != nil {
			res.Problem += ": " + sanitize.Line(helloErr.Error())
		}
		if ctx.Err() != nil || isTimeout(helloErr) {
			res.Outcome, res.Problem = NoAnswer, "the server did not finish the TLS handshake in time"
		}
		return res
	}
	res.TLSVersion = tls.VersionName(state.Version)
	res.Cipher = tls.CipherSuiteName(state.CipherSuite)
	if len(state.PeerCertificates) == 0 {
		res.Outcome, res.Problem = CertInvalid, "the server sent no certificate"
		return res
	}
	leaf := state.PeerCertificates[0]
	res.Cert = &Cert{
		Subject:  sanitize.Line(leaf.Subject.CommonName),
		Issuer:   sanitize.Line(leaf.Issuer.String()),
		NotAfter: leaf.NotAfter.UTC(),
	}
	for _, n := range leaf.DNSNames {
		res.Cert.Names = append(res.Cert.Names, sanitize.Line(n))
	}
	inter := x509.NewCertPool()
	for _, ic := range state.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	_, verr := leaf.Verify(x509.VerifyOptions{
		DNSName: opts.Host, Roots: opts.RootCAs, Intermediates: inter, CurrentTime: opts.Now,
	})
	if verr != nil {
		res.Outcome, res.Err = CertInvalid, verr
		res.Problem = certProblem(verr, opts.Host, leaf, opts.Now)
	} else {
		res.Outcome = TLSValid
	}
	_ = c.Quit()
	return res
}

// startTLS greets, says EHLO and starts TLS, watching ctx.
func startTLS(ctx context.Context, conn net.Conn, cfg *tls.Config) (*smtp.Client, error) {
	type out struct {
		c   *smtp.Client
		err error
	}
	ch := make(chan out, 1)
	go func() {
		c, err := smtp.NewClientStartTLS(conn, cfg)
		ch <- out{c, err}
	}()
	select {
	case o := <-ch:
		return o.c, o.err
	case <-ctx.Done():
		conn.Close()
		<-ch
		return nil, ctx.Err()
	}
}

// failed reads why the plaintext part ended.
func failed(ctx context.Context, res Result, talk transcript, err error) Result {
	res.Err = err
	var se *smtp.SMTPError
	switch {
	case talk.bannerCode == 0 && (ctx.Err() != nil || isTimeout(err)):
		res.Outcome = NoAnswer
		res.Problem = "connected, but the server sent no greeting in time"
	case talk.bannerCode == 0:
		res.Outcome = NoAnswer
		res.Problem = "connected, but the server closed the connection without a greeting: " + shortNetErr(err)
	case talk.bannerCode != 220:
		res.Outcome = Rejected
		res.Reply = res.Banner
		res.Problem = "the server refused this machine at the greeting: " + res.Banner
	case !talk.ehloDone && errors.As(err, &se):
		res.Outcome = Rejected
		res.Reply = sanitize.Line(fmt.Sprintf("%d %s", se.Code, se.Message))
		res.Problem = "the server refused EHLO from this machine: " + res.Reply
	case !talk.ehloDone:
		res.Outcome = NoAnswer
		res.Problem = "the server did not answer EHLO in time"
	case !talk.starttls:
		res.Outcome = NotOffered
		res.Problem = "the server does not offer STARTTLS: mail to it travels unencrypted"
	case errors.As(err, &se):
		res.Outcome = HandshakeFailed
		res.Reply = sanitize.Line(fmt.Sprintf("%d %s", se.Code, se.Message))
		res.Problem = "the server offers STARTTLS but refused to start it: " + res.Reply
	case ctx.Err() != nil || isTimeout(err):
		res.Outcome = NoAnswer
		res.Problem = "the server did not answer STARTTLS in time"
	default:
		res.Outcome = HandshakeFailed
		res.Problem = "STARTTLS failed: " + shortNetErr(err)
	}
	return res
}

func certProblem(err error, host string, leaf *x509.Certificate, now time.Time) string {
	var ci x509.CertificateInvalidError
	var he x509.HostnameError
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		if now.After(leaf.NotAfter) {
			return fmt.Sprintf("the certificate expired on %s", leaf.NotAfter.UTC().Format(time.DateOnly))
		}
		return fmt.Sprintf("the certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.DateOnly))
	case errors.As(err, &he):
		names := leaf.DNSNames
		if len(names) == 0 && leaf.Subject.CommonName != "" {
			names = []string{leaf.Subject.CommonName}
		}
		return sanitize.Line(fmt.Sprintf("the certificate is for %s, not for %s", strings.Join(names, ", "), host))
	case errors.As(err, &ua):
		return "the certificate is not signed by a trusted authority (self-signed or a private CA)"
	}
	return "the certificate is invalid: " + sanitize.Line(err.Error())
}

type transcript struct {
	banner     string
	bannerCode int
	ehloDone   bool
	extensions []string
	starttls   bool
}

// parseTranscript reads the greeting and the EHLO reply out of the plaintext
// conversation (multi-line replies: "250-" continues, "250 " ends).
func parseTranscript(s string) transcript {
	var t transcript
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	reply := 0 // 0 greeting, 1 EHLO
	var text []string
	for _, l := range lines {
		if len(l) < 3 {
			continue
		}
		code := 0
		if _, err := fmt.Sscanf(l[:3], "%d", &code); err != nil {
			continue
		}
		rest := ""
		if len(l) > 4 {
			rest = l[4:]
		}
		last := len(l) == 3 || l[3] == ' '
		switch reply {
		case 0:
			t.bannerCode = code
			text = append(text, rest)
			if last {
				t.banner = sanitize.Line(strings.Join(text, " "))
				reply = 1
				text = nil
			}
		case 1:
			if code != 250 {
				return t
			}
			text = append(text, rest)
			if last {
				t.ehloDone = true
				for _, e := range text[1:] {
					f := strings.Fields(e)
					if len(f) == 0 {
						continue
					}
					kw := strings.ToUpper(f[0])
					t.extensions = append(t.extensions, sanitize.Line(kw))
					if kw == "STARTTLS" {
						t.starttls = true
					}
				}
				return t
			}
		}
	}
	return t
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func shortNetErr(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return sanitize.Line(oe.Err.Error())
	}
	return sanitize.Line(err.Error())
}

// localName is the name the probe introduces itself with: this machine's name when it
// is a domain name, since receivers reject "localhost" more often than an unknown name.
func localName() string {
	if h, err := os.Hostname(); err == nil && strings.Contains(h, ".") {
		return h
	}
	return "localhost"
}
