package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/probe/probetest"
)

const watchZone = `
customer.example.     300 IN MX 10 mx1.customer.example.
mx1.customer.example. 300 IN A 127.0.0.30
`

var cliIP = netip.MustParseAddr("127.0.0.6")

type cliFixture struct {
	t    *testing.T
	dir  string
	dns  *dnstest.Server
	mx   *probetest.Server
	base []string
}

func newCLIFixture(t *testing.T) *cliFixture {
	f := &cliFixture{t: t, dir: t.TempDir()}
	f.dns = dnstest.Start(t, watchZone)
	mx, err := probetest.Start("127.0.0.30:0", "mx1.customer.example")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mx.Close)
	mx.Block(cliIP)
	f.mx = mx
	f.base = []string{"--dir", filepath.Join(f.dir, "cases")}
	return f
}

func (f *cliFixture) flags() []string {
	return []string{"--resolver", f.dns.Addr, "--port", fmt.Sprint(f.mx.Port()), "--timeout", "2s"}
}

// newCase saves a case blocked at customer.example from ip.
func (f *cliFixture) newCase(ip string) string {
	f.t.Helper()
	s, err := casefile.Open(filepath.Join(f.dir, "cases"))
	if err != nil {
		f.t.Fatal(err)
	}
	c := &casefile.Case{Role: casefile.Sender, Provider: "proofpoint", Mode: triage.HardBlock, Status: casefile.StatusOpen}
	c.Identifiers.IPs = []string{ip}
	c.Identifiers.HELO = "mail.example.com"
	c.Identifiers.EnvelopeSender = "bounces@example.com"
	c.Add([]triage.Finding{{
		Mode: triage.HardBlock, Cause: triage.IPReputation, Provider: "proofpoint", Control: "dynamic-reputation",
		IP: ip, ReplyCode: 554, EnhancedCode: "5.7.0", Recipient: "ann@customer.example", RecipientDomain: "customer.example",
		At: time.Date(2026, 12, 2, 13, 0, 0, 0, time.UTC), Text: "554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=" + ip,
	}}, time.Date(2026, 12, 2, 13, 5, 0, 0, time.UTC))
	if err := s.Create(c, true); err != nil {
		f.t.Fatal(err)
	}
	return c.ID
}

func (f *cliFixture) run(at string, args ...string) (int, string, string) {
	f.t.Helper()
	f.t.Setenv("UNBLOCK_NOW", at)
	var out, errb bytes.Buffer
	code := run(context.Background(), append(append(append([]string{}, args...), f.base...), f.flags()...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestProbeVerb(t *testing.T) {
	f := newCLIFixture(t)
	id := f.newCase(cliIP.String())

	code, out, errs := f.run("2026-12-02T14:05:00Z", "probe", id, "--dry-run")
	if code != 0 || !strings.Contains(out, "RCPT TO:<ann@customer.example>") || !strings.Contains(out, "mx1.customer.example (10)") || f.mx.Connections() != 0 {
		t.Fatalf("dry run: %d %q %q, %d connections", code, out, errs, f.mx.Connections())
	}

	code, out, errs = f.run("2026-12-02T14:05:00Z", "probe", id)
	if code != 1 || !strings.Contains(out, "refused at MAIL") || !strings.Contains(out, "554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=127.0.0.6") ||
		!strings.Contains(out, "only tells about the IP it runs from (127.0.0.6)") {
		t.Fatalf("refused: %d\n%s\n%s", code, out, errs)
	}

	// Ten minutes later the host is not asked again.
	conns := f.mx.Connections()
	code, out, _ = f.run("2026-12-02T14:15:00Z", "probe", id)
	if code != 1 || !strings.Contains(out, "not probed") || !strings.Contains(out, "next probe allowed from 14:20 UTC") || f.mx.Connections() != conns {
		t.Fatalf("rate limit: %d %q, %d connections (was %d)", code, out, f.mx.Connections(), conns)
	}
	if code, _, errs = f.run("2026-12-02T14:15:00Z", "probe", id, "--every-host-interval", "4m"); code != 2 || !strings.Contains(errs, "5m0s minimum") {
		t.Errorf("an interval below five minutes: %d %q", code, errs)
	}

	f.mx.Unblock(cliIP)
	code, out, _ = f.run("2026-12-02T14:25:00Z", "probe", id)
	if code != 0 || !strings.Contains(out, "accepted at RCPT") || !strings.Contains(out, "the block lifted at 2026-12-02 14:25 UTC") {
		t.Fatalf("accepted: %d\n%s", code, out)
	}
	if f.mx.Commands("DATA") != 0 || f.mx.Data() != 0 {
		t.Fatal("DATA was sent")
	}

	other := f.newCase("192.0.2.1")
	code, _, errs = f.run("2026-12-02T14:25:00Z", "probe", other)
	if code != 2 || !strings.Contains(errs, "cannot send from 192.0.2.1") {
		t.Errorf("an IP this machine does not hold: %d %q", code, errs)
	}
}

func TestWatchVerb(t *testing.T) {
	f := newCLIFixture(t)
	id := f.newCase(cliIP.String())
	notes := filepath.Join(f.dir, "notify.jsonl")
	notify := "cat >> " + notes

	// Refused, as the bounce said: nothing changed (the lists cannot be read here: the
	// loopback DNS server knows none of them).
	code, out, errs := f.run("2026-12-02T14:00:00Z", "watch", "--once", "--notify", notify)
	if code != 0 || strings.Contains(out, "→") {
		t.Fatalf("first round: %d\n%s\n%s", code, out, errs)
	}
	f.mx.Unblock(cliIP)
	code, out, errs = f.run("2026-12-02T14:16:00Z", "watch", "--once", "--notify", notify, id)
	if code != 3 || !strings.Contains(out, "refused → accepted") || !strings.Contains(out, "the block lifted at 2026-12-02 14:16 UTC") ||
		!strings.Contains(out, "lists that could not be read") {
		t.Fatalf("lifted: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = f.run("2026-12-02T14:32:00Z", "watch", "--once", "--notify", notify)
	if code != 0 || out != "" {
		t.Fatalf("unchanged: %d %q", code, out)
	}
	f.mx.Block(cliIP)
	code, out, _ = f.run("2026-12-02T14:48:00Z", "watch", "--once", "--notify", notify)
	if code != 1 || !strings.Contains(out, "accepted → refused") {
		t.Fatalf("worse: %d %q", code, out)
	}
	data, err := os.ReadFile(notes)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 {
		t.Fatalf("notify ran %d times, want 3 (accepted, lifted, refused):\n%s", len(lines), data)
	}
	var ch map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &ch); err != nil || ch["case"] != id || ch["what"] != "block" || ch["to"] != "lifted" || ch["at"] != "2026-12-02T14:16:00Z" {
		t.Errorf("notify JSON %s: %v", lines[1], err)
	}
	if code, _, errs := f.run("2026-12-02T14:48:00Z", "watch", "--every", "1m"); code != 2 || !strings.Contains(errs, "--every") {
		t.Errorf("--every 1m: %d %q", code, errs)
	}
}

// TestWatchChecks: watch --checks records a check whose verdict moved as a change of
// state, and a check that could not be made this round leaves what the case knew, with
// the time it was really checked: the message states that time.
func TestWatchChecks(t *testing.T) {
	f := newCLIFixture(t)
	if err := f.dns.AddZone("example.com. 300 IN TXT \"v=spf1 ip4:127.0.0.6 -all\"\n"); err != nil {
		t.Fatal(err)
	}
	id := f.newCase(cliIP.String())
	s, err := casefile.Open(filepath.Join(f.dir, "cases"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Edit(id, func(c *casefile.Case) error { c.Identifiers.Domain = "example.com"; return nil }); err != nil {
		t.Fatal(err)
	}
	spf := func() casefile.AuthCheck {
		t.Helper()
		c, err := s.View(id)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range c.Authentication {
			if a.ID == "spf" {
				return a
			}
		}
		t.Fatalf("no spf check in the case: %+v", c.Authentication)
		return casefile.AuthCheck{}
	}
	first := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	code, out, errs := f.run(first.Format(time.RFC3339), "watch", "--once", "--checks", id)
	if code != 0 || strings.Contains(out, "check spf") {
		t.Fatalf("first round: %d\n%s\n%s", code, out, errs)
	}
	if a := spf(); a.Status != "pass" || !a.CheckedAt.Equal(first) {
		t.Fatalf("first round recorded spf %s at %v", a.Status, a.CheckedAt)
	}
	// A second SPF record: permerror, the check fails (RFC 7208 §4.5).
	if err := f.dns.AddZone("example.com. 300 IN TXT \"v=spf1 -all\"\n"); err != nil {
		t.Fatal(err)
	}
	second := first.Add(16 * time.Minute)
	code, out, errs = f.run(second.Format(time.RFC3339), "watch", "--once", "--checks", id)
	if code != 1 || !strings.Contains(out, "check spf") || !strings.Contains(out, "pass → fail") {
		t.Fatalf("worse: %d\n%s\n%s", code, out, errs)
	}
	if a := spf(); a.Status != "fail" || !a.CheckedAt.Equal(second) {
		t.Fatalf("second round recorded spf %s at %v", a.Status, a.CheckedAt)
	}
	// The domain's server fails: the check cannot be made. The case keeps the fail it
	// knew, checked when it was, and records no change.
	f.dns.ServFail("example.com.")
	code, out, errs = f.run(second.Add(16*time.Minute).Format(time.RFC3339), "watch", "--once", "--checks", id)
	if code != 0 || strings.Contains(out, "check spf") {
		t.Fatalf("unreadable round: %d\n%s\n%s", code, out, errs)
	}
	if a := spf(); a.Status != "fail" || !a.CheckedAt.Equal(second) {
		t.Fatalf("a round that could not check spf left it %s at %v, want fail at %v", a.Status, a.CheckedAt, second)
	}
}
