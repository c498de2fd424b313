package checks

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/smtpprobe/smtptest"
)

const starttlsZone = `
rcpt.example. MX 10 mx.test.example.
sender.example. MX 10 mx.sender.example.
mx.test.example. A 127.0.0.1
mx.sender.example. A 127.0.0.1
nomx.example. A 127.0.0.1
null.example. MX 0 .
`

func TestSTARTTLSCheck(t *testing.T) {
	now := time.Now()
	valid, pool := smtptest.Cert(t, "mx.test.example", now.Add(-time.Hour), now.Add(time.Hour))
	expired, expiredPool := smtptest.Cert(t, "mx.test.example", now.Add(-2*time.Hour), now.Add(-time.Hour))
	wrong, wrongPool := smtptest.Cert(t, "wrong.example", now.Add(-time.Hour), now.Add(time.Hour))
	defer func() { starttlsRoots = nil }()
	rcpt := Target{RecipientDomain: "rcpt.example"}
	for _, c := range []struct {
		liveCase
		port func() int
		cfg  *tls.Config
		pool func() any
	}{
		{liveCase{"valid", rcpt, Pass, "TLS 1.3, certificate valid for mx.test.example (seen from this machine's IP"}, nil, &tls.Config{Certificates: []tls.Certificate{valid}}, nil},
		{liveCase{"expired", rcpt, Warn, "expired"}, nil, &tls.Config{Certificates: []tls.Certificate{expired}}, nil},
		{liveCase{"wrong name", rcpt, Warn, "not for mx.test.example"}, nil, &tls.Config{Certificates: []tls.Certificate{wrong}}, nil},
		{liveCase{"not offered", rcpt, Fail, "does not offer STARTTLS"}, nil, nil, nil},
		{liveCase{"handshake", rcpt, Fail, "handshake failed"}, nil, &tls.Config{}, nil},
		{liveCase{"port closed", rcpt, Error, "from this machine"}, func() int { return smtptest.ClosedPort(t) }, nil, nil},
		{liveCase{"smtp host", Target{SMTPHost: "mx.test.example", RecipientDomain: "rcpt.example"}, Pass, "mx.test.example: TLS 1.3"}, nil, &tls.Config{Certificates: []tls.Certificate{valid}}, nil},
		{liveCase{"implicit mx", Target{Domain: "nomx.example"}, Fail, "nomx.example's own MX nomx.example"}, nil, nil, nil},
		{liveCase{"null mx", Target{RecipientDomain: "null.example"}, Error, "null MX"}, nil, nil, nil},
		{liveCase{"nothing", Target{HELO: "x.example"}, Skip, "no recipient domain"}, nil, nil, nil},
	} {
		env, _ := liveEnv(t, starttlsZone)
		switch c.name {
		case "expired":
			starttlsRoots = expiredPool
		case "wrong name":
			starttlsRoots = wrongPool
		default:
			starttlsRoots = pool
		}
		if c.port != nil {
			env.SMTPPort = c.port()
		} else {
			env.SMTPPort = smtptest.Server(t, "mx.test.example", c.cfg)
		}
		r := c.check(t, env, "starttls")
		if c.status == Pass && r.Details["tls_version"] != "TLS 1.3" {
			t.Errorf("%s: details %v", c.name, r.Details)
		}
	}
}

func TestSTARTTLSBothSidesAndDeadline(t *testing.T) {
	env, _ := liveEnv(t, starttlsZone)
	env.SMTPPort = smtptest.Server(t, "mx.test.example", nil)
	r := runLive(t, env, "starttls", Target{RecipientDomain: "rcpt.example", Domain: "sender.example"})
	probes, _ := r.Details["probes"].([]any)
	if r.Status != Fail || len(probes) != 2 || !strings.Contains(r.Summary, "sender.example's own MX") {
		t.Errorf("both sides: %s %q %v", r.Status, r.Summary, r.Details)
	}

	// --smtp-host HOST:PORT wins over the run's SMTP port.
	port := smtptest.Server(t, "mx.test.example", nil)
	env.SMTPPort = smtptest.ClosedPort(t)
	r = runLive(t, env, "starttls", Target{SMTPHost: "mx.test.example:" + strconv.Itoa(port)})
	if r.Status != Fail || !strings.Contains(r.Summary, "does not offer STARTTLS") {
		t.Errorf("smtp-host with port: %s %q", r.Status, r.Summary)
	}

	// A server that accepts and never speaks: the run's deadline holds, and it is error.
	env.SMTPPort = smtptest.Raw(t, func(c net.Conn) { time.Sleep(10 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	var res Result
	for c := range Run(ctx, env, Target{RecipientDomain: "rcpt.example"}, skipAllBut("starttls")) {
		if c.ID == "starttls" {
			res = c
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("deadline did not hold: %v", took)
	}
	if res.Status != Error || !strings.Contains(res.Summary, "no greeting in time") {
		t.Errorf("silent server: %s %q", res.Status, res.Summary)
	}
}

// skipAllBut is the skip set that leaves only id to run.
func skipAllBut(id string) map[string]bool {
	skip := map[string]bool{}
	for _, x := range IDs() {
		if x != id {
			skip[x] = true
		}
	}
	return skip
}

// runOnly runs one check through Run with a deadline and returns its results.
func runOnly(t *testing.T, env *Env, id string, tg Target, d time.Duration) []Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out []Result
	for r := range Run(ctx, env, tg, skipAllBut(id)) {
		if r.ID == id {
			assertPrintable(t, r)
			out = append(out, r)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%s: %d results", id, len(out))
	}
	return out
}

func TestSMTPHostTarget(t *testing.T) {
	for in, want := range map[string]smtpTarget{
		"mx.example.com":      {Role: "smtp-host", Host: "mx.example.com"},
		"MX.Example.com.":     {Role: "smtp-host", Host: "mx.example.com"},
		"mx.example.com:2525": {Role: "smtp-host", Host: "mx.example.com", Port: 2525},
		"[2001:db8::1]:25":    {Role: "smtp-host", Host: "2001:db8::1", Port: 25},
		"192.0.2.1":           {Role: "smtp-host", Host: "192.0.2.1"},
		"2001:db8::1":         {Role: "smtp-host", Host: "2001:db8::1"},
	} {
		if got := smtpHostTarget(in); got != want {
			t.Errorf("smtpHostTarget(%q) = %+v, want %+v", in, got, want)
		}
	}
}
