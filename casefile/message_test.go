package casefile

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
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
	// Four blocks, added before the request was sent.
	var fs []triage.Finding
	for i := range 4 {
		fs = append(fs, pdrFinding(i, t0.Add(-75*time.Hour+time.Duration(i)*time.Hour)))
	}
	c.Add(fs, t0.Add(-71*time.Hour-30*time.Minute))
	c.Scope = Scope{Volume: "about 2,000 messages a day", MailKind: []string{"transactional"},
		Impact: "Customers do not receive password resets."}
	c.Changes = []Change{{Kind: "new-ip", Summary: "moved sending to 192.0.2.1", At: t0.Add(-10 * 24 * time.Hour), WarmupDays: 6}}
	c.RecordChecks(runChecks(t, senderZone(t), c.CheckTarget()), t0.Add(-time.Hour))
	c.Evidence.Files = []File{{Path: "/home/pm/bounce-1.eml", Kind: "bounce", Size: 2048, SHA256: strings.Repeat("ab", 32), Added: t0.Add(-70 * time.Hour)}}
	c.Route.Reference = "PDR-778812"
	m, err := Render(c, "ipcheck-request", RenderOptions{Now: t0.Add(-71 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c.MarkSent(m, t0.Add(-71*time.Hour))
	// Then, added 90 minutes before the time of writing: the block turned into
	// deferrals to a new domain (2 messages, one tried twice), and a block from before
	// the request that only a late log showed.
	var later []triage.Finding
	for i, at := range []time.Duration{-3 * time.Hour, -150 * time.Minute, -2 * time.Hour} {
		f := pdrFinding(9, t0.Add(at))
		f.Mode, f.ReplyCode, f.EnhancedCode = triage.Deferral, 421, ""
		f.Text = "421 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.1"
		f.Recipient, f.RecipientDomain = "ops@partner.example", "partner.example"
		f.QueueID = []string{"4QxA1", "4QxB2", "4QxA1"}[i]
		later = append(later, f)
	}
	found := pdrFinding(5, t0.Add(-73*time.Hour-30*time.Minute))
	found.Recipient, found.RecipientDomain = "it@other.example", "other.example"
	later = append(later, found)
	c.Add(later, t0.Add(-90*time.Minute))
	return c
}

// customerCase is a Proofpoint customer admin's false-positive case: a supplier's
// invoices quarantined; the supplier's records checked, and one invoice tested.
func customerCase(t *testing.T) *Case {
	t.Helper()
	c := &Case{Schema: 1, ID: "f", Status: StatusOpen, Role: Customer, Provider: "proofpoint", Mode: triage.Filtering, Created: t0, Updated: t0}
	c.Identifiers = Identifiers{IPs: []string{"203.0.113.5"}, Domain: "vendor.example", MessageIDs: []string{"<a1@vendor.example>", "<a2@vendor.example>"},
		From: "billing@vendor.example", GUIDs: []string{"Xk3pQ9fLm2Rt7vWbYc1dE5gH8jN0sU4a"}, QueueIDs: []string{"5AMKq8Zt012345"},
		SpamDetails: "rule=inbound_spam policy=inbound score=92 spamscore=92 phishscore=0"}
	c.Route.Product = "Proofpoint on Demand"
	c.Route.Component = "Spam detection"
	for i := range 3 {
		c.Timeline = append(c.Timeline, Event{At: t0.Add(-time.Duration(3-i) * time.Hour), RecipientDomain: "ourco.example",
			Recipients: []string{"ap@ourco.example"}, Provider: "proofpoint", Mode: triage.Filtering, Source: "headers.txt"})
	}
	c.Evidence.Files = []File{{Path: "/tmp/invoice.eml", Kind: "sample", Size: 40000, SHA256: strings.Repeat("cd", 32), Added: t0}}
	c.Scope.Impact = "Supplier invoices land in quarantine."
	c.Identifiers.Selectors = []string{"k1"}
	c.Identifiers.HELO = "out.vendor.example"
	zone := vendorZone(t)
	c.RecordChecks(runChecks(t, zone, c.CheckTarget()), t0.Add(-30*time.Minute))
	c.RecordChecks(runMessageChecks(t, zone, signed(t, "billing@vendor.example", "203.0.113.5", "out.vendor.example", "vendor.example", "k1")), t0.Add(-20*time.Minute))
	return c
}

func TestRenderGolden(t *testing.T) {
	cases := renders() // claims_test.go: every kind, both roles
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
	c := customerCase(t)
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
	// A customer admin files the Customer Success Center form: the support case carries
	// its product, component and priority.
	if k, _ := c.DefaultMessageKind(); k != "support-case" {
		t.Errorf("customer filtering case defaults to %q, want support-case", k)
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

// TestKindsFollowRole: a customer admin is offered no message in the sender's voice, a
// kind asked for anyway is refused naming the role, and every kind offered to either
// role says where it goes (To: or Form:).
func TestKindsFollowRole(t *testing.T) {
	cust := customerSentCase(t)
	kinds := cust.MessageKinds()
	for _, k := range []string{"recipient-admin", "postmaster", "ipcheck-request", "esp-support"} {
		if slices.Contains(kinds, k) {
			t.Errorf("a customer admin is offered %q (sender's voice): %q", k, kinds)
		}
		_, err := Render(cust, k, RenderOptions{Now: t0})
		if err == nil || !strings.Contains(err.Error(), "role is customer") || !strings.Contains(err.Error(), "sender's voice") {
			t.Errorf("%s for a customer admin: %v", k, err)
		}
	}
	for _, k := range []string{"support-case", "false-positive", "update", "escalation"} {
		if !slices.Contains(kinds, k) {
			t.Errorf("a customer admin is not offered %q: %q", k, kinds)
		}
	}
	if got := KindsFor(Sender); !slices.Equal(got, MessageKinds()) {
		t.Errorf("a sender is offered %q", got)
	}
	bare := &Case{Schema: 2, ID: "bare", Status: StatusOpen, Role: Sender, Provider: "mimecast", Mode: triage.HardBlock}
	bare.Identifiers.IPs = []string{"192.0.2.1"}
	bare.Timeline = []Event{{Kind: KindFailure, At: t0, Reply: "550 blocked", Mode: triage.HardBlock}}
	bare.MarkSent(Message{Kind: "recipient-admin"}, t0.Add(-96*time.Hour))
	for _, c := range []*Case{senderCase(t), cust, bare} {
		for _, k := range c.MessageKinds() {
			m, err := Render(c, k, RenderOptions{Now: t0})
			if err != nil {
				t.Fatalf("%s/%s: %v", c.ID, k, err)
			}
			first := strings.SplitN(m.String(), "\n", 2)[0]
			if !strings.HasPrefix(first, "To: ") && !strings.HasPrefix(first, "Form: ") {
				t.Errorf("%s/%s has no To: or Form: line: %q", c.ID, k, first)
			}
		}
	}
	// The recipient's administrator is postmaster@ each recipient domain the case holds.
	s := senderCase(t)
	m, _ := Render(s, "recipient-admin", RenderOptions{Now: t0})
	var want []string
	for _, d := range s.Seen().RecipientDomains {
		want = append(want, "postmaster@"+d)
	}
	if m.To != strings.Join(want, ", ") {
		t.Errorf("recipient-admin To %q, want %q", m.To, want)
	}
}

// TestSupportCaseFromTheCase: the typed title is the subject; with the verdict's rule
// quoted, the question does not ask for the rule.
func TestSupportCaseFromTheCase(t *testing.T) {
	c := customerCase(t)
	c.Title = "Invoices from vendor.example quarantined"
	m, err := Render(c, "support-case", RenderOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != c.Title {
		t.Errorf("subject %q, title %q", m.Subject, c.Title)
	}
	flat := strings.Join(strings.Fields(m.Text), " ")
	if !strings.Contains(c.Identifiers.SpamDetails, "rule=") || !strings.Contains(m.Text, c.Identifiers.SpamDetails) {
		t.Fatalf("the fixture's verdict details are not quoted:\n%s", m.Text)
	}
	if strings.Contains(flat, "Which rule") {
		t.Errorf("asks for the rule the verdict details quote:\n%s", m.Text)
	}
	c.Identifiers.SpamDetails = ""
	m, _ = Render(c, "support-case", RenderOptions{Now: t0})
	if !strings.Contains(strings.Join(strings.Fields(m.Text), " "), "Which rule or classifier flagged these messages") {
		t.Errorf("without the verdict details, the rule is not asked for:\n%s", m.Text)
	}
}

// TestWordingFromTheCase: tense and number follow the timeline, labels the role, and a
// form is not told of attachments.
func TestWordingFromTheCase(t *testing.T) {
	c := &Case{Schema: 2, ID: "one", Status: StatusOpen, Role: Sender, Provider: "proofpoint", Mode: triage.HardBlock}
	c.Identifiers.IPs = []string{"192.0.2.1"}
	at := t0.Add(-48 * time.Hour)
	c.Timeline = []Event{{Kind: KindFailure, At: at, Reply: "554 Blocked", ReplyCode: 554, Mode: triage.HardBlock, RecipientDomain: "a.example"}}
	c.Evidence.Files = []File{{Path: "/tmp/bounce.eml", Kind: "bounce", Size: 1, Added: t0}}
	c.Scope.Customers = "the finance team"
	m, _ := Render(c, "ipcheck-request", RenderOptions{Now: t0})
	flat := strings.Join(strings.Fields(m.Text), " ")
	if !strings.Contains(flat, "was rejected at "+at.Format(stamp)) || strings.Contains(flat, "is rejected") || strings.Contains(flat, "Since ") {
		t.Errorf("one failure two days old is not in the past tense at its time:\n%s", m.Text)
	}
	if strings.Contains(m.Text, "attached") || blockField(m.Text, "Evidence we can provide") != "bounce.eml (bounce)" {
		t.Errorf("a form's text speaks of attachments:\n%s", m.Text)
	}
	if blockField(m.Text, "Customers affected") != "the finance team" {
		t.Errorf("a sender's case does not label its customers:\n%s", m.Text)
	}
	// Several failures over time: "has been rejected since …", with the latest.
	c.Timeline = append(c.Timeline, Event{Kind: KindFailure, At: t0.Add(-time.Hour), Reply: "554 Blocked", ReplyCode: 554, Mode: triage.HardBlock, RecipientDomain: "a.example"})
	m, _ = Render(c, "postmaster", RenderOptions{Now: t0})
	flat = strings.Join(strings.Fields(m.Text), " ")
	if !strings.Contains(flat, "Since "+at.Format(stamp)+", ") || !strings.Contains(flat, "has been rejected") ||
		!strings.Contains(flat, "(2 failures recorded, to 1 recipient domain; latest "+t0.Add(-time.Hour).Format(stamp)+")") {
		t.Errorf("two failures over two days:\n%s", m.Text)
	}
	if blockField(m.Text, "Evidence attached") != "bounce.eml (bounce)" {
		t.Errorf("a mail's evidence is not attached:\n%s", m.Text)
	}
	// A customer admin's one filtered message: their users, singular.
	f := &Case{Schema: 2, ID: "fp", Status: StatusOpen, Role: Customer, Provider: "proofpoint", Mode: triage.Filtering}
	f.Identifiers.IPs, f.Identifiers.Domain = []string{"198.51.100.7"}, "partner.example"
	f.Timeline = []Event{{Kind: KindFailure, At: at, Mode: triage.Filtering, RecipientDomain: "customer.example"}}
	f.Scope.Customers = "accounts payable"
	m, _ = Render(f, "false-positive", RenderOptions{Now: t0})
	flat = strings.Join(strings.Fields(m.Text), " ")
	if blockField(m.Text, "Users affected") != "accounts payable" || strings.Contains(m.Text, "Customers affected") {
		t.Errorf("a customer admin's users are labelled as customers:\n%s", m.Text)
	}
	for _, want := range []string{"A message from partner.example sent through 198.51.100.7 to our users was classified as spam (1 filtered message recorded",
		"review the classification of this message"} {
		if !strings.Contains(flat, want) {
			t.Errorf("one filtered message: no %q:\n%s", want, m.Text)
		}
	}
	for _, bad := range []string{"these messages", "Messages ", "1 failure"} {
		if strings.Contains(flat, bad) {
			t.Errorf("one filtered message spoken of as %q:\n%s", bad, m.Text)
		}
	}
}
