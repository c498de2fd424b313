package casefile

import (
	"slices"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// eventKey is what makes two findings the same failure: the same reply at the same time
// for the same recipient (or, without a time, from the same source line).
type eventKey struct {
	at        time.Time
	reply     string
	recipient string
	source    string
}

func keyOf(e Event) eventKey {
	k := eventKey{at: e.At, reply: e.Reply, recipient: e.Recipient}
	if k.recipient == "" {
		k.recipient = e.RecipientDomain
	}
	if e.At.IsZero() {
		k.source = e.Source
	}
	return k
}

// AddFindings adds triage's findings to the timeline and returns how many were new: a
// failure already there (same reply, time and recipient) counts once however often it is
// pasted. It fills the identifiers the case lacks, and the mode, cause, control and route
// when the case has none yet.
func (c *Case) AddFindings(fs []triage.Finding) (added int) {
	seen := make(map[eventKey]bool, len(c.Timeline)+len(fs))
	for _, e := range c.Timeline {
		seen[keyOf(e)] = true
	}
	for _, f := range fs {
		if f.Mode == triage.AutoReply {
			continue // an out-of-office says nothing about delivery
		}
		e := Event{
			At:              utc(f.At),
			RecipientDomain: strings.ToLower(f.RecipientDomain),
			Recipient:       f.Recipient,
			Reply:           f.Text,
			ReplyCode:       f.ReplyCode,
			EnhancedCode:    f.EnhancedCode,
			Source:          f.Source,
			Provider:        f.Provider,
			Control:         f.Control,
			IP:              f.IP,
			Mode:            f.Mode,
		}
		if e.RecipientDomain == "" && e.Recipient != "" {
			if _, d, ok := strings.Cut(e.Recipient, "@"); ok {
				e.RecipientDomain = strings.ToLower(d)
			}
		}
		k := keyOf(e)
		if seen[k] {
			continue
		}
		seen[k] = true
		c.Timeline = append(c.Timeline, e)
		added++
		c.fillFrom(f, e)
	}
	if added > 0 {
		// Keep the timeline in time order; events without a time stay where they came.
		slices.SortStableFunc(c.Timeline, func(a, b Event) int {
			if a.At.IsZero() || b.At.IsZero() {
				return 0
			}
			return a.At.Compare(b.At)
		})
	}
	return added
}

func (c *Case) fillFrom(f triage.Finding, e Event) {
	id := &c.Identifiers
	if e.IsFailure() {
		for _, ip := range []string{f.SendingIP, f.IP} {
			if ip != "" && !slices.Contains(id.IPs, ip) {
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
		if c.Control == "" {
			c.Control = f.Control
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
	if f.MessageID != "" && !slices.Contains(id.MessageIDs, f.MessageID) {
		id.MessageIDs = append(id.MessageIDs, f.MessageID)
	}
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
