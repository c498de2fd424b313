package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/unblock-mail/unblock/checks/dmarc"
)

func init() {
	register(Check{ID: "dmarc", Applies: needSendingDomain, Run: runDMARC})
}

// runDMARC finds the policy by the RFC 9989 tree walk (all names at once), names the
// organizational domain, grades the policy and checks that external report destinations
// agreed to receive reports.
func runDMARC(ctx context.Context, env *Env, t Target) Result {
	d := dmarc.Discover(ctx, env.Resolver, t.Domain)
	r := Result{Status: Pass, Details: map[string]any{"domain": d.Domain, "queried": d.Names}}
	if d.OrgDomain != "" {
		r.Details["org_domain"] = d.OrgDomain
	}
	var summary, fixes []string
	worse := func(s Status, line string) {
		if authRank[s] > authRank[r.Status] {
			r.Status = s
			summary = append([]string{line}, summary...)
		} else {
			summary = append(summary, line)
		}
	}
	if d.Err != nil {
		r.Status = Error
		r.Summary = "could not look up the DMARC policy: " + authTrouble(d.Err)
		return r
	}
	for _, f := range d.Found {
		switch {
		case len(f.Several) > 0:
			worse(Fail, fmt.Sprintf("_dmarc.%s has %d DMARC records: receivers ignore them all (RFC 9989 §4.10); keep one", f.Domain, len(f.Several)))
			fixes = append(fixes, fmt.Sprintf("delete all but one of the %d TXT records at _dmarc.%s", len(f.Several), f.Domain))
		case f.Err != nil:
			worse(Fail, fmt.Sprintf("the record at _dmarc.%s is broken, so receivers ignore it: %v", f.Domain, f.Err))
			if rec, err := dmarc.ParseRecord(dmarcReordered(f.Text)); err == nil {
				fixes = append(fixes, authTXTRecord("_dmarc."+f.Domain, rec.With("", "")))
			}
		}
	}
	if d.Policy == nil {
		org := d.OrgDomain
		worse(Fail, fmt.Sprintf("no DMARC policy for %s (looked at %s)", d.Domain, strings.Join(prefixDMARC(d.Names), ", ")))
		fixes = append(fixes, authTXTRecord("_dmarc."+org, "v=DMARC1; p=none; rua=mailto:dmarc-reports@"+org)+"  (then move to p=quarantine or p=reject once reports show your mail passes)")
		return dmarcResult(r, summary, fixes)
	}

	p := d.Policy
	rec := p.Record
	applied := rec.Applied(d.Domain, p.Domain, true)
	r.Details["record_domain"] = p.Domain
	r.Details["record"] = p.Text
	r.Details["p"] = string(rec.Policy)
	if rec.SubdomainPolicy != "" {
		r.Details["sp"] = string(rec.SubdomainPolicy)
	}
	if rec.NonexistentPolicy != "" {
		r.Details["np"] = string(rec.NonexistentPolicy)
	}
	r.Details["applied_policy"] = string(applied)
	r.Details["adkim"] = string(rec.ADKIM)
	r.Details["aspf"] = string(rec.ASPF)
	r.Details["fo"] = rec.FailureOptions
	r.Details["testing"] = rec.Testing
	r.Details["psd"] = string(rec.PSD)
	if len(rec.RUA) > 0 {
		r.Details["rua"] = rec.RUA
	}
	if len(rec.RUF) > 0 {
		r.Details["ruf"] = rec.RUF
	}

	where := "_dmarc." + p.Domain
	if p.Domain != d.Domain {
		where += " (inherited by " + d.Domain + ")"
	}
	head := fmt.Sprintf("policy %s for %s at %s; organizational domain %s", applied, d.Domain, where, d.OrgDomain)
	// What receivers discard comes first: it explains a p=none the owner did not write.
	for _, why := range rec.Invalid {
		worse(Warn, "at "+where+": "+why)
	}
	if len(rec.Invalid) > 0 && applied != dmarc.PolicyNone {
		fixes = append(fixes, authTXTRecord("_dmarc."+p.Domain, rec.With("", "")))
	}
	if applied == dmarc.PolicyNone {
		worse(Warn, fmt.Sprintf("p=none at %s: receivers take no action on failing mail, and some (Gmail, Yahoo) want more of bulk senders", where))
		fixes = append(fixes, authTXTRecord("_dmarc."+p.Domain, rec.With("p", "quarantine"))+"  (once reports show your mail passes)")
	}
	if rec.Testing {
		worse(Warn, "t=y: the policy is in test mode; receivers apply one level less")
	}
	for _, why := range rec.Removed {
		worse(Warn, why)
	}
	if len(rec.Removed) > 0 && applied != dmarc.PolicyNone {
		fixes = append(fixes, authTXTRecord("_dmarc."+p.Domain, rec.With("", "")))
	}
	if len(rec.RUA) == 0 {
		summary = append(summary, "no rua=: you receive no aggregate reports to see who sends as you")
	}
	ext := dmarc.CheckReportDestinations(ctx, env.Resolver, p.Domain, d.OrgDomain, append(append([]string(nil), rec.RUA...), rec.RUF...))
	var extRows []map[string]any
	for _, e := range ext {
		row := map[string]any{"uri": e.URI, "name": e.Name, "authorized": e.Authorized}
		switch {
		case e.Err != nil:
			row["error"] = authTrouble(e.Err)
		case !e.Authorized:
			worse(Warn, fmt.Sprintf("%s has not agreed to receive reports for %s: no record at %s, so reports to it are not sent", e.DestDomain, p.Domain, e.Name))
			fixes = append(fixes, "ask "+e.DestDomain+" to publish "+authTXTRecord(e.Name, "v=DMARC1"))
		}
		extRows = append(extRows, row)
	}
	if len(extRows) > 0 {
		r.Details["external_reports"] = extRows
	}
	if r.Status == Pass {
		summary = append([]string{head}, summary...)
	} else {
		summary = append(summary, head)
	}
	return dmarcResult(r, summary, fixes)
}

func dmarcResult(r Result, summary, fixes []string) Result {
	r.Summary = summary[0]
	if len(summary) > 1 {
		r.Details["notes"] = summary[1:]
	}
	if r.Status != Pass && len(fixes) > 0 {
		r.Fix = strings.Join(fixes, "\n")
	}
	return r
}

func prefixDMARC(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "_dmarc." + n
	}
	return out
}

// dmarcReordered moves v=DMARC1 to the front of a record that has it elsewhere, for the
// record to suggest.
func dmarcReordered(text string) string {
	var rest []string
	for _, part := range strings.Split(text, ";") {
		part = strings.TrimSpace(part)
		if part == "" || strings.EqualFold(strings.ReplaceAll(part, " ", ""), "v=DMARC1") {
			continue
		}
		rest = append(rest, part)
	}
	return strings.Join(append([]string{"v=DMARC1"}, rest...), "; ")
}
