package casefile

import (
	"hash/fnv"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// Added is what adding evidence to a case did.
type Added struct {
	New      int // findings recorded (a repeated failure adds to its event's counts)
	Repeated int // findings the case already held: the same input added again
	// Left are the failures that belong to another case (another provider, control or
	// IP), by group, each with the command that starts its case.
	Left []LeftOut
}

// LeftOut is a group of failures that another case should hold.
type LeftOut struct {
	Provider string
	Control  string
	IP       string
	Count    int
	Start    string // the command that starts a case for them
}

// aggKey is what makes failures "the same": repeated identical failures on one UTC day
// are one event with counts (DESIGN.md, the timeline).
type aggKey struct {
	kind                     EventKind
	recipientDomain, reply   string
	replyCode                int
	enhanced, provider, ctrl string
	ip                       string
	mode                     triage.Mode
	day                      int64 // days since the epoch, UTC; 0 without a time
}

func (k aggKey) undated() aggKey { k.day = 0; return k }

func dayOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()/86400 + 1
}

// span is when an event already in the case was seen.
type span struct{ from, to time.Time }

// pending is one input's counted event before it is known whether the case owns it.
type pending struct {
	e       Event
	first   triage.Finding   // what decides ownership (its IPs) and fills identifiers
	samples []triage.Finding // a few more, for the identifiers they carry
}

// maxSamples is how many findings of a counted event give identifiers: enough for the
// Message-IDs and GUIDs a desk asks for, whatever the size of the input.
const maxSamples = 8

// A Recorder adds one input's findings to a case as they are read: identical failures are
// counted into one pending event per key as they stream, so memory follows the number of
// distinct failures and messages, not the size of the input. Close decides which events
// the case owns and records them.
type Recorder struct {
	c       *Case
	now     time.Time
	held    map[aggKey][]span // the case's events before this input, undated keys
	pending map[aggKey]*pending
	order   []aggKey
	seen    map[uint64]struct{} // fingerprints of this input's findings (same finding twice)
	msgs    map[uint64]struct{} // (event, message) pairs counted
	result  Added
}

// Record starts adding an input's findings to the case, at now.
func (c *Case) Record(now time.Time) *Recorder {
	r := &Recorder{c: c, now: utc(now), held: map[aggKey][]span{}, pending: map[aggKey]*pending{},
		seen: map[uint64]struct{}{}, msgs: map[uint64]struct{}{}}
	for _, e := range c.Timeline {
		k := keyOfEvent(e).undated()
		r.held[k] = append(r.held[k], span{e.At, e.LastSeen()})
	}
	return r
}

// Add records findings in the case's timeline (Record, then Close). Repeated identical
// failures (same reply, codes, provider, control, IP and recipient domain on one UTC day)
// become one event with attempts, distinct messages, first and last time; a failure the
// case already holds (the same input added again) counts once. Only the failures that
// belong to the case are kept (OwnsFailure); the rest are reported in Left. It fills the
// identifiers the case lacks, and the mode, cause, control and route when the case has
// none yet.
func (c *Case) Add(fs []triage.Finding, now time.Time) Added {
	r := c.Record(now)
	for _, f := range fs {
		r.Add(f)
	}
	return r.Close()
}

// Add counts one finding.
func (r *Recorder) Add(f triage.Finding) {
	if f.Mode == triage.AutoReply {
		return // an out-of-office says nothing about delivery
	}
	e := eventOf(f)
	k := keyOfEvent(e)
	for _, sp := range r.held[k.undated()] {
		if e.At.IsZero() && sp.from.IsZero() || !e.At.IsZero() && !e.At.Before(sp.from) && !e.At.After(sp.to) {
			r.result.Repeated++
			return
		}
	}
	fp := fingerprint(e.At.String(), e.Reply, f.Recipient, e.RecipientDomain, e.Source)
	if _, dup := r.seen[fp]; dup {
		r.result.Repeated++
		return
	}
	r.seen[fp] = struct{}{}
	fresh := r.countMessage(f)
	p, ok := r.pending[k]
	if !ok {
		e.Added = r.now
		if !fresh {
			// A message already counted under another reply or day: an attempt here, not
			// another message.
			e.Attempts, e.Messages = 1, 0
		}
		p = &pending{e: e, first: f}
		r.pending[k] = p
		r.order = append(r.order, k)
		return
	}
	ev := &p.e
	msgs := ev.MessageCount()
	ev.Attempts = ev.AttemptCount() + 1
	ev.Messages = msgs
	if !e.At.IsZero() {
		if e.At.Before(ev.At) {
			ev.Last = ev.LastSeen()
			ev.At = e.At
			ev.Source = e.Source
		} else if e.At.After(ev.LastSeen()) {
			ev.Last = e.At
		}
	}
	if f.Recipient != "" && len(ev.Recipients) < MaxRecipients && !slices.Contains(ev.Recipients, f.Recipient) {
		ev.Recipients = append(ev.Recipients, f.Recipient)
	}
	if fresh {
		ev.Messages++
	}
	if len(p.samples) < maxSamples && (f.MessageID != "" || f.Original != nil) {
		p.samples = append(p.samples, f)
	}
}

// countMessage reports whether the finding is a message this input has not counted yet:
// the same queue ID or Message-ID for the same recipient is one message tried again,
// whatever the reply, the host that gave it or the day, and counts once in the case.
func (r *Recorder) countMessage(f triage.Finding) bool {
	id := f.QueueID
	if id == "" {
		id = f.MessageID
	}
	if id == "" {
		return true
	}
	fp := fingerprint(id, f.Recipient)
	if _, dup := r.msgs[fp]; dup {
		return false
	}
	r.msgs[fp] = struct{}{}
	return true
}

// Close records the events the case owns and reports the rest.
func (r *Recorder) Close() Added {
	c := r.c
	c.adopt(r)
	left := map[[3]string]int{}
	for _, k := range r.order {
		p := r.pending[k]
		if !c.OwnsFailure(p.first) {
			provider, control := p.first.Provider, p.first.Control
			if esp, ok := triage.ESPOfRoute(p.first.Route); ok {
				// A pool's IP: its case is the ESP's, whoever refused it.
				provider, control = "esp:"+esp.Name, ""
			}
			left[[3]string{provider, control, findingIP(p.first)}] += p.e.AttemptCount()
			continue
		}
		c.Timeline = append(c.Timeline, p.e)
		r.result.New += p.e.AttemptCount()
		c.fillFrom(p.first, p.e)
		for _, f := range p.samples {
			c.fillFrom(f, p.e)
		}
	}
	for k, n := range left {
		lo := LeftOut{Provider: k[0], Control: k[1], IP: k[2], Count: n}
		lo.Start = "unblock new --provider " + shellWord(k[0])
		if k[2] != "" {
			lo.Start += " --ip " + k[2]
		}
		r.result.Left = append(r.result.Left, lo)
	}
	slices.SortFunc(r.result.Left, func(x, y LeftOut) int {
		if x.Count != y.Count {
			return y.Count - x.Count
		}
		return strings.Compare(x.Provider+x.Control+x.IP, y.Provider+y.Control+y.IP)
	})
	if r.result.New > 0 {
		// Keep the timeline in time order; events without a time stay where they came.
		slices.SortStableFunc(c.Timeline, func(a, b Event) int {
			if a.At.IsZero() || b.At.IsZero() {
				return 0
			}
			return a.At.Compare(b.At)
		})
	}
	return r.result
}

// AddFindings is Add at the current time, returning how many findings were recorded.
func (c *Case) AddFindings(fs []triage.Finding) int { return c.Add(fs, time.Now()).New }

func findingIP(f triage.Finding) string {
	if f.IP != "" {
		return f.IP
	}
	return f.SendingIP
}

func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789:-._") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// isFailure reports whether a finding is a failure of mail sent.
func isFailure(f triage.Finding) bool {
	return f.Mode != triage.Delivered && f.Mode != triage.AutoReply
}

// adopt gives a case that holds no failure yet its provider and control from the first
// input: among the failures about the case's IPs (or any, for a case without IPs), the
// case's provider when they name it, otherwise the provider and control named most.
func (c *Case) adopt(r *Recorder) {
	if c.Control != "" || slices.ContainsFunc(c.Timeline, Event.IsFailure) || strings.HasPrefix(c.Provider, "esp:") {
		// A shared pool's case stays the ESP's whatever receivers refused it (PROVIDERS.md).
		return
	}
	type pc struct{ provider, control string }
	count := map[pc]int{}
	var order []pc
	for _, k := range r.order {
		p := r.pending[k]
		f := p.first
		if !isFailure(f) || f.Provider == "" || f.Provider == "unknown" || !c.aboutIP(f) {
			continue
		}
		k := pc{f.Provider, f.Control}
		if count[k] == 0 {
			order = append(order, k)
		}
		count[k] += p.e.AttemptCount()
	}
	best, found := pc{}, false
	for _, k := range order {
		if k.provider == c.Provider && (!found || count[k] > count[best]) {
			best, found = k, true
		}
	}
	if !found {
		for _, k := range order {
			if !found || count[k] > count[best] {
				best, found = k, true
			}
		}
	}
	if found {
		c.Provider, c.Control = best.provider, best.control
	}
}

// aboutIP reports whether a finding is about one of the case's sending IPs (or names no
// IP, or the case has none yet).
func (c *Case) aboutIP(f triage.Finding) bool {
	if len(c.Identifiers.IPs) == 0 {
		return true
	}
	ip := findingIP(f)
	return ip == "" || slices.Contains(c.Identifiers.IPs, ip) ||
		f.SendingIP != "" && slices.Contains(c.Identifiers.IPs, f.SendingIP)
}

// OwnsFailure reports whether a finding belongs in this case: a failure about the case's
// IPs from the case's provider and control; a failure whose provider is unknown only when
// it came from the case's receivers (a host the provider operates, or one of the case's
// recipient domains); for a shared pool's case (esp:…), every failure about its IPs, which
// the ESP takes up whoever refused them. Deliveries about the case's IPs are kept as well.
// Mail the log's own server received and recipients' complaints are no failure of the case.
func (c *Case) OwnsFailure(f triage.Finding) bool {
	if !c.aboutIP(f) || f.Inbound || f.Mode == triage.Complaint {
		return false
	}
	if !isFailure(f) || c.Provider == "" || c.Provider == "unknown" || strings.HasPrefix(c.Provider, "esp:") {
		return true
	}
	if f.Provider == "" || f.Provider == "unknown" {
		return c.fromReceivers(f)
	}
	if f.Provider != c.Provider {
		return false
	}
	return c.Control == "" || f.Control == "" || f.Control == c.Control
}

// fromReceivers reports whether a finding no provider owns came from the case's
// receivers: a host the case's provider operates, or one of its recipient domains.
func (c *Case) fromReceivers(f triage.Finding) bool {
	if f.ReceiverProvider == c.Provider {
		return true
	}
	if flt, ok := triage.FilterForHost(f.Receiver); ok && flt.Provider == c.Provider {
		return true
	}
	d := strings.ToLower(f.RecipientDomain)
	return d != "" && slices.Contains(c.Identifiers.RecipientDomains, d)
}

func keyOfEvent(e Event) aggKey {
	return aggKey{kind: e.Kind, recipientDomain: e.RecipientDomain, reply: e.Reply, replyCode: e.ReplyCode,
		enhanced: e.EnhancedCode, provider: e.Provider, ctrl: e.Control, ip: e.IP, mode: e.Mode, day: dayOf(e.At)}
}

func eventOf(f triage.Finding) Event {
	e := Event{
		Kind:            KindFailure,
		At:              utc(f.At),
		RecipientDomain: strings.ToLower(f.RecipientDomain),
		Reply:           f.Text,
		ReplyCode:       f.ReplyCode,
		EnhancedCode:    f.EnhancedCode,
		Source:          f.Source,
		Provider:        f.Provider,
		Control:         f.Control,
		IP:              f.IP,
		Mode:            f.Mode,
	}
	if !isFailure(f) {
		e.Kind = KindDelivery
	}
	if f.Recipient != "" {
		e.Recipients = []string{f.Recipient}
		if _, d, ok := strings.Cut(f.Recipient, "@"); ok && e.RecipientDomain == "" {
			e.RecipientDomain = strings.ToLower(d)
		}
	}
	return e
}

// fingerprint is a finding's identity within one input: the same finding twice (the
// same bounce pasted twice) counts once.
func fingerprint(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func (c *Case) fillFrom(f triage.Finding, e Event) {
	id := &c.Identifiers
	if e.IsFailure() {
		for _, ip := range []string{f.SendingIP, f.IP} {
			if publicIP(ip) && !slices.Contains(id.IPs, ip) {
				id.IPs = append(id.IPs, ip)
			}
		}
		if e.RecipientDomain != "" && !slices.Contains(id.RecipientDomains, e.RecipientDomain) {
			id.RecipientDomains = append(id.RecipientDomains, e.RecipientDomain)
		}
		if c.Mode == "" && slices.Contains(Modes, f.Mode) {
			c.Mode = f.Mode
		}
		if c.Cause == "" && f.Cause != "" && f.Cause != triage.UnknownCause {
			c.Cause = string(f.Cause)
		}
		if c.Control == "" && (f.Provider == c.Provider || c.Provider == "" || c.Provider == "unknown") {
			c.Control = f.Control // another provider's control is not the case's (a pool's case)
		}
		if c.Route.Kind == "" && f.Route.Kind != "" && f.Route.Kind != "none" && c.suits(f.Route.Kind) {
			c.Route.Kind = f.Route.Kind
		}
	}
	if f.Sender != "" {
		if id.EnvelopeSender == "" {
			id.EnvelopeSender = f.Sender
		}
		if _, d, ok := strings.Cut(f.Sender, "@"); ok && id.Domain == "" {
			id.Domain = strings.ToLower(d)
		}
	}
	if f.MessageID != "" && len(id.MessageIDs) < maxIDs && !slices.Contains(id.MessageIDs, f.MessageID) {
		id.MessageIDs = append(id.MessageIDs, f.MessageID)
	}
	if o := f.Original; o != nil {
		c.fillFromOriginal(o, findingIP(f))
	}
}

// maxIDs bounds the message identifiers a case keeps: enough for a desk to search by,
// not every message of a log.
const maxIDs = 20

// fillFromOriginal takes the identifiers of the failed message's own headers.
func (c *Case) fillFromOriginal(o *triage.Original, ip string) {
	id := &c.Identifiers
	if id.From == "" {
		id.From = o.From
	}
	if id.EnvelopeSender == "" {
		id.EnvelopeSender = o.ReturnPath
	}
	if id.Domain == "" {
		for _, a := range []string{o.ReturnPath, o.From} {
			if _, d, ok := strings.Cut(a, "@"); ok && d != "" {
				id.Domain = strings.ToLower(d)
				break
			}
		}
	}
	// A selector is the case's when its signing domain is the case's domain: that is the
	// name the DKIM check looks up.
	for _, sig := range o.DKIM {
		if strings.EqualFold(sig.Domain, id.Domain) && !slices.Contains(id.Selectors, sig.Selector) {
			id.Selectors = append(id.Selectors, sig.Selector)
		}
	}
	// The HELO the receiver recorded is the case's when it came with the case's IP.
	if id.HELO == "" && o.HELO != "" && (o.HopIP == ip || slices.Contains(id.IPs, o.HopIP)) {
		id.HELO = o.HELO
	}
	if o.MessageID != "" && len(id.MessageIDs) < maxIDs && !slices.Contains(id.MessageIDs, o.MessageID) {
		id.MessageIDs = append(id.MessageIDs, o.MessageID)
	}
	if o.GUID != "" && len(id.GUIDs) < maxIDs && !slices.Contains(id.GUIDs, o.GUID) {
		id.GUIDs = append(id.GUIDs, o.GUID)
	}
	if o.Queue != "" && len(id.QueueIDs) < maxIDs && !slices.Contains(id.QueueIDs, o.Queue) {
		id.QueueIDs = append(id.QueueIDs, o.Queue)
	}
	if o.Detail != "" {
		id.SpamDetails = o.Detail
	}
	c.keepReceiverAuth(o)
}

// suits reports whether a route's desk serves the case's role: a customer admin does not
// file the external sender's delisting form, and a sender has no support portal.
func (c *Case) suits(route string) bool {
	d, ok := triage.DeskFor(route)
	if !ok || d.Audience == "" || d.Audience == "any" {
		return true
	}
	return d.Audience == string(c.Role)
}

// publicIP reports whether s is an address a sending IP can be: a private, loopback,
// link-local or unspecified address names a hop inside a network, never the case's IP.
func publicIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() && !a.IsUnspecified()
}
