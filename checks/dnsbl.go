package checks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/unblock-mail/unblock/checks/dnsbl"
)

func init() {
	register(Check{ID: "dnsbl", Applies: dnsblApplies, Run: runDNSBL})
}

func dnsblApplies(t Target) (bool, string) {
	if !t.IP.IsValid() && t.Domain == "" {
		return false, "no sending IP or domain given"
	}
	return true, ""
}

// dnsblZones is the list of blocklists asked; tests may swap it.
var dnsblZones = dnsbl.Zones()

// majorWeight is the weight from which a listing is a failure: lists most filters reject
// or score heavily on. Lighter listings (PBL, UCEPROTECT) are warnings.
const majorWeight = 2

// runDNSBL asks the IP lists about the sending IP and the domain lists about the
// sending domain, all at once, and weighs each answer by its list.
func runDNSBL(ctx context.Context, env *Env, t Target) Result {
	var ipRes, domRes []dnsbl.Result
	var wg sync.WaitGroup
	if t.IP.IsValid() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ipRes = dnsbl.Check(ctx, env.Resolver, dnsblZones, dnsbl.KindIP, t.IP.String())
		}()
	}
	if t.Domain != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			domRes = dnsbl.Check(ctx, env.Resolver, dnsblZones, dnsbl.KindDomain, t.Domain)
		}()
	}
	wg.Wait()
	all := append(ipRes, domRes...)

	zones := make([]map[string]any, 0, len(all))
	var major, minor, trouble, answered []string
	var fixes, remedies []string
	for _, r := range all {
		subject := t.Domain
		if r.Zone.Kind == dnsbl.KindIP {
			subject = t.IP.String()
		}
		codes := r.Codes
		if codes == nil {
			codes = []string{}
		}
		z := map[string]any{"zone": r.Zone.Zone, "state": string(r.State), "codes": codes, "weight": r.Weight,
			"name": r.Zone.Name, "subject": subject}
		if len(r.Meanings) > 0 {
			z["meanings"] = r.Meanings
		}
		for k, v := range map[string]string{"reason": r.Reason, "advice": r.Advice, "note": r.Note} {
			if v != "" {
				z[k] = v
			}
		}
		zones = append(zones, z)
		switch r.State {
		case dnsbl.Listed:
			what := fmt.Sprintf("%s (%s)", r.Zone.Name, strings.Join(r.Meanings, "; "))
			if r.Weight >= majorWeight {
				major = append(major, what)
				fixes = append(fixes, fmt.Sprintf("%s: fix the cause, then request removal at %s", r.Zone.Name, r.Zone.Delist))
			} else {
				minor = append(minor, what)
			}
			answered = append(answered, r.Zone.Zone)
		case dnsbl.NotListed:
			answered = append(answered, r.Zone.Zone)
		case dnsbl.Refused:
			trouble = append(trouble, fmt.Sprintf("%s (%s)", r.Zone.Name, r.Short))
			remedies = append(remedies, fmt.Sprintf("%s: %s", r.Zone.Name, r.Advice))
		default:
			trouble = append(trouble, fmt.Sprintf("%s (%s)", r.Zone.Name, r.Short))
			if r.Short == "the resolver rewrites NXDOMAIN" {
				remedies = append(remedies, r.Note)
			}
		}
	}
	d := map[string]any{"zones": zones}
	res := Result{Details: d}
	unread := ""
	if len(trouble) > 0 {
		unread = fmt.Sprintf("; %d lists could not be read: %s", len(trouble), strings.Join(trouble, ", "))
	}
	remedies = slices.Compact(remedies)
	switch {
	case len(major) > 0:
		res.Status = Fail
		res.Summary = "listed on " + strings.Join(major, ", ")
		if len(minor) > 0 {
			res.Summary += "; also " + strings.Join(minor, ", ")
		}
		res.Summary += unread
		res.Fix = strings.Join(append(fixes, remedies...), "\n")
	case len(minor) > 0:
		res.Status = Warn
		res.Summary = "listed only on lists that weigh little: " + strings.Join(minor, ", ") + unread
		res.Fix = strings.Join(append([]string{"Read each listing's meaning: a PBL listing is fixed by relaying through your provider or by a proper rDNS name, not by a delisting request"}, remedies...), "\n")
	case len(answered) == 0:
		res.Status = Error
		res.Summary = "no blocklist could be read: " + strings.Join(trouble, ", ")
		res.Fix = strings.Join(remedies, "\n")
	case len(trouble) > 0:
		res.Status = Warn
		res.Summary = fmt.Sprintf("not listed on the %d lists that answered%s", len(answered), unread)
		res.Fix = strings.Join(remedies, "\n")
	default:
		res.Status = Pass
		res.Summary = fmt.Sprintf("not listed on any of %d blocklists", len(answered))
	}
	return res
}
