package checks

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/unblock-mail/unblock/checks/dmarc"
	"github.com/unblock-mail/unblock/checks/resolver"
)

func init() {
	register(Check{ID: "dmarc", Applies: needSendingDomain, Run: runDMARC})
}

// runDMARC finds the policy by the RFC 9989 tree walk (all names at once), names the
// organizational domain, grades the policy and checks that external report destinations
// agreed to receive reports.
func runDMARC(ctx context.Context, env *Env, t Target) Result {
	// Whether the domain exists decides np= (RFC 9989 §4.7): asked alongside the walk,
	// not after it, so it costs no round trip of its own.
	existence := make(chan domainExistence, 1)
	go func() { existence <- dmarcDomainExists(ctx, env.Resolver, t.Domain) }()
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
		// A record published at the domain itself instead of under _dmarc is a common
		// slip; receivers never look there. The apex TXT is in the cache from SPF.
		if txts, err := env.Resolver.TXT(ctx, d.Domain); err == nil {
			for _, txt := range txts {
				if dmarc.IsRecord(txt) {
					worse(Fail, fmt.Sprintf("a DMARC record is published at %s itself, where receivers never look: it belongs at _dmarc.%s", d.Domain, d.Domain))
					fixes = append(fixes, "move the record from "+d.Domain+" to "+authTXTRecord("_dmarc."+d.Domain, txt))
					break
				}
			}
		}
		if len(fixes) == 0 { // a broken or doubled record has its own fix above
			fixes = append(fixes, authTXTRecord("_dmarc."+org, "v=DMARC1; p=none; rua=mailto:dmarc-reports@"+org)+"  (then move to p=quarantine or p=reject once reports show your mail passes)")
		}
		return dmarcResult(r, summary, fixes)
	}

	p := d.Policy
	rec := p.Record
	ex := domainExistence{exists: true}
	if rec.NonexistentPolicy != "" && p.Domain != d.Domain {
		ex = <-existence
		r.Details["domain_exists"] = ex.exists
		if ex.err != nil {
			r.Details["existence_error"] = authTrouble(ex.err)
		}
	}
	applied := rec.Applied(d.Domain, p.Domain, ex.exists)
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
	if !ex.exists {
		head = fmt.Sprintf("policy %s (np=) for %s, which does not exist (no A, AAAA or MX), at %s; organizational domain %s", applied, d.Domain, where, d.OrgDomain)
	}
	if ex.err != nil {
		summary = append(summary, fmt.Sprintf("whether %s exists could not be checked (%s): np=%s would apply if it does not", d.Domain, authTrouble(ex.err), rec.NonexistentPolicy))
	}
	// What receivers discard comes first: it explains a p=none the owner did not write.
	for _, why := range rec.Invalid {
		worse(Warn, "at "+where+": "+why)
	}
	if len(rec.Invalid) > 0 && applied != dmarc.PolicyNone {
		fixes = append(fixes, authTXTRecord("_dmarc."+p.Domain, rec.With("", "")))
	}
	if rec.SpacedVersion {
		worse(Warn, fmt.Sprintf("at %s: the version is written with spaces around \"=\"; RFC 7489's grammar allows it, but some receivers do not take the record for DMARC", where))
		fixes = append(fixes, authTXTRecord("_dmarc."+p.Domain, rec.With("", "")))
	}
	if applied == dmarc.PolicyNone {
		// The tag to change is the one that gave the policy: np= for a domain that does
		// not exist, sp= for a subdomain, p= otherwise (RFC 9989 §4.7).
		tag := appliedTag(rec, d.Domain, p.Domain, ex.exists)
		worse(Warn, fmt.Sprintf("%s=none applies to %s (from %s): receivers take no action on failing mail, and some (Gmail, Yahoo) want more of bulk senders", tag, d.Domain, where))
		fixes = append(fixes, authTXTRecord("_dmarc."+p.Domain, rec.With(tag, "quarantine"))+"  (once reports show your mail passes)")
	}
	if rec.Testing {
		worse(Warn, "t=y: the policy is in test mode; receivers apply one level less")
	}
	for _, why := range rec.Removed {
		worse(Warn, why)
	}
	if len(rec.Removed) > 0 && applied != dmarc.PolicyNone {
		// pct under 100 was a rollout: t=y keeps it one (RFC 9989), where dropping pct
		// alone would enforce the policy on all failing mail at once.
		if v, ok := rec.Value("pct"); ok && v != "100" && !rec.Testing {
			fixes = append(fixes, authTXTRecord("_dmarc."+p.Domain, rec.With("t", "y"))+"  (pct="+v+" was a partial rollout; t=y keeps the policy in test mode until you drop it)")
		} else {
			fixes = append(fixes, authTXTRecord("_dmarc."+p.Domain, rec.With("", "")))
		}
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
			summary = append(summary, fmt.Sprintf("whether %s accepts reports for %s could not be checked (%s)", e.DestDomain, p.Domain, authTrouble(e.Err)))
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

// appliedTag names the tag whose policy applies to domain under a record found at
// recordDomain, as Record.Applied chooses it.
func appliedTag(rec *dmarc.Record, domain, recordDomain string, exists bool) string {
	switch {
	case strings.EqualFold(domain, recordDomain):
		return "p"
	case !exists && rec.NonexistentPolicy != "":
		return "np"
	case rec.SubdomainPolicy != "":
		return "sp"
	}
	return "p"
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

var dmarcTagStart = regexp.MustCompile(`\s+([A-Za-z]+\s*=)`)

// dmarcReordered moves v=DMARC1 to the front of a record that has it elsewhere, for the
// record to suggest.
func dmarcReordered(text string) string {
	var rest []string
	// Tags run together without a semicolon ("v=DMARC1 p=reject") are split too.
	for _, part := range strings.Split(dmarcTagStart.ReplaceAllString(text, ";$1"), ";") {
		part = strings.TrimSpace(part)
		if part == "" || strings.EqualFold(strings.ReplaceAll(part, " ", ""), "v=DMARC1") {
			continue
		}
		rest = append(rest, part)
	}
	return strings.Join(append([]string{"v=DMARC1"}, rest...), "; ")
}

// domainExistence is whether a domain exists in RFC 9989's sense: a name for which A,
// AAAA and MX all answer NXDOMAIN or no data does not exist.
type domainExistence struct {
	exists bool
	err    error // none of the answers said it exists, and one could not be read
}

func dmarcDomainExists(ctx context.Context, res *resolver.Resolver, domain string) domainExistence {
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = res.Query(ctx, domain, qtype)
		}()
	}
	wg.Wait()
	var trouble error
	for _, err := range errs {
		switch {
		case err == nil:
			return domainExistence{exists: true}
		case !resolver.IsNotFound(err):
			trouble = err
		}
	}
	if trouble != nil {
		// Unknown: read as existing, the safer assumption (p/sp, not np), and say so.
		return domainExistence{exists: true, err: trouble}
	}
	return domainExistence{exists: false}
}
