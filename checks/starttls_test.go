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
		{liveCase{"null mx", Target{RecipientDomain: "null.example"}, Error, "null MX"}, nil, nil, nil},
		{liveCase{"nothing", Target{HELO: "x.example"}, Skip, "no recipient domain"}, nil, nil, nil},
		{liveCase{"sender only is mx-starttls", Target{Domain: "sender.example"}, Skip, "no recipient domain"}, nil, nil, nil},
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

func TestMXSTARTTLSIsTheSendersOwnMX(t *testing.T) {
	env, _ := liveEnv(t, starttlsZone)
	env.SMTPPort = smtptest.Server(t, "mx.test.example", nil)
	r := runLive(t, env, "mx-starttls", Target{Domain: "nomx.example"})
	if r.Status != Fail || !strings.Contains(r.Summary, "nomx.example's own MX nomx.example") || r.Details["role"] != "sender" {
		t.Errorf("implicit mx: %s %q %v", r.Status, r.Summary, r.Details)
	}
	r = runLive(t, env, "mx-starttls", Target{RecipientDomain: "rcpt.example"})
	if r.Status != Skip {
		t.Errorf("no sending domain: %s %q", r.Status, r.Summary)
	}

	// --smtp-host HOST:PORT wins over the run's SMTP port.
	port := smtptest.Server(t, "mx.test.example", nil)
	env.SMTPPort = smtptest.ClosedPort(t)
	r = runLive(t, env, "starttls", Target{SMTPHost: "mx.test.example:" + strconv.Itoa(port)})
	if r.Status != Fail || !strings.Contains(r.Summary, "does not offer STARTTLS") {
		t.Errorf("smtp-host with port: %s %q", r.Status, r.Summary)
	}
}

// TestSilentHostHoldsBackNothing (issue 11 class 6; RFC 5321 §4.5.3.2 timeouts, shortened
// for a probe): the recipient's MX accepts TCP and never greets, the sender's own MX
// answers at once. Each is its own check with its own reply timeout: mx-starttls reports
// as soon as its host answers, starttls when its host's timeout ends, and the run ends
// then, long before its deadline.
func TestSilentHostHoldsBackNothing(t *testing.T) {
	env, _ := liveEnv(t, `
rcpt.example. MX 10 mx.rcpt.example.
sender.example. MX 10 mx.sender.example.
mx.rcpt.example. A 127.0.0.2
mx.sender.example. A 127.0.0.1
`)
	env.SMTPPort = smtptest.Server(t, "mx.sender.example", nil)
	smtptest.RawAt(t, "127.0.0.2:"+strconv.Itoa(env.SMTPPort), func(c net.Conn) { time.Sleep(20 * time.Second) })
	env.SMTPReplyTimeout = 500 * time.Millisecond
	skip := skipAllBut("starttls")
	skip["mx-starttls"] = false
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	got := map[string]time.Duration{}
	res := map[string]Result{}
	for r := range Run(ctx, env, Target{RecipientDomain: "rcpt.example", Domain: "sender.example"}, skip) {
		if r.Status == Skip {
			continue
		}
		got[r.ID] = time.Since(start)
		res[r.ID] = r
	}
	total := time.Since(start)
	if r := res["mx-starttls"]; r.Status != Fail || !strings.Contains(r.Summary, "sender.example's own MX mx.sender.example") {
		t.Errorf("mx-starttls: %s %q", r.Status, r.Summary)
	}
	if got["mx-starttls"] > 300*time.Millisecond {
		t.Errorf("the sender's MX answered at once but its result came after %v", got["mx-starttls"])
	}
	if r := res["starttls"]; r.Status != Error || !strings.Contains(r.Summary, "no greeting in time") || !strings.Contains(r.Summary, "recipient rcpt.example's MX") {
		t.Errorf("starttls: %s %q", r.Status, r.Summary)
	}
	if total > 2*time.Second {
		t.Errorf("the run took %v: it should end when the silent host's own timeout does", total)
	}

	// The run's deadline still holds when it is shorter than a host's timeout.
	env.SMTPReplyTimeout = 0
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	start = time.Now()
	for r := range Run(ctx2, env, Target{RecipientDomain: "rcpt.example"}, skipAllBut("starttls")) {
		if r.ID == "starttls" && r.Status != Error {
			t.Errorf("silent server under the run's deadline: %s %q", r.Status, r.Summary)
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("deadline did not hold: %v", took)
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
