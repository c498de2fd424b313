package casefile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// Level is how ready a case is to send, in the four levels support engineers use.
type Level string

const (
	// Vague: no exact reply, or no sending IP or domain: no technical proof yet.
	Vague Level = "vague"
	// Watch: the trouble is intermittent (deferrals or filtering with few samples,
	// failures between deliveries) and needs more samples over time. One hard block is
	// not intermittent: it is ready once its proof is there.
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
	// What receivers reported (DMARC aggregate reports) is the best authentication
	// evidence; our own checks of the authentication mechanisms are the next best.
	need(slices.ContainsFunc(c.Authentication, func(a AuthCheck) bool { return IsAuthentication(a.ID) }) || c.HasReportedAuthentication(), NeedAuthentication)
	need(hasSample, NeedSamples)
	need(c.Scope.Volume != "" || c.Scope.Impact != "" || c.Confirmed("scope"), NeedScope)
	need(len(c.RecentChanges()) > 0 || c.NoRecentChanges(), NeedChanges)

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

// fewSamples is the number of failed messages under which deferrals or filtering are
// not yet a pattern a desk can act on.
const fewSamples = 3

// intermittent says why the failures look intermittent, or "": failures between
// successful deliveries, or only deferrals or filtering, with few samples. A hard block
// is never intermittent by its count: one exact 5xx reply is a block.
func (c *Case) intermittent() string {
	seen := c.Seen()
	if !seen.First.IsZero() {
		for _, e := range c.Timeline {
			if e.Mode == triage.Delivered && e.At.After(seen.First) && e.At.Before(seen.Last) {
				return "failures between successful deliveries"
			}
		}
	}
	// The failures' modes, walking the timeline in place: an Event is large, and a
	// timeline may hold 100,000.
	var deferrals, filtered, other bool
	for i := range c.Timeline {
		if e := &c.Timeline[i]; e.IsFailure() {
			switch e.Mode {
			case triage.Deferral:
				deferrals = true
			case triage.Filtering:
				filtered = true
			default:
				other = true
			}
		}
	}
	if other || !deferrals && !filtered {
		return ""
	}
	if seen.Failures >= fewSamples {
		return ""
	}
	noun := "deferral"
	switch {
	case !deferrals:
		noun = "filtered message"
	case filtered:
		return fmt.Sprintf("only %s so far, deferrals and filtering", plural(seen.Failures, "failure"))
	}
	if seen.Failures == 1 {
		return "only 1 " + noun + " so far"
	}
	return fmt.Sprintf("only %d %ss so far", seen.Failures, noun)
}

// nothingWords are what a person types to say there was no change ("none", "n/a").
var nothingWords = []string{"none", "no", "nothing", "n/a", "na", "no change", "no changes", "nothing changed",
	"no recent changes", "none recently", "-", "—"}

// isNothing reports whether a listed change says there was none: a change whose whole
// summary is "none" and the like lists nothing.
func (ch Change) isNothing() bool {
	s := strings.ToLower(strings.TrimSpace(ch.Summary))
	s = strings.TrimRight(s, ".!")
	return slices.Contains(nothingWords, s)
}

// RecentChanges are the recent changes the person listed, leaving out those that say
// there was none.
func (c *Case) RecentChanges() []Change {
	var out []Change
	for _, ch := range c.Changes {
		if !ch.isNothing() {
			out = append(out, ch)
		}
	}
	return out
}

// NoRecentChanges reports whether the person said nothing changed: confirmed, or a
// change typed as "none", with no real change listed.
func (c *Case) NoRecentChanges() bool {
	if len(c.RecentChanges()) > 0 {
		return false
	}
	return c.Confirmed("changes") || len(c.Changes) > 0
}
