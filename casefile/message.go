package casefile

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// RenderOptions are the choices a person makes when writing a message.
type RenderOptions struct {
	// Redact turns recipient addresses into a***@domain, for messages to third parties.
	Redact bool
	// Now is the time of writing (for "no answer since …"); zero means time.Now.
	Now time.Time
}

// kindSpec is how one message kind is written.
type kindSpec struct {
	route string // the desk whose contact, form and response time apply ("" = the case's route)
	form  bool   // a web form: the text fills its fields rather than being a letter
	// body writes the narrative and the one question; it may add lines to the
	// identifiers block through w.
	body func(w *writer) (narrative, question string)
}

var kinds map[string]kindSpec

// kindOrder lists the message kinds as DESIGN.md's value table does, then one per route.
var kindOrder = []string{
	"postmaster", "support-case", "ipcheck-request", "cloudmark-reset", "false-positive", "update", "escalation",
	"microsoft-delist", "microsoft-delist-mail", "outlook-support", "yahoo-sender-support", "apple-postmaster",
	"spamhaus", "barracuda-removal", "talos", "trendmicro-ers", "symantec-ipremoval", "recipient-admin", "esp-support",
}

// MessageKinds returns every message kind Render writes.
func MessageKinds() []string { return slices.Clone(kindOrder) }

func init() {
	kinds = map[string]kindSpec{
		"postmaster":            {route: "proofpoint-postmaster", body: postmasterBody},
		"support-case":          {route: "proofpoint-support", body: supportCaseBody},
		"ipcheck-request":       {route: "proofpoint-ipcheck", form: true, body: ipcheckBody},
		"cloudmark-reset":       {route: "cloudmark-reset", form: true, body: cloudmarkBody},
		"false-positive":        {body: falsePositiveBody},
		"update":                {body: updateBody},
		"escalation":            {body: escalationBody},
		"microsoft-delist":      {route: "microsoft-delist", form: true, body: microsoftDelistBody},
		"microsoft-delist-mail": {route: "microsoft-delist-mail", body: microsoftDelistMailBody},
		"outlook-support":       {route: "outlook-support", form: true, body: outlookBody},
		"yahoo-sender-support":  {route: "yahoo-sender-support", form: true, body: yahooBody},
		"apple-postmaster":      {route: "apple-postmaster", body: appleBody},
		"spamhaus":              {route: "spamhaus", form: true, body: blocklistBody("Spamhaus")},
		"barracuda-removal":     {route: "barracuda-removal", form: true, body: blocklistBody("Barracuda Reputation")},
		"talos":                 {route: "talos", form: true, body: reputationBody("Cisco Talos")},
		"trendmicro-ers":        {route: "trendmicro-ers", form: true, body: reputationBody("Trend Micro Email Reputation Services")},
		"symantec-ipremoval":    {route: "symantec-ipremoval", form: true, body: reputationBody("Symantec")},
		"recipient-admin":       {route: "recipient-admin", body: recipientAdminBody},
		"esp-support":           {route: "esp-support", body: espBody},
	}
}

// DefaultMessageKind is the message the case calls for now: an update once a message
// was sent, else the message of the case's route.
func (c *Case) DefaultMessageKind() (string, error) {
	if _, sent := c.LastSent(); sent && c.Status.IsOpen() {
		return "update", nil
	}
	route := c.RouteKind()
	if c.Mode == triage.Filtering && (route == "proofpoint-support" || route == "recipient-admin") {
		return "false-positive", nil
	}
	d, ok := triage.DeskFor(route)
	if !ok || d.Message == "" || d.Message == "none" {
		why := ""
		if ok {
			why = " (" + d.Basis + ")"
		}
		return "", fmt.Errorf("the case's route is %s%s: there is no message to write; choose one with a kind", route, why)
	}
	return d.Message, nil
}

// Render writes a message of the given kind (DefaultMessageKind when empty) from the
// case. It states only what the case holds: an unknown value is left out, never guessed.
func Render(c *Case, kind string, opts RenderOptions) (Message, error) {
	if kind == "" {
		k, err := c.DefaultMessageKind()
		if err != nil {
			return Message{}, err
		}
		kind = k
	}
	spec, ok := kinds[kind]
	if !ok {
		return Message{}, fmt.Errorf("unknown message kind %q: one of %s", kind, strings.Join(kindOrder, ", "))
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	w := &writer{c: c, opts: opts, kind: kind, seen: c.Seen()}
	w.desk = w.deskFor(spec.route)
	if (kind == "update" || kind == "escalation") && w.desk.Contact == "" && c.Provider == "proofpoint" && c.Role == Sender {
		// A form takes no follow-up: Proofpoint asks senders to follow up by mail to postmaster@.
		w.desk = w.deskFor("proofpoint-postmaster")
	}
	if kind == "update" || kind == "escalation" {
		last, sent := c.LastSent()
		if !sent {
			return Message{}, errors.New("no message has been marked sent yet: an " + kind + " follows one")
		}
		w.lastSent = last
	}
	narrative, question := spec.body(w)
	var b strings.Builder
	if spec.form {
		b.WriteString("Fields for the form")
		if w.desk.Name != "" {
			b.WriteString(" (" + w.desk.Name + ")")
		}
		b.WriteString(":\n\n")
	}
	b.WriteString(w.block())
	if narrative != "" {
		b.WriteString("\n" + wrap(narrative) + "\n")
	}
	if question != "" {
		b.WriteString("\n" + wrap(question) + "\n")
	}
	m := Message{
		Kind:    kind,
		At:      utc(opts.Now),
		To:      w.to(),
		Subject: w.subject(),
		Text:    b.String(),
	}
	return m, nil
}

// String is the message as a person pastes it: recipient, subject, then the body.
func (m Message) String() string {
	var b strings.Builder
	switch {
	case strings.HasPrefix(m.To, "https://") || strings.HasPrefix(m.To, "http://"):
		b.WriteString("Form: " + m.To + "\n")
	case m.To != "":
		b.WriteString("To: " + m.To + "\n")
	}
	b.WriteString("Subject: " + m.Subject + "\n\n")
	b.WriteString(m.Text)
	return b.String()
}

// writer gathers what every message is built from.
type writer struct {
	c        *Case
	opts     RenderOptions
	kind     string
	desk     triage.Desk
	seen     Seen
	lastSent Message
	extra    []field // kind-specific lines, after the identifiers
	lead     []field // kind-specific lines, before the identifiers (escalation: impact first)
}

type field struct{ label, value string }

func (w *writer) deskFor(route string) triage.Desk {
	if route == "" {
		route = w.c.RouteKind()
	}
	d, _ := triage.DeskFor(route)
	return d
}

func (w *writer) to() string {
	if w.desk.Contact != "" {
		return w.desk.Contact
	}
	if w.desk.Kind == "" {
		return ""
	}
	return triage.RouteFor(w.desk.Kind, w.c.IP()).URL
}

// failure names what failed, for subjects and narratives.
func (w *writer) failure() string {
	c := w.c
	verb := map[triage.Mode]string{
		triage.HardBlock: "Mail blocked",
		triage.Deferral:  "Mail deferred",
		triage.Filtering: "Mail filtered as spam",
	}[c.Mode]
	if verb == "" {
		verb = "Delivery failures"
	}
	if by := controlName(c.Provider, c.Control); by != "" {
		verb += " by " + by
	}
	return verb
}

// who is the sender the case is about: the IP, else the domain.
func (w *writer) who() string {
	if ip := w.c.IP(); ip != "" {
		return ip
	}
	return w.c.Identifiers.Domain
}

func (w *writer) subject() string {
	s := w.failure()
	if who := w.who(); who != "" {
		s += ": " + who
	}
	ref := w.c.Route.Reference
	switch w.kind {
	case "update":
		s = "Update: " + s
	case "escalation":
		s = "Escalation: " + s
	}
	if ref != "" && (w.kind == "update" || w.kind == "escalation" || w.kind == "support-case" || w.kind == "postmaster") {
		s += " [" + ref + "]"
	}
	return s
}

var acronyms = map[string]string{"csi": "CSI", "ip": "IP", "dmarc": "DMARC", "spf": "SPF", "dkim": "DKIM", "sbrs": "SBRS",
	"ers": "ERS", "pbl": "PBL", "sbl": "SBL", "xbl": "XBL", "css": "CSS", "dbl": "DBL", "rbl": "RBL", "eop": "EOP", "tls": "TLS"}

var providerNames = map[string]string{"proofpoint": "Proofpoint", "cloudmark": "Cloudmark", "microsoft": "Microsoft",
	"google": "Gmail", "yahoo": "Yahoo", "apple": "Apple iCloud", "mimecast": "Mimecast", "barracuda": "Barracuda",
	"cisco": "Cisco", "spamhaus": "Spamhaus", "trendmicro": "Trend Micro", "symantec": "Symantec", "sophos": "Sophos"}

// controlName makes "Proofpoint Dynamic Reputation" of proofpoint and dynamic-reputation.
func controlName(provider, control string) string {
	name := providerNames[provider]
	if e, ok := strings.CutPrefix(provider, "esp:"); ok {
		name = e
	}
	control = strings.TrimPrefix(control, provider+"-")
	var words []string
	for _, part := range strings.Split(control, "-") {
		if part == "" {
			continue
		}
		if a, ok := acronyms[part]; ok {
			words = append(words, a)
		} else {
			words = append(words, strings.ToUpper(part[:1])+part[1:])
		}
	}
	return strings.TrimSpace(name + " " + strings.Join(words, " "))
}

const stamp = "2006-01-02 15:04 UTC"

// block is the identifiers at the top of every message: only what the case holds.
func (w *writer) block() string {
	c, s := w.c, w.seen
	id := c.Identifiers
	fields := slices.Clone(w.lead)
	add := func(label, value string) {
		if value != "" {
			fields = append(fields, field{label, value})
		}
	}
	add("Sending IP", strings.Join(id.IPs, ", "))
	add("Sending domain", id.Domain)
	add("Envelope sender", id.EnvelopeSender)
	add("HELO name", id.HELO)
	add("DKIM selectors", strings.Join(id.Selectors, ", "))
	add("Recipient domains", strings.Join(w.recipientDomains(), ", "))
	if r := w.recipients(); len(r) > 0 {
		add("Recipients", strings.Join(r, ", "))
	}
	if !s.First.IsZero() {
		add("First seen", s.First.Format(stamp))
		add("Latest seen", s.Last.Format(stamp))
	}
	if s.Failures > 0 {
		add("Failures recorded", plural(s.Failures, "message"))
	}
	if e := s.LastEvent; e.Reply != "" {
		add("Exact reply", w.redact(e.Reply))
	}
	if len(id.MessageIDs) > 0 {
		add("Message-IDs", strings.Join(first(id.MessageIDs, 3), ", "))
	}
	add("Volume affected", c.Scope.Volume)
	add("Customers affected", c.Scope.Customers)
	add("Mail type", strings.Join(c.Scope.MailKind, ", "))
	add("Authentication", w.authSummary())
	add("Recent changes", w.changesSummary())
	add("Evidence attached", w.evidenceSummary())
	add("Reference", c.Route.Reference)
	fields = append(fields, w.extra...)
	fields = slices.DeleteFunc(fields, func(f field) bool { return f.value == "" })
	width := 0
	for _, f := range fields {
		width = max(width, len(f.label)+1)
	}
	var b strings.Builder
	for _, f := range fields {
		lines := strings.Split(f.value, "\n")
		fmt.Fprintf(&b, "%-*s %s\n", width, f.label+":", lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "%-*s %s\n", width, "", l)
		}
	}
	return b.String()
}

func (w *writer) recipientDomains() []string {
	if len(w.seen.RecipientDomains) > 0 {
		return w.seen.RecipientDomains
	}
	return w.c.Identifiers.RecipientDomains
}

// recipients are the recipient addresses of the failures, at most five.
func (w *writer) recipients() []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range w.c.Timeline {
		if !e.IsFailure() {
			continue
		}
		for _, a := range e.Recipients {
			if r := w.redactAddr(a); !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
	}
	slices.Sort(out)
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("and %d more", len(out)-5))
	}
	return out
}

var address = regexp.MustCompile(`[A-Za-z0-9._%+=-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}`)

// redact hides the recipient addresses in a text when asked; the sender's own addresses
// stay, the recipient of a third party does not.
func (w *writer) redact(text string) string {
	if !w.opts.Redact {
		return text
	}
	return address.ReplaceAllStringFunc(text, w.redactAddr)
}

func (w *writer) redactAddr(addr string) string {
	if !w.opts.Redact {
		return addr
	}
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" {
		return addr
	}
	sd := strings.ToLower(w.c.Identifiers.Domain)
	if strings.EqualFold(addr, w.c.Identifiers.EnvelopeSender) || (sd != "" && strings.EqualFold(domain, sd)) {
		return addr
	}
	return local[:1] + "***@" + domain
}

func (w *writer) authSummary() string {
	a := w.c.Authentication
	if len(a) == 0 {
		return ""
	}
	var parts []string
	var at time.Time
	for _, r := range a {
		parts = append(parts, strings.ToUpper(r.ID)+" "+r.Status)
		if r.CheckedAt.After(at) {
			at = r.CheckedAt
		}
	}
	s := strings.Join(parts, ", ")
	if !at.IsZero() {
		s += " (checked " + at.Format(stamp) + ")"
	}
	return s
}

// authFailing lists the checks that did not pass, for narratives.
func (w *writer) authFailing() []string {
	var out []string
	for _, r := range w.c.Authentication {
		if r.Status == "fail" || r.Status == "warn" {
			out = append(out, strings.ToUpper(r.ID)+" "+r.Status)
		}
	}
	return out
}

func (w *writer) changesSummary() string {
	c := w.c
	if len(c.Changes) == 0 {
		if c.Confirmed("changes") {
			return "none"
		}
		return ""
	}
	var parts []string
	for _, ch := range c.Changes {
		s := ch.Kind
		if ch.Summary != "" {
			s += ": " + ch.Summary
		}
		if !ch.At.IsZero() {
			s += " (" + ch.At.Format("2006-01-02") + ")"
		}
		if ch.WarmupDays > 0 {
			s += fmt.Sprintf(", warmed up for %s", plural(ch.WarmupDays, "day"))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "\n")
}

func (w *writer) evidenceSummary() string {
	var parts []string
	for _, f := range w.c.Evidence.Files {
		parts = append(parts, fmt.Sprintf("%s (%s)", baseName(f.Path), f.Kind))
	}
	return strings.Join(parts, ", ")
}

func (w *writer) hasEvidence(kinds ...string) bool {
	return slices.ContainsFunc(w.c.Evidence.Files, func(f File) bool { return slices.Contains(kinds, f.Kind) })
}

// since describes when the failures began, for narratives.
func (w *writer) since() string {
	if w.seen.First.IsZero() {
		return ""
	}
	return "Since " + w.seen.First.Format(stamp) + ", "
}

// standing says how the failures stand: counts and domains, only what the case holds.
func (w *writer) standing() string {
	s := w.seen
	var parts []string
	if s.Failures > 0 {
		parts = append(parts, plural(s.Failures, "failure")+" recorded")
	}
	if n := len(w.recipientDomains()); n > 0 {
		parts = append(parts, "to "+plural(n, "recipient domain"))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// authSentence states the authentication status, or nothing when unchecked.
func (w *writer) authSentence() string {
	if len(w.c.Authentication) == 0 {
		return ""
	}
	if bad := w.authFailing(); len(bad) > 0 {
		return " Our own checks still show " + strings.Join(bad, ", ") + ", which we are fixing."
	}
	return " Our authentication checks pass (above)."
}

func (w *writer) changesSentence() string {
	switch {
	case len(w.c.Changes) > 0:
		return " Recent changes on our side are listed above."
	case w.c.Confirmed("changes"):
		return " Nothing changed on our side recently."
	}
	return ""
}

func (w *writer) domainsText() string {
	d := w.recipientDomains()
	switch len(d) {
	case 0:
		return "recipients"
	case 1:
		return "recipients at " + d[0]
	}
	return "recipients at " + strings.Join(d[:len(d)-1], ", ") + " and " + d[len(d)-1]
}

func (w *writer) fromText() string {
	switch {
	case w.c.IP() != "" && w.c.Identifiers.Domain != "":
		return "mail from " + w.c.Identifiers.Domain + " sent through " + w.c.IP()
	case w.c.IP() != "":
		return "mail from " + w.c.IP()
	case w.c.Identifiers.Domain != "":
		return "mail from " + w.c.Identifiers.Domain
	}
	return "our mail"
}

func (w *writer) modeVerb() string {
	switch w.c.Mode {
	case triage.Deferral:
		return "deferred"
	case triage.Filtering:
		return "delivered to spam or quarantine"
	}
	return "rejected"
}

// situation is the narrative's first sentence, shared by most kinds.
func (w *writer) situation() string {
	s := w.since()
	text := w.fromText() + " to " + w.domainsText() + " is " + w.modeVerb()
	if w.seen.LastEvent.Reply != "" {
		text += " with the reply above"
	}
	if s == "" {
		text = strings.ToUpper(text[:1]) + text[1:]
	}
	return s + text + w.standing() + "."
}

func postmasterBody(w *writer) (string, string) {
	n := w.situation() + w.authSentence() + w.changesSentence()
	if w.c.Route.Reference != "" {
		n += " We filed an IP-check request; its reference is " + w.c.Route.Reference + "."
	}
	return n, fmt.Sprintf("Is this a Proofpoint Dynamic Reputation block, a classification issue, a policy block set by the recipient, or another control, and what should we change for %s to be accepted again?", w.who())
}

// Priority is a Customer Success Center priority proposed from Proofpoint's guidelines.
type Priority struct {
	Level    string        // P1 … P4
	Reason   string        // why, in the guidelines' words
	Response time.Duration // the initial response target
}

// ProposePriority proposes a support-case priority from the failures: P1 is system down
// (no mail in or out), P2 degraded (delivery delayed by more than 15 minutes, a sender's
// mail not delivered), P3 spam false positives or negatives, P4 how-to.
func (c *Case) ProposePriority() Priority {
	s := c.Seen()
	switch {
	case s.Failures == 0:
		return Priority{"P4", "no failure is recorded: a question (how-to) is P4", 16 * time.Hour}
	case c.Mode == triage.Filtering:
		return Priority{"P3", "spam false positives are P3 in Proofpoint's priority guidelines", 8 * time.Hour}
	case c.Mode == triage.Deferral && s.Last.Sub(s.First) > 15*time.Minute:
		return Priority{"P2", fmt.Sprintf("mail delivery delayed by more than 15 minutes (deferrals from %s to %s) is P2", s.First.Format(stamp), s.Last.Format(stamp)), 4 * time.Hour}
	case c.Mode == triage.Deferral:
		return Priority{"P3", "deferrals over less than 15 minutes do not meet P2's delay threshold", 8 * time.Hour}
	}
	return Priority{"P2", "mail from this sender is not delivered: service is degraded (P2); P1 is for all mail in or out stopped", 4 * time.Hour}
}

func supportCaseBody(w *writer) (string, string) {
	c := w.c
	product := c.Route.Product
	if product == "" && c.RouteKind() == "proofpoint-essentials" {
		product = "Proofpoint Essentials"
	}
	if product == "" {
		product = "(not recorded: Protection Server / on Demand, Essentials, TAP …)"
	}
	component := c.Route.Component
	if component == "" {
		component = "(enter the component)"
	}
	p := c.ProposePriority()
	w.lead = append(w.lead, field{"Product", product}, field{"Component", component},
		field{"Priority", p.Level + ": " + p.Reason})
	n := w.situation() + w.authSentence() + w.changesSentence()
	if w.hasEvidence("headers", "sample") {
		n += " The original message and its headers are attached."
	}
	if c.Mode == triage.Filtering {
		return n, "Which rule or classifier flagged these messages, and can the classification be corrected so that they are delivered?"
	}
	return n, fmt.Sprintf("Is this a dynamic reputation block, a classification issue, a policy block or another control, and can it be lifted for %s?", w.who())
}

func ipcheckBody(w *writer) (string, string) {
	n := w.situation() + w.authSentence() + w.changesSentence()
	return n, fmt.Sprintf("Could you review %s and remove it from Proofpoint Dynamic Reputation, or tell us what still keeps it listed?", w.who())
}

func cloudmarkBody(w *writer) (string, string) {
	n := w.situation() + w.authSentence() + w.changesSentence()
	return n, fmt.Sprintf("Could you reset Cloudmark Sender Intelligence's statistics for %s so that our mail is accepted again?", w.who())
}

func falsePositiveBody(w *writer) (string, string) {
	c := w.c
	if c.Role == Customer {
		w.desk = w.deskFor("proofpoint-support")
		n := "Messages " + strings.TrimPrefix(w.fromText(), "mail ") + " to our users were classified as spam" + w.standing() + "."
		if w.hasEvidence("headers", "sample") {
			n += " The original messages with their X-Proofpoint-Spam-Details headers are attached."
		}
		return n + w.authSentence(), "Could Proofpoint review the classification of these messages and correct it so that mail from this sender is delivered?"
	}
	w.desk = w.deskFor("recipient-admin")
	n := w.situation() + w.authSentence()
	if w.hasEvidence("headers", "sample") {
		n += " A sample message with its headers is attached."
	}
	return n, "Could you release these messages and allow our mail, or tell us which rule in your filtering flagged them?"
}

// newDomains are the recipient domains that first failed at or after since.
func (c *Case) newDomains(since time.Time, now Seen) []string {
	before := map[string]bool{}
	for _, e := range c.Timeline {
		if e.IsFailure() && !e.At.IsZero() && e.At.Before(since) {
			before[e.RecipientDomain] = true
		}
	}
	var fresh []string
	for _, d := range now.RecipientDomains {
		if !before[d] {
			fresh = append(fresh, d)
		}
	}
	return fresh
}

func updateBody(w *writer) (string, string) {
	c := w.c
	since := w.lastSent.SentAt
	now := c.SeenSince(since)
	fresh := c.newDomains(since, now)
	w.lead = append(w.lead, field{"Our last message", w.lastSent.SentAt.Format(stamp) + " (" + w.lastSent.Kind + ")"},
		field{"Failures since", plural(now.Failures, "message")})
	if len(now.RecipientDomains) > 0 {
		v := strings.Join(now.RecipientDomains, ", ")
		if len(fresh) > 0 {
			v += " (new: " + strings.Join(fresh, ", ") + ")"
		}
		w.lead = append(w.lead, field{"Domains affected now", v})
	}
	if !now.Last.IsZero() {
		w.lead = append(w.lead, field{"Latest failure", now.Last.Format(stamp) + " " + now.LastEvent.RecipientDomain})
	}
	var n string
	if now.Failures == 0 {
		n = "Since our last message on " + w.lastSent.SentAt.Format(stamp) + ", no new failure was recorded."
	} else {
		n = fmt.Sprintf("Since our last message on %s, %s failed", w.lastSent.SentAt.Format(stamp), plural(now.Failures, "message"))
		if len(fresh) > 0 {
			n += ", now also to " + strings.Join(fresh, ", ")
		}
		n += "; the latest failure and its exact reply are above."
	}
	n += w.authSentence()
	return n, "Is there anything more you need from us to resolve this?"
}

func escalationBody(w *writer) (string, string) {
	c := w.c
	var lead []field
	if c.Scope.Impact != "" {
		lead = append(lead, field{"Business impact", c.Scope.Impact})
	}
	if w.seen.Failures > 0 {
		v := plural(w.seen.Failures, "message") + " failed"
		if n := len(w.recipientDomains()); n > 0 {
			v += " to " + plural(n, "recipient domain")
		}
		if !w.seen.First.IsZero() {
			v += " since " + w.seen.First.Format(stamp)
		}
		lead = append(lead, field{"Failures", v})
	}
	if c.Route.Reference != "" {
		lead = append(lead, field{"Case reference", c.Route.Reference})
	}
	w.lead = append(lead, w.lead...)
	now := c.SeenSince(w.lastSent.SentAt)
	days := int(w.opts.Now.Sub(w.lastSent.SentAt).Hours() / 24)
	n := "We wrote on " + w.lastSent.SentAt.Format(stamp)
	if days >= 1 {
		n += " (" + plural(days, "day") + " ago)"
	}
	if w.lastSent.AnsweredAt.IsZero() {
		n += " and have had no answer"
	}
	n += "."
	if now.Failures > 0 {
		n += fmt.Sprintf(" Since then %s failed, the latest at %s", plural(now.Failures, "more message"), now.Last.Format(stamp))
		if fresh := c.newDomains(w.lastSent.SentAt, now); len(fresh) > 0 {
			n += ", now also to " + strings.Join(fresh, ", ")
		}
		n += "."
	} else {
		n += " No new failure was recorded since; the block stands."
	}
	n += w.authSentence() + w.changesSentence()
	return n, "Could this case be escalated to someone who can confirm the cause and when the block will be lifted?"
}

func microsoftDelistBody(w *writer) (string, string) {
	w.extra = append(w.extra, field{"Email address for the confirmation", w.c.Identifiers.EnvelopeSender})
	n := w.situation() + " The portal takes one address and one IP per request; repeat it for each IP listed."
	return n, fmt.Sprintf("Could you remove %s from the block list named in the reply?", w.who())
}

func microsoftDelistMailBody(w *writer) (string, string) {
	n := w.situation() + w.authSentence()
	if w.hasEvidence("bounce") {
		n += " The full NDR is attached, as the reply asks."
	}
	return n, fmt.Sprintf("Could you remove %s from the list named in the NDR?", w.who())
}

func outlookBody(w *writer) (string, string) {
	n := w.situation() + w.authSentence() + w.changesSentence()
	return n, fmt.Sprintf("Could you review the reputation of %s and lift the block on our mail to Outlook.com?", w.who())
}

func yahooBody(w *writer) (string, string) {
	n := w.situation() + w.authSentence() + w.changesSentence()
	return n, fmt.Sprintf("Could you tell us what keeps %s deferred or blocked, and lift it if our setup is in order?", w.who())
}

func appleBody(w *writer) (string, string) {
	n := w.situation() + w.authSentence() + w.changesSentence()
	return n, fmt.Sprintf("Could you tell us why iCloud Mail rejects %s, and what we should change for it to be accepted?", w.fromText())
}

func blocklistBody(list string) func(*writer) (string, string) {
	return func(w *writer) (string, string) {
		n := w.situation() + w.changesSentence()
		return n, fmt.Sprintf("Could you remove %s from %s, or tell us what still keeps it listed?", w.who(), list)
	}
}

func reputationBody(service string) func(*writer) (string, string) {
	return func(w *writer) (string, string) {
		n := w.situation() + w.authSentence() + w.changesSentence()
		return n, fmt.Sprintf("Could you review the reputation %s gives %s, and what should we change for our mail to be accepted?", service, w.who())
	}
}

func recipientAdminBody(w *writer) (string, string) {
	n := w.situation() + w.authSentence()
	return n, "Could you allow our mail in your filtering, or tell us which rule refuses it so that we can correct what it objects to?"
}

func espBody(w *writer) (string, string) {
	n := w.situation() + w.authSentence()
	provider := controlName(w.c.Provider, "")
	if strings.HasPrefix(w.c.Provider, "esp:") || provider == "" {
		provider = "the list or filter named in the reply"
	}
	return n, fmt.Sprintf("Is %s one of your shared-pool addresses, and can you take up its delisting with %s?", w.who(), provider)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func first(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), fmt.Sprintf("and %d more", len(s)-n))
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// wrap folds a paragraph at 78 columns for pasting into mail.
func wrap(s string) string {
	var b strings.Builder
	col := 0
	for _, word := range strings.Fields(s) {
		if col > 0 && col+1+len(word) > 78 {
			b.WriteString("\n")
			col = 0
		} else if col > 0 {
			b.WriteString(" ")
			col++
		}
		b.WriteString(word)
		col += len(word)
	}
	return b.String()
}
