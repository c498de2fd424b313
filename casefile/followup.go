package casefile

import (
	"slices"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// FollowUp says a sent message has waited past its desk's response time with no answer.
type FollowUp struct {
	Message Message       // the message waiting for an answer
	Wait    time.Duration // the desk's expected response time
	Due     time.Time     // when the follow-up became due
}

// ResponseTime is how long the desk a message of this kind goes to takes to answer
// (triage's desk data; for a support case, the target of the proposed priority). Zero
// means nobody is expected to answer.
func (c *Case) ResponseTime(kind string) time.Duration {
	switch kind {
	case "support-case":
		if c.Route.Kind == "" || c.Route.Kind == "proofpoint-support" || c.Route.Kind == "proofpoint-essentials" {
			return c.ProposePriority().Response
		}
	case "update", "escalation", "false-positive":
		// They go where the case goes.
		if d, ok := triage.DeskFor(c.RouteKind()); ok {
			if d.Message == "support-case" {
				return c.ProposePriority().Response
			}
			return d.ResponseTime
		}
		return 0
	}
	if spec, ok := kinds[kind]; ok && spec.route != "" {
		if d, ok := triage.DeskFor(spec.route); ok {
			return d.ResponseTime
		}
	}
	return 0
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
	f := FollowUp{Message: m, Wait: wait, Due: m.SentAt.Add(wait)}
	return f, !now.Before(f.Due)
}

// RecordMessage keeps a rendered message in the case; sent marks it sent at at. The same
// text generated twice is kept once.
func (c *Case) RecordMessage(m Message, sent bool, at time.Time) {
	at = utc(at)
	i := slices.IndexFunc(c.Messages, func(o Message) bool {
		return o.SentAt.IsZero() && o.Kind == m.Kind && o.Subject == m.Subject && o.Text == m.Text && o.To == m.To
	})
	if i < 0 {
		c.Messages = append(c.Messages, m)
		i = len(c.Messages) - 1
	}
	if sent {
		c.Messages[i].SentAt = at
		if c.Status == StatusDraft || c.Status == StatusOpen {
			c.Status = StatusWaiting // the ball is with the desk now
		}
	}
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
