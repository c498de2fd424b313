package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/unblock-mail/unblock/checks/iprev"
	"github.com/unblock-mail/unblock/checks/resolver"
)

func init() {
	register(Check{ID: "fcrdns", Applies: needIP, Run: runFCrDNS})
}

// runFCrDNS checks that a PTR name resolves back to the IP: a name anyone could claim
// proves nothing until its forward record agrees.
func runFCrDNS(ctx context.Context, env *Env, t Target) Result {
	rd := iprev.Lookup(ctx, env.Resolver, t.IP)
	d := map[string]any{"ip": rd.IP.String()}
	if rd.Err != nil {
		if resolver.IsNotFound(rd.Err) {
			return Result{Status: Fail, Details: d, Fix: ptrFix(t),
				Summary: fmt.Sprintf("%s has no PTR record, so there is nothing to confirm", rd.IP)}
		}
		return Result{Status: Error, Details: d, Summary: "PTR could not be checked: " + dnsTrouble(rd.Err)}
	}
	var names []map[string]any
	var seen []string
	for _, n := range rd.Names {
		m := map[string]any{"name": n.Name, "confirmed": n.Confirmed}
		if len(n.Addrs) > 0 {
			m["addresses"] = addrStrings(n.Addrs)
			seen = append(seen, fmt.Sprintf("%s → %s", n.Name, strings.Join(addrStrings(n.Addrs), ", ")))
		} else if n.Err != nil {
			m["error"] = n.Err.Error()
			seen = append(seen, fmt.Sprintf("%s → %s", n.Name, resolver.KindOf(n.Err)))
		}
		names = append(names, m)
	}
	d["names"] = names
	if name, ok := rd.Confirmed(); ok {
		sum := fmt.Sprintf("%s → %s → %s: forward-confirmed", rd.IP, name, rd.IP)
		if odd := iprev.Oddity(name); odd != "" {
			// Confirmed by the bytes the name holds; what it holds is for the ptr check.
			sum += "; the name " + odd
		}
		return Result{Status: Pass, Details: d, Summary: sum}
	}
	if !rd.Conclusive() {
		var why []string
		for _, n := range rd.Names {
			if n.Err != nil && !resolver.IsNotFound(n.Err) {
				why = append(why, dnsTrouble(n.Err))
			}
		}
		return Result{Status: Error, Details: d, Summary: "the PTR names could not all be resolved: " + strings.Join(why, "; ")}
	}
	first := rd.Names[0].Name
	fix := fmt.Sprintf("Publish %s. IN %s %s (or have the PTR point at a name that does)", first, addrType(t), rd.IP)
	if ptrNotAHostName(first) != "" || iprev.Oddity(first) != "" {
		// Nobody can publish an address for localhost or a bare label: the PTR is what
		// must change.
		fix = ptrFix(t)
	}
	return Result{Status: Fail, Details: d,
		Summary: fmt.Sprintf("no PTR name resolves back to %s: %s", rd.IP, strings.Join(seen, "; ")),
		Fix:     fix}
}
