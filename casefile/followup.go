package casefile

import (
	"fmt"
	"slices"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// FollowUp says a sent message has waited past its desk's response time with no answer.
type FollowUp struct {
	Message Message       // the message waiting for an answer
	Wait    time.Duration // the desk's expected response time
	Due     time.Time     // when the follow-up became due
	elapsed time.Duration // since the message was sent, at the time asked
}

// ResponseTime is how long the desk a message of this kind goes to takes to answer
// (triage's desk data; for a support case, the target of the proposed priority). Zero
// means nobody is expected to answer.
func (c *Case) ResponseTime(kind string) time.Duration {
	if kind == "support-case" && (c.Route.Kind == "" || c.Route.Kind == "proofpoint-support" || c.Route.Kind == "proofpoint-essentials") {
		return c.ProposePriority().Response
	}
	d, ok := c.responseDesk(kind)
	if !ok {
		return 0
	}
	if d.Message == "support-case" && kind != "support-case" {
		return c.ProposePriority().Response
	}
	return d.ResponseTime
}

// responseDesk is the desk a message of this kind goes to, whose response time it waits.
func (c *Case) responseDesk(kind string) (triage.Desk, bool) {
	switch kind {
	case "update", "escalation", "false-positive":
		return triage.DeskFor(c.RouteKind()) // they go where the case goes
	}
	if spec, ok := kinds[kind]; ok && spec.route != "" {
		return triage.DeskFor(spec.route)
	}
	return triage.Desk{}, false
}

// dueAfter is when a message's follow-up is due: wait after it was sent, counted in
// business days (Monday to Friday, UTC) for a desk that answers on business days.
func (c *Case) dueAfter(m Message, wait time.Duration) time.Time {
	d, ok := c.responseDesk(m.Kind)
	if !ok || !d.BusinessDays || wait < 24*time.Hour {
		return m.SentAt.Add(wait)
	}
	t := m.SentAt
	for days := int(wait / (24 * time.Hour)); days > 0; {
		t = t.Add(24 * time.Hour)
		if wd := t.UTC().Weekday(); wd != time.Saturday && wd != time.Sunday {
			days--
		}
	}
	return t.Add(wait % (24 * time.Hour))
}

// FollowUpDue reports whether the last message sent has passed its desk's response time
// with no answer recorded, while the case is still open.
func (c *Case) FollowUpDue(now time.Time) (FollowUp, bool) {
	if !c.Status.IsOpen() {
		return FollowUp{}, false
	}
	m, ok := c.LastSent()
	if !ok || !m.AnsweredAt.IsZero() {
		return FollowUp{}, false
	}
	wait := c.ResponseTime(m.Kind)
	if wait <= 0 {
		return FollowUp{}, false
	}
	f := FollowUp{Message: m, Wait: wait, Due: c.dueAfter(m, wait)}
	return f, !now.Before(f.Due)
}

// MarkSent records that the person sent the message at at: it joins the case's record
// of messages, and the wait for the desk's answer starts. Writing, printing, copying or
// saving a message is a preview and records nothing: only sending does.
func (c *Case) MarkSent(m Message, at time.Time) {
	at = utc(at)
	m.SentAt = at
	c.Messages = append(c.Messages, m)
	if c.Status == StatusDraft || c.Status == StatusOpen {
		c.Status = StatusWaiting // the ball is with the desk now
	}
}

// TooEarly is an escalation refused because the desk's response time has not passed.
type TooEarly struct{ FollowUp }

func (e *TooEarly) Error() string {
	return fmt.Sprintf("the %s sent %s has had %s of the desk's %s to answer: the follow-up is due %s",
		e.Message.Kind, e.Message.SentAt.Format(stamp), hoursText(e.elapsed), hoursText(e.Wait), e.Due.Format(stamp))
}

// CanEscalate reports whether an escalation may be written now: not before the desk's
// response time has passed since the last message sent, unless the desk answered. The
// error is a *TooEarly saying when the follow-up is due; the command line refuses it
// (overridden by --force), the TUI warns with it.
func (c *Case) CanEscalate(now time.Time) error {
	m, ok := c.LastSent()
	if !ok || !m.AnsweredAt.IsZero() {
		return nil
	}
	wait := c.ResponseTime(m.Kind)
	if wait <= 0 {
		return nil
	}
	f := FollowUp{Message: m, Wait: wait, Due: c.dueAfter(m, wait)}
	if now.Before(f.Due) {
		e := &TooEarly{f}
		e.elapsed = now.Sub(m.SentAt)
		return e
	}
	return nil
}

// hoursText writes a duration in whole hours or minutes, as a person says it.
func hoursText(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
	case d >= time.Hour:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/time.Minute), "minute")
}

// RecordAnswer records that the desk answered the last message sent.
func (c *Case) RecordAnswer(at time.Time) bool {
	last := -1
	for i, m := range c.Messages {
		if !m.SentAt.IsZero() && (last < 0 || !m.SentAt.Before(c.Messages[last].SentAt)) {
			last = i
		}
	}
	if last < 0 {
		return false
	}
	c.Messages[last].AnsweredAt = utc(at)
	if c.Status == StatusWaiting {
		c.Status = StatusOpen // the desk answered: the next move is ours
	}
	return true
}

// News is what the timeline holds that the last message sent did not: the failures that
// entered the case after it was sent (by when they were added) or happened after it (by
// when they were seen), and how they differ from what the message knew.
type News struct {
	Since    time.Time // when the message was sent
	Events   int       // timeline entries
	Messages int       // distinct messages that failed
	Attempts int       // delivery attempts (a message tried again counts each time)
	// Earlier are the new messages that failed before Since but entered the case after
	// it (found later, in a log or a bounce that came late).
	Earlier int
	First   time.Time // when the earliest new failure was seen
	Latest  Event     // the latest new failure
	Last    time.Time // when it was last seen
	// Domains are the recipient domains of the new failures; NewDomains those no earlier
	// failure reached.
	Domains, NewDomains []string
	// Before is the latest failure the message knew; a different mode or reply code in
	// Latest is a change of kind (a 554 block turned into 421 deferrals).
	Before Event
	// Kinds are the new failures by mode and reply code, the most messages first;
	// KnownKinds the same of the failures the message knew.
	Kinds, KnownKinds []KindCount
}

// known is how many messages the last message sent knew had failed.
func (n News) known() int {
	k := 0
	for _, c := range n.KnownKinds {
		k += c.Messages
	}
	return k
}

// KindCount is how many messages failed with one mode and reply code.
type KindCount struct {
	Mode      triage.Mode
	ReplyCode int
	Messages  int
}

// countKind adds an event's messages to the count of its kind.
func countKind(ks []KindCount, e Event) []KindCount {
	for i, k := range ks {
		if k.Mode == e.Mode && k.ReplyCode == e.ReplyCode {
			ks[i].Messages += e.MessageCount()
			return ks
		}
	}
	return append(ks, KindCount{Mode: e.Mode, ReplyCode: e.ReplyCode, Messages: e.MessageCount()})
}

func sortKinds(ks []KindCount) []KindCount {
	ks = slices.DeleteFunc(ks, func(k KindCount) bool { return k.Messages == 0 })
	slices.SortStableFunc(ks, func(a, b KindCount) int { return b.Messages - a.Messages })
	return ks
}

// isNew reports whether an event is news since a message sent at since: added after it,
// or, for an event without its time of entry (schema 1, or made in code), seen after it.
// A failure added in the second the message was sent was known to it (a message is
// written from what the case holds); one only seen in that second counts as new, as
// SeenSince counts it.
func isNew(e Event, since time.Time) bool {
	if !e.Added.IsZero() {
		return e.Added.After(since) || e.At.After(since)
	}
	return !e.At.IsZero() && !e.LastSeen().Before(since)
}

// NewsSince summarises the failures the case holds that a message sent at since did not.
func (c *Case) NewsSince(since time.Time) News {
	n := News{Since: since}
	old := map[string]bool{}
	var beforeAt time.Time
	for _, e := range c.Timeline {
		if !e.IsFailure() {
			continue
		}
		if !isNew(e, since) {
			old[e.RecipientDomain] = true
			n.KnownKinds = countKind(n.KnownKinds, e)
			if last := e.LastSeen(); n.Before.Reply == "" && n.Before.Mode == "" || !last.Before(beforeAt) {
				n.Before, beforeAt = e, last
			}
			continue
		}
		n.Events++
		n.Kinds = countKind(n.Kinds, e)
		n.Messages += e.MessageCount()
		n.Attempts += max(e.AttemptCount(), e.MessageCount())
		if !e.At.IsZero() && e.At.Before(since) {
			n.Earlier += e.MessageCount()
		}
		if !e.At.IsZero() && (n.First.IsZero() || e.At.Before(n.First)) {
			n.First = e.At
		}
		if last := e.LastSeen(); n.Latest.Kind == "" && n.Latest.Mode == "" && n.Latest.Reply == "" || !last.IsZero() && !last.Before(n.Last) {
			n.Latest, n.Last = e, last
		}
		if d := e.RecipientDomain; d != "" && !slices.Contains(n.Domains, d) {
			n.Domains = append(n.Domains, d)
		}
	}
	slices.Sort(n.Domains)
	// Attempts at messages another event counts add no message of their kind.
	n.Kinds = sortKinds(n.Kinds)
	n.KnownKinds = sortKinds(n.KnownKinds)
	for _, d := range n.Domains {
		if !old[d] {
			n.NewDomains = append(n.NewDomains, d)
		}
	}
	return n
}

// Changed reports whether any of the new failures is of another kind than the latest
// one the message knew: another mode (a block turned into deferrals) or another reply
// class (5xx into 4xx). A 554 that became a 550 is the same block.
func (n News) Changed() bool {
	if n.Events == 0 || n.Before.Reply == "" && n.Before.Mode == "" {
		return false
	}
	return slices.ContainsFunc(n.Kinds, func(k KindCount) bool {
		return n.Before.Mode != "" && k.Mode != "" && n.Before.Mode != k.Mode ||
			n.Before.ReplyCode != 0 && k.ReplyCode != 0 && n.Before.ReplyCode/100 != k.ReplyCode/100
	})
}
