package casefile

// The golden messages are not only compared byte for byte: every identifier, status and
// count they state is checked against the case that produced them, and every number in
// them must be one the case holds or derives.

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// customerSentCase is customerCase after the support case was sent 55 minutes before the
// time of writing, with two more quarantined invoices added since.
func customerSentCase(t *testing.T) *Case {
	c := customerCase(t)
	m, err := Render(c, "support-case", RenderOptions{Now: t0.Add(-55 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	c.MarkSent(m, t0.Add(-55*time.Minute))
	c.Timeline = append(c.Timeline, Event{Kind: KindFailure, At: t0.Add(-50 * time.Minute), Last: t0.Add(-40 * time.Minute),
		Added: t0.Add(-30 * time.Minute), Messages: 2, Attempts: 2, RecipientDomain: "ourco-eu.example",
		Recipients: []string{"ap@ourco-eu.example"}, Provider: "proofpoint", Mode: triage.Filtering, Source: "headers-2.txt"})
	return c
}

// renders are every golden message: every kind for the sender, every kind a customer
// admin writes, and a redacted one.
func renders() []struct {
	name, kind string
	c          func(*testing.T) *Case
	opts       RenderOptions
} {
	type render = struct {
		name, kind string
		c          func(*testing.T) *Case
		opts       RenderOptions
	}
	now := RenderOptions{Now: t0}
	var out []render
	for _, k := range MessageKinds() {
		out = append(out, render{k, k, senderCase, now})
	}
	return append(out,
		render{"support-case-customer", "support-case", customerCase, now},
		render{"false-positive-customer", "false-positive", customerCase, now},
		render{"update-customer", "update", customerSentCase, now},
		render{"escalation-customer", "escalation", customerSentCase, now},
		render{"recipient-admin-redacted", "recipient-admin", senderCase, RenderOptions{Now: t0, Redact: true}},
	)
}

// field returns the value of a "Label: value" line of the message's block (with its
// continuation lines), or "".
func blockField(text, label string) string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, label+":") {
			continue
		}
		col := strings.Index(l, ":") + 1
		for col < len(l) && l[col] == ' ' {
			col++
		}
		v := []string{l[col:]}
		for _, next := range lines[i+1:] {
			if len(next) <= col || strings.TrimSpace(next[:col]) != "" {
				break
			}
			v = append(v, next[col:])
		}
		return strings.Join(v, "\n")
	}
	return ""
}

var mechanisms = []string{"SPF: ", "DKIM: ", "DMARC: ", "PTR: ", "PTR/FCrDNS: ", "HELO: ", "Blocklists: "}

func TestRenderClaims(t *testing.T) {
	for _, r := range renders() {
		t.Run(r.name, func(t *testing.T) {
			c := r.c(t)
			m, err := Render(c, r.kind, r.opts)
			if err != nil {
				t.Fatal(err)
			}
			text := m.Text
			seen := c.Seen()
			id := c.Identifiers

			// Identifiers, as the case holds them.
			if got := blockField(text, "Sending IP"); got != strings.Join(id.IPs, ", ") {
				t.Errorf("Sending IP %q, case %q", got, id.IPs)
			}
			if got := blockField(text, "Sending domain"); got != id.Domain {
				t.Errorf("Sending domain %q, case %q", got, id.Domain)
			}
			if got := blockField(text, "HELO name"); got != id.HELO {
				t.Errorf("HELO name %q, case %q", got, id.HELO)
			}
			if got := blockField(text, "Recipient domains"); got != strings.Join(seen.RecipientDomains, ", ") {
				t.Errorf("Recipient domains %q, seen %q", got, seen.RecipientDomains)
			}
			for label, want := range map[string]string{"From (author)": id.From, "Proofpoint GUIDs": strings.Join(id.GUIDs, ", "),
				"Queue IDs": strings.Join(id.QueueIDs, ", "), "Spam verdict details": id.SpamDetails, "Message-IDs": strings.Join(id.MessageIDs, ", ")} {
				if got := blockField(text, label); got != want {
					t.Errorf("%s %q, case %q", label, got, want)
				}
			}
			// The business impact as the person typed it, in every kind (an escalation leads
			// with it).
			if c.Scope.Impact != "" && !strings.Contains(text, "Business impact:") {
				t.Errorf("the typed business impact is left out")
			}
			if got := blockField(text, "Business impact"); got != "" && got != c.Scope.Impact {
				t.Errorf("Business impact %q, case %q", got, c.Scope.Impact)
			}
			// Counts and times, as derived from the timeline.
			if got, want := blockField(text, "Failures recorded"), plural(seen.Failures, "message"); got != want {
				t.Errorf("Failures recorded %q, want %q", got, want)
			}
			if got := blockField(text, "First seen"); got != seen.First.Format(stamp) {
				t.Errorf("First seen %q, want %s", got, seen.First.Format(stamp))
			}
			if got := blockField(text, "Latest seen"); got != seen.Last.Format(stamp) {
				t.Errorf("Latest seen %q, want %s", got, seen.Last.Format(stamp))
			}
			if got := blockField(text, "Exact reply"); got != "" && !strings.Contains(got, "Deferred") && !strings.Contains(got, "Blocked") {
				t.Errorf("Exact reply %q is not the case's latest reply %q", got, seen.LastEvent.Reply)
			}
			if reply := blockField(text, "Exact reply"); !r.opts.Redact && seen.LastEvent.Mode != triage.Filtering && reply != seen.LastEvent.Reply {
				t.Errorf("Exact reply %q, latest %q", reply, seen.LastEvent.Reply)
			}

			flat := strings.Join(strings.Fields(text), " ")
			if (strings.Contains(flat, "reply above") || strings.Contains(flat, "exact reply are above")) && blockField(text, "Exact reply") == "" {
				t.Errorf("the narrative points at a reply the message does not hold:\n%s", text)
			}
			if strings.Contains(flat, "attached") && blockField(text, "Evidence attached") == "" {
				t.Errorf("the narrative speaks of attachments the case does not hold:\n%s", text)
			}
			if strings.Contains(flat, "original message is attached") && !strings.Contains(blockField(text, "Evidence attached"), "(sample)") {
				t.Errorf("the narrative says an original message is attached; the evidence is %q", blockField(text, "Evidence attached"))
			}
			if seen.LastEvent.Mode == triage.Filtering && blockField(text, "Exact reply") != "" {
				t.Errorf("a filter's verdict labelled as the exact reply:\n%s", text)
			}
			checkAuthBlock(t, c, text)
			checkNews(t, c, r.kind, text)
			checkNumbers(t, c, r.opts.Now, m.String())

			// Nothing the user did not say; the customer's case is about someone else.
			for _, bad := range []string{"we are fixing", "which we are fixing", "Our own checks", "the block stands", "Our authentication checks pass",
				"DKIM pass", "DMARC pass", "other: none", "X-Proofpoint-Spam-Details headers are attached"} {
				if strings.Contains(text, bad) {
					t.Errorf("the message says %q:\n%s", bad, text)
				}
			}
			if c.Role == Customer {
				for _, bad := range []string{"our authentication", "Authentication:", "on our side", "our checks"} {
					if strings.Contains(text, bad) {
						t.Errorf("a customer's message speaks of the sender's records as %q:\n%s", bad, text)
					}
				}
				if blockField(text, "Sender's authentication") == "" {
					t.Errorf("the sender's authentication is not labelled as the sender's:\n%s", text)
				}
			}
		})
	}
}

// checkAuthBlock: each statement starts with a mechanism and ends with when it was
// checked; what it states is what the records hold; hygiene is never mentioned.
func checkAuthBlock(t *testing.T, c *Case, text string) {
	t.Helper()
	label := "Authentication"
	if c.Role == Customer {
		label = "Sender's authentication"
	}
	block := blockField(text, label)
	if block == "" {
		t.Fatalf("no %s block:\n%s", label, text)
	}
	times := map[string]bool{}
	recs := map[string]AuthCheck{}
	for _, a := range c.Authentication {
		times[a.CheckedAt.Format(stamp)] = true
		recs[a.ID] = a
	}
	for _, line := range strings.Split(block, "\n") {
		if !slices.ContainsFunc(mechanisms, func(p string) bool { return strings.HasPrefix(line, p) }) {
			t.Errorf("statement does not start with a mechanism: %q", line)
		}
		at := regexp.MustCompile(`\(checked (\d{4}-\d\d-\d\d \d\d:\d\d UTC)\)$`).FindStringSubmatch(line)
		if at == nil || !times[at[1]] {
			t.Errorf("statement does not end with a time it was checked: %q", line)
		}
		for _, h := range []string{"MX", "MTA-STS", "TLS-RPT", "STARTTLS", "recipient"} {
			if strings.Contains(line, h) {
				t.Errorf("hygiene %q in the authentication block: %q", h, line)
			}
		}
	}
	spf := recs["spf"]
	if want := fmt.Sprintf("SPF: %s for %s (%s); SPF for the HELO identity %s: %s", spf.Result, spf.IP, spf.Domain, spf.HELO, spf.HELOResult); spf.Result == "" || !strings.Contains(block, want) {
		t.Errorf("SPF statement is not the record's %q:\n%s", want, block)
	}
	if spf.IP != c.IP() || spf.Domain != c.Identifiers.Domain {
		t.Errorf("the SPF record is about %s/%s, the case %s/%s", spf.IP, spf.Domain, c.IP(), c.Identifiers.Domain)
	}
	// DKIM: pass only for a verified signature, with its d= and s=.
	sig, verified := recs["message/dkim"]
	switch {
	case verified && len(sig.Signatures) > 0 && sig.Signatures[0].Result == "pass":
		s := sig.Signatures[0]
		if want := fmt.Sprintf("DKIM: pass (d=%s, s=%s) on the tested message", s.Domain, s.Selector); !strings.Contains(block, want) {
			t.Errorf("verified signature not stated as %q:\n%s", want, block)
		}
	default:
		k := recs["dkim"].Keys
		if len(k) != 1 || k[0].Bits != 2048 || k[0].Type != "rsa" {
			t.Fatalf("dkim record keys %+v, want the fixture's 2048-bit RSA key", k)
		}
		want := fmt.Sprintf("DKIM: key published (%s, 2048-bit RSA) at %s; no signature verified yet", k[0].Selector, c.Identifiers.Domain)
		if !strings.Contains(block, want) {
			t.Errorf("DKIM statement is not %q:\n%s", want, block)
		}
		if strings.Contains(block, "DKIM: pass") {
			t.Errorf("a published key stated as a DKIM pass:\n%s", block)
		}
	}
	if d := recs["dmarc"]; d.Policy == "" || !strings.Contains(block, "DMARC: p="+d.Policy+" ("+c.Identifiers.Domain+")") {
		t.Errorf("DMARC statement does not give the policy %q:\n%s", d.Policy, block)
	}
	// Blocklists: IP lists and domain lists counted apart, each as the record holds it.
	b := recs["dnsbl"]
	var ipNot, domNot, ipUnread, domUnread int
	for _, z := range b.NotListed {
		if slices.Contains(b.DomainLists, z) {
			domNot++
		} else {
			ipNot++
		}
	}
	for _, u := range b.Unread {
		if u.Subject == "" {
			t.Errorf("unread list %q recorded without its subject", u.List)
		}
		if u.Subject == b.IP {
			ipUnread++
		} else {
			domUnread++
		}
	}
	if domNot+domUnread == 0 || ipNot+ipUnread == 0 {
		t.Fatalf("the fixture's record has no domain or no IP lists: %+v", b)
	}
	if len(b.Listed) > 0 {
		l := b.Listed[0]
		if want := fmt.Sprintf("Blocklists: %s listed on %s (%s, %s), not listed on %d other IP lists; %s not listed on %d domain lists", b.IP, l.List, strings.Join(l.Labels, ", "), strings.Join(l.Codes, ", "), ipNot, b.Domain, domNot); !strings.Contains(block, want) {
			t.Errorf("blocklist statement is not %q:\n%s", want, block)
		}
	} else {
		for _, want := range []string{
			fmt.Sprintf("Blocklists: %s not listed on %d of %d IP lists (%d could not be read: ", b.IP, ipNot, ipNot+ipUnread, ipUnread),
			fmt.Sprintf("; %s not listed on %d of %d domain lists (%d could not be read: ", b.Domain, domNot, domNot+domUnread, domUnread),
		} {
			if !strings.Contains(block, want) {
				t.Errorf("blocklist statement lacks %q:\n%s", want, block)
			}
		}
		if strings.Contains(block, "listed on Spamhaus") || !strings.Contains(block, "Spamhaus refused") {
			t.Errorf("a refusal is stated as a listing, or not said:\n%s", block)
		}
	}
}

// checkNews: an update or escalation states what the timeline holds since the last
// message sent.
func checkNews(t *testing.T, c *Case, kind, text string) {
	t.Helper()
	if kind != "update" && kind != "escalation" {
		return
	}
	last, _ := c.LastSent()
	n := c.NewsSince(last.SentAt)
	want := plural(n.Messages, "new failure")
	if n.Attempts > n.Messages {
		want += " (" + plural(n.Attempts, "delivery attempt") + ")"
	}
	if got := blockField(text, "Since then"); got != want {
		t.Errorf("Since then %q, want %q", got, want)
	}
	if got := blockField(text, "Newly affected"); got != strings.Join(n.NewDomains, ", ") {
		t.Errorf("Newly affected %q, want %q", got, n.NewDomains)
	}
	// The last message is named as what it was and how it went; a form's request is
	// filed, not written to the desk the update goes to, and never named by its id.
	if strings.Contains(text, last.Kind) {
		t.Errorf("the message names the last message by its internal id %q:\n%s", last.Kind, text)
	}
	flat := strings.Join(strings.Fields(text), " ")
	if filedOnForm(last) {
		host := formHost(last)
		if got := blockField(text, "Our request"); !strings.Contains(got, "filed on the "+host+" form on "+last.SentAt.Format(stamp)) {
			t.Errorf("Our request %q does not say it was filed on the %s form", got, host)
		}
		for _, bad := range []string{"Our last message", "We wrote", "Since our last message"} {
			if strings.Contains(flat, bad) {
				t.Errorf("a form's request is spoken of as mail (%q):\n%s", bad, text)
			}
		}
		what := "reference ID"
		if last.Kind == "support-case" {
			what = "case number" // the Customer Success Center's word
		}
		ref := "We have no " + what + " for it."
		if c.Route.Reference != "" {
			ref = "Its " + what + " is " + c.Route.Reference + "."
		}
		if !strings.Contains(flat, ref) {
			t.Errorf("the reference is not stated as %q:\n%s", ref, text)
		}
	} else if got := blockField(text, "Our last message"); !strings.HasSuffix(got, ", "+last.SentAt.Format(stamp)) || last.To != "" && !strings.Contains(got, last.To) {
		t.Errorf("Our last message %q, sent %s to %s", got, last.SentAt.Format(stamp), last.To)
	}
	if n.Changed() != (blockField(text, "Change") != "") {
		t.Errorf("change %v, block says %q", n.Changed(), blockField(text, "Change"))
	}
	// What the new failures are is true of each of them.
	if n.Changed() {
		if len(n.Kinds) > 1 && strings.Contains(flat, "The new failures are") {
			t.Errorf("the new failures are of %d kinds, the message says they are all one:\n%s", len(n.Kinds), text)
		}
		for i, k := range n.Kinds {
			verb := "are"
			if k.Messages == 1 {
				verb = "is"
			}
			want := fmt.Sprintf("%d %s %s", k.Messages, verb, kindNoun(k, k.Messages))
			if i == 0 && len(n.Kinds) > 1 {
				want = plural(k.Messages, "new failure") + " " + verb + " " + kindNoun(k, k.Messages)
			}
			if len(n.Kinds) > 1 && !strings.Contains(flat, want) {
				t.Errorf("the narrative does not say %q:\n%s", want, text)
			}
		}
	}
	said := plural(n.Messages, "new failure") + " " + wasWere(n.Messages) + " recorded"
	if n.Attempts > n.Messages {
		said += " (" + plural(n.Attempts, "delivery attempt") + ")"
	}
	if !strings.Contains(strings.Join(strings.Fields(text), " "), said) {
		t.Errorf("the narrative does not say %q:\n%s", said, text)
	}
}

// checkNumbers: every number in the message is one the case holds (in its file) or
// derives (counts, days since, the desk's priorities and response times).
func checkNumbers(t *testing.T, c *Case, now time.Time, msg string) {
	t.Helper()
	data, err := Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	num := regexp.MustCompile(`\d+`)
	allowed := map[string]bool{}
	for _, n := range num.FindAllString(string(data), -1) {
		allowed[n] = true
	}
	seen := c.Seen()
	derived := []int{seen.Failures, len(seen.RecipientDomains), 1, 2, 3, 4, 15, 16, 8} // counts; P1–P4, 15 minutes, 8/16 hours
	if last, ok := c.LastSent(); ok {
		n := c.NewsSince(last.SentAt)
		derived = append(derived, n.Messages, n.Attempts, n.Earlier, int(now.Sub(last.SentAt).Hours()/24))
		for _, k := range n.Kinds {
			derived = append(derived, k.Messages, k.ReplyCode)
		}
	}
	for _, a := range c.Authentication {
		derived = append(derived, len(a.NotListed), len(a.Unread), len(a.Listed), len(a.DomainLists), len(a.NotListed)-len(a.DomainLists))
		for _, u := range a.Unread {
			n := len(a.DomainLists)
			if u.Subject == a.IP {
				n = len(a.NotListed) - len(a.DomainLists)
			}
			derived = append(derived, n+1, n+2, 1, 2) // "7 of 8", with the unread ones
		}
	}
	derived = append(derived, len(seen.RecipientDomains)+len(c.Identifiers.RecipientDomains))
	for _, d := range derived {
		allowed[strconv.Itoa(d)] = true
	}
	for _, n := range num.FindAllString(msg, -1) {
		if !allowed[n] && !allowed[strings.TrimLeft(n, "0")] {
			t.Errorf("the number %s is nothing the case holds:\n%s", n, msg)
		}
	}
}
