package probe_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/probe"
	"github.com/unblock-mail/unblock/checks/probe/probetest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

var (
	blockedIP  = netip.MustParseAddr("127.0.0.2")
	allowedIP  = netip.MustParseAddr("127.0.0.3")
	mxAddrs    = []string{"127.0.0.10", "127.0.0.11"}
	mxNames    = []string{"mx1.example.net", "mx2.example.net"}
	recipients = "alice@example.net"
)

const zone = `
example.net.     300 IN MX 10 mx1.example.net.
example.net.     300 IN MX 20 mx2.example.net.
mx1.example.net. 300 IN A 127.0.0.10
mx2.example.net. 300 IN A 127.0.0.11
nomx.example.    300 IN A 127.0.0.11
nullmx.example.  300 IN MX 0 .
`

type fixture struct {
	servers []*probetest.Server
	res     *resolver.Resolver
}

func setup(t *testing.T) *fixture {
	t.Helper()
	dns := dnstest.Start(t, zone)
	set, err := probetest.StartSet(mxAddrs, mxNames)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, s := range set {
			s.Close()
		}
	})
	r, err := resolver.New(resolver.Config{Servers: []string{dns.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range set {
		s.Block(blockedIP)
	}
	return &fixture{servers: set, res: r}
}

func (f *fixture) opts(src netip.Addr) probe.Options {
	return probe.Options{
		Source: src, Domain: "example.net", HELO: "mail.sender.example", MailFrom: "bounce@sender.example",
		RcptTo: recipients, Resolver: f.res, Port: f.servers[0].Port(), HostTimeout: 2 * time.Second,
	}
}

func TestRefusedThenAccepted(t *testing.T) {
	f := setup(t)
	mx1 := f.servers[0]
	res, err := probe.Probe(context.Background(), f.opts(blockedIP))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != probe.Refused || res.Stage != probe.StageMail || res.Code != 554 || res.Enhanced != "5.7.0" || res.MX != "mx1.example.net" {
		t.Fatalf("blocked source: %+v", res)
	}
	if !strings.Contains(res.Reply, "https://ipcheck.proofpoint.com/?ip=127.0.0.2") || !strings.HasPrefix(res.Reply, "554 5.7.0 Blocked") {
		t.Errorf("reply = %q", res.Reply)
	}
	if got := mx1.Sources(); len(got) != 1 || got[0] != blockedIP {
		t.Errorf("the server saw connections from %v, want only %s (the bound source)", got, blockedIP)
	}
	if h := mx1.HELOs(); len(h) != 1 || h[0] != "mail.sender.example" {
		t.Errorf("EHLO names = %v", h)
	}
	if !res.TLS || mx1.Commands("STARTTLS") != 1 {
		t.Errorf("STARTTLS was offered but not used: tls=%v, STARTTLS sent %d times", res.TLS, mx1.Commands("STARTTLS"))
	}

	res, err = probe.Probe(context.Background(), f.opts(allowedIP))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != probe.Accepted || res.Stage != probe.StageRcpt || res.Code != 250 || res.Reply == "" {
		t.Fatalf("allowed source: %+v", res)
	}
	if mx1.Commands("RCPT") != 1 || mx1.Commands("RSET") != 1 || mx1.Commands("QUIT") != 2 {
		t.Errorf("RCPT %d RSET %d QUIT %d, want 1 1 2", mx1.Commands("RCPT"), mx1.Commands("RSET"), mx1.Commands("QUIT"))
	}
	// go-smtp greets again after RSET before it says QUIT.
	wantCmds := []string{"EHLO", "STARTTLS", "EHLO", "MAIL", "RCPT", "RSET", "EHLO", "QUIT"}
	var verbs []string
	for _, c := range res.Commands {
		verbs = append(verbs, strings.Fields(strings.SplitN(c, ":", 2)[0])[0])
	}
	if !slices.Equal(verbs, wantCmds) {
		t.Errorf("commands sent = %v, want %v", res.Commands, wantCmds)
	}

	// The block lifts: the same source is now accepted.
	mx1.Unblock(blockedIP)
	res, err = probe.Probe(context.Background(), f.opts(blockedIP))
	if err != nil || res.Outcome != probe.Accepted {
		t.Fatalf("after the block lifted: %+v, %v", res, err)
	}
	for _, s := range f.servers {
		if s.Data() != 0 || s.Commands("DATA") != 0 || s.Commands("BDAT") != 0 {
			t.Fatalf("%s received DATA: %d commands, %d sessions", s.Host, s.Commands("DATA"), s.Data())
		}
	}
	if f.servers[1].Connections() != 0 {
		t.Errorf("mx2 was contacted although mx1 answered")
	}
}

func TestSilentHostIsGivenUp(t *testing.T) {
	f := setup(t)
	f.servers[0].SetSilent(true)
	o := f.opts(allowedIP)
	o.HostTimeout = 400 * time.Millisecond
	start := time.Now()
	res, err := probe.Probe(context.Background(), o)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != probe.Accepted || res.MX != "mx2.example.net" {
		t.Fatalf("want mx2 to answer after mx1 stayed silent: %+v", res)
	}
	if len(res.Tried) != 2 || res.Tried[0].Answered || !strings.Contains(res.Tried[0].Problem, "in time") {
		t.Errorf("tried = %+v", res.Tried)
	}
	if took > o.HostTimeout+time.Second {
		t.Errorf("took %s; the silent host should be given up after %s", took, o.HostTimeout)
	}

	f.servers[1].SetSilent(true)
	start = time.Now()
	res, err = probe.Probe(context.Background(), o)
	took = time.Since(start)
	if err != nil || res.Outcome != probe.NoAnswer || !strings.Contains(res.Problem, "no MX host answered") {
		t.Fatalf("all silent: %+v, %v", res, err)
	}
	if took > 2*o.HostTimeout+time.Second {
		t.Errorf("took %s for two silent hosts of %s each", took, o.HostTimeout)
	}
}

func TestAllowStopsBeforeConnecting(t *testing.T) {
	f := setup(t)
	o := f.opts(allowedIP)
	var asked []string
	o.Allow = func(mx string) bool { asked = append(asked, mx); return false }
	res, err := probe.Probe(context.Background(), o)
	if err != nil || res.Outcome != probe.Limited || res.MX != "mx1.example.net" {
		t.Fatalf("%+v, %v", res, err)
	}
	if f.servers[0].Connections()+f.servers[1].Connections() != 0 || len(asked) != 1 {
		t.Errorf("a limited probe connected (%d, %d) or asked %v", f.servers[0].Connections(), f.servers[1].Connections(), asked)
	}
}

func TestCannotBind(t *testing.T) {
	f := setup(t)
	// An address this machine does not hold: binding fails locally, nothing is sent.
	_, err := probe.Probe(context.Background(), f.opts(netip.MustParseAddr("192.0.2.1")))
	var cb *probe.CannotBindError
	if !errors.As(err, &cb) || !strings.Contains(err.Error(), "cannot send from 192.0.2.1") {
		t.Fatalf("err = %v", err)
	}
}

func TestNoMXAndNullMX(t *testing.T) {
	f := setup(t)
	o := f.opts(allowedIP)
	o.Domain, o.RcptTo = "nomx.example", "bob@nomx.example"
	res, err := probe.Probe(context.Background(), o)
	if err != nil || res.Outcome != probe.Accepted || res.MX != "nomx.example" {
		t.Fatalf("implicit MX: %+v, %v", res, err)
	}
	o.Domain, o.RcptTo = "nullmx.example", "bob@nullmx.example"
	res, err = probe.Probe(context.Background(), o)
	if err != nil || res.Outcome != probe.NoAnswer || !strings.Contains(res.Problem, "null MX") {
		t.Fatalf("null MX: %+v, %v", res, err)
	}
}

func TestBadOptions(t *testing.T) {
	f := setup(t)
	for _, tc := range []struct {
		edit func(*probe.Options)
		want string
	}{
		{func(o *probe.Options) { o.HELO = "" }, "HELO"},
		{func(o *probe.Options) { o.MailFrom = "nobody" }, "envelope sender"},
		{func(o *probe.Options) { o.RcptTo = "" }, "recipient"},
	} {
		o := f.opts(allowedIP)
		tc.edit(&o)
		if _, err := probe.Probe(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want one naming %s", err, tc.want)
		}
	}
	if n := f.servers[0].Connections(); n != 0 {
		t.Errorf("bad options still connected %d times", n)
	}
}

func TestWithoutSTARTTLS(t *testing.T) {
	f := setup(t)
	plain, err := probetest.StartPlain("127.0.0.12:0", "mx3.example.net")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(plain.Close)
	plain.Block(blockedIP)
	dns := dnstest.Start(t, "plain.example. 300 IN MX 5 mx3.example.net.\nmx3.example.net. 300 IN A 127.0.0.12\n")
	r, _ := resolver.New(resolver.Config{Servers: []string{dns.Addr}})
	o := f.opts(blockedIP)
	o.Domain, o.RcptTo, o.Resolver, o.Port = "plain.example", "bob@plain.example", r, plain.Port()
	res, err := probe.Probe(context.Background(), o)
	if err != nil || res.Outcome != probe.Refused || res.Stage != probe.StageMail || res.TLS {
		t.Fatalf("%+v, %v", res, err)
	}
	if h := plain.HELOs(); len(h) != 1 || h[0] != "mail.sender.example" {
		t.Errorf("EHLO names = %v", h)
	}
	if plain.Commands("STARTTLS") != 0 || plain.Commands("DATA") != 0 {
		t.Errorf("STARTTLS %d, DATA %d", plain.Commands("STARTTLS"), plain.Commands("DATA"))
	}
}
