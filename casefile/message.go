package casefile

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
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
	// sender: written in the sending side's voice ("our mail", "remove our IP"), so
	// never for a customer admin, whose case is about someone else's mail.
	sender bool
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

// KindsFor returns the message kinds written for a role: a customer admin writes to
// Proofpoint support about mail sent to their users (support case, false positive,
// update, escalation), never a message in the sender's voice.
func KindsFor(role Role) []string {
	if role != Customer {
		return MessageKinds()
	}
	return slices.DeleteFunc(MessageKinds(), func(k string) bool { return kinds[k].sender })
}

// MessageKinds returns the message kinds the case's role writes (KindsFor).
func (c *Case) MessageKinds() []string { return KindsFor(c.Role) }

func init() {
	kinds = map[string]kindSpec{
		"postmaster":            {route: "proofpoint-postmaster", sender: true, body: postmasterBody},
		"support-case":          {route: "proofpoint-support", body: supportCaseBody},
		"ipcheck-request":       {route: "proofpoint-ipcheck", form: true, sender: true, body: ipcheckBody},
		"cloudmark-reset":       {route: "cloudmark-reset", form: true, sender: true, body: cloudmarkBody},
		"false-positive":        {body: falsePositiveBody},
		"update":                {body: updateBody},
		"escalation":            {body: escalationBody},
		"microsoft-delist":      {route: "microsoft-delist", form: true, sender: true, body: microsoftDelistBody},
		"microsoft-delist-mail": {route: "microsoft-delist-mail", sender: true, body: microsoftDelistMailBody},
		"outlook-support":       {route: "outlook-support", form: true, sender: true, body: outlookBody},
		"yahoo-sender-support":  {route: "yahoo-sender-support", form: true, sender: true, body: yahooBody},
		"apple-postmaster":      {route: "apple-postmaster", sender: true, body: appleBody},
		"spamhaus":              {route: "spamhaus", form: true, sender: true, body: blocklistBody("Spamhaus")},
		"barracuda-removal":     {route: "barracuda-removal", form: true, sender: true, body: blocklistBody("Barracuda Reputation")},
		"talos":                 {route: "talos", form: true, sender: true, body: reputationBody("Cisco Talos")},
		"trendmicro-ers":        {route: "trendmicro-ers", form: true, sender: true, body: reputationBody("Trend Micro Email Reputation Services")},
		"symantec-ipremoval":    {route: "symantec-ipremoval", form: true, sender: true, body: reputationBody("Symantec")},
		"recipient-admin":       {route: "recipient-admin", sender: true, body: recipientAdminBody},
		"esp-support":           {route: "esp-support", sender: true, body: espBody},
	}
}

// DefaultMessageKind is the message the case calls for now: an update once a message
// was sent, else the message of the case's route.
func (c *Case) DefaultMessageKind() (string, error) {
	if _, sent := c.LastSent(); sent && c.Status.IsOpen() {
		return "update", nil
	}
	return c.routeMessageKind()
}

// routeMessageKind is the message the case's route calls for (its first request).
func (c *Case) routeMessageKind() (string, error) {
	route := c.RouteKind()
	// A false positive: the sender asks the recipient's admin; a customer admin files the
	// Customer Success Center form, whose fields (product, component, priority) the
	// support case carries.
	if c.Mode == triage.Filtering && (route == "recipient-admin" || route == "proofpoint-support" && c.Role != Customer) {
		return "false-positive", nil
	}
	d, ok := triage.DeskFor(route)
	if !ok || d.Message == "" || d.Message == "none" {
		why := ""
		if ok {
			why = " (" + d.Basis + ")"
		}
		return "", &NoMessageError{fmt.Sprintf("the case's route is %s%s: there is no message to write", route, why)}
	}
	if !slices.Contains(c.MessageKinds(), d.Message) {
		return "", &NoMessageError{fmt.Sprintf("the case's route is %s, whose message is in the sender's voice, and the case's role is %s (it writes %s)",
			route, c.Role, strings.Join(c.MessageKinds(), ", "))}
	}
	return d.Message, nil
}

// NoMessageError says why a case's route calls for no message of its own: the command
// line adds how to ask for a kind, the interface shows it as it is.
type NoMessageError struct{ Reason string }

func (e *NoMessageError) Error() string { return e.Reason }

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
	if !slices.Contains(c.MessageKinds(), kind) {
		return Message{}, fmt.Errorf("message kind %q is written in the sender's voice, and the case's role is %s (a Proofpoint customer admin, writing about mail sent to their users): one of %s",
			kind, c.Role, strings.Join(c.MessageKinds(), ", "))
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	w := &writer{c: c, opts: opts, kind: kind, seen: c.Seen(), form: spec.form}
	w.desk = w.deskFor(spec.route)
	if (kind == "update" || kind == "escalation") && w.desk.Contact == "" {
		// A form takes no follow-up: where the provider has a desk that takes mail (Proofpoint's
		// postmaster@, Microsoft's delist@), the follow-up goes there.
		if d, ok := mailDesk(c.Provider, c.Role); ok {
			w.desk = d
		}
	}
	if kind == "update" || kind == "escalation" {
		last, sent := c.LastSent()
		if !sent {
			return Message{}, errors.New("no message has been marked sent yet: an " + kind + " follows one")
		}
		w.lastSent = last
		w.news = c.NewsSince(last.SentAt)
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
	news     News    // since lastSent, for an update or escalation
	form     bool    // a web form: it takes no attachment
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

// mailDesk is a provider's desk that takes mail and answers this role, if it has one.
func mailDesk(provider string, role Role) (triage.Desk, bool) {
	for _, d := range triage.Desks() {
		if d.Provider == provider && d.Contact != "" && (d.Audience == "any" || d.Audience == string(role)) {
			return d, true
		}
	}
	return triage.Desk{}, false
}

// to is where the message goes: the desk's address or form; for the recipient's
// administrator, postmaster@ each recipient domain (RFC 5321 §4.5.1); for an update or
// escalation whose route has no desk, where the last message went; else the desk's name.
func (w *writer) to() string {
	if w.desk.Contact != "" {
		return w.desk.Contact
	}
	if e, ok := strings.CutPrefix(w.c.Provider, "esp:"); ok && w.desk.Kind == "esp-support" {
		// The ESP the case is about: its own support, where the knowledge has it.
		if esp, ok := triage.ESPNamed(e); ok && esp.Support != "" {
			return esp.Product + " support, " + esp.Support
		}
	}
	if w.desk.Kind == "recipient-admin" {
		var to []string
		for _, d := range w.recipientDomains() {
			to = append(to, "postmaster@"+d)
		}
		if len(to) > 0 {
			return strings.Join(to, ", ")
		}
	}
	if w.desk.Kind != "" {
		if u := triage.RouteFor(w.desk.Kind, w.c.IP()).URL; u != "" {
			return u
		}
	}
	if (w.kind == "update" || w.kind == "escalation") && w.lastSent.To != "" {
		return w.lastSent.To
	}
	if w.desk.Name != "" {
		return w.desk.Name
	}
	return "the recipient domain's mail administrator"
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
	if e, ok := strings.CutPrefix(c.Provider, "esp:"); ok {
		// The ESP sent the mail; receivers refused it: "from Twilio SendGrid's pool".
		name := e
		if esp, ok := triage.ESPNamed(e); ok {
			name = esp.Product
		}
		return verb + " from " + name + "'s pool"
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
	if w.kind == "support-case" && w.c.Title != "" {
		s = w.c.Title // the case title the user typed is the support case's
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
		if esp, ok := triage.ESPNamed(e); ok {
			name = esp.Product
		}
	}
	control = strings.TrimPrefix(control, provider+"-")
	// A control with a value ("spam-rule:inbound_spam") names the value as given.
	control, value, _ := strings.Cut(control, ":")
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
	if value != "" {
		words = append(words, value)
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
		if s.Undated > 0 {
			// First and latest are of the failures with a time; the others may be older.
			add("Without a time", plural(s.Undated, "failure")+" reported without a timestamp")
		}
	}
	switch {
	case s.Failures > 0 && s.Unnamed == s.Failures && w.c.Mode != triage.Filtering:
		// Replies that name no recipient may be retries of one message: not "messages".
		add("Failures recorded", plural(s.Failures, "failure")+" (replies that name no recipient)")
	case s.Failures > 0:
		add("Failures recorded", plural(s.Failures, "message"))
	}
	if r := w.exactReply(); r != "" {
		add("Exact reply", w.redact(r))
	} else if e := s.LastEvent; e.Reply != "" && e.Reply != id.SpamDetails {
		// Mail accepted and then filtered has no reply: what triage read is the
		// filter's verdict.
		add("Filter verdict", w.redact(e.Reply))
	}
	if len(id.MessageIDs) > 0 {
		add("Message-IDs", strings.Join(first(id.MessageIDs, 3), ", "))
	}
	// What a Proofpoint engineer searches by, from the failed message's own headers.
	add("From (author)", id.From)
	add("Proofpoint GUIDs", strings.Join(first(id.GUIDs, 3), ", "))
	add("Queue IDs", strings.Join(first(id.QueueIDs, 3), ", "))
	add("Spam verdict details", id.SpamDetails)
	add("Volume affected", c.Scope.Volume)
	if w.kind != "escalation" { // an escalation leads with it
		add("Business impact", c.Scope.Impact)
	}
	if c.Role == Customer {
		add("Users affected", c.Scope.Customers) // a customer admin's own users
	} else {
		add("Customers affected", c.Scope.Customers)
	}
	add("Mail type", strings.Join(c.Scope.MailKind, ", "))
	if c.Role == Customer {
		// A customer admin's case is about someone else's mail: the sender's records.
		add("Sender's authentication", w.authSummary())
	} else {
		add("Authentication", w.authSummary())
	}
	add("Receiver's verdict", strings.Join(c.ReceiverStatements(), "\n"))
	add("Receivers' reports", w.reportEvidence())
	add("Recent changes", w.changesSummary())
	if w.form || (w.kind == "update" || w.kind == "escalation") && kinds[w.desk.Message].form {
		add("Evidence we can provide", w.evidenceSummary()) // a form takes no attachment
	} else {
		add("Evidence attached", w.evidenceSummary())
	}
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
	// Those of the failures, and those the person named as affected (step 3, --recipient-domain).
	out := slices.Clone(w.seen.RecipientDomains)
	for _, d := range w.c.Identifiers.RecipientDomains {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	slices.Sort(out)
	return out
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

var address = lazyRegexp(`[A-Za-z0-9._%+=-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,}`)

// redact hides the recipient addresses in a text when asked; the sender's own addresses
// stay, the recipient of a third party does not.
func (w *writer) redact(text string) string {
	if !w.opts.Redact {
		return text
	}
	return address().ReplaceAllStringFunc(text, w.redactAddr)
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

// authSummary is the authentication block: one statement a line (authtext.go).
func (w *writer) authSummary() string {
	var lines []string
	for _, st := range w.c.AuthStatements() {
		lines = append(lines, st.Text)
	}
	return strings.Join(lines, "\n")
}

// reportEvidence is what receivers' own reports said, one sentence a line (report.go).
func (w *writer) reportEvidence() string { return strings.Join(w.c.ReportEvidence(), "\n") }

func (w *writer) changesSummary() string {
	c := w.c
	changes := c.RecentChanges()
	if len(changes) == 0 {
		if c.NoRecentChanges() {
			return "none"
		}
		return ""
	}
	var parts []string
	for _, ch := range changes {
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

// exactReply is the latest failure's reply when the failure was a refusal or deferral
// (a server's answer), or "".
func (w *writer) exactReply() string {
	if e := w.seen.LastEvent; e.Mode != triage.Filtering {
		return e.Reply
	}
	return ""
}

// attachedSentence says what the attached evidence shows of the messages, by its kind:
// an original message is not its headers.
func (w *writer) attachedSentence() string {
	switch {
	case w.form && w.hasEvidence("sample"):
		return " We can provide the original message (evidence above)."
	case w.form && w.hasEvidence("headers"):
		return " We can provide the full headers of the message (evidence above)."
	case w.form:
		return ""
	case w.hasEvidence("sample"):
		return " The original message is attached (evidence above)."
	case w.hasEvidence("headers"):
		return " The full headers of the message are attached (evidence above)."
	}
	return ""
}

func (w *writer) hasEvidence(kinds ...string) bool {
	return slices.ContainsFunc(w.c.Evidence.Files, func(f File) bool { return slices.Contains(kinds, f.Kind) })
}

// standing says how the failures stand: counts and domains, only what the case holds.
func (w *writer) standing() string {
	s := w.seen
	var parts []string
	if s.Failures > 0 {
		noun := "failure"
		if w.c.Mode == triage.Filtering {
			noun = "filtered message"
		}
		parts = append(parts, plural(s.Failures, noun)+" recorded")
	}
	if n := len(w.recipientDomains()); n > 0 {
		parts = append(parts, "to "+plural(n, "recipient domain"))
	}
	if len(parts) == 0 {
		return ""
	}
	latest := ""
	if !s.Last.IsZero() && s.Last.After(s.First) {
		latest = "; latest " + s.Last.Format(stamp)
	}
	return " (" + strings.Join(parts, ", ") + latest + ")"
}

// authSentence names what the authentication block shows failing, and nothing else:
// what passes is in the block, what the user will do about a failure is theirs to say.
func (w *writer) authSentence() string {
	var failing []string
	listed := false
	for _, st := range w.c.AuthStatements() {
		switch {
		case !st.Failing:
		case st.Mechanism == "Blocklists":
			listed = true
		default:
			failing = append(failing, st.Mechanism)
		}
	}
	var parts []string
	if len(failing) > 0 {
		verb := "fails"
		if len(failing) > 1 {
			verb = "fail"
		}
		parts = append(parts, andList(failing)+" "+verb)
	}
	if listed {
		parts = append(parts, "a blocklist lists "+w.who())
	}
	if len(parts) == 0 {
		return ""
	}
	whose := "our"
	if w.c.Role == Customer {
		whose = "the sender's"
	}
	return " As checked (see " + whose + " authentication above), " + strings.Join(parts, " and ") + "."
}

func andList(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func (w *writer) changesSentence() string {
	switch {
	case w.c.Role == Customer:
		return "" // the changes a customer's case lists are the sender's business
	case len(w.c.RecentChanges()) > 0:
		return " Recent changes on our side are listed above."
	case w.c.NoRecentChanges():
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

func modeVerb(m triage.Mode) string {
	switch m {
	case triage.Deferral:
		return "deferred"
	case triage.Filtering:
		return "delivered to spam or quarantine"
	}
	return "rejected"
}

// modeVerb says what happened to the mail, in the past: one failure "was rejected at
// …"; several "have been rejected since …"; a change "was rejected, then deferred".
func (w *writer) modeVerb() string {
	now := w.seen.LastEvent.Mode
	if slices.Contains(Modes, now) && w.c.Mode != "" && now != w.c.Mode {
		return "was " + modeVerb(w.c.Mode) + ", then " + modeVerb(now)
	}
	if w.once() {
		return "was " + modeVerb(w.c.Mode)
	}
	return "has been " + modeVerb(w.c.Mode)
}

// once reports whether the case's failures happened at one time (a single failure, or
// several in the same second, or none with a time): past tense, no "since".
func (w *writer) once() bool {
	return w.seen.Failures <= 1 || w.seen.First.IsZero() || !w.seen.Last.After(w.seen.First)
}

// situation is the narrative's first sentence, shared by most kinds.
func (w *writer) situation() string {
	verb := w.modeVerb()
	text := w.fromText() + " to " + w.domainsText() + " " + verb
	switch {
	case w.seen.First.IsZero():
	case w.seen.Undated > 0:
		// Failures without a time may be older than the first with one: no "since"; the
		// times are said after, for those that have one.
	case w.once():
		text += " at " + w.seen.First.Format(stamp)
	default:
		text = "Since " + w.seen.First.Format(stamp) + ", " + text
	}
	if w.exactReply() != "" {
		text += " with the reply above"
	}
	text = strings.ToUpper(text[:1]) + text[1:] + w.standing() + "."
	if s := w.seen; s.Undated > 0 && !s.First.IsZero() {
		text += fmt.Sprintf(" The earliest failure with a time was at %s; %s came without one.", s.First.Format(stamp), plural(s.Undated, "failure"))
	}
	return text
}

// these is "these messages are" or "this message is", by the case's count.
func (w *writer) these() string {
	if w.seen.Failures == 1 {
		return "this message is"
	}
	return "these messages are"
}

// theseMessages is "these messages" or "this message".
func (w *writer) theseMessages() string {
	if w.seen.Failures == 1 {
		return "this message"
	}
	return "these messages"
}

func postmasterBody(w *writer) (string, string) {
	n := w.situation() + w.authSentence() + w.changesSentence()
	if w.c.Route.Reference != "" {
		n += " The reference we were given is " + w.c.Route.Reference + "."
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
	n += w.attachedSentence()
	if c.Mode == triage.Filtering {
		if strings.Contains(c.Identifiers.SpamDetails, "rule=") {
			// The rule is quoted above: ask what the verdict details do not say.
			return n, "What in " + w.theseMessages() + " led to this verdict, and can the classification be corrected so that mail from this sender is delivered?"
		}
		return n, "Which rule or classifier flagged " + w.theseMessages() + ", and can the classification be corrected so that mail from this sender is delivered?"
	}
	return n, fmt.Sprintf("Is this a dynamic reputation block, a classification issue, a policy block or another control, and can it be lifted for %s?", w.who())
}

func ipcheckBody(w *writer) (string, string) {
	n := w.situation() + w.authSentence() + w.changesSentence()
	return n, fmt.Sprintf("Could you review %s and remove it from Proofpoint Dynamic Reputation, or tell us what still keeps it listed?", w.who())
}

// confirmationHint stands where a form asks for an address its confirmation goes to.
const confirmationHint = "(an address of yours that receives mail: the confirmation link goes there)"

func cloudmarkBody(w *writer) (string, string) {
	w.extra = append(w.extra, field{"Email address for the confirmation", confirmationHint})
	n := w.situation() + w.authSentence() + w.changesSentence()
	return n, fmt.Sprintf("Could you reset Cloudmark Sender Intelligence's statistics for %s so that our mail is accepted again?", w.who())
}

func falsePositiveBody(w *writer) (string, string) {
	c := w.c
	if c.Role == Customer {
		w.desk = w.deskFor("proofpoint-support")
		n := "Messages " + strings.TrimPrefix(w.fromText(), "mail ") + " to our users were classified as spam" + w.standing() + "."
		if w.seen.Failures == 1 {
			n = "A message " + strings.TrimPrefix(w.fromText(), "mail ") + " to our users was classified as spam" + w.standing() + "."
		}
		n += w.attachedSentence()
		return n + w.authSentence(), "Could Proofpoint review the classification of " + w.theseMessages() + " and correct it so that mail from this sender is delivered?"
	}
	w.desk = w.deskFor("recipient-admin")
	n := w.situation() + w.authSentence()
	n += w.attachedSentence()
	them := "them"
	if w.seen.Failures == 1 {
		them = "it"
	}
	return n, "Could you release " + w.theseMessages() + " and allow our mail, or tell us which rule in your filtering flagged " + them + "?"
}

// modeNoun names failures of a mode with their reply code: "554 blocks", "421 deferrals";
// one is "a 554 block".
func modeNoun(e Event, n int) string {
	return kindNoun(KindCount{Mode: e.Mode, ReplyCode: e.ReplyCode}, n)
}

func kindNoun(k KindCount, n int) string {
	noun := map[triage.Mode]string{triage.HardBlock: "block", triage.Deferral: "deferral", triage.Filtering: "filtered message"}[k.Mode]
	if noun == "" {
		noun = "failure"
	}
	if n != 1 {
		noun += "s"
	}
	if k.ReplyCode != 0 {
		noun = fmt.Sprintf("%d %s", k.ReplyCode, noun)
	}
	if n == 1 {
		return "a " + noun
	}
	return noun
}

// kindsNoun names a set of failures by kind, without counts: "421 deferrals and a 550 block".
func kindsNoun(ks []KindCount) string {
	var parts []string
	for _, k := range ks {
		parts = append(parts, kindNoun(k, k.Messages))
	}
	return andList(parts)
}

// kindsSentence says what the new failures are, true of every one of them: "The new
// failures are 421 deferrals" only when all are; otherwise each kind with its count
// ("2 new failures are 421 deferrals and 1 is a 550 block").
func kindsSentence(n News) string {
	var s string
	switch {
	case len(n.Kinds) == 1 && n.Messages == 1:
		s = "The new failure is " + kindNoun(n.Kinds[0], 1)
	case len(n.Kinds) == 1:
		s = "The new failures are " + kindNoun(n.Kinds[0], 2)
	default:
		var parts []string
		for i, k := range n.Kinds {
			verb := "are"
			if k.Messages == 1 {
				verb = "is"
			}
			p := fmt.Sprintf("%d %s %s", k.Messages, verb, kindNoun(k, k.Messages))
			if i == 0 {
				p = plural(k.Messages, "new failure") + " " + verb + " " + kindNoun(k, k.Messages)
			}
			parts = append(parts, p)
		}
		s = andList(parts)
	}
	known := n.known()
	switch {
	case len(n.KnownKinds) == 1 && known == 1:
		s += ", where the earlier one was " + modeNoun(n.Before, 1)
	case len(n.KnownKinds) == 1:
		s += ", where the earlier ones were " + modeNoun(n.Before, 2)
	default:
		s += ", where the latest earlier one was " + modeNoun(n.Before, 1)
	}
	return s + "."
}

// newsText is what changed since the last message, in sentences: the new failures with
// their counts, domains newly reached, a change of kind, late finds.
func (w *writer) newsText(n News, lead string) string {
	if n.Events == 0 {
		return lead + " no new failure was recorded."
	}
	if n.Messages == 0 {
		// Attempts again at messages already counted: no new message failed.
		return lead + " " + plural(n.Attempts, "new delivery attempt") + " at messages already counted " + wasWere(n.Attempts) + " recorded."
	}
	s := lead + " " + plural(n.Messages, "new failure") + " " + wasWere(n.Messages) + " recorded"
	if n.Attempts > n.Messages {
		s += " (" + plural(n.Attempts, "delivery attempt") + ")"
	}
	if len(n.NewDomains) > 0 {
		s += ", now also to " + andList(n.NewDomains)
	}
	s += "."
	if n.Changed() {
		s += " " + kindsSentence(n)
	}
	switch {
	case n.Earlier == 0:
	case n.Earlier == n.Messages && n.Messages == 1:
		s += " It failed before then and was found later."
	case n.Earlier == n.Messages:
		s += " They failed before then and were found later."
	default:
		s += fmt.Sprintf(" %d of them failed before then and %s found later.", n.Earlier, wasWere(n.Earlier))
	}
	reply := n.Latest.Reply != "" && n.Latest.Reply == w.exactReply()
	switch {
	case !n.Last.IsZero() && reply:
		s += " The latest failure, at " + n.Last.Format(stamp) + ", and its exact reply are above."
	case !n.Last.IsZero() && n.Latest.Reply != "" && !w.hidesReply():
		s += " The latest new failure, at " + n.Last.Format(stamp) + ", and its reply are above."
	case !n.Last.IsZero():
		s += " The latest was at " + n.Last.Format(stamp) + "."
	}
	return s
}

// hidesReply reports whether the latest new failure's reply is not quoted in the block
// (a filter's verdict already given as the spam verdict details).
func (w *writer) hidesReply() bool { return w.latestNewReply() == "" }

// latestNewReply is the reply of the latest new failure when it is not the block's exact
// reply (a late find older than the latest failure), to be quoted on its own line.
func (w *writer) latestNewReply() string {
	n := w.news
	if n.Latest.Reply == "" || n.Latest.Reply == w.exactReply() || n.Latest.Mode == triage.Filtering {
		return ""
	}
	return n.Latest.Reply
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// kindTitles name the message kinds as a desk reads them: never an internal id.
var kindTitles = map[string]string{
	"postmaster": "message", "support-case": "support case", "ipcheck-request": "IP-check request",
	"cloudmark-reset": "reset request", "false-positive": "false-positive report", "update": "update",
	"escalation": "escalation", "microsoft-delist": "delisting request", "microsoft-delist-mail": "delisting request",
	"outlook-support": "support request", "yahoo-sender-support": "support request", "apple-postmaster": "message",
	"spamhaus": "removal request", "barracuda-removal": "removal request", "talos": "reputation review request",
	"trendmicro-ers": "reputation review request", "symantec-ipremoval": "IP removal request",
	"recipient-admin": "message", "esp-support": "support request",
}

// filedOnForm reports whether the message was filed on a web form rather than mailed.
func filedOnForm(m Message) bool {
	return kinds[m.Kind].form || strings.HasPrefix(m.To, "https://") || strings.HasPrefix(m.To, "http://")
}

// formHost is the host of the form a message was filed on: "ipcheck.proofpoint.com",
// from where it went, else from its desk's address.
func formHost(m Message) string {
	to := m.To
	if !strings.Contains(to, "://") {
		if d, ok := triage.DeskFor(kinds[m.Kind].route); ok {
			to = d.URL
		}
	}
	if u, err := url.Parse(to); err == nil && u.Host != "" {
		return u.Host
	}
	return "web"
}

// lastSentSentence says what the last message sent was and how it went, and whether it
// was answered: "Our IP-check request was filed on the ipcheck.proofpoint.com form on
// … and has had no answer. Its reference ID is …" or "We wrote to postmaster@… on …".
// withAnswer adds whether the desk answered (the escalation's point).
func (w *writer) lastSentSentence(withAnswer bool) string {
	m := w.lastSent
	ago := ""
	if days := int(w.opts.Now.Sub(m.SentAt).Hours() / 24); days >= 1 {
		ago = " (" + plural(days, "day") + " ago)"
	}
	var s string
	if filedOnForm(m) {
		s = "Our " + cmp.Or(kindTitles[m.Kind], "request") + " was filed on the " + formHost(m) + " form on " + m.SentAt.Format(stamp) + ago
		if withAnswer && m.AnsweredAt.IsZero() {
			s += " and has had no answer"
		} else if withAnswer {
			s += " and was answered on " + m.AnsweredAt.Format(stamp)
		}
	} else {
		s = "We wrote"
		if m.To != "" {
			s += " to " + m.To
		}
		s += " on " + m.SentAt.Format(stamp) + ago
		if withAnswer && m.AnsweredAt.IsZero() {
			s += " and have had no answer"
		} else if withAnswer {
			s += "; the answer came on " + m.AnsweredAt.Format(stamp)
		}
	}
	s += "."
	if req, ok := w.formRequest(); ok && !req.SentAt.Equal(m.SentAt) {
		// The request filed on the desk's form is what its reference names, however many
		// messages followed it by mail; it comes first, so that what follows the last
		// message ("Since then, …") reads as about the last message.
		return "Our " + cmp.Or(kindTitles[req.Kind], "request") + " was filed on the " + formHost(req) + " form on " + req.SentAt.Format(stamp) + "." + w.referenceSentence(true) + " " + s
	}
	return s + w.referenceSentence(filedOnForm(m))
}

// formRequest is the first message of the case filed on a desk's web form, if one was.
// The request of the kind the case's route calls for comes first (a support case, not a
// false-positive report sent beside it): the desk's reference names it.
func (w *writer) formRequest() (Message, bool) {
	routeKind, _ := w.c.routeMessageKind()
	var first, ofRoute Message
	for _, m := range w.c.Messages {
		if m.SentAt.IsZero() || !filedOnForm(m) {
			continue
		}
		if first.SentAt.IsZero() || m.SentAt.Before(first.SentAt) {
			first = m
		}
		if m.Kind == routeKind && (ofRoute.SentAt.IsZero() || m.SentAt.Before(ofRoute.SentAt)) {
			ofRoute = m
		}
	}
	if !ofRoute.SentAt.IsZero() {
		return ofRoute, true
	}
	return first, !first.SentAt.IsZero()
}

// referenceSentence gives the reference the desk gave, and says so when a form's request
// has none recorded (the desk asks for it). form: the sentence before is about that request.
func (w *writer) referenceSentence(form bool) string {
	what := "reference ID"
	if req, ok := w.formRequest(); ok && req.Kind == "support-case" {
		what = "case number" // what the Customer Success Center gives
	}
	switch ref := w.c.Route.Reference; {
	case ref != "" && form:
		return " Its " + what + " is " + ref + "."
	case ref != "":
		return " Reference: " + ref + "."
	case form:
		return " We have no " + what + " for it."
	}
	return ""
}

// newsFields are the update's leading lines: what is new since the last message.
func (w *writer) newsFields(n News) []field {
	v := "none"
	if n.Events > 0 && n.Messages == 0 {
		v = plural(n.Attempts, "new delivery attempt") + " at messages already counted"
	} else if n.Events > 0 {
		v = plural(n.Messages, "new failure")
		if n.Attempts > n.Messages {
			v += " (" + plural(n.Attempts, "delivery attempt") + ")"
		}
	}
	m := w.lastSent
	title := cmp.Or(kindTitles[m.Kind], "message")
	var out []field
	req, form := w.formRequest()
	if form {
		ref := "no reference ID recorded"
		if w.c.Route.Reference != "" {
			ref = "reference ID " + w.c.Route.Reference
		}
		out = append(out, field{"Our request", fmt.Sprintf("%s, filed on the %s form on %s (%s)", cmp.Or(kindTitles[req.Kind], "request"), formHost(req), req.SentAt.Format(stamp), ref)})
	}
	if !form || !m.SentAt.Equal(req.SentAt) {
		sent := title
		if filedOnForm(m) {
			sent += " on the " + formHost(m) + " form"
		} else if m.To != "" {
			sent += " to " + m.To
		}
		out = append(out, field{"Our last message", sent + ", " + m.SentAt.Format(stamp)})
	}
	out = append(out, field{"Since then", v})
	if len(n.NewDomains) > 0 {
		out = append(out, field{"Newly affected", strings.Join(n.NewDomains, ", ")})
	}
	if n.Changed() {
		out = append(out, field{"Change", modeNoun(n.Before, n.known()) + " → " + kindsNoun(n.Kinds)})
	}
	if !n.Last.IsZero() {
		v := n.Last.Format(stamp)
		if n.Latest.RecipientDomain != "" {
			v += " " + n.Latest.RecipientDomain
		}
		out = append(out, field{"Latest failure", v})
	}
	if r := w.latestNewReply(); r != "" {
		out = append(out, field{"Its reply", w.redact(r)})
	}
	return out
}

func updateBody(w *writer) (string, string) {
	n := w.news
	w.lead = append(w.lead, w.newsFields(n)...)
	text := w.lastSentSentence(false) + " " + w.newsText(n, "Since then,") + w.quietSentence()
	return text + w.probeSentence() + w.authSentence(), "Is there anything more you need from us to resolve this?"
}

// quietSentence says how long the case has recorded no failure, when that is a day or
// more: a follow-up must not read as if the block were still seen today.
func (w *writer) quietSentence() string {
	last, now := w.seen.Last, w.opts.Now
	if last.IsZero() || now.IsZero() || now.Sub(last) < 24*time.Hour {
		return ""
	}
	days := int(now.Sub(last) / (24 * time.Hour))
	return " No failure has been recorded since " + last.Format(stamp) + " (" + plural(days, "day") + " before this message)."
}

// probeSentence says how the probes from the sending IP stood since the last message,
// or nothing when none was made.
func (w *writer) probeSentence() string {
	if s := w.c.ProbeStanding(w.lastSent.SentAt); s != "" {
		return " " + s
	}
	return ""
}

func escalationBody(w *writer) (string, string) {
	c := w.c
	var lead []field
	if c.Scope.Impact != "" {
		lead = append(lead, field{"Business impact", c.Scope.Impact})
	}
	if c.Route.Reference != "" && !filedOnForm(w.lastSent) {
		lead = append(lead, field{"Case reference", c.Route.Reference})
	}
	n := w.news
	w.lead = append(append(lead, w.newsFields(n)...), w.lead...)
	text := w.lastSentSentence(true)
	text += " " + w.newsText(n, "Since then,") + w.quietSentence()
	text += w.probeSentence() + w.authSentence() + w.changesSentence()
	if c.Mode == triage.Filtering {
		return text, "Could this case be escalated to someone who can confirm why " + w.these() + " classified as spam and correct it?"
	}
	return text, "Could this case be escalated to someone who can confirm the cause and when the block will be lifted?"
}

func microsoftDelistBody(w *writer) (string, string) {
	// The envelope sender may be a bounce processor's address nobody reads: the person
	// names a mailbox that receives the confirmation link.
	w.extra = append(w.extra, field{"Email address for the confirmation", confirmationHint})
	n := w.situation()
	if len(w.c.Identifiers.IPs) > 1 {
		n += fmt.Sprintf(" The portal takes one address and one IP per request: this request is for %s; the %s each need their own.", w.who(), plural(len(w.c.Identifiers.IPs)-1, "other IP"))
	}
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
