package smtpprobe

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/dialer"
	"github.com/unblock-mail/unblock/checks/smtpprobe/smtptest"
)

// TestMain holds every test to loopback: a dial anywhere else is refused and fails the run.
func TestMain(m *testing.M) {
	os.Exit(dialer.TestMain(m))
}

const host = "mx.test.example"

func probe(t *testing.T, port int, opts Options, timeout time.Duration) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	opts.Host = host
	opts.Addr = smtptest.Addr(port)
	opts.HELO = "probe.test.example"
	return Probe(ctx, opts)
}

func TestProbeTLS(t *testing.T) {
	now := time.Now()
	valid, validPool := smtptest.Cert(t, host, now.Add(-time.Hour), now.Add(24*time.Hour))
	expired, expiredPool := smtptest.Cert(t, host, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	wrong, wrongPool := smtptest.Cert(t, "other.example", now.Add(-time.Hour), now.Add(24*time.Hour))

	cases := []struct {
		name    string
		cfg     *tls.Config
		roots   bool
		pool    func() Options
		outcome Outcome
		problem string
	}{
		{"valid", &tls.Config{Certificates: []tls.Certificate{valid}}, true, func() Options { return Options{RootCAs: validPool} }, TLSValid, ""},
		{"expired", &tls.Config{Certificates: []tls.Certificate{expired}}, true, func() Options { return Options{RootCAs: expiredPool} }, CertInvalid, "expired"},
		{"wrong name", &tls.Config{Certificates: []tls.Certificate{wrong}}, true, func() Options { return Options{RootCAs: wrongPool} }, CertInvalid, "not for mx.test.example"},
		{"untrusted", &tls.Config{Certificates: []tls.Certificate{valid}}, true, func() Options { return Options{} }, CertInvalid, "trusted authority"},
		{"not offered", nil, false, func() Options { return Options{} }, NotOffered, "does not offer STARTTLS"},
		{"handshake", &tls.Config{}, false, func() Options { return Options{} }, HandshakeFailed, "handshake failed"},
	}
	for _, c := range cases {
		port := smtptest.Server(t, host, c.cfg)
		res := probe(t, port, c.pool(), 5*time.Second)
		if res.Outcome != c.outcome || !strings.Contains(res.Problem, c.problem) {
			t.Errorf("%s: %s %q (err %v); want %s %q", c.name, res.Outcome, res.Problem, res.Err, c.outcome, c.problem)
		}
		if !strings.Contains(res.Banner, host) {
			t.Errorf("%s: banner %q", c.name, res.Banner)
		}
		if c.outcome == TLSValid || c.outcome == CertInvalid {
			if res.TLSVersion != "TLS 1.3" || res.Cert == nil {
				t.Errorf("%s: version %q cert %v", c.name, res.TLSVersion, res.Cert)
			}
		}
		if c.cfg != nil && !containsExt(res.Extensions, "STARTTLS") {
			t.Errorf("%s: extensions %v", c.name, res.Extensions)
		}
	}
}

func containsExt(exts []string, e string) bool {
	for _, x := range exts {
		if x == e {
			return true
		}
	}
	return false
}

func TestProbeUnreachable(t *testing.T) {
	res := probe(t, smtptest.ClosedPort(t), Options{}, 2*time.Second)
	if res.Outcome != Unreachable || !strings.Contains(res.Problem, "from this machine") {
		t.Errorf("%s %q", res.Outcome, res.Problem)
	}
}

func TestProbeConnectTimeout(t *testing.T) {
	// A firewall that drops port 25 answers nothing; the dialer's blackhole stands in for
	// it on loopback (tests never send a packet to TEST-NET or anywhere else).
	defer dialer.Blackhole()()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	res := Probe(ctx, Options{Host: host, Addr: "127.0.0.1:25", ConnectTimeout: 200 * time.Millisecond})
	if res.Outcome != Unreachable || time.Since(start) > 2*time.Second {
		t.Errorf("%s %q after %v", res.Outcome, res.Problem, time.Since(start))
	}
}

// TestProbeSilentServerOwnTimeout: a server that accepts and never greets ends its own
// probe after the reply timeout, however long the run's deadline is (issue 11 class 6).
func TestProbeSilentServerOwnTimeout(t *testing.T) {
	port := smtptest.Raw(t, func(c net.Conn) { time.Sleep(10 * time.Second) })
	start := time.Now()
	res := probe(t, port, Options{ReplyTimeout: 200 * time.Millisecond}, 8*time.Second)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the silent host held the probe for %v", took)
	}
	if res.Outcome != NoAnswer || !strings.Contains(res.Problem, "no greeting in time") {
		t.Errorf("%s %q", res.Outcome, res.Problem)
	}
	// Greeting, then silence after EHLO: the per-reply timeout holds for commands too.
	port = smtptest.Raw(t, func(c net.Conn) {
		c.Write([]byte("220 mx.test.example ESMTP\r\n"))
		time.Sleep(10 * time.Second)
	})
	start = time.Now()
	res = probe(t, port, Options{ReplyTimeout: 200 * time.Millisecond}, 8*time.Second)
	if took := time.Since(start); took > 2*time.Second || res.Outcome != NoAnswer {
		t.Errorf("silent after greeting: %s %q after %v", res.Outcome, res.Problem, took)
	}
}

func TestProbeSilentServerHoldsDeadline(t *testing.T) {
	port := smtptest.Raw(t, func(c net.Conn) { time.Sleep(10 * time.Second) })
	start := time.Now()
	res := probe(t, port, Options{}, 300*time.Millisecond)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the probe outlived its deadline: %v", took)
	}
	if res.Outcome != NoAnswer {
		t.Errorf("%s %q", res.Outcome, res.Problem)
	}
}

func TestProbeRejectedAndHostileBanner(t *testing.T) {
	port := smtptest.Raw(t, func(c net.Conn) {
		c.Write([]byte("554-5.7.1 \x1b[2Jyou are\r\n554 5.7.1 not welcome\r\n"))
		bufio.NewReader(c).ReadString('\n')
	})
	res := probe(t, port, Options{}, 2*time.Second)
	if res.Outcome != Rejected || !strings.Contains(res.Problem, "not welcome") {
		t.Errorf("%s %q", res.Outcome, res.Problem)
	}
	if strings.Contains(res.Banner+res.Problem, "\x1b") {
		t.Errorf("raw escape in banner: %q", res.Banner)
	}
	port = smtptest.Server(t, "mx\x1b]0;pwned\x07.example", nil)
	res = probe(t, port, Options{}, 2*time.Second)
	if res.Outcome != NotOffered || strings.ContainsAny(res.Banner, "\x1b\x07") || res.Banner == "" {
		t.Errorf("%s banner %q", res.Outcome, res.Banner)
	}
}

func TestProbeIntroducesItselfByName(t *testing.T) {
	got := make(chan string, 1)
	port := smtptest.Raw(t, func(c net.Conn) {
		c.Write([]byte("220 mx.test.example ESMTP\r\n"))
		r := bufio.NewReader(c)
		line, _ := r.ReadString('\n')
		got <- strings.TrimSpace(line)
		c.Write([]byte("250 mx.test.example\r\n"))
		r.ReadString('\n')
	})
	res := probe(t, port, Options{}, 2*time.Second)
	if ehlo := <-got; ehlo != "EHLO probe.test.example" {
		t.Errorf("the probe said %q before TLS", ehlo)
	}
	if res.Outcome != NotOffered {
		t.Errorf("%s %q", res.Outcome, res.Problem)
	}
}

func TestProbeEHLORejected(t *testing.T) {
	port := smtptest.Raw(t, func(c net.Conn) {
		c.Write([]byte("220 mx.test.example ESMTP\r\n"))
		r := bufio.NewReader(c)
		r.ReadString('\n')
		c.Write([]byte("550 5.7.1 EHLO name rejected\r\n"))
		r.ReadString('\n')
	})
	res := probe(t, port, Options{}, 2*time.Second)
	if res.Outcome != Rejected || !strings.Contains(res.Problem, "EHLO") {
		t.Errorf("%s %q", res.Outcome, res.Problem)
	}
}

func TestParseTranscript(t *testing.T) {
	tr := parseTranscript("220-first\r\n220 second\r\n250-mx hello\r\n250-SIZE 100\r\n250-starttls\r\n250 8BITMIME\r\n")
	if tr.banner != "first second" || tr.bannerCode != 220 || !tr.ehloDone || !tr.starttls || len(tr.extensions) != 3 {
		t.Errorf("%+v", tr)
	}
	if tr := parseTranscript("220 x\r\n250 x\r\n"); !tr.ehloDone || tr.starttls || len(tr.extensions) != 0 {
		t.Errorf("bare EHLO: %+v", tr)
	}
}
