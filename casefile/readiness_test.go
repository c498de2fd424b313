package casefile

import (
	"slices"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks"
)

// readyCase holds everything Ready asks for.
func readyCase() *Case {
	c := &Case{Role: Sender, Provider: "proofpoint", Mode: triage.HardBlock}
	c.Identifiers.IPs = []string{"192.0.2.1"}
	for i := range 3 {
		c.AddFindings([]triage.Finding{pdrFinding(i, t0.Add(time.Duration(i)*time.Hour))})
	}
	c.RecordChecks([]checks.Result{{ID: "spf", Status: checks.Pass}}, t0)
	c.Evidence.Files = []File{{Path: "/x/bounce.eml", Kind: "bounce", SHA256: "00"}}
	c.Scope.Volume = "500 a day"
	c.Changes = []Change{{Kind: "dns", Summary: "SPF include added"}}
	return c
}

func TestReadinessLevels(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(c *Case)
		want    Level
		missing []string
	}{
		{"ready", func(*Case) {}, Ready, nil},
		{"vague: no reply", func(c *Case) {
			for i := range c.Timeline {
				c.Timeline[i].Reply = ""
			}
		}, Vague, []string{NeedReply}},
		{"vague: no IP or domain", func(c *Case) { c.Identifiers = Identifiers{} }, Vague, []string{NeedSender}},
		{"vague: nothing at all", func(c *Case) { *c = Case{Role: Sender} }, Vague,
			[]string{NeedReply, NeedSender, NeedTimestamps, NeedAuthentication, NeedSamples, NeedScope, NeedChanges}},
		{"one hard block with its proof is ready", func(c *Case) { c.Timeline = c.Timeline[:1] }, Ready, nil},
		{"watch: two deferrals", func(c *Case) {
			c.Timeline = c.Timeline[:2]
			for i := range c.Timeline {
				c.Timeline[i].Mode = triage.Deferral
			}
		}, Watch, []string{NeedMoreSamples}},
		{"watch: one filtered message", func(c *Case) {
			c.Mode = triage.Filtering
			c.Timeline = c.Timeline[:1]
			c.Timeline[0].Mode = triage.Filtering
		}, Watch, []string{NeedMoreSamples}},
		{"deferrals with enough samples are not intermittent", func(c *Case) {
			for i := range c.Timeline {
				c.Timeline[i].Mode = triage.Deferral
			}
		}, Ready, nil},
		{"a hard block among deferrals is not intermittent", func(c *Case) {
			c.Timeline = c.Timeline[:2]
			c.Timeline[0].Mode = triage.Deferral
		}, Ready, nil},
		{"partial: only hygiene checks recorded", func(c *Case) {
			c.Authentication = []AuthCheck{{ID: "mx", Status: "pass", CheckedAt: t0}, {ID: "mta-sts", Status: "fail", CheckedAt: t0}}
		}, Partial, []string{NeedAuthentication}},
		{"a change typed as none confirms there was none", func(c *Case) {
			c.Changes = []Change{{Kind: "other", Summary: "None."}}
		}, Ready, nil},
		{"watch: failures between deliveries", func(c *Case) {
			c.Timeline = append(c.Timeline, Event{At: t0.Add(90 * time.Minute), Mode: triage.Delivered})
		}, Watch, []string{NeedMoreSamples}},
		{"a delivery after the last failure is not intermittent", func(c *Case) {
			c.Timeline = append(c.Timeline, Event{At: t0.Add(5 * time.Hour), Mode: triage.Delivered})
		}, Ready, nil},
		{"partial: no authentication", func(c *Case) { c.Authentication = nil }, Partial, []string{NeedAuthentication}},
		{"partial: no samples", func(c *Case) { c.Evidence.Files[0].Kind = "screenshot" }, Partial, []string{NeedSamples}},
		{"partial: no scope, no changes", func(c *Case) { c.Scope = Scope{}; c.Changes = nil }, Partial, []string{NeedScope, NeedChanges}},
		{"confirmed person-only items count", func(c *Case) {
			c.Scope = Scope{}
			c.Changes = nil
			c.Confirm("scope")
			c.Confirm("changes")
		}, Ready, nil},
		{"partial: domain but no IP", func(c *Case) { c.Identifiers = Identifiers{Domain: "example.com"} }, Partial, []string{NeedIP}},
		{"partial: no timestamps", func(c *Case) {
			for i := range c.Timeline {
				c.Timeline[i].At = time.Time{}
			}
		}, Partial, []string{NeedTimestamps}},
		{"filtering: headers stand for the reply", func(c *Case) {
			c.Mode = triage.Filtering
			for i := range c.Timeline {
				c.Timeline[i].Reply, c.Timeline[i].Mode = "", triage.Filtering
			}
			c.Evidence.Files[0].Kind = "headers"
		}, Ready, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := readyCase()
			tc.change(c)
			r := c.Readiness()
			if r.Level != tc.want {
				t.Errorf("level %s, want %s (missing %q, why %q)", r.Level, tc.want, r.Missing, r.Why)
			}
			if !slices.Equal(r.Missing, tc.missing) {
				t.Errorf("missing %q, want %q", r.Missing, tc.missing)
			}
			if r.Level == Watch && r.Why == "" {
				t.Error("watch without a reason")
			}
			if want := map[string]string{"watch: two deferrals": "only 2 deferrals so far", "watch: one filtered message": "only 1 filtered message so far"}[tc.name]; want != "" && r.Why != want {
				t.Errorf("why %q, want %q", r.Why, want)
			}
		})
	}
	if err := (&Case{}).Confirm("everything"); err == nil {
		t.Error("confirming an unknown item succeeded")
	}
}

func TestAddFindingsDeduplicates(t *testing.T) {
	c := &Case{Role: Sender, Provider: "proofpoint"}
	f := pdrFinding(1, t0)
	f.MessageID = "<m1@example.com>"
	delivered := triage.Finding{Source: "maillog:9", Mode: triage.Delivered, At: t0.Add(time.Hour), RecipientDomain: "customer.example"}
	if n := c.AddFindings([]triage.Finding{f, f, delivered, {Mode: triage.AutoReply, Text: "out of office"}}); n != 2 {
		t.Fatalf("added %d, want 2 (a repeat and an auto-reply are not new)", n)
	}
	again := f
	again.Source = "pasted:3" // the same failure pasted from elsewhere
	if n := c.AddFindings([]triage.Finding{again}); n != 0 {
		t.Errorf("the same reply, time and recipient from another source was added again")
	}
	later := pdrFinding(1, t0.Add(-time.Hour))
	if n := c.AddFindings([]triage.Finding{later}); n != 1 {
		t.Errorf("the same reply at another time was not added")
	}
	if !c.Timeline[0].At.Equal(t0.Add(-time.Hour)) {
		t.Errorf("timeline not in time order: first is %v", c.Timeline[0].At)
	}
	id := c.Identifiers
	if !slices.Equal(id.IPs, []string{"192.0.2.1"}) || id.Domain != "example.com" || id.EnvelopeSender != "bounces@example.com" ||
		!slices.Equal(id.RecipientDomains, []string{"customer.example"}) || !slices.Equal(id.MessageIDs, []string{"<m1@example.com>"}) {
		t.Errorf("identifiers not filled: %+v", id)
	}
	if c.Mode != triage.HardBlock || c.Cause != "ip-reputation" || c.Control != "dynamic-reputation" || c.Route.Kind != "proofpoint-ipcheck" {
		t.Errorf("mode/cause/control/route not filled: %s %s %s %s", c.Mode, c.Cause, c.Control, c.Route.Kind)
	}
	s := c.Seen()
	if s.Failures != 2 || !s.First.Equal(t0.Add(-time.Hour)) || !s.Last.Equal(t0) {
		t.Errorf("seen %+v", s)
	}
}

func TestRecordChecks(t *testing.T) {
	c := &Case{}
	c.RecordChecks([]checks.Result{
		{ID: "spf", Status: checks.Fail, Summary: "192.0.2.1 not permitted\x1b[31m", Fix: "add ip4:192.0.2.1"},
		{ID: "dkim", Status: checks.Error, Summary: "DNS timeout"},
		{ID: "starttls", Status: checks.Skip},
	}, t0.Add(123*time.Millisecond))
	if len(c.Authentication) != 2 || c.Authentication[0].ID != "dkim" || c.Authentication[1].Status != "fail" {
		t.Fatalf("authentication %+v", c.Authentication)
	}
	if !c.Authentication[0].CheckedAt.Equal(t0) {
		t.Errorf("checked_at %v, want whole seconds UTC", c.Authentication[0].CheckedAt)
	}
	if c.Authentication[1].Summary != "192.0.2.1 not permitted␛[31m" {
		t.Errorf("summary not sanitized: %q", c.Authentication[1].Summary)
	}
}

func TestFollowUpDue(t *testing.T) {
	c := senderCase(t) // an ipcheck request sent at t0-71h: 72 hours to answer
	sent := t0.Add(-71 * time.Hour)
	if _, due := c.FollowUpDue(t0); due {
		t.Error("due before 72 hours")
	}
	f, due := c.FollowUpDue(t0.Add(time.Hour))
	if !due || !f.Due.Equal(sent.Add(72*time.Hour)) || f.Wait != 72*time.Hour || f.Message.Kind != "ipcheck-request" {
		t.Errorf("at 72 hours: %+v %v", f, due)
	}
	c.RecordAnswer(t0)
	if _, due := c.FollowUpDue(t0.Add(100 * time.Hour)); due {
		t.Error("due after an answer")
	}
	// A Cloudmark reset waits a business day; a closed case waits for nothing.
	m, _ := Render(c, "cloudmark-reset", RenderOptions{Now: t0})
	c.MarkSent(m, t0)
	if _, due := c.FollowUpDue(t0.Add(25 * time.Hour)); !due {
		t.Error("cloudmark reset not due after 25 hours")
	}
	c.Status = StatusClosed
	if _, due := c.FollowUpDue(t0.Add(25 * time.Hour)); due {
		t.Error("due on a closed case")
	}
	// A support case waits by its priority: P3 (false positive) is 8 hours.
	fp := customerCase(t)
	m, _ = Render(fp, "support-case", RenderOptions{Now: t0})
	fp.MarkSent(m, t0)
	if _, due := fp.FollowUpDue(t0.Add(7 * time.Hour)); due {
		t.Error("P3 due before 8 hours")
	}
	if f, due := fp.FollowUpDue(t0.Add(8 * time.Hour)); !due || f.Wait != 8*time.Hour {
		t.Errorf("P3 after 8 hours: %+v %v", f, due)
	}
	if c.ResponseTime("microsoft-delist") != 24*time.Hour || c.ResponseTime("postmaster") != 72*time.Hour {
		t.Errorf("response times %v %v", c.ResponseTime("microsoft-delist"), c.ResponseTime("postmaster"))
	}
}
