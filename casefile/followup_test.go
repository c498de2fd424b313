package casefile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks"
)

// Printing, switching kinds, copying and saving never change the record of messages;
// marking sent does.
func TestOnlyMarkingSentRecords(t *testing.T) {
	c := senderCase(t)
	before, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range MessageKinds() {
		_, err := Render(c, k, RenderOptions{Now: t0})
		if err != nil {
			t.Fatal(err)
		}
	}
	after, _ := Marshal(c)
	if string(after) != string(before) {
		t.Fatalf("rendering every kind changed the case:\n%s", after)
	}
	m, _ := Render(c, "update", RenderOptions{Now: t0})
	c.MarkSent(m, t0.Add(1500*time.Millisecond))
	last, ok := c.LastSent()
	if len(c.Messages) != 2 || !ok || last.Kind != "update" || !last.SentAt.Equal(t0.Add(time.Second)) || c.Status != StatusWaiting {
		t.Errorf("after marking sent: %d messages, last %+v, status %s", len(c.Messages), last, c.Status)
	}
}

func TestNewsSince(t *testing.T) {
	sent := t0.Add(-24 * time.Hour)
	block := func(at, added time.Time, domain string) Event {
		return Event{Kind: KindFailure, At: at, Added: added, RecipientDomain: domain, Mode: triage.HardBlock, ReplyCode: 554,
			Reply: "554 Blocked - see https://ipcheck.proofpoint.com/?ip=192.0.2.1"}
	}
	c := &Case{Role: Sender, Provider: "proofpoint", Mode: triage.HardBlock, Status: StatusWaiting}
	c.Timeline = []Event{
		block(sent.Add(-3*time.Hour), sent.Add(-2*time.Hour), "a.example"), // known when the message went
		block(sent.Add(-5*time.Hour), sent.Add(time.Hour), "b.example"),    // happened before, found after
	}
	// Deferrals after the message: 2 messages, 5 attempts, to a.example again.
	c.Timeline = append(c.Timeline, Event{Kind: KindFailure, At: sent.Add(2 * time.Hour), Last: sent.Add(6 * time.Hour),
		Added: sent.Add(7 * time.Hour), Attempts: 5, Messages: 2, RecipientDomain: "a.example", Mode: triage.Deferral,
		ReplyCode: 421, Reply: "421 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.1"})
	// A schema 1 event (no time of entry) after the message, and a delivery.
	c.Timeline = append(c.Timeline, Event{At: sent.Add(3 * time.Hour), RecipientDomain: "c.example", Mode: triage.Deferral, ReplyCode: 421, Reply: "421"},
		Event{Kind: KindDelivery, At: sent.Add(4 * time.Hour), Mode: triage.Delivered})
	n := c.NewsSince(sent)
	if n.Events != 3 || n.Messages != 4 || n.Attempts != 7 || n.Earlier != 1 {
		t.Errorf("events %d messages %d attempts %d earlier %d, want 3 4 7 1", n.Events, n.Messages, n.Attempts, n.Earlier)
	}
	if !slices.Equal(n.NewDomains, []string{"b.example", "c.example"}) || !slices.Equal(n.Domains, []string{"a.example", "b.example", "c.example"}) {
		t.Errorf("domains %q, new %q", n.Domains, n.NewDomains)
	}
	if !n.Last.Equal(sent.Add(6*time.Hour)) || n.Latest.ReplyCode != 421 || n.Before.ReplyCode != 554 || !n.Changed() {
		t.Errorf("latest %v %d, before %d, changed %v", n.Last, n.Latest.ReplyCode, n.Before.ReplyCode, n.Changed())
	}
	c.Messages = []Message{{Kind: "ipcheck-request", At: sent, SentAt: sent}}
	m, err := Render(c, "update", RenderOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(m.Text), " ")
	for _, want := range []string{
		"Since then: 4 new failures (7 delivery attempts)",
		"Change: a 554 block → 421 deferrals and a 554 block",
		"Newly affected: b.example, c.example",
		"4 new failures were recorded (7 delivery attempts), now also to b.example and c.example.",
		// One of the new failures is a late-found 554: the sentence is true of each.
		"3 new failures are 421 deferrals and 1 is a 554 block, where the earlier one was a 554 block.",
		"1 of them failed before then and was found later.",
		// Filed on a form: not "our last message", never the internal id.
		"Our IP-check request was filed on the ipcheck.proofpoint.com form on",
		"We have no reference ID for it.",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("the update does not say %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "ipcheck-request") || strings.Contains(m.Text, "Our last message") || strings.Contains(flat, "The new failures are") {
		t.Errorf("the update names the request by its id, as mail, or calls mixed failures one kind:\n%s", m.Text)
	}
	// All new failures of one kind: said of all of them, singular when one.
	one := &Case{Schema: 2, ID: "one", Status: StatusWaiting, Role: Sender, Provider: "proofpoint", Mode: triage.Deferral}
	one.Identifiers.IPs = []string{"192.0.2.1"}
	d1 := block(sent.Add(-2*time.Hour), sent.Add(-2*time.Hour), "a.example")
	d1.Mode, d1.ReplyCode, d1.Reply = triage.Deferral, 421, "421 Deferred"
	d2 := d1
	d2.At, d2.Added, d2.Messages = sent.Add(-time.Hour), sent.Add(-time.Hour), 2
	b1 := block(sent.Add(time.Hour), sent.Add(time.Hour), "a.example")
	one.Timeline = []Event{d1, d2, b1}
	one.Messages = []Message{{Kind: "postmaster", To: "postmaster@proofpoint.com", At: sent, SentAt: sent}}
	m, err = Render(one, "update", RenderOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	flat = strings.Join(strings.Fields(m.Text), " ")
	for _, want := range []string{"The new failure is a 554 block, where the earlier ones were 421 deferrals.",
		"Change: 421 deferrals → a 554 block", "We wrote to postmaster@proofpoint.com on " + sent.Format(stamp)} {
		if !strings.Contains(flat, want) {
			t.Errorf("the update does not say %q:\n%s", want, m.Text)
		}
	}
	// Nothing new: said so, with no count.
	c.Timeline = c.Timeline[:1]
	m, _ = Render(c, "update", RenderOptions{Now: t0})
	if !strings.Contains(m.Text, "no new failure was recorded.") || strings.Contains(m.Text, "Change:") || !strings.Contains(m.Text, "Since then:        none") {
		t.Errorf("an update with nothing new:\n%s", m.Text)
	}
	// A 550 after a 554 is the same block, not a change.
	c.Timeline = append(c.Timeline, block(sent.Add(time.Hour), sent.Add(time.Hour), "a.example"))
	c.Timeline[1].ReplyCode = 550
	if n := c.NewsSince(sent); n.Changed() || n.Messages != 1 {
		t.Errorf("554 then 550: changed %v, %d new", n.Changed(), n.Messages)
	}
}

func TestCanEscalate(t *testing.T) {
	c := senderCase(t) // ipcheck-request sent at t0-71h; the desk takes 72 hours
	err := c.CanEscalate(t0)
	var early *TooEarly
	if !errors.As(err, &early) || !early.Due.Equal(t0.Add(time.Hour)) {
		t.Fatalf("escalation 71 hours in: %v", err)
	}
	if want := "the ipcheck-request sent 2026-11-19 10:30 UTC has had 71 hours of the desk's 72 hours to answer: the follow-up is due 2026-11-22 10:30 UTC"; err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
	if err := c.CanEscalate(t0.Add(time.Hour)); err != nil {
		t.Errorf("escalation when due: %v", err)
	}
	c.RecordAnswer(t0.Add(-time.Hour))
	if err := c.CanEscalate(t0); err != nil {
		t.Errorf("escalation after an answer: %v", err)
	}
	if err := (&Case{Status: StatusOpen}).CanEscalate(t0); err != nil {
		t.Errorf("nothing sent: %v", err)
	}
}

// A change typed as "none" reads as no recent change, never as a change of kind other.
func TestChangesTypedAsNone(t *testing.T) {
	c := senderCase(t)
	c.Changes = []Change{{Kind: "other", Summary: "none"}}
	m, _ := Render(c, "postmaster", RenderOptions{Now: t0})
	if blockField(m.Text, "Recent changes") != "none" || strings.Contains(m.Text, "other: none") ||
		!strings.Contains(strings.Join(strings.Fields(m.Text), " "), "Nothing changed on our side recently.") ||
		strings.Contains(m.Text, "listed above") {
		t.Errorf("a change typed as none:\n%s", m.Text)
	}
	c.Changes = nil
	m, _ = Render(c, "postmaster", RenderOptions{Now: t0})
	if strings.Contains(m.Text, "Recent changes") || strings.Contains(m.Text, "Nothing changed") {
		t.Errorf("changes neither listed nor confirmed are stated:\n%s", m.Text)
	}
	c.Confirm("changes")
	m, _ = Render(c, "postmaster", RenderOptions{Now: t0})
	if blockField(m.Text, "Recent changes") != "none" {
		t.Errorf("confirmed no changes:\n%s", m.Text)
	}
	// A customer's message does not speak of changes "on our side".
	fp := customerCase(t)
	fp.Changes = []Change{{Kind: "dns", Summary: "new SPF include"}}
	m, _ = Render(fp, "false-positive", RenderOptions{Now: t0})
	if strings.Contains(m.Text, "our side") {
		t.Errorf("a customer's message speaks of changes on our side:\n%s", m.Text)
	}
}

// The authentication block states what the records hold when a check failed or could
// not run, and a failing mechanism is named in the narrative without a promise.
func TestAuthStatementsFailures(t *testing.T) {
	c := senderCase(t)
	zone := `example.com. TXT "v=spf1 ip4:198.51.100.0/24 -all"
1.2.0.192.zen.spamhaus.org. A 127.0.0.2
` + healthyLists()
	res := runChecks(t, zone, c.CheckTarget())
	c.RecordChecks(res, t0)
	st := map[string]string{}
	for _, s := range c.AuthStatements() {
		st[s.Mechanism] = s.Text
	}
	for mech, want := range map[string]string{
		"SPF":        "SPF: fail for 192.0.2.1 (example.com)",
		"DKIM":       "DKIM: no key for s2026 at example.com; no signature verified yet",
		"DMARC":      "DMARC: no policy for example.com (checked",
		"HELO":       "HELO: fail (HELO mail.example.com does not resolve (NXDOMAIN))",
		"PTR":        "PTR: none for 192.0.2.1 (no PTR record)",
		"Blocklists": "Blocklists: 192.0.2.1 listed on Spamhaus ZEN (SBL, 127.0.0.2), not listed on 7 other IP lists; example.com not listed on 3 domain lists",
	} {
		if !strings.HasPrefix(st[mech], want) || !strings.HasSuffix(st[mech], "(checked 2026-11-22 09:30 UTC)") {
			t.Errorf("%s: %q, want %q … (checked 2026-11-22 09:30 UTC)", mech, st[mech], want)
		}
	}
	m, _ := Render(c, "postmaster", RenderOptions{Now: t0})
	flat := strings.Join(strings.Fields(m.Text), " ")
	if !strings.Contains(flat, "As checked (see our authentication above), SPF, DKIM, DMARC, PTR and HELO fail and a blocklist lists 192.0.2.1.") {
		t.Errorf("the narrative does not name what fails:\n%s", m.Text)
	}
	// A check that could not run says so, never "fail" or "not listed".
	c.RecordChecks([]checks.Result{{ID: "dnsbl", Status: checks.Error, Summary: "no blocklist could be read: Spamhaus ZEN (timeout)"}}, t0)
	for _, s := range c.AuthStatements() {
		if s.Mechanism == "Blocklists" && !strings.HasPrefix(s.Text, "Blocklists: could not be checked (no blocklist could be read") {
			t.Errorf("an unreadable blocklist check: %q", s.Text)
		}
	}
}

// RecordChecksFor keeps earlier records of checks not run, drops hygiene-free message
// tests, and makes what came from DNS safe to show.
func TestRecordChecksKeepsWhatDidNotRun(t *testing.T) {
	c := &Case{}
	c.Identifiers.IPs = []string{"192.0.2.1"}
	c.RecordChecks([]checks.Result{
		{ID: "ptr", Status: checks.Pass, Summary: "ok", Details: map[string]any{"ip": "192.0.2.1", "names": []string{"mail.example.com\x1b]0;x\x07"}}},
		{ID: "dkim", Status: checks.Pass},
		{ID: "message/subject", Status: checks.Pass},
		{ID: "message/dkim", Status: checks.Pass, Details: map[string]any{"signatures": []map[string]any{{"domain": "example.com", "selector": "s1", "result": "pass"}}}},
	}, t0)
	c.RecordChecks([]checks.Result{{ID: "ptr", Status: checks.Fail, Summary: "no PTR"}, {ID: "dkim", Status: checks.Skip}}, t0.Add(time.Hour))
	var ids []string
	for _, a := range c.Authentication {
		ids = append(ids, a.ID)
	}
	if !slices.Equal(ids, []string{"dkim", "message/dkim", "ptr"}) {
		t.Fatalf("records %q", ids)
	}
	if c.Authentication[0].CheckedAt != t0 || c.Authentication[2].Status != "fail" || !c.Authentication[2].CheckedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("records %+v", c.Authentication)
	}
	c.RecordChecks([]checks.Result{{ID: "ptr", Status: checks.Pass, Details: map[string]any{"names": []string{"mail.example.com\x1b]0;x\x07"}}}}, t0)
	if n := c.Authentication[2].Names; len(n) != 1 || strings.ContainsAny(n[0], "\x1b\x07") {
		t.Errorf("a PTR name from DNS kept raw: %q", n)
	}
	if s := c.Authentication[1].Signatures; len(s) != 1 || s[0].Domain != "example.com" || s[0].Selector != "s1" || s[0].Result != "pass" {
		t.Errorf("signatures %+v", s)
	}
}

// TestNewsOfRetriesOnly: new attempts at messages an earlier event counts add no new
// failure and no kind with a count of 0.
func TestNewsOfRetriesOnly(t *testing.T) {
	sent := t0.Add(-24 * time.Hour)
	c := &Case{Schema: 2, ID: "r", Status: StatusWaiting, Role: Sender, Provider: "proofpoint", Mode: triage.Deferral}
	c.Identifiers.IPs = []string{"192.0.2.1"}
	old := Event{Kind: KindFailure, At: sent.Add(-time.Hour), Added: sent.Add(-time.Hour), Attempts: 1, Messages: 1,
		Mode: triage.Deferral, ReplyCode: 421, Reply: "421 Deferred", RecipientDomain: "a.example"}
	retry := old
	retry.At, retry.Added, retry.Attempts, retry.Messages = sent.Add(time.Hour), sent.Add(time.Hour), 2, 0
	retry.Mode, retry.ReplyCode, retry.Reply = triage.HardBlock, 550, "550 Blocked"
	c.Timeline = []Event{old, retry}
	c.Messages = []Message{{Kind: "postmaster", To: "postmaster@proofpoint.com", SentAt: sent}}
	n := c.NewsSince(sent)
	if n.Messages != 0 || n.Attempts != 2 || len(n.Kinds) != 0 {
		t.Fatalf("news %+v", n)
	}
	m, err := Render(c, "update", RenderOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(m.Text), " ")
	if !strings.Contains(flat, "2 new delivery attempts at messages already counted were recorded.") || strings.Contains(flat, " 0 ") {
		t.Errorf("retries only:\n%s", m.Text)
	}
}

// TestQuietDaysSaid: an update or escalation written days after the latest recorded
// failure says since when none was recorded; written the day of a failure, it says nothing
// of the kind.
func TestQuietDaysSaid(t *testing.T) {
	c := senderCase(t)
	last := c.Seen().Last
	for _, kind := range []string{"update", "escalation"} {
		m, err := Render(c, kind, RenderOptions{Now: last.Add(4*24*time.Hour + time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		want := "No failure has been recorded since " + last.Format(stamp) + " (4 days before this message)."
		if !strings.Contains(strings.Join(strings.Fields(m.Text), " "), want) {
			t.Errorf("%s four days later lacks %q:\n%s", kind, want, m.Text)
		}
		m, err = Render(c, kind, RenderOptions{Now: last.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(m.Text, "No failure has been recorded since") {
			t.Errorf("%s an hour after a failure speaks of quiet days:\n%s", kind, m.Text)
		}
	}
}

// TestReferenceStaysWithTheFormRequest: the reference a desk's form gave names the
// request filed there; an update mailed after it does not take the reference, and later
// messages still say the request was filed and quote its reference.
func TestReferenceStaysWithTheFormRequest(t *testing.T) {
	c := senderCase(t) // an IP-check request filed on the form, reference PDR-778812
	req := c.Messages[0]
	upd, err := Render(c, "update", RenderOptions{Now: req.SentAt.Add(80 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c.MarkSent(upd, req.SentAt.Add(80*time.Hour))
	for _, kind := range []string{"update", "escalation"} {
		m, err := Render(c, kind, RenderOptions{Now: req.SentAt.Add(170 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(m.Text), " ")
		filed := "Our IP-check request was filed on the ipcheck.proofpoint.com form on " + req.SentAt.Format(stamp) + ". Its reference ID is PDR-778812."
		if !strings.Contains(text, filed) {
			t.Errorf("%s does not say the request was filed with its reference (%q):\n%s", kind, filed, m.Text)
		}
		if strings.Contains(text, "postmaster@proofpoint.com on "+upd.SentAt.Format(stamp)+" (3 days ago). Its reference ID") ||
			strings.Contains(text, "have had no answer. Its reference ID") {
			t.Errorf("%s gives the form's reference to the mailed update:\n%s", kind, m.Text)
		}
		// What is new is counted since the last message: "Since then" follows it, never
		// the request filed before it.
		if i, j := strings.Index(text, "We wrote to postmaster@proofpoint.com"), strings.Index(text, "Since then,"); j >= 0 && (i < 0 || j < i || strings.Index(text, filed) > i) {
			t.Errorf("%s: 'Since then' does not follow the last message:\n%s", kind, m.Text)
		}
	}
}

// TestSPFNoneIsNotFail: an envelope domain with no SPF record gets none (RFC 7208 §4.5):
// the message's block says none, and its narrative does not say SPF fails.
func TestSPFNoneIsNotFail(t *testing.T) {
	c := senderCase(t)
	c.Identifiers.EnvelopeSender = "bounces@em.example.com" // publishes no SPF record
	c.RecordChecks(runChecks(t, senderZone(t), c.CheckTarget()), t0)
	var spf AuthStatement
	for _, st := range c.AuthStatements() {
		if st.Mechanism == "SPF" {
			spf = st
		}
	}
	if !strings.HasPrefix(spf.Text, "SPF: none for 192.0.2.1 (em.example.com)") || spf.Failing {
		t.Fatalf("SPF statement %+v", spf)
	}
	m, err := Render(c, "postmaster", RenderOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(strings.Fields(m.Text), " "), "SPF fails") {
		t.Errorf("the message says SPF fails for a domain with no record:\n%s", m.Text)
	}
}

// TestPoolCaseStaysWithTheESP: a shared pool's case (esp:sendgrid) writes to the ESP's own
// support, by name, first and in the escalation, and never names another provider's
// control as the one that blocked it.
func TestPoolCaseStaysWithTheESP(t *testing.T) {
	at := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	c := &Case{Role: Sender, Provider: "esp:sendgrid", Status: StatusOpen, Identifiers: Identifiers{IPs: []string{"167.89.50.20"}, Domain: "shop.example"}}
	f := pdrFinding(0, at)
	f.IP, f.SendingIP, f.Text = "167.89.50.20", "167.89.50.20", "554 5.7.0 Blocked - see https://ipcheck.proofpoint.com/?ip=167.89.50.20"
	f.Route = triage.RouteFor("esp-support", "")
	c.Add([]triage.Finding{f}, at)
	first, err := Render(c, "", RenderOptions{Now: at.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	c.MarkSent(first, at.Add(time.Hour))
	esc, err := Render(c, "escalation", RenderOptions{Now: at.Add(72 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Message{first, esc} {
		if !strings.HasPrefix(m.To, "Twilio SendGrid support, https://support.sendgrid.com/") || strings.Contains(m.Subject, "Dynamic Reputation") ||
			!strings.Contains(m.Subject, "Twilio SendGrid's pool") || c.Control != "" {
			t.Errorf("%s: to %q, subject %q, case control %q", m.Kind, m.To, m.Subject, c.Control)
		}
	}
}

// TestFollowUpAfterAForm: a follow-up to a request filed on a form goes to the provider's
// desk that takes mail when it has one (Microsoft's delist@); where it has none (Cloudmark)
// it goes to the form, which takes no attachment.
func TestFollowUpAfterAForm(t *testing.T) {
	at := time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC)
	for provider, want := range map[string]string{"microsoft": "delist@microsoft.com", "cloudmark": "https://csi.cloudmark.com/en/reset/"} {
		c := &Case{Role: Sender, Provider: provider, Status: StatusOpen, Identifiers: Identifiers{IPs: []string{"203.0.113.46"}, Domain: "example.com"}}
		f := pdrFinding(0, at)
		f.Provider, f.IP, f.SendingIP = provider, "203.0.113.46", "203.0.113.46"
		f.Route = triage.RouteFor(map[string]string{"microsoft": "microsoft-delist", "cloudmark": "cloudmark-reset"}[provider], "203.0.113.46")
		c.Add([]triage.Finding{f}, at)
		c.Evidence.Files = []File{{Path: "/tmp/bounce.eml", Kind: "bounce", Size: 10, SHA256: strings.Repeat("ab", 32), Added: at}}
		first, err := Render(c, "", RenderOptions{Now: at})
		if err != nil {
			t.Fatal(err)
		}
		c.MarkSent(first, at)
		esc, err := Render(c, "escalation", RenderOptions{Now: at.Add(96 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if esc.To != want || strings.Contains(want, "://") && strings.Contains(esc.Text, "Evidence attached") {
			t.Errorf("%s escalation to %q (want %q):\n%s", provider, esc.To, want, esc.Text)
		}
	}
}

// TestBusinessDays: a desk that answers on business days is due that many weekdays later:
// a Cloudmark reset filed on a Friday afternoon is due on Monday, an ESP's two business
// days from a Friday end on Tuesday; Proofpoint's 72 hours are hours.
func TestBusinessDays(t *testing.T) {
	friday := time.Date(2026, 12, 4, 14, 35, 0, 0, time.UTC)
	for kind, want := range map[string]time.Time{
		"cloudmark-reset": time.Date(2026, 12, 7, 14, 35, 0, 0, time.UTC),
		"esp-support":     time.Date(2026, 12, 8, 14, 35, 0, 0, time.UTC),
		"ipcheck-request": time.Date(2026, 12, 7, 14, 35, 0, 0, time.UTC),
		"postmaster":      time.Date(2026, 12, 7, 14, 35, 0, 0, time.UTC),
	} {
		c := &Case{Role: Sender, Provider: "proofpoint", Status: StatusOpen}
		c.MarkSent(Message{Kind: kind, Text: "…"}, friday)
		f, due := c.FollowUpDue(want.Add(-time.Minute))
		if due || !f.Due.Equal(want) {
			t.Errorf("%s sent %s: due %s (due a minute before: %v), want %s", kind, friday.Format(time.RFC1123), f.Due.Format(time.RFC1123), due, want.Format(time.RFC1123))
		}
	}
}

// TestUndatedFailuresNoSince: failures pasted without a time may be older than the first
// one with a time: the message says "since" of none, and says how many came without one.
func TestUndatedFailuresNoSince(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 2, 0, 0, time.UTC)
	c := &Case{Role: Sender, Provider: "proofpoint", Status: StatusOpen, Identifiers: Identifiers{IPs: []string{"192.0.2.1"}, Domain: "example.com"}}
	undated := pdrFinding(1, time.Time{})
	undated.Recipient, undated.Source = "", "paste:1"
	dated := pdrFinding(2, at)
	c.Add([]triage.Finding{undated}, at.Add(-24*time.Hour))
	c.Add([]triage.Finding{dated}, at)
	m, err := Render(c, "postmaster", RenderOptions{Now: at.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(m.Text), " ")
	if strings.Contains(text, "Since "+at.Format(stamp)) || !strings.Contains(text, "The earliest failure with a time was at "+at.Format(stamp)+"; 1 failure came without one.") ||
		blockField(m.Text, "Without a time") != "1 failure reported without a timestamp" {
		t.Errorf("undated failures:\n%s", m.Text)
	}
}

// TestNamedRecipientDomainsKept: a recipient domain the person named stays in the message
// when the failures bring their own.
func TestNamedRecipientDomainsKept(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 2, 0, 0, time.UTC)
	c := &Case{Role: Sender, Provider: "proofpoint", Status: StatusOpen,
		Identifiers: Identifiers{IPs: []string{"192.0.2.1"}, Domain: "example.com", RecipientDomains: []string{"named.example"}}}
	c.Add([]triage.Finding{pdrFinding(1, at)}, at)
	m, err := Render(c, "postmaster", RenderOptions{Now: at.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := blockField(m.Text, "Recipient domains"); got != "customer.example, named.example" {
		t.Errorf("recipient domains %q", got)
	}
}

// TestCaseNumberNamesTheSupportCase: a customer who sent a false-positive report beside the
// support case: the Customer Success Center's case number is the support case's.
func TestCaseNumberNamesTheSupportCase(t *testing.T) {
	c := customerCase(t)
	c.Messages, c.Status = nil, StatusOpen
	t1 := t0.Add(-48 * time.Hour)
	for i, kind := range []string{"false-positive", "support-case"} {
		m, err := Render(c, kind, RenderOptions{Now: t1})
		if err != nil {
			t.Fatal(err)
		}
		c.MarkSent(m, t1.Add(time.Duration(i)*time.Minute))
	}
	c.Route.Reference = "01927733"
	esc, err := Render(c, "escalation", RenderOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(esc.Text), " ")
	want := "Our support case was filed on the support.proofpoint.com form on " + t1.Add(time.Minute).Format(stamp) + " (1 day ago) and has had no answer. Its case number is 01927733."
	if !strings.Contains(text, want) || strings.Contains(text, "report was filed on the support.proofpoint.com form on "+t1.Format(stamp)+". Its") {
		t.Errorf("want %q in:\n%s", want, esc.Text)
	}
}

// TestEscalationAfterAnAnswer: an escalation after the desk answered says so, never that
// the request had no answer.
func TestEscalationAfterAnAnswer(t *testing.T) {
	c := senderCase(t)
	req := c.Messages[0]
	c.RecordAnswer(req.SentAt.Add(24 * time.Hour))
	m, err := Render(c, "escalation", RenderOptions{Now: req.SentAt.Add(100 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(m.Text), " ")
	if strings.Contains(text, "no answer") || !strings.Contains(text, "was answered on "+req.SentAt.Add(24*time.Hour).Format(stamp)) {
		t.Errorf("escalation after an answer:\n%s", m.Text)
	}
}

// TestRepliesAreNotMessages: replies pasted with no recipient may be retries of one
// message: they are counted as failures, never as that many messages.
func TestRepliesAreNotMessages(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	c := &Case{Role: Sender, Provider: "yahoo", Status: StatusOpen, Identifiers: Identifiers{IPs: []string{"192.0.2.1"}, Domain: "example.com"}}
	var fs []triage.Finding
	for i := range 4 {
		f := pdrFinding(i, at.Add(time.Duration(i)*time.Minute))
		f.Recipient, f.RecipientDomain, f.Provider, f.Mode = "", "", "yahoo", triage.Deferral
		f.Text = "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred"
		f.Source = fmt.Sprintf("paste:%d", i+1)
		fs = append(fs, f)
	}
	c.Add(fs, at.Add(time.Hour))
	m, err := Render(c, "yahoo-sender-support", RenderOptions{Now: at.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := blockField(m.Text, "Failures recorded"); got != "4 failures (replies that name no recipient)" {
		t.Errorf("Failures recorded: %q\n%s", got, m.Text)
	}
}
