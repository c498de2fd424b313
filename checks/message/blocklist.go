package message

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dnsbl"
)

// maxLinkDomains bounds the link domains asked of the domain blocklists: each costs a
// query per list.
const maxLinkDomains = 20

func init() {
	netTests = append(netTests, netTest{"link-blocklist", testLinkBlocklist})
}

// linkDomains are the registrable domains the links go to, in order of appearance.
func (m *Message) linkDomains() []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range m.links() {
		if l.Host == "" || !strings.Contains(l.Host, ".") || strings.Trim(l.Host, "0123456789.:[]") == "" {
			continue
		}
		d := orgDomain(l.Host)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

func testLinkBlocklist(ctx context.Context, m *Message, env *checks.Env) checks.Result {
	doms := m.linkDomains()
	if len(doms) == 0 {
		return skip("no link domains")
	}
	capped := len(doms) > maxLinkDomains
	if capped {
		doms = doms[:maxLinkDomains]
	}
	zones := dnsbl.Zones()
	results := make([][]dnsbl.Result, len(doms))
	var wg sync.WaitGroup
	for i, d := range doms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = dnsbl.Check(ctx, env.Resolver, zones, dnsbl.KindDomain, d)
		}()
	}
	wg.Wait()
	var listed, refused, errs []string
	var rows []map[string]any
	for i, rs := range results {
		for _, r := range rs {
			row := map[string]any{"domain": doms[i], "zone": r.Zone.Zone, "state": string(r.State)}
			if len(r.Codes) > 0 {
				row["codes"] = r.Codes
			}
			rows = append(rows, row)
			switch r.State {
			case dnsbl.Listed:
				what := r.Zone.Zone
				if len(r.Meanings) > 0 {
					what = r.Meanings[0]
				}
				listed = append(listed, fmt.Sprintf("%s (%s)", doms[i], what))
			case dnsbl.Refused:
				if !contains(refused, r.Zone.Zone) {
					refused = append(refused, r.Zone.Zone)
				}
			case dnsbl.Error, dnsbl.Unknown:
				if !contains(errs, r.Zone.Zone) {
					errs = append(errs, r.Zone.Zone)
				}
			}
		}
	}
	d := map[string]any{"domains": doms, "zones": rows}
	note := ""
	if capped {
		note = fmt.Sprintf(" (the first %d link domains)", maxLinkDomains)
		d["capped"] = true
	}
	var r checks.Result
	switch {
	case len(listed) > 0:
		r = result(checks.Fail, fmt.Sprintf("links to listed domains%s: %s: filters reject or junk mail that links there", note, strings.Join(first(listed, 3), "; ")),
			"remove the links, or have the domain's owner clean it up and request delisting (check.spamhaus.org for the DBL)")
	case len(errs)+len(refused) >= len(zonesOfKind(zones)):
		r = result(checks.Error, fmt.Sprintf("domain blocklists did not answer for %d link domains (%s)", len(doms), strings.Join(append(errs, refused...), ", ")), "")
	default:
		s := fmt.Sprintf("%d link domains%s listed on no domain blocklist", len(doms), note)
		if len(refused)+len(errs) > 0 {
			s += " (no answer from " + strings.Join(append(refused, errs...), ", ") + ")"
		}
		r = pass(s)
	}
	r.Details = d
	return r
}

func zonesOfKind(zs []dnsbl.Zone) []dnsbl.Zone {
	var out []dnsbl.Zone
	for _, z := range zs {
		if z.Kind == dnsbl.KindDomain {
			out = append(out, z)
		}
	}
	return out
}
