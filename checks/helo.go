package checks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/unblock-mail/unblock/checks/iprev"
	"github.com/unblock-mail/unblock/checks/resolver"
)

func init() {
	register(Check{ID: "helo", Applies: heloApplies, Run: runHELO})
}

func heloApplies(t Target) (bool, string) {
	if strings.TrimSpace(t.HELO) == "" {
		return false, "no HELO name given"
	}
	return true, ""
}

// runHELO judges the name the sender's server gives in EHLO: receivers expect a fully
// qualified name that resolves, ideally the IP's forward-confirmed PTR name.
func runHELO(ctx context.Context, env *Env, t Target) Result {
	res := heloVerdict(ctx, env, t)
	name := strings.TrimSpace(t.HELO)
	if strings.HasSuffix(name, ".") && !strings.HasPrefix(name, "[") && (res.Status == Pass || res.Status == Warn) {
		// RFC 5321 §4.1.2: Domain is sub-domain *("." sub-domain), with no root dot.
		bare := strings.TrimSuffix(name, ".")
		note := fmt.Sprintf("HELO %s ends with a dot, which the EHLO syntax does not allow (RFC 5321 §4.1.2); some receivers reject it", name)
		if res.Status == Pass {
			res.Details["notes"] = []string{res.Summary}
			res.Status, res.Summary = Warn, note
			res.Fix = fmt.Sprintf("Make the server introduce itself as %s, without the final dot", bare)
		} else {
			res.Summary += "; " + note
		}
	}
	return res
}

func heloVerdict(ctx context.Context, env *Env, t Target) Result {
	var rdns iprev.Result
	// The HELO name's addresses do not depend on the reverse lookup: ask at once.
	if _, err := netip.ParseAddr(t.HELO); err != nil && strings.Contains(t.HELO, ".") && !strings.HasPrefix(t.HELO, "[") {
		go env.Resolver.IPs(ctx, t.HELO)
	}
	if t.IP.IsValid() {
		rdns = iprev.Lookup(ctx, env.Resolver, t.IP)
	}
	h := iprev.CheckHELO(ctx, env.Resolver, t.HELO, t.IP, rdns)
	d := map[string]any{"name": h.Name}
	if len(h.Addrs) > 0 {
		d["addresses"] = addrStrings(h.Addrs)
	}
	if t.IP.IsValid() {
		d["resolves_to_ip"] = h.ToIP
		d["matches_rdns"] = h.MatchRDNS
	}
	ptrName, _ := rdns.Confirmed()
	fix := "Make the server introduce itself (EHLO) with its own fully qualified host name"
	if ptrName != "" && iprev.Oddity(ptrName) == "" {
		fix = fmt.Sprintf("Make the server introduce itself as %s (EHLO %s), the IP's forward-confirmed PTR name", ptrName, ptrName)
	}
	res := Result{Details: d}
	switch {
	case errors.Is(h.Syntax, iprev.ErrHELOLiteral):
		res.Status, res.Fix = Warn, fix
		res.Summary = fmt.Sprintf("HELO %s: %v", h.Name, h.Syntax)
		if h.Literal.IsValid() && t.IP.IsValid() && !h.ToIP {
			res.Summary += fmt.Sprintf("; and it is not the sending IP %s", t.IP)
		}
		return res
	case h.Syntax != nil:
		res.Status, res.Fix = Fail, fix
		res.Summary = fmt.Sprintf("HELO %s: %v", h.Name, h.Syntax)
		return res
	case h.Err != nil && resolver.IsNotFound(h.Err):
		res.Status, res.Fix = Fail, fix+"; or publish an A/AAAA record for "+h.Name+" pointing at the sending IP"
		res.Summary = fmt.Sprintf("HELO %s does not resolve (%s)", h.Name, resolver.KindOf(h.Err))
		return res
	case h.Err != nil:
		res.Status = Error
		res.Summary = fmt.Sprintf("HELO %s could not be resolved: %s", h.Name, dnsTrouble(h.Err))
		return res
	case !t.IP.IsValid():
		res.Status = Pass
		res.Summary = fmt.Sprintf("HELO %s is a host name that resolves (no sending IP given to compare)", h.Name)
		return res
	case h.MatchRDNS:
		res.Status = Pass
		res.Summary = fmt.Sprintf("HELO %s is the IP's forward-confirmed PTR name", h.Name)
		return res
	case h.ToIP:
		res.Status = Pass
		res.Summary = fmt.Sprintf("HELO %s resolves to %s", h.Name, t.IP)
		if ptrName != "" {
			res.Summary += fmt.Sprintf(" (the PTR name is %s)", ptrName)
		}
		return res
	}
	res.Status, res.Fix = Warn, fix
	res.Summary = fmt.Sprintf("HELO %s resolves to %s, not to the sending IP %s", h.Name, strings.Join(addrStrings(h.Addrs), ", "), t.IP)
	return res
}
