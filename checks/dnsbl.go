package checks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/net/publicsuffix"

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

// dnsblZones is the list of blocklists asked when not nil (tests set it); nil asks the
// default lists.
var dnsblZones []dnsbl.Zone

// majorWeight is the weight from which a listing is a failure: lists most filters reject
// or score heavily on. Lighter listings (PBL, UCEPROTECT) are warnings.
const majorWeight = 2

// runDNSBL asks the IP lists about the sending IP and the domain lists about the
// sending domain, all at once, and weighs each answer by its list.
func runDNSBL(ctx context.Context, env *Env, t Target) Result {
	// Each subject asked, in order: the IP, the domain, and the domain's registered
	// domain when it differs — domain lists (URIBL, SURBL) list registered domains and
	// expect to be asked for them, so mail.bad.example is found as bad.example.
	type ask struct{ kind, subject string }
	var asks []ask
	if t.IP.IsValid() {
		asks = append(asks, ask{dnsbl.KindIP, t.IP.String()})
	}
	if t.Domain != "" {
		asks = append(asks, ask{dnsbl.KindDomain, t.Domain})
		if org, err := publicsuffix.EffectiveTLDPlusOne(strings.ToLower(strings.TrimSuffix(t.Domain, "."))); err == nil && org != strings.ToLower(strings.TrimSuffix(t.Domain, ".")) {
			asks = append(asks, ask{dnsbl.KindDomain, org})
		}
	}
	lists := dnsblZones
	if lists == nil {
		lists = dnsbl.Zones()
	}
	answers := make([][]dnsbl.Result, len(asks))
	var wg sync.WaitGroup
	for i, a := range asks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = dnsbl.Check(ctx, env.Resolver, lists, a.kind, a.subject)
		}()
	}
	wg.Wait()
	var all []dnsbl.Result
	var subjects []string
	for i, rs := range answers {
		all = append(all, rs...)
		for range rs {
			subjects = append(subjects, asks[i].subject)
		}
	}

	zones := make([]map[string]any, 0, len(all))
	var major, minor, answered []string
	answeredKind := map[string]string{} // zone → dnsbl.KindIP or KindDomain
	var trouble []unreadGroup
	var fixes, remedies []string
	for i, r := range all {
		subject := subjects[i]
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
			var labels []string
			for _, m := range r.Meanings {
				labels = append(labels, dnsbl.Label(m, r.Zone.Name))
			}
			what := fmt.Sprintf("%s (%s)", r.Zone.Name, strings.Join(labels, ", "))
			if r.Zone.Kind == dnsbl.KindDomain && subject != t.Domain {
				what += " for " + subject
			}
			if r.Weight >= majorWeight {
				major = append(major, what)
				fixes = append(fixes, fmt.Sprintf("%s: %s. Fix the cause, then request removal at %s", r.Zone.Name, meaningsOf(r), r.Zone.Delist))
			} else {
				minor = append(minor, what)
				fixes = append(fixes, fmt.Sprintf("%s: %s (%s)", r.Zone.Name, meaningsOf(r), r.Zone.Delist))
			}
			answered = append(answered, r.Zone.Zone)
			answeredKind[r.Zone.Zone] = r.Zone.Kind
		case dnsbl.NotListed:
			answered = append(answered, r.Zone.Zone)
			answeredKind[r.Zone.Zone] = r.Zone.Kind
		case dnsbl.Refused:
			trouble = addTrouble(trouble, r)
			remedies = append(remedies, fmt.Sprintf("%s: %s", r.Zone.Name, r.Advice))
		default:
			trouble = addTrouble(trouble, r)
			if r.Short == "the resolver rewrites NXDOMAIN" {
				remedies = append(remedies, r.Note)
			}
		}
	}
	// A list asked about two subjects (a domain and its registered domain) counts once.
	slices.Sort(answered)
	answered = slices.Compact(answered)
	d := map[string]any{"zones": zones}
	res := Result{Details: d}
	unread, unreadCount := "", 0
	var groups []string
	for _, g := range trouble {
		unreadCount += len(g.names)
		groups = append(groups, fmt.Sprintf("%s (%s)", strings.Join(g.names, ", "), g.why))
	}
	if unreadCount > 0 {
		unread = fmt.Sprintf("; %d could not be read: %s", unreadCount, strings.Join(groups, "; "))
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
		res.Fix = strings.Join(append(fixes, remedies...), "\n")
	case len(answered) == 0:
		res.Status = Error
		res.Summary = "no blocklist could be read: " + strings.Join(groups, "; ")
		res.Fix = strings.Join(remedies, "\n")
	case len(trouble) > 0:
		res.Status = Warn
		res.Summary = fmt.Sprintf("not listed on the %s that answered%s", listsText(answered, answeredKind), unread)
		res.Fix = strings.Join(remedies, "\n")
	default:
		res.Status = Pass
		res.Summary = "not listed on any of the " + listsText(answered, answeredKind)
	}
	return res
}

// listsText counts the lists that answered by what they list, IPs and domains apart, so
// that "10 lists" is never read as ten lists about the IP.
func listsText(zones []string, kind map[string]string) string {
	ips := 0
	for _, z := range zones {
		if kind[z] != dnsbl.KindDomain {
			ips++
		}
	}
	domains := len(zones) - ips
	switch {
	case domains == 0:
		return plural(ips, "IP list")
	case ips == 0:
		return plural(domains, "domain list")
	}
	return plural(ips, "IP list") + " and " + plural(domains, "domain list")
}

// unreadGroup is the lists that could not be read for one reason, so the summary says
// the reason once.
type unreadGroup struct {
	why   string
	names []string
}

func addTrouble(groups []unreadGroup, r dnsbl.Result) []unreadGroup {
	for i := range groups {
		if groups[i].why == r.Short {
			if !slices.Contains(groups[i].names, r.Zone.Name) {
				groups[i].names = append(groups[i].names, r.Zone.Name)
			}
			return groups
		}
	}
	return append(groups, unreadGroup{why: r.Short, names: []string{r.Zone.Name}})
}

// plural spells a count with its noun: "1 list", "7 lists".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// meaningsOf is what a list's answers mean, without the list's own name before them.
func meaningsOf(r dnsbl.Result) string {
	out := make([]string, len(r.Meanings))
	for i, m := range r.Meanings {
		if rest, ok := strings.CutPrefix(m, r.Zone.Name+":"); ok {
			m = strings.TrimSpace(rest)
		}
		out[i] = m
	}
	return strings.Join(out, "; ")
}
