package message

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dkim"
	"github.com/unblock-mail/unblock/sanitize"
)

func init() {
	pureTests = append(pureTests,
		test{"list-unsubscribe", testListUnsubscribe},
		test{"one-click-unsubscribe", testOneClick},
		test{"feedback-id", testFeedbackID},
		test{"dkim-signed-headers", testDKIMSignedHeaders},
	)
}

// esp names the email service provider ("esp:sendgrid" …) the message went through, read
// from the DKIM signers, the envelope sender and the sending hop's names, and the name
// that gave it away; "" when none is known.
func (m *Message) esp() (string, string) {
	var hosts []string
	for _, s := range m.Signatures() {
		hosts = append(hosts, s.Domain)
	}
	hosts = append(hosts, domainOf(m.EnvelopeSender()))
	if m.Sending >= 0 {
		hosts = append(hosts, m.Hops[m.Sending].RDNS, m.Hops[m.Sending].HELO)
	}
	for _, h := range hosts {
		if h == "" {
			continue
		}
		if e := dkim.ESPFor(h); strings.HasPrefix(e, "esp:") {
			return e, h
		}
	}
	return "", ""
}

// bulk says whether the message is marketing or list mail and why: the big receivers'
// sender rules (Gmail, Yahoo, Microsoft 2024–2025) for unsubscribing apply to it. Mail
// through an ESP is not marketing by itself (password resets go that way too); an
// unsubscribe link in the body is the marketer's own admission.
func (m *Message) bulk() (bool, string) {
	if m.automatic() {
		return false, ""
	}
	if v, ok := m.first("Precedence"); ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "bulk", "list", "junk":
			return true, "Precedence: " + strings.ToLower(strings.TrimSpace(v))
		}
	}
	for _, name := range []string{"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "X-Campaign", "X-Campaignid", "X-Mailchimp-Campaign"} {
		if _, ok := m.first(name); ok {
			return true, "it carries " + name
		}
	}
	for _, l := range m.links() {
		if strings.Contains(strings.ToLower(l.effective()+" "+l.Text), "unsubscribe") {
			return true, "its body has an unsubscribe link"
		}
	}
	return false, ""
}

// automatic reports a delivery report or auto-reply: bulk-mail rules do not apply to it.
func (m *Message) automatic() bool {
	if v, ok := m.first("Auto-Submitted"); ok && !strings.EqualFold(strings.TrimSpace(v), "no") {
		return true
	}
	if v, ok := m.first("Content-Type"); ok && strings.Contains(strings.ToLower(v), "multipart/report") {
		return true
	}
	v, _ := m.first("Return-Path")
	v = strings.TrimSpace(v)
	return v == "<>" || strings.EqualFold(v, "<MAILER-DAEMON>")
}

// unsubscribeURIs reads the <…> URIs of List-Unsubscribe (RFC 2369).
func (m *Message) unsubscribeURIs() []string {
	v, ok := m.first("List-Unsubscribe")
	if !ok {
		return nil
	}
	var out []string
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if strings.HasPrefix(part, "<") && strings.HasSuffix(part, ">") {
			out = append(out, strings.TrimSpace(part[1:len(part)-1]))
		}
	}
	return out
}

func testListUnsubscribe(m *Message) checks.Result {
	isBulk, why := m.bulk()
	uris := m.unsubscribeURIs()
	if _, ok := m.first("List-Unsubscribe"); !ok {
		if isBulk {
			return result(checks.Fail, "bulk mail ("+why+") without List-Unsubscribe: Gmail and Yahoo require it from bulk senders since 2024",
				"add List-Unsubscribe: <https://…/unsubscribe?id=…>, <mailto:unsubscribe@…> (RFC 2369)")
		}
		return pass("no List-Unsubscribe; the message does not look like bulk mail")
	}
	var https, mailto bool
	var shown []string
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			continue
		}
		shown = append(shown, sanitize.Line(clip(u, 100)))
		switch strings.ToLower(pu.Scheme) {
		case "https":
			https = true
		case "mailto":
			mailto = true
		}
	}
	d := map[string]any{"uris": shown}
	switch {
	case len(shown) == 0:
		r := result(checks.Fail, "List-Unsubscribe holds no <URI>: receivers ignore it",
			"write List-Unsubscribe: <https://…>, <mailto:…> with angle brackets")
		r.Details = d
		return r
	case !https:
		st := checks.Warn
		if isBulk {
			st = checks.Fail
		}
		r := result(st, "List-Unsubscribe has no https URI (only "+strings.Join(shown, ", ")+"): one-click unsubscribe (RFC 8058) needs https",
			"add an https unsubscribe URI to List-Unsubscribe")
		r.Details = d
		return r
	}
	s := "List-Unsubscribe with an https URI"
	if mailto {
		s += " and a mailto"
	}
	r := pass(s)
	r.Details = d
	return r
}

func testOneClick(m *Message) checks.Result {
	isBulk, why := m.bulk()
	v, ok := m.first("List-Unsubscribe-Post")
	if !ok {
		if isBulk {
			return result(checks.Fail, "bulk mail ("+why+") without List-Unsubscribe-Post: Gmail and Yahoo require one-click unsubscribe (RFC 8058)",
				"add List-Unsubscribe-Post: List-Unsubscribe=One-Click and accept a POST at the https URI; cover both fields with DKIM")
		}
		return pass("no one-click unsubscribe; the message does not look like bulk mail")
	}
	if strings.TrimSpace(v) != "List-Unsubscribe=One-Click" {
		return result(checks.Fail, fmt.Sprintf("List-Unsubscribe-Post is %q: RFC 8058 requires exactly List-Unsubscribe=One-Click", sanitize.Line(clip(v, 60))),
			"write List-Unsubscribe-Post: List-Unsubscribe=One-Click")
	}
	https := false
	for _, u := range m.unsubscribeURIs() {
		if strings.HasPrefix(strings.ToLower(u), "https:") {
			https = true
		}
	}
	if !https {
		return result(checks.Fail, "List-Unsubscribe-Post without an https URI in List-Unsubscribe: the POST has nowhere to go",
			"add an https URI to List-Unsubscribe")
	}
	// RFC 8058 §4: both fields must be covered by a DKIM signature, or a forwarder could
	// add an unsubscribe link of its own.
	covered := false
	for _, s := range m.Signatures() {
		if containsFold(s.Headers, "list-unsubscribe") && containsFold(s.Headers, "list-unsubscribe-post") {
			covered = true
		}
	}
	if !covered {
		return result(checks.Fail, "one-click unsubscribe present but no DKIM signature covers List-Unsubscribe and List-Unsubscribe-Post (RFC 8058 §4): receivers ignore it",
			"add list-unsubscribe:list-unsubscribe-post to the h= of your DKIM signature")
	}
	return pass("one-click unsubscribe (RFC 8058), both fields DKIM-signed")
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func testFeedbackID(m *Message) checks.Result {
	v, ok := m.first("Feedback-Id")
	e, host := m.esp()
	if !ok {
		if host != "" && !m.automatic() {
			return result(checks.Warn, fmt.Sprintf("sent through %s (%s) without Feedback-ID: Gmail's feedback loop cannot report complaints per campaign", strings.TrimPrefix(e, "esp:"), host),
				"have the ESP add Feedback-ID: campaign:customer:mailtype:sender-id (most add it when asked)")
		}
		return pass("no Feedback-ID; no ESP recognised")
	}
	parts := strings.Split(strings.TrimSpace(v), ":")
	if len(parts) < 2 || parts[len(parts)-1] == "" {
		return result(checks.Warn, fmt.Sprintf("Feedback-ID %q lacks the sender identifier Gmail expects as its last field", sanitize.Line(clip(v, 80))),
			"write Feedback-ID as a:b:c:SenderId, the last field stable per sender")
	}
	return pass("Feedback-ID " + sanitize.Line(clip(v, 80)))
}

// signedWanted are the fields a signature should cover (RFC 6376 §5.4.1's list, trimmed
// to what mail carries).
var signedWanted = []string{"from", "to", "subject", "date", "message-id"}

func testDKIMSignedHeaders(m *Message) checks.Result {
	sigs := m.Signatures()
	if len(sigs) == 0 {
		return skip("no DKIM signature")
	}
	var problems, notes []string
	for _, s := range sigs {
		who := s.Domain + "/" + s.Selector
		if !containsFold(s.Headers, "from") {
			problems = append(problems, who+" does not sign From: every verifier rejects it (RFC 6376 §5.4)")
			continue
		}
		var missing []string
		for _, w := range signedWanted[1:] {
			if _, present := m.first(canonicalName(w)); present && !containsFold(s.Headers, w) {
				missing = append(missing, w)
			}
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("%s leaves %s unsigned: they can be changed in transit", who, strings.Join(missing, ", ")))
		}
		// A field signed as often as it occurs can still be added above (RFC 6376 §8.15):
		// signing From once more than it occurs ("over-signing") prevents that.
		n := 0
		for _, h := range s.Headers {
			if strings.EqualFold(h, "from") {
				n++
			}
		}
		if n <= len(m.values("From")) {
			notes = append(notes, who+" does not over-sign From (RFC 6376 §8.15): a second From could be added without breaking it")
		}
	}
	if len(problems) > 0 {
		st := checks.Warn
		if strings.Contains(strings.Join(problems, " "), "does not sign From") {
			st = checks.Fail
		}
		r := result(st, problems[0], "sign from:from:to:subject:date:message-id (From listed once more than it occurs)")
		r.Details = map[string]any{"problems": problems, "notes": notes}
		return r
	}
	r := pass(fmt.Sprintf("%d signature(s) cover From, To, Subject, Date and Message-ID", len(sigs)))
	if len(notes) > 0 {
		r.Summary += "; " + notes[0]
		r.Details = map[string]any{"notes": notes}
	}
	return r
}

func canonicalName(lower string) string {
	switch lower {
	case "message-id":
		return "Message-Id"
	}
	return strings.ToUpper(lower[:1]) + lower[1:]
}
