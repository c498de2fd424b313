// Package casefile is the case: one YAML document per sending IP or delivery pattern, the
// store that keeps them, the readiness computed from what a case holds, and the messages
// written from it for each support desk.
//
// The command line and the TUI both work through this package; neither re-implements it.
package casefile

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// SchemaVersion is the case-file schema this program writes and the newest it reads.
// Schema 2 gave the timeline its one model (kinds, counted events); schema 1 files load and
// are written back as 2.
const SchemaVersion = 2

// Status is where a case stands.
type Status string

const (
	StatusDraft    Status = "draft"
	StatusOpen     Status = "open"
	StatusWaiting  Status = "waiting" // waiting on the provider
	StatusResolved Status = "resolved"
	StatusClosed   Status = "closed"
)

// Statuses are the valid statuses, in their natural order.
var Statuses = []Status{StatusDraft, StatusOpen, StatusWaiting, StatusResolved, StatusClosed}

// IsOpen reports whether the case still needs work: draft, open or waiting.
func (s Status) IsOpen() bool { return s == StatusDraft || s == StatusOpen || s == StatusWaiting }

// Role is who the user is.
type Role string

const (
	Customer Role = "customer" // a Proofpoint customer admin, with Customer Success Center access
	Sender   Role = "sender"   // an external sender, with no portal
)

// Roles are the valid roles.
var Roles = []Role{Customer, Sender}

// Modes are the failure modes a case can be about (a subset of triage.Mode).
var Modes = []triage.Mode{triage.HardBlock, triage.Deferral, triage.Filtering}

// EvidenceKinds are the kinds of attached file.
var EvidenceKinds = []string{"headers", "transcript", "sample", "bounce", "log", "screenshot", "other"}

// MailKinds are the kinds of mail a case can be about.
var MailKinds = []string{"transactional", "security", "billing", "marketing", "newsletter", "personal", "company"}

// ChangeKinds are the kinds of recent change a person lists.
var ChangeKinds = []string{"new-ip", "dns", "volume", "template", "routing", "other"}

// Confirmable are the items only a person can know; each counts for readiness once the
// person confirms it, even when there is nothing to list (no recent changes).
var Confirmable = []string{"scope", "changes"}

// Case is one case file. The field order is the order a person reads it in.
type Case struct {
	Schema   int         `yaml:"schema"`
	ID       string      `yaml:"id"`
	Title    string      `yaml:"title,omitempty"`
	Status   Status      `yaml:"status"`
	Created  time.Time   `yaml:"created"`
	Updated  time.Time   `yaml:"updated"`
	Role     Role        `yaml:"role"`
	Provider string      `yaml:"provider"`
	Route    Route       `yaml:"route,omitempty"`
	Mode     triage.Mode `yaml:"mode,omitempty"`
	Cause    string      `yaml:"cause,omitempty"`
	Control  string      `yaml:"control,omitempty"`

	Identifiers    Identifiers `yaml:"identifiers,omitempty"`
	Scope          Scope       `yaml:"scope,omitempty"`
	Changes        []Change    `yaml:"changes,omitempty"`
	Authentication []AuthCheck `yaml:"authentication,omitempty"`
	Evidence       Evidence    `yaml:"evidence,omitempty"`
	Messages       []Message   `yaml:"messages,omitempty"`
	// Timeline is last: it is the longest part and grows with every failure added.
	Timeline []Event `yaml:"timeline,omitempty"`

	// saved is what the case was loaded from or last saved as, to tell whether
	// anything changed (store.go).
	saved savedBytes
	// file is what the store saw on disk at load or save, to refuse clobbering a file
	// that changed (or broke) since.
	file fileStamp
	path string
}

// Route is where the case goes and the reference the provider gave.
type Route struct {
	Kind      string `yaml:"kind,omitempty"`      // DESIGN.md route.kind
	Reference string `yaml:"reference,omitempty"` // CSC case number, PDR reference ID, thread subject
	Product   string `yaml:"product,omitempty"`   // for a support case: Protection Server, Essentials, TAP …
	Component string `yaml:"component,omitempty"` // for a support case: as the user enters it
}

// Identifiers are what the provider needs to find the mail.
type Identifiers struct {
	IPs              IPList   `yaml:"ips,omitempty,flow"`
	Domain           string   `yaml:"domain,omitempty"`
	EnvelopeSender   string   `yaml:"envelope_sender,omitempty"`
	HELO             string   `yaml:"helo,omitempty"`
	Selectors        []string `yaml:"selectors,omitempty,flow"`
	RecipientDomains []string `yaml:"recipient_domains,omitempty,flow"`
	MessageIDs       []string `yaml:"message_ids,omitempty"`
	// From the failed message's own headers (a bounce's returned copy, a filtered
	// message): the author address, and Proofpoint's message GUIDs, queue IDs and the
	// latest spam verdict details, which a support engineer searches by.
	From        string   `yaml:"from,omitempty"`
	GUIDs       []string `yaml:"proofpoint_guids,omitempty,flow"`
	QueueIDs    []string `yaml:"queue_ids,omitempty,flow"`
	SpamDetails string   `yaml:"spam_details,omitempty"`
	// ReceiverAuth is what the receiving filter itself verified of the message, from its
	// own Authentication-Results header (receiver.go): not our DNS checks.
	ReceiverAuth []ReceiverAuth `yaml:"receiver_auth,omitempty"`
}

// EventKind is what a timeline event records.
type EventKind string

const (
	KindFailure  EventKind = "failure"  // a reply, bounce or log line refusing or deferring mail
	KindDelivery EventKind = "delivery" // mail that was delivered (possibly filtered)
	KindProbe    EventKind = "probe"    // a probe's reply (EHLO/MAIL/RCPT from the sending IP)
	KindState    EventKind = "state"    // a change: listed → not listed, refused → accepted, lifted
	KindReport   EventKind = "report"   // a summary of receivers' reports
)

// EventKinds are the valid kinds.
var EventKinds = []EventKind{KindFailure, KindDelivery, KindProbe, KindState, KindReport}

// MaxRecipients is how many recipient addresses an event keeps: a few to quote, not all.
const MaxRecipients = 5

// Event is one entry of the timeline (DESIGN.md, "The timeline"). Repeated identical
// failures are one event with counts. First and last seen and every count of a case are
// derived from these, never typed.
type Event struct {
	Kind            EventKind   `yaml:"kind,omitempty"`
	At              time.Time   `yaml:"at,omitempty"`       // first seen
	Last            time.Time   `yaml:"last,omitempty"`     // last seen, when later than at
	Added           time.Time   `yaml:"added,omitempty"`    // when it entered the case
	Attempts        int         `yaml:"attempts,omitempty"` // delivery attempts; 0 means 1
	Messages        int         `yaml:"messages,omitempty"` // distinct messages first counted here (MessageCount)
	RecipientDomain string      `yaml:"recipient_domain,omitempty"`
	Recipients      []string    `yaml:"recipients,omitempty,flow"` // a few (MaxRecipients), not all
	Reply           string      `yaml:"reply,omitempty"`           // the exact reply text, sanitized
	ReplyCode       int         `yaml:"reply_code,omitempty"`
	EnhancedCode    string      `yaml:"enhanced_code,omitempty"`
	Source          string      `yaml:"source,omitempty"` // file:line, stdin:3 … (the first)
	Provider        string      `yaml:"provider,omitempty"`
	Control         string      `yaml:"control,omitempty"`
	IP              string      `yaml:"ip,omitempty"` // the sending IP the event is about
	Mode            triage.Mode `yaml:"mode,omitempty"`
	// Probe events.
	FromIP string `yaml:"from_ip,omitempty"`
	MX     string `yaml:"mx,omitempty"`
	Stage  string `yaml:"stage,omitempty"` // connect, ehlo, starttls, mail, rcpt
	// State events.
	What string `yaml:"what,omitempty"` // what changed: "dnsbl zen.spamhaus.org", "probe mx1.example", "block"
	From string `yaml:"from,omitempty"`
	To   string `yaml:"to,omitempty"`
	// Report events: what receivers' reports said (report.go).
	Report *ReportSummary `yaml:"report,omitempty"`

	// Schema 1 only: moved into Attempts/Messages and Recipients when the file loads.
	Count     int    `yaml:"count,omitempty"`
	Recipient string `yaml:"recipient,omitempty"`
}

// AttemptCount is how many delivery attempts the event stands for.
func (e Event) AttemptCount() int { return max(e.Attempts, 1) }

// MessageCount is how many distinct messages the event stands for. A counted event
// (attempts written) says exactly how many, none when its attempts were of messages
// another event already counts; a single failure is one message.
func (e Event) MessageCount() int {
	if e.Attempts > 0 {
		return e.Messages
	}
	return max(e.Messages, 1)
}

// LastSeen is when the event was last seen: Last, or At for a single one.
func (e Event) LastSeen() time.Time {
	if e.Last.After(e.At) {
		return e.Last
	}
	return e.At
}

// IsFailure reports whether the event is a failure of mail sent (not a delivery, a probe,
// a change of state or a report).
// An event without a kind (built in code, not read from a file) is a failure unless its
// mode says delivered.
func (e Event) IsFailure() bool {
	return e.Kind == KindFailure || e.Kind == "" && e.Mode != triage.Delivered && e.Mode != triage.AutoReply
}

// upgrade moves a schema 1 event into the schema 2 model.
func (e *Event) upgrade() {
	if e.Kind == "" {
		switch e.Mode {
		case triage.Delivered, triage.AutoReply:
			e.Kind = KindDelivery
		default:
			e.Kind = KindFailure
		}
	}
	if e.Count > 1 {
		e.Attempts, e.Messages = max(e.Attempts, e.Count), max(e.Messages, e.Count)
	}
	if e.Recipient != "" {
		if !slices.Contains(e.Recipients, e.Recipient) {
			e.Recipients = append([]string{e.Recipient}, e.Recipients...)
		}
	}
	e.Count, e.Recipient = 0, ""
}

// Scope is how far the failure reaches, as the person states it.
type Scope struct {
	Volume    string   `yaml:"volume,omitempty"`    // "about 2,000 messages a day", as typed
	Customers string   `yaml:"customers,omitempty"` // who is affected, as typed
	MailKind  []string `yaml:"mail_kind,omitempty,flow"`
	Impact    string   `yaml:"impact,omitempty"` // business impact in one sentence
	// Confirmed lists the person-only items (Confirmable) the person has confirmed.
	Confirmed []string `yaml:"confirmed,omitempty,flow"`
}

// Change is a recent change on the sender's side.
type Change struct {
	Kind       string    `yaml:"kind"` // ChangeKinds
	Summary    string    `yaml:"summary,omitempty"`
	At         time.Time `yaml:"at,omitempty"`
	WarmupDays int       `yaml:"warmup_days,omitempty"` // for a new IP: days it has been warmed up
}

// AuthCheck is one live check's result, as last checked.
type AuthCheck struct {
	ID        string    `yaml:"id" json:"id"`
	Status    string    `yaml:"status" json:"status"`
	Summary   string    `yaml:"summary,omitempty" json:"summary,omitempty"`
	Fix       string    `yaml:"fix,omitempty" json:"fix,omitempty"`
	CheckedAt time.Time `yaml:"checked_at" json:"checked_at"`

	// What the check found, kept from its details so that a message can state it
	// (authcheck.go); each is empty when the check did not say.
	IP               string          `yaml:"ip,omitempty" json:"ip,omitempty"`         // the sending IP checked
	Domain           string          `yaml:"domain,omitempty" json:"domain,omitempty"` // the domain checked (SPF: the MAIL FROM domain)
	Result           string          `yaml:"result,omitempty" json:"result,omitempty"` // SPF's result for IP and domain; a tested message's DMARC verdict
	HELO             string          `yaml:"helo,omitempty" json:"helo,omitempty"`
	HELOResult       string          `yaml:"helo_result,omitempty" json:"helo_result,omitempty"` // SPF's result for the HELO identity
	HELOMatchesPTR   bool            `yaml:"helo_matches_ptr,omitempty" json:"helo_matches_ptr,omitempty"`
	HELOResolvesToIP bool            `yaml:"helo_resolves_to_ip,omitempty" json:"helo_resolves_to_ip,omitempty"`
	Probed           bool            `yaml:"probed,omitempty" json:"probed,omitempty"` // DKIM: common selectors probed, none given
	Keys             []DKIMKey       `yaml:"keys,omitempty" json:"keys,omitempty"`
	Signatures       []DKIMSignature `yaml:"signatures,omitempty" json:"signatures,omitempty"`
	Policy           string          `yaml:"policy,omitempty" json:"policy,omitempty"` // DMARC: the policy that applies
	PolicyDomain     string          `yaml:"policy_domain,omitempty" json:"policy_domain,omitempty"`
	Aligned          []string        `yaml:"aligned,omitempty,flow" json:"aligned,omitempty"` // a tested message's aligned passing identities
	Names            []string        `yaml:"names,omitempty,flow" json:"names,omitempty"`     // PTR names (fcrdns: the confirmed ones)
	Listed           []Listing       `yaml:"listed,omitempty" json:"listed,omitempty"`
	NotListed        []string        `yaml:"not_listed,omitempty,flow" json:"not_listed,omitempty"` // zones that answered "not listed"
	Unread           []Unread        `yaml:"unread,omitempty" json:"unread,omitempty"`
	// DomainLists are the zones of NotListed asked about the domain rather than the IP
	// (Spamhaus DBL, SURBL …), so that a message counts IP and domain lists apart.
	DomainLists []string `yaml:"domain_lists,omitempty,flow" json:"domain_lists,omitempty"`
}

// Evidence is what the case holds as proof.
type Evidence struct {
	Files []File `yaml:"files,omitempty"`
	Notes []Note `yaml:"notes,omitempty"`
}

// File is an attached file; the file stays where it is, the case records its hash.
type File struct {
	Path   string    `yaml:"path"`
	Kind   string    `yaml:"kind"` // EvidenceKinds
	Size   int64     `yaml:"size"`
	SHA256 string    `yaml:"sha256"`
	Added  time.Time `yaml:"added"`
}

// Note is free text a person adds.
type Note struct {
	At   time.Time `yaml:"at"`
	Text string    `yaml:"text"`
}

// Message is a message generated from the case.
type Message struct {
	Kind       string    `yaml:"kind"`
	At         time.Time `yaml:"at"`           // when it was generated
	To         string    `yaml:"to,omitempty"` // the desk's address or form
	Subject    string    `yaml:"subject"`
	Text       string    `yaml:"text"`
	SentAt     time.Time `yaml:"sent_at,omitempty"`     // when the person marked it sent
	AnsweredAt time.Time `yaml:"answered_at,omitempty"` // when the person recorded an answer
}

// Path is the file the case was loaded from or saved to; empty for a new case.
func (c *Case) Path() string { return c.path }

// IP is the case's first sending IP, or "".
func (c *Case) IP() string {
	if len(c.Identifiers.IPs) > 0 {
		return c.Identifiers.IPs[0]
	}
	return ""
}

// Confirmed reports whether the person confirmed a person-only item.
func (c *Case) Confirmed(item string) bool { return slices.Contains(c.Scope.Confirmed, item) }

// Confirm records that the person confirmed a person-only item (Confirmable).
func (c *Case) Confirm(item string) error {
	if !slices.Contains(Confirmable, item) {
		return fmt.Errorf("cannot confirm %q: one of %v", item, Confirmable)
	}
	if !c.Confirmed(item) {
		c.Scope.Confirmed = append(c.Scope.Confirmed, item)
	}
	return nil
}

// Failures returns the timeline's failures (not deliveries), in timeline order.
func (c *Case) Failures() []Event {
	var out []Event
	for _, e := range c.Timeline {
		if e.IsFailure() {
			out = append(out, e)
		}
	}
	return out
}

// Seen is what the timeline says about the failures: derived, never stored.
type Seen struct {
	Failures         int // messages that failed (sums counts)
	Undated          int // of them, those whose input gave no time (First and Last leave them out)
	Unnamed          int // of them, those whose input named no recipient: replies, not known messages
	Events           int // timeline entries that are failures
	First, Last      time.Time
	LastEvent        Event // the latest failure (by time; the last added when none has a time)
	RecipientDomains []string
}

// SeenSince summarises the failures at or after since (all of them when since is zero).
func (c *Case) SeenSince(since time.Time) Seen {
	var s Seen
	domains := map[string]bool{}
	for _, e := range c.Timeline {
		if !e.IsFailure() {
			continue
		}
		if !since.IsZero() && (e.At.IsZero() || e.LastSeen().Before(since)) {
			continue
		}
		s.Events++
		s.Failures += e.MessageCount()
		if len(e.Recipients) == 0 {
			s.Unnamed += e.MessageCount()
		}
		if !e.At.IsZero() {
			if s.First.IsZero() || e.At.Before(s.First) {
				s.First = e.At
			}
			if last := e.LastSeen(); s.Last.IsZero() || !last.Before(s.Last) {
				s.Last = last
				s.LastEvent = e
			}
		} else {
			s.Undated += e.MessageCount()
			if s.Last.IsZero() {
				s.LastEvent = e
			}
		}
		if e.RecipientDomain != "" && !domains[e.RecipientDomain] {
			domains[e.RecipientDomain] = true
			s.RecipientDomains = append(s.RecipientDomains, e.RecipientDomain)
		}
	}
	slices.Sort(s.RecipientDomains)
	return s
}

// Seen summarises all the failures.
func (c *Case) Seen() Seen { return c.SeenSince(time.Time{}) }

// LastSent returns the last message marked sent.
func (c *Case) LastSent() (Message, bool) {
	var last Message
	found := false
	for _, m := range c.Messages {
		if !m.SentAt.IsZero() && (!found || !m.SentAt.Before(last.SentAt)) {
			last, found = m, true
		}
	}
	return last, found
}

// Validate checks the values a person may have typed into the file.
func (c *Case) Validate() error {
	if c.ID == "" {
		return fmt.Errorf("id is missing")
	}
	if !slices.Contains(Statuses, c.Status) {
		return fmt.Errorf("status %q is not one of %v", c.Status, Statuses)
	}
	if !slices.Contains(Roles, c.Role) {
		return fmt.Errorf("role %q is not one of %v", c.Role, Roles)
	}
	if c.Mode != "" && !slices.Contains(Modes, c.Mode) {
		return fmt.Errorf("mode %q is not one of %v", c.Mode, Modes)
	}
	for i, e := range c.Timeline {
		if e.Kind != "" && !slices.Contains(EventKinds, e.Kind) {
			return fmt.Errorf("timeline entry %d: kind %q is not one of %v", i+1, e.Kind, EventKinds)
		}
	}
	for _, f := range c.Evidence.Files {
		if !slices.Contains(EvidenceKinds, f.Kind) {
			return fmt.Errorf("evidence %s: kind %q is not one of %v", f.Path, f.Kind, EvidenceKinds)
		}
	}
	return nil
}

// IPList is a case's sending IPs: each is checked where the file is read, so a file
// edited by hand names the line of a value that is no IP address.
type IPList []string

// UnmarshalYAML checks each address where it is read.
func (l *IPList) UnmarshalYAML(n *yaml.Node) error {
	var v []string
	if err := n.Decode(&v); err != nil {
		return err
	}
	for i, s := range v {
		if _, err := netip.ParseAddr(s); err != nil {
			line := n.Line
			if i < len(n.Content) {
				line = n.Content[i].Line
			}
			return fmt.Errorf("line %d: field ips: %q is not an IP address", line, s)
		}
	}
	*l = v
	return nil
}

// UnmarshalYAML checks the value where it is read, so the error names its line.
func (s *Status) UnmarshalYAML(n *yaml.Node) error {
	return oneOf(n, (*string)(s), "status", Statuses)
}

// UnmarshalYAML checks the value where it is read, so the error names its line.
func (r *Role) UnmarshalYAML(n *yaml.Node) error {
	return oneOf(n, (*string)(r), "role", Roles)
}

func oneOf[T ~string](n *yaml.Node, dst *string, field string, valid []T) error {
	var v string
	if err := n.Decode(&v); err != nil {
		return err
	}
	for _, x := range valid {
		if string(x) == v {
			*dst = v
			return nil
		}
	}
	return fmt.Errorf("line %d: field %s: %q is not one of %v", n.Line, field, v, valid)
}

// clone returns a deep copy of the case's content.
func (c *Case) clone() *Case {
	d := *c
	d.saved, d.path, d.file = savedBytes{}, "", fileStamp{}
	d.Identifiers.IPs = slices.Clone(c.Identifiers.IPs)
	d.Identifiers.Selectors = slices.Clone(c.Identifiers.Selectors)
	d.Identifiers.RecipientDomains = slices.Clone(c.Identifiers.RecipientDomains)
	d.Identifiers.MessageIDs = slices.Clone(c.Identifiers.MessageIDs)
	d.Identifiers.GUIDs = slices.Clone(c.Identifiers.GUIDs)
	d.Identifiers.QueueIDs = slices.Clone(c.Identifiers.QueueIDs)
	d.Scope.MailKind = slices.Clone(c.Scope.MailKind)
	d.Scope.Confirmed = slices.Clone(c.Scope.Confirmed)
	d.Changes = slices.Clone(c.Changes)
	d.Authentication = slices.Clone(c.Authentication)
	d.Evidence.Files = slices.Clone(c.Evidence.Files)
	d.Evidence.Notes = slices.Clone(c.Evidence.Notes)
	d.Messages = slices.Clone(c.Messages)
	d.Timeline = slices.Clone(c.Timeline)
	return &d
}

// sameContent reports whether two cases hold the same content, ignoring updated.
func sameContent(a, b *Case) bool {
	if a == nil || b == nil {
		return false
	}
	if len(a.Timeline) != len(b.Timeline) {
		return false
	}
	for i := range a.Timeline {
		if !sameEvent(&a.Timeline[i], &b.Timeline[i]) {
			return false
		}
	}
	// The rest is small: compared whole, the timeline left out.
	x, y := *a, *b
	x.Updated, y.Updated = time.Time{}, time.Time{}
	x.saved, y.saved, x.file, y.file, x.path, y.path = savedBytes{}, savedBytes{}, fileStamp{}, fileStamp{}, "", ""
	x.Timeline, y.Timeline = nil, nil
	return equalCase(&x, &y)
}

// sameEvent is reflect.DeepEqual for events without reflection: a timeline may hold
// 100,000 of them. TestSameEventSeesEveryField holds it to every field.
func sameEvent(a, b *Event) bool {
	return a.Kind == b.Kind && a.At == b.At && a.Last == b.Last && a.Added == b.Added &&
		a.Attempts == b.Attempts && a.Messages == b.Messages && a.RecipientDomain == b.RecipientDomain &&
		slices.Equal(a.Recipients, b.Recipients) && (a.Recipients == nil) == (b.Recipients == nil) &&
		a.Reply == b.Reply && a.ReplyCode == b.ReplyCode && a.EnhancedCode == b.EnhancedCode &&
		a.Source == b.Source && a.Provider == b.Provider && a.Control == b.Control && a.IP == b.IP &&
		a.Mode == b.Mode && a.FromIP == b.FromIP && a.MX == b.MX && a.Stage == b.Stage &&
		a.What == b.What && a.From == b.From && a.To == b.To &&
		a.Count == b.Count && a.Recipient == b.Recipient &&
		(a.Report == b.Report || a.Report != nil && b.Report != nil && reflect.DeepEqual(a.Report, b.Report))
}

// utc normalises a time the way the file stores it: UTC, whole seconds.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}

func equalCase(a, b *Case) bool { return reflect.DeepEqual(a, b) }
