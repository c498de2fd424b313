package casefile

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// senderCase is a full case of an external sender blocked by Proofpoint: failures on two
// days to two domains, a delivery, checks run, changes listed, evidence attached, and a
// request sent three days before the time of writing.
func senderCase(t *testing.T) *Case {
	t.Helper()
	c := &Case{Schema: 1, ID: "c", Status: StatusWaiting, Role: Sender, Provider: "proofpoint", Created: t0, Updated: t0}
	c.Identifiers.HELO = "mail.example.com"
	c.Identifiers.Selectors = []string{"s2026"}
	var fs []triage.Finding
	for i := range 4 {
		fs = append(fs, pdrFinding(i, t0.Add(-72*time.Hour+time.Duration(i)*time.Hour)))
	}
	late := pdrFinding(9, t0.Add(-2*time.Hour))
	late.Recipient, late.RecipientDomain = "ops@partner.example", "partner.example"
	fs = append(fs, late)
	c.AddFindings(fs)
	c.Scope = Scope{Volume: "about 2,000 messages a day", MailKind: []string{"transactional"},
		Impact: "Customers do not receive password resets."}
	c.Changes = []Change{{Kind: "new-ip", Summary: "moved sending to 192.0.2.1", At: t0.Add(-10 * 24 * time.Hour), WarmupDays: 6}}
	c.RecordChecks([]checks.Result{
		{ID: "spf", Status: checks.Pass, Summary: "192.0.2.1 is permitted by example.com"},
		{ID: "dkim", Status: checks.Pass, Summary: "s2026 key published"},
		{ID: "dmarc", Status: checks.Pass, Summary: "p=reject"},
		{ID: "ptr", Status: checks.Pass, Summary: "mail.example.com"},
		{ID: "starttls", Status: checks.Skip, Summary: "not asked"},
	}, t0.Add(-time.Hour))
	c.Evidence.Files = []File{{Path: "/home/pm/bounce-1.eml", Kind: "bounce", Size: 2048, SHA256: strings.Repeat("ab", 32), Added: t0.Add(-70 * time.Hour)}}
	c.Route.Reference = "PDR-778812"
	m, err := Render(c, "ipcheck-request", RenderOptions{Now: t0.Add(-71 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c.RecordMessage(m, true, t0.Add(-71*time.Hour))
	return c
}

// customerCase is a Proofpoint customer admin's false-positive case.
func customerCase() *Case {
	c := &Case{Schema: 1, ID: "f", Status: StatusOpen, Role: Customer, Provider: "proofpoint", Mode: triage.Filtering, Created: t0, Updated: t0}
	c.Identifiers = Identifiers{IPs: []string{"203.0.113.5"}, Domain: "vendor.example", MessageIDs: []string{"<a1@vendor.example>", "<a2@vendor.example>"}}
	c.Route.Product = "Proofpoint on Demand"
	c.Route.Component = "Spam detection"
	for i := range 3 {
		c.Timeline = append(c.Timeline, Event{At: t0.Add(-time.Duration(3-i) * time.Hour), RecipientDomain: "ourco.example",
			Recipients: []string{"ap@ourco.example"}, Provider: "proofpoint", Mode: triage.Filtering, Source: "headers.txt"})
	}
	c.Evidence.Files = []File{{Path: "/tmp/invoice.eml", Kind: "sample", Size: 40000, SHA256: strings.Repeat("cd", 32), Added: t0}}
	c.Scope.Impact = "Supplier invoices land in quarantine."
	return c
}

func TestRenderGolden(t *testing.T) {
	now := RenderOptions{Now: t0}
	type render struct {
		name, kind string
		c          func(*testing.T) *Case
		opts       RenderOptions
	}
	var cases []render
	for _, k := range MessageKinds() {
		cases = append(cases, render{k, k, senderCase, now})
	}
	cases = append(cases,
		render{"support-case-customer", "support-case", func(*testing.T) *Case { return customerCase() }, now},
		render{"false-positive-customer", "false-positive", func(*testing.T) *Case { return customerCase() }, now},
		render{"recipient-admin-redacted", "recipient-admin", senderCase, RenderOptions{Now: t0, Redact: true}},
	)
	for _, r := range cases {
		t.Run(r.name, func(t *testing.T) {
			m, err := Render(r.c(t), r.kind, r.opts)
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != r.kind {
				t.Errorf("kind %q", m.Kind)
			}
			got := m.String()
			golden(t, filepath.Join("testdata", "golden", r.name+".txt"), got)
			if !strings.Contains(m.Subject, "203.0.113.5") && !strings.Contains(m.Subject, "192.0.2.1") {
				t.Errorf("subject does not name the IP: %q", m.Subject)
			}
			if n := strings.Count(m.Text, "?"); n != 1 && !strings.Contains(m.Text, "?ip=") {
				t.Errorf("%d questions, want one:\n%s", n, m.Text)
			}
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestRenderClaimsOnlyWhatTheCaseHolds: a bare case's messages mention no evidence,
// authentication, volume or changes, and no number the case does not hold.
func TestRenderClaimsOnlyWhatTheCaseHolds(t *testing.T) {
	c := &Case{Schema: 1, ID: "bare", Status: StatusOpen, Role: Sender, Provider: "proofpoint", Mode: triage.HardBlock}
	c.Identifiers.IPs = []string{"192.0.2.1"}
	c.Timeline = []Event{{Reply: "550 5.7.0 Blocked", Mode: triage.HardBlock}}
	c.Messages = []Message{{Kind: "postmaster", At: t0, Subject: "s", Text: "t", SentAt: t0}}
	numbers := regexp.MustCompile(`\d+`)
	allowed := map[string]bool{"192": true, "0": true, "2": true, "1": true, "550": true, "5": true, "7": true, // the IP and the reply
		"2026": true, "11": true, "22": true, "09": true, "30": true, // the sent time
		"15": true, "4": true, "3": true, "16": true, // P1–P4 and the 15-minute threshold named in priorities
	}
	for _, k := range MessageKinds() {
		m, err := Render(c, k, RenderOptions{Now: t0})
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		for _, word := range []string{"attached", "Authentication", "checks pass", "Volume", "Recent changes", "Evidence", "First seen", "recipient domain"} {
			if strings.Contains(m.Text, word) {
				t.Errorf("%s claims %q the case does not hold:\n%s", k, word, m.Text)
			}
		}
		for _, n := range numbers.FindAllString(strings.ReplaceAll(m.String(), "https://", ""), -1) {
			if !allowed[n] {
				t.Errorf("%s has the number %s, which the case does not hold:\n%s", k, n, m.String())
			}
		}
	}
}

func TestRenderRefusals(t *testing.T) {
	c := customerCase()
	if _, err := Render(c, "update", RenderOptions{Now: t0}); err == nil || !strings.Contains(err.Error(), "no message has been marked sent") {
		t.Errorf("update before any message sent: %v", err)
	}
	if _, err := Render(c, "telegram", RenderOptions{Now: t0}); err == nil || !strings.Contains(err.Error(), `unknown message kind "telegram"`) {
		t.Errorf("unknown kind: %v", err)
	}
	w := &Case{Schema: 1, ID: "w", Status: StatusOpen, Role: Sender, Provider: "google", Mode: triage.Deferral}
	if _, err := Render(w, "", RenderOptions{Now: t0}); err == nil || !strings.Contains(err.Error(), "route is wait") {
		t.Errorf("a route with no message: %v", err)
	}
	if k, _ := c.DefaultMessageKind(); k != "false-positive" {
		t.Errorf("customer filtering case defaults to %q", k)
	}
	s := senderCase(t)
	if k, _ := s.DefaultMessageKind(); k != "update" {
		t.Errorf("after a sent message the default is %q, want update", k)
	}
}

func TestProposePriority(t *testing.T) {
	c := &Case{Mode: triage.Deferral}
	if p := c.ProposePriority(); p.Level != "P4" {
		t.Errorf("no failures: %v", p)
	}
	c.Timeline = []Event{{At: t0, Mode: triage.Deferral, Reply: "421"}, {At: t0.Add(5 * time.Minute), Mode: triage.Deferral, Reply: "421"}}
	if p := c.ProposePriority(); p.Level != "P3" {
		t.Errorf("short deferrals: %v", p)
	}
	c.Timeline = append(c.Timeline, Event{At: t0.Add(20 * time.Minute), Mode: triage.Deferral, Reply: "421"})
	if p := c.ProposePriority(); p.Level != "P2" || p.Response != 4*time.Hour || !strings.Contains(p.Reason, "15 minutes") {
		t.Errorf("deferrals over 20 minutes: %v", p)
	}
	c.Mode = triage.Filtering
	if p := c.ProposePriority(); p.Level != "P3" || !strings.Contains(p.Reason, "false positives") {
		t.Errorf("false positive: %v", p)
	}
	c.Mode = triage.HardBlock
	if p := c.ProposePriority(); p.Level != "P2" {
		t.Errorf("hard block: %v", p)
	}
}

func TestRedact(t *testing.T) {
	c := &Case{Schema: 1, ID: "r", Status: StatusOpen, Role: Sender, Provider: "mimecast", Mode: triage.HardBlock}
	c.Identifiers = Identifiers{IPs: []string{"192.0.2.1"}, Domain: "example.com", EnvelopeSender: "bounces@mail.example.net"}
	c.Timeline = []Event{{At: t0, Recipients: []string{"jane.doe@customer.example"}, RecipientDomain: "customer.example", Mode: triage.HardBlock,
		Reply: "550 Envelope blocked - User Entry <jane.doe@customer.example> from <bounces@mail.example.net> and <ceo@example.com>"}}
	m, err := Render(c, "recipient-admin", RenderOptions{Now: t0, Redact: true})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.String(), "jane.doe@") {
		t.Errorf("recipient address not redacted:\n%s", m)
	}
	for _, want := range []string{"j***@customer.example", "<bounces@mail.example.net>", "<ceo@example.com>"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("redacted text lacks %q:\n%s", want, m.Text)
		}
	}
	plain, _ := Render(c, "recipient-admin", RenderOptions{Now: t0})
	if !strings.Contains(plain.Text, "jane.doe@customer.example") {
		t.Errorf("unredacted text lost the recipient:\n%s", plain.Text)
	}
}

func TestRouteFromFindingsSuitsRole(t *testing.T) {
	f := pdrFinding(1, t0) // triage routes it to proofpoint-ipcheck, a sender's desk
	cust := &Case{Role: Customer, Provider: "proofpoint"}
	cust.AddFindings([]triage.Finding{f})
	if cust.Route.Kind != "" || cust.RouteKind() != "proofpoint-support" {
		t.Errorf("a customer's case took the sender's route: %q / %q", cust.Route.Kind, cust.RouteKind())
	}
	snd := &Case{Role: Sender, Provider: "proofpoint"}
	snd.AddFindings([]triage.Finding{f})
	if snd.Route.Kind != "proofpoint-ipcheck" {
		t.Errorf("a sender's case route %q", snd.Route.Kind)
	}
}
