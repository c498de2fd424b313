package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/checks/spf"
)

func init() {
	register(Check{ID: "spf", Applies: spfApplies, Run: runSPF})
}

func spfApplies(t Target) (bool, string) {
	if t.Domain == "" && t.HELO == "" && !strings.Contains(t.EnvelopeSender, "@") {
		return false, "no sending domain or HELO name given"
	}
	return true, ""
}

// runSPF lints the sending domain's policy and evaluates check_host for the IP with the
// MAIL FROM identity and with the HELO identity, all three at once: the lint walks the
// tree level by level and warms the cache the evaluations read in order.
func runSPF(ctx context.Context, env *Env, t Target) Result {
	var (
		wg         sync.WaitGroup
		lint       *spf.Report
		from, helo *spf.Verdict
	)
	// SPF is about the MAIL FROM domain; the From domain stands in when the envelope
	// sender is not known (or is null, as in a bounce).
	domain, sender := t.Domain, t.EnvelopeSender
	if i := strings.LastIndexByte(sender, '@'); i >= 0 && i < len(sender)-1 {
		domain = strings.TrimSuffix(sender[i+1:], ">")
	} else {
		sender = ""
	}
	if sender == "" && domain != "" {
		sender = "postmaster@" + domain
	}
	if domain != "" {
		wg.Add(1)
		go func() { defer wg.Done(); lint = spf.Lint(ctx, env.Resolver, domain) }()
		if t.IP.IsValid() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := spf.Evaluate(ctx, env.Resolver, t.IP, t.HELO, sender)
				from = &v
			}()
		}
	}
	if t.HELO != "" && t.IP.IsValid() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := spf.Evaluate(ctx, env.Resolver, t.IP, t.HELO, "postmaster@"+t.HELO)
			helo = &v
		}()
	}
	wg.Wait()

	r := Result{Status: Pass, Details: map[string]any{}}
	var summary []string
	var fixes []string
	worse := func(s Status, line string) {
		if authRank[s] > authRank[r.Status] {
			r.Status = s
			summary = append([]string{line}, summary...)
		} else if line != "" {
			summary = append(summary, line)
		}
	}

	readable := lint == nil || (lint.Err == nil && lint.Found)
	if lint != nil {
		r.Details["domain"] = lint.Domain
		switch {
		case lint.Err != nil:
			worse(Error, fmt.Sprintf("could not read the SPF record of %s: %s", lint.Domain, authTrouble(lint.Err)))
		case !lint.Found:
			if near := spfNearMiss(ctx, env, lint.Domain); near != "" {
				// Something SPF-like is there but receivers do not take it for SPF
				// (RFC 7208 §4.5): say which, and publish it corrected.
				worse(Fail, fmt.Sprintf("%s publishes no SPF record: %q does not begin with \"v=spf1\" and a space, so receivers ignore it", lint.Domain, authClip(near)))
				if rec, err := spf.ParseRecord(spfCorrected(near)); err == nil {
					fixes = append(fixes, authTXTRecord(lint.Domain, rec.String()))
					break
				}
			} else {
				worse(Fail, fmt.Sprintf("%s publishes no SPF record", lint.Domain))
			}
			fixes = append(fixes, authTXTRecord(lint.Domain, spfFirstRecord(t)))
		default:
			r.Details["record"] = lint.Root.Record
			r.Details["lookups"] = lint.Lookups
			r.Details["void_lookups"] = lint.VoidLookups
			r.Details["tree"] = lint.Root
			if len(lint.Problems) > 0 {
				r.Details["problems"] = lint.Problems
			}
		}
	}

	if from != nil && lint != nil && lint.Err == nil && !lint.Found {
		// No record: check_host gives none (RFC 7208 §4.5), as a receiver records it.
		r.Details["mail_from"] = spfVerdictDetails(from)
	}
	// The verdict for the IP comes first: it is what the receiver sees.
	if from != nil && readable {
		r.Details["mail_from"] = spfVerdictDetails(from)
		switch from.Result {
		case spf.Pass:
			summary = append([]string{fmt.Sprintf("%s may send as %s (pass, %s)", t.IP, from.Domain, from.Reason)}, summary...)
		case spf.TempError:
			worse(Error, fmt.Sprintf("check_host for %s could not finish: %s", from.Domain, spfVerdictTrouble(from)))
		case spf.PermError:
			worse(Fail, fmt.Sprintf("receivers get permerror for %s: %s", from.Domain, from.Reason))
		case spf.Neutral:
			worse(Warn, fmt.Sprintf("%s gets neutral from %s: the policy says nothing about it", t.IP, from.Domain))
			// A ?all gets one record below that closes it and authorizes the IP: not two.
			if lint != nil && lint.Record != nil && !slices.ContainsFunc(lint.Problems, func(p spf.Problem) bool { return strings.HasPrefix(p.Text, "?all") }) {
				fixes = append(fixes, authTXTRecord(lint.Domain, lint.Record.Authorize(spfIPTerm(t)).String()))
			}
		case spf.None:
			if lint == nil {
				worse(Fail, fmt.Sprintf("no SPF policy applies to %s: %s", from.Domain, from.Reason))
			}
		default: // fail, softfail
			worse(Fail, fmt.Sprintf("%s is not authorized to send as %s (%s)", t.IP, from.Domain, from.Result))
			if lint != nil && lint.Record != nil {
				fixes = append([]string{authTXTRecord(lint.Domain, lint.Record.Authorize(spfIPTerm(t)).String())}, fixes...)
			}
		}
	}

	if lint != nil && lint.Found && lint.Err == nil {
		for _, p := range lint.Problems {
			line := p.Text
			if p.Term != "" && !strings.Contains(line, p.Term) {
				line = p.Term + ": " + line
			}
			if p.Domain != lint.Domain {
				line = p.Domain + ": " + line
			}
			switch {
			case p.Level == spf.LevelFail && p.WhenReached && spfDecided(from):
				// check_host matched before it got this far, so the result for this
				// IP is that match (RFC 7208 §4.6.2); the limit still bites every
				// sender that does not match first: a warning with its fix.
				worse(Warn, line+fmt.Sprintf(" (the result for %s is %s: a term matches before this is reached, RFC 7208 §4.6.2; senders that do not match first get permerror)", t.IP, from.Result))
				fix := spfRemedy(lint, p, t)
				if fix == "" {
					fix = "at " + p.Domain + ": " + p.Text
				}
				fixes = append(fixes, fix)
				continue
			}
			switch p.Level {
			case spf.LevelFail:
				worse(Fail, line)
				fix := spfRemedy(lint, p, t)
				if fix == "" {
					fix = "at " + p.Domain + ": " + p.Text
				}
				fixes = append(fixes, fix)
			case spf.LevelWarn:
				worse(Warn, line)
				if fix := spfRemedy(lint, p, t); fix != "" {
					fixes = append(fixes, fix)
				}
			case spf.LevelError:
				if from != nil && from.Result != spf.TempError && readable {
					// check_host reached its verdict for this IP without the part
					// that could not be read (it stops at the first match): the
					// verdict stands, and the unread part matters to other senders.
					worse(Warn, line+fmt.Sprintf(" (the result for %s does not depend on it; other senders may get temperror)", t.IP))
				} else {
					worse(Error, line)
				}
			}
		}
		if r.Status == Fail && len(fixes) == 0 {
			fixes = append(fixes, "correct the SPF record at "+lint.Domain+" so receivers can evaluate it")
		}
	}

	if helo != nil {
		r.Details["helo"] = spfVerdictDetails(helo)
		switch helo.Result {
		case spf.Fail, spf.SoftFail, spf.PermError:
			worse(Warn, fmt.Sprintf("the HELO name %s gets %s for %s (%s); receivers that check HELO may reject", t.HELO, helo.Result, t.IP, helo.Reason))
			fixes = append(fixes, authTXTRecord(helo.Domain, "v=spf1 "+spfIPTerm(t)+" -all"))
		case spf.TempError:
			r.Details["helo_note"] = "the HELO check could not finish: " + spfVerdictTrouble(helo)
		}
	}

	if len(summary) == 0 {
		switch {
		case lint != nil:
			summary = append(summary, fmt.Sprintf("%s publishes an SPF record: %d of %d lookups", lint.Domain, lint.Lookups, spf.MaxLookups))
		case helo != nil:
			summary = append(summary, fmt.Sprintf("the HELO name %s gets %s for %s", t.HELO, helo.Result, t.IP))
		default:
			summary = append(summary, "nothing to evaluate: give the sending IP with the domain or HELO name")
		}
	}
	if r.Status == Pass && lint != nil && lint.Found && from != nil {
		summary[0] += fmt.Sprintf("; %d of %d lookups", lint.Lookups, spf.MaxLookups)
	}
	if r.Status == Warn && from != nil && from.Result == spf.Pass && readable {
		// A warning leads, but the result receivers see is a pass: the line says both.
		summary[0] = fmt.Sprintf("%s may send as %s (pass), but %s", t.IP, from.Domain, summary[0])
	}
	r.Summary = summary[0]
	if len(summary) > 1 {
		r.Details["notes"] = summary[1:]
	}
	if r.Status != Pass && len(fixes) > 0 {
		r.Fix = strings.Join(fixes, "\n")
	}
	return r
}

// spfDecided reports whether check_host reached its result by a match or the record's
// end, not by an error: a verdict no later limit can change.
func spfDecided(v *spf.Verdict) bool {
	if v == nil {
		return false
	}
	switch v.Result {
	case spf.Pass, spf.Fail, spf.SoftFail, spf.Neutral:
		return true
	}
	return false
}

// authRank orders statuses for the authentication checks: a failure outranks "could not
// check", which outranks a warning.
var authRank = map[Status]int{Skip: 0, Pass: 1, Warn: 2, Error: 3, Fail: 4}

func spfVerdictDetails(v *spf.Verdict) map[string]any {
	return map[string]any{"domain": v.Domain, "result": string(v.Result), "reason": v.Reason}
}

func spfVerdictTrouble(v *spf.Verdict) string {
	var re *resolver.Error
	if errors.As(v.Err, &re) {
		return authTrouble(re)
	}
	var de *net.DNSError
	if errors.As(v.Err, &de) {
		// What blitiri passes back names the server and port; the name and the kind
		// are what a person needs.
		kind := "a temporary DNS failure"
		if de.IsTimeout {
			kind = "no answer in time"
		}
		return fmt.Sprintf("temperror: %s for %s", kind, strings.TrimSuffix(de.Name, "."))
	}
	return v.Reason
}

// spfIPTerm is the term that authorizes the target's IP.
func spfIPTerm(t Target) string {
	if !t.IP.IsValid() {
		return "mx"
	}
	if t.IP.Unmap().Is4() {
		return "ip4:" + t.IP.Unmap().String()
	}
	return "ip6:" + t.IP.String()
}

func spfFirstRecord(t Target) string {
	return "v=spf1 " + spfIPTerm(t) + " ~all"
}

// authTXTRecord writes a TXT record as a zone-file line, split into character-strings of at
// most 255 bytes.
func authTXTRecord(name, text string) string {
	var parts []string
	for len(text) > 255 {
		parts = append(parts, text[:255])
		text = text[255:]
	}
	parts = append(parts, text)
	for i, p := range parts {
		parts[i] = `"` + strings.ReplaceAll(strings.ReplaceAll(p, `\`, `\\`), `"`, `\"`) + `"`
	}
	return strings.TrimSuffix(name, ".") + ". IN TXT " + strings.Join(parts, " ")
}

// authTrouble says why a lookup failed, keeping "could not be checked" apart from "not
// there".
func authTrouble(err error) string {
	var e *resolver.Error
	if !errors.As(err, &e) {
		return err.Error()
	}
	switch e.Kind {
	case resolver.Timeout:
		return fmt.Sprintf("no answer in time for %s", e.Name)
	case resolver.ServFail:
		return fmt.Sprintf("SERVFAIL for %s (a broken zone or DNSSEC chain, or an unreachable server)", e.Name)
	case resolver.Refused:
		return fmt.Sprintf("the resolver refused to answer for %s", e.Name)
	case resolver.Network:
		return "the resolver could not be reached: " + e.Error()
	case resolver.Loop:
		return fmt.Sprintf("the CNAME chain of %s loops or is too long", e.Name)
	}
	return e.Error()
}

// spfRemedy says what to change for a lint failure, with the record to publish where
// one can be given.
func spfRemedy(lint *spf.Report, p spf.Problem, t Target) string {
	top := lint.Record != nil && p.Domain == lint.Domain
	switch {
	case strings.HasPrefix(p.Text, "no all term") && top:
		return authTXTRecord(lint.Domain, closed(lint.Record, t).String())
	case strings.HasPrefix(p.Text, "?all") && top:
		return authTXTRecord(lint.Domain, closed(lint.Record, t).String())
	case strings.HasPrefix(p.Text, "ptr:"):
		if t.IP.IsValid() {
			return fmt.Sprintf("replace %s at %s with the addresses it stands for, such as %s", p.Term, p.Domain, spfIPTerm(t))
		}
		return fmt.Sprintf("replace %s at %s with ip4:/ip6: terms for your servers", p.Term, p.Domain)
	case strings.Contains(p.Text, "is never used: it comes after"):
		return fmt.Sprintf("remove %s from the record at %s, or move it before the all term if it should count", p.Term, p.Domain)
	case strings.Contains(p.Text, "is never used"):
		return fmt.Sprintf("remove %s from the record at %s, or move what it allows into the record", p.Term, p.Domain)
	case strings.Contains(p.Text, "MX records; receivers look at no more than"):
		return fmt.Sprintf("replace %s at %s with ip4:/ip6: terms for the hosts that send, or cut the MX hosts to %d", p.Term, p.Domain, spf.MaxMXNames)
	case strings.Contains(p.Text, "like +all"):
		return fmt.Sprintf("replace %s at %s with the address ranges your senders actually use", p.Term, p.Domain)
	case strings.Contains(p.Text, "+all") && !top:
		return fmt.Sprintf("%s ends in +all, so including it authorizes everyone: stop including %s, or have its owner end it with ~all or -all", p.Domain, p.Domain)
	case strings.Contains(p.Text, "+all") && lint.Record != nil:
		// ~all in its place, with the checked IP kept authorized: the fix must not
		// softfail the mail it is about.
		return authTXTRecord(lint.Domain, closed(lint.Record, t).String())
	case strings.HasPrefix(p.Text, "syntax error"):
		return fmt.Sprintf("correct or remove %q in the record at %s", p.Term, p.Domain)
	case strings.HasPrefix(p.Text, "loop"):
		return fmt.Sprintf("remove %s from the record at %s", p.Term, p.Domain)
	case strings.Contains(p.Text, "SPF records at"):
		return "merge the SPF records at " + p.Domain + " into one"
	case strings.Contains(p.Text, "which has no SPF record"):
		return fmt.Sprintf("remove %s from the record at %s, or have %s publish SPF", p.Term, lint.Domain, p.Domain)
	case strings.Contains(p.Text, "character-string"):
		return "publish the record at " + p.Domain + " as several quoted strings of at most 255 bytes each"
	case strings.Contains(p.Text, "return nothing"):
		return "remove the a:, mx: and include: terms whose names do not exist"
	case strings.Contains(p.Text, "needs"):
		return fmt.Sprintf("cut the policy to %d lookups or fewer: drop includes you no longer use, or list senders with ip4:/ip6:", spf.MaxLookups)
	}
	return ""
}

// spfNearMiss returns a TXT record at domain that looks meant as SPF but is not one
// (" v=spf1 …", "v=spf1x …", "v=spf10"), or "". The TXT answer is in the cache.
func spfNearMiss(ctx context.Context, env *Env, domain string) string {
	txts, err := env.Resolver.TXT(ctx, domain)
	if err != nil {
		return ""
	}
	for _, txt := range txts {
		if strings.Contains(strings.ToLower(txt), "v=spf1") && !spf.IsRecord(txt) {
			return txt
		}
	}
	return ""
}

// spfCorrected is a near-miss record with its version made "v=spf1 " again: surrounding
// space trimmed and the version's run-on text ("v=spf1x", "v=spf10") cut back.
func spfCorrected(txt string) string {
	// The resolver shows a tab as its control picture (sanitize); here it is a space.
	txt = strings.TrimSpace(strings.ReplaceAll(txt, "\u2409", " "))
	i := strings.Index(strings.ToLower(txt), "v=spf1")
	if i < 0 {
		return txt
	}
	rest := txt[i+len("v=spf1"):]
	if rest != "" && !unicode.IsSpace(rune(rest[0])) {
		// "v=spf1x a -all": the version runs on; the terms start after it.
		if j := strings.IndexFunc(rest, unicode.IsSpace); j >= 0 {
			rest = rest[j:]
		} else {
			rest = ""
		}
	}
	// Tabs and runs of spaces become the single spaces terms are separated by.
	return strings.Join(append([]string{"v=spf1"}, strings.Fields(rest)...), " ")
}

// closed is the record ending in ~all, with the checked IP authorized when it is not yet.
func closed(r *spf.Record, t Target) *spf.Record {
	out := r.WithAll('~')
	if t.IP.IsValid() && !strings.Contains(" "+r.String()+" ", " "+spfIPTerm(t)+" ") {
		out = out.Authorize(spfIPTerm(t))
	}
	return out
}
