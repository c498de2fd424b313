package casefile

import (
	"slices"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// Level is how ready a case is to send, in the four levels support engineers use.
type Level string

const (
	// Vague: no exact reply, or no sending IP or domain: no technical proof yet.
	Vague Level = "vague"
	// Watch: the failure is intermittent and needs more samples over time.
	Watch Level = "watch"
	// Partial: there is a reply, but headers, logs, authentication or scope are missing.
	Partial Level = "partial"
	// Ready: authentication, IP, exact reply, timestamps and samples are there.
	Ready Level = "ready"
)

// Readiness is computed from the case, never set by hand.
type Readiness struct {
	Level   Level    `json:"level"`
	Missing []string `json:"missing,omitempty"` // what the case still needs, for a person to read
	Why     string   `json:"why,omitempty"`     // for watch: what makes the failure intermittent
}

// Missing items, in the order a person would gather them.
const (
	NeedReply          = "the exact reply text"
	NeedSender         = "the sending IP or domain"
	NeedIP             = "the sending IP"
	NeedTimestamps     = "UTC timestamps of the failures"
	NeedAuthentication = "authentication status (run the checks)"
	NeedSamples        = "a sample: headers, bounce, transcript or log attached"
	NeedScope          = "scope: affected volume or business impact (or confirm it)"
	NeedChanges        = "recent changes listed (or confirm there were none)"
	NeedMoreSamples    = "more failures over time"
)

// sampleKinds are the attached files that show the failure itself.
var sampleKinds = []string{"headers", "transcript", "sample", "bounce", "log"}

// Readiness decides the level in the order the field uses: vague, watch, ready, partial.
func (c *Case) Readiness() Readiness {
	hasReply := false
	hasTime := false
	for i := range c.Timeline { // by index: an Event is large, and a timeline may hold 100,000
		if e := &c.Timeline[i]; e.IsFailure() {
			hasReply = hasReply || e.Reply != ""
			hasTime = hasTime || !e.At.IsZero()
		}
	}
	hasSample := slices.ContainsFunc(c.Evidence.Files, func(f File) bool { return slices.Contains(sampleKinds, f.Kind) })
	// Filtered mail has no reply: the headers of the filtered message are its proof.
	if c.Mode == triage.Filtering && slices.ContainsFunc(c.Evidence.Files, func(f File) bool { return f.Kind == "headers" || f.Kind == "sample" }) {
		hasReply = true
	}
	hasIP := len(c.Identifiers.IPs) > 0
	hasSender := hasIP || c.Identifiers.Domain != ""

	var missing []string
	need := func(ok bool, item string) {
		if !ok {
			missing = append(missing, item)
		}
	}
	need(hasReply, NeedReply)
	if !hasSender {
		missing = append(missing, NeedSender)
	} else {
		need(hasIP, NeedIP)
	}
	need(hasTime, NeedTimestamps)
	need(len(c.Authentication) > 0, NeedAuthentication)
	need(hasSample, NeedSamples)
	need(c.Scope.Volume != "" || c.Scope.Impact != "" || c.Confirmed("scope"), NeedScope)
	need(len(c.Changes) > 0 || c.Confirmed("changes"), NeedChanges)

	if !hasReply || !hasSender {
		return Readiness{Level: Vague, Missing: missing}
	}
	switch why := c.intermittent(); {
	case why != "":
		return Readiness{Level: Watch, Missing: append(missing, NeedMoreSamples), Why: why}
	case len(missing) == 0:
		return Readiness{Level: Ready}
	}
	return Readiness{Level: Partial, Missing: missing}
}

// intermittent says why the failures look intermittent, or "".
func (c *Case) intermittent() string {
	seen := c.Seen()
	if seen.Failures < 3 {
		return "fewer than three failures"
	}
	if !slices.ContainsFunc(c.Timeline, func(e Event) bool { return e.IsFailure() && e.Mode != triage.Deferral }) {
		return "only deferrals"
	}
	if !seen.First.IsZero() {
		for _, e := range c.Timeline {
			if e.Mode == triage.Delivered && e.At.After(seen.First) && e.At.Before(seen.Last) {
				return "failures between successful deliveries"
			}
		}
	}
	return ""
}
