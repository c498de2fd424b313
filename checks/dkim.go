package checks

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/unblock-mail/unblock/checks/dkim"
)

func init() {
	register(Check{ID: "dkim", Applies: needSendingDomain, Run: runDKIM})
}

// needSendingDomain: DKIM and DMARC are about the sending domain.
func needSendingDomain(t Target) (bool, string) {
	if t.Domain == "" {
		return false, "no sending domain given"
	}
	return true, ""
}

// runDKIM reads the key record of each selector given; with none, it probes the common
// selectors at once and says which answered — finding none proves nothing.
func runDKIM(ctx context.Context, env *Env, t Target) Result {
	probed := len(t.Selectors) == 0
	selectors := t.Selectors
	if probed {
		selectors = dkim.CommonSelectors
	}
	lookups := dkim.Probe(ctx, env.Resolver, t.Domain, selectors)

	r := Result{Status: Pass, Details: map[string]any{"domain": t.Domain, "probed": probed}}
	var summary, fixes, found, errs []string
	worse := func(s Status, line string) {
		if authRank[s] > authRank[r.Status] {
			r.Status = s
			summary = append([]string{line}, summary...)
		} else {
			summary = append(summary, line)
		}
	}
	var rows []map[string]any
	for _, l := range lookups {
		row := map[string]any{"selector": l.Selector, "name": l.Name, "found": l.Found}
		if len(l.CNAMEs) > 0 {
			row["cnames"] = l.CNAMEs
		}
		if l.ESP != "" {
			row["esp"] = l.ESP
		}
		if len(l.Several) > 1 {
			row["records"] = l.Several
			worse(Fail, fmt.Sprintf("selector %s has %d key records at %s%s: a verifier may use any of them (RFC 6376 §3.6.2.2), so signatures verify with some receivers and fail with others", l.Selector, len(l.Several), l.Name, severalNote(l.Several)))
			fixes = append(fixes, fmt.Sprintf("delete all but the key record you sign with at %s", l.Name))
		}
		if len(l.Others) > 0 {
			row["other_records"] = l.Others
			worse(Fail, fmt.Sprintf("selector %s has its key record and %d other TXT record(s) at %s: a verifier may use any of them (RFC 6376 §3.6.2.2), so signatures verify with some receivers and fail with others", l.Selector, len(l.Others), l.Name))
			fixes = append(fixes, fmt.Sprintf("delete every TXT record at %s but the key record (move the others to the names they belong to)", l.Name))
		}
		switch {
		case l.Err != nil:
			row["error"] = authTrouble(l.Err)
			errs = append(errs, l.Selector)
			if !probed {
				worse(Error, fmt.Sprintf("could not read the key of selector %s: %s", l.Selector, authTrouble(l.Err)))
			}
		case !l.Found && len(l.CNAMEs) > 0:
			// A delegated selector whose target is gone: the provider stopped
			// publishing the key (DKIM turned off there, or the account closed).
			end := l.CNAMEs[len(l.CNAMEs)-1]
			level := Fail
			if probed {
				// Nobody said this selector signs: a leftover delegation, not yet a failure.
				level = Warn
			}
			worse(level, fmt.Sprintf("selector %s points (CNAME) at %s, which publishes no key: signatures with it fail", l.Selector, end))
			fixes = append(fixes, fmt.Sprintf("turn DKIM on again at the provider behind %s (it shows the CNAME to publish), or delete the CNAME at %s and sign with a selector that has a key", end, l.Name))
		case !l.Found:
			if !probed {
				worse(Fail, fmt.Sprintf("selector %s has no key at %s: signatures with it fail", l.Selector, l.Name))
				fixes = append(fixes, fmt.Sprintf("publish the public key of selector %s: %s. IN TXT \"v=DKIM1; k=rsa; p=<base64 key>\" (your signing service shows it)", l.Selector, l.Name))
			}
		case l.ParseErr != nil:
			row["error"] = l.ParseErr.Error()
			row["record"] = authClip(l.Text)
			found = append(found, l.Selector)
			worse(Fail, fmt.Sprintf("the key record of selector %s is broken: %v", l.Selector, l.ParseErr))
			fixes = append(fixes, fmt.Sprintf("republish %s as your signing service gives it: v=DKIM1; k=rsa; p=<base64 key>", l.Name))
		default:
			found = append(found, l.Selector)
			k := l.Key
			row["key_type"] = k.Type
			row["bits"] = k.Bits
			row["testing"] = k.Testing
			row["revoked"] = k.Revoked
			if len(k.Hashes) > 0 {
				row["hashes"] = k.Hashes
			}
			var ps []string
			for _, p := range k.Problems() {
				ps = append(ps, p.Text)
				line := "selector " + l.Selector + ": " + p.Text
				switch {
				case p.Level == dkim.LevelFail && k.Revoked && probed:
					// An old selector left revoked is good hygiene, not a fault.
					worse(Pass, line)
				case p.Level == dkim.LevelFail:
					worse(Fail, line)
				default:
					worse(Warn, line)
				}
			}
			if len(ps) > 0 {
				row["problems"] = ps
			}
			if k.Revoked && !probed {
				fixes = append(fixes, fmt.Sprintf("sign with a selector whose key is published, or publish the key of %s again at %s", l.Selector, l.Name))
			}
			if len(k.Hashes) > 0 && !slices.Contains(k.Hashes, "sha256") && !k.Revoked {
				fixes = append(fixes, fmt.Sprintf("publish %s without h= (or with h=sha256) and sign with rsa-sha256", l.Name))
			}
			if len(k.Services) > 0 && !slices.Contains(k.Services, "email") && !k.Revoked {
				fixes = append(fixes, fmt.Sprintf("publish %s without s= (or with s=email)", l.Name))
			}
			if k.Testing && !k.Revoked {
				fixes = append(fixes, fmt.Sprintf("remove t=y from %s once reports show your signatures verify", l.Name))
			}
			if k.Type == "rsa" && !k.Revoked && k.Bits < dkim.RecommendedRSABits {
				fixes = append(fixes, fmt.Sprintf("generate a 2048-bit RSA key, publish it under a new selector (not %s), sign with it, then revoke %s with p=", l.Selector, l.Selector))
			}
		}
		rows = append(rows, row)
	}
	r.Details["selectors"] = rows

	// The head line says what was found; it leads unless a problem outranks it.
	head, lead := "", r.Status == Pass
	switch {
	case probed && len(found) == 0 && len(errs) == len(lookups):
		r.Status, lead = Error, true
		head = fmt.Sprintf("could not probe selectors at %s: %s", t.Domain, authTrouble(lookups[0].Err))
	case probed && len(found) == 0:
		r.Status, lead = Warn, true
		head = fmt.Sprintf("no key at the %d common selectors probed for %s; absence proves nothing: give the selector your mail is signed with (the s= of its DKIM-Signature)", len(selectors), t.Domain)
		if len(errs) > 0 {
			summary = append(summary, fmt.Sprintf("%d selector(s) could not be asked: %s", len(errs), strings.Join(errs, ", ")))
		}
	case probed:
		head = fmt.Sprintf("keys found at selector(s) %s of %s (%d common selectors probed; others may exist)", strings.Join(found, ", "), t.Domain, len(selectors))
	case r.Status == Pass:
		head = fmt.Sprintf("key published for selector(s) %s of %s", strings.Join(found, ", "), t.Domain)
	}
	switch {
	case head == "":
	case lead:
		summary = append([]string{head}, summary...)
	default:
		summary = append(summary, head)
	}
	var lines []string
	for _, s := range summary {
		if s != "" {
			lines = append(lines, s)
		}
	}
	r.Summary = lines[0]
	if len(lines) > 1 {
		r.Details["notes"] = lines[1:]
	}
	if r.Status != Pass && len(fixes) > 0 {
		r.Fix = strings.Join(fixes, "\n")
	}
	return r
}

// authClip keeps text from outside short enough to show.
func authClip(s string) string {
	if len(s) <= 512 {
		return s
	}
	return s[:512] + "…"
}

// severalNote says how the key records at one selector differ: a revoked one beside a
// live one is the usual leftover of a rotation.
func severalNote(records []string) string {
	revoked, broken := 0, 0
	for _, r := range records {
		k, err := dkim.ParseKey(r)
		switch {
		case err != nil:
			broken++
		case k.Revoked:
			revoked++
		}
	}
	var parts []string
	if revoked > 0 {
		parts = append(parts, fmt.Sprintf("%d revoked with an empty p=", revoked))
	}
	if broken > 0 {
		parts = append(parts, fmt.Sprintf("%d broken", broken))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
