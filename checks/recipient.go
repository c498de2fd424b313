package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks/resolver"
)

func init() {
	register(Check{ID: "recipient", Applies: recipientApplies, Run: runRecipient})
}

func recipientApplies(t Target) (bool, string) {
	if t.RecipientDomain == "" {
		return false, "no recipient domain given"
	}
	return true, ""
}

// runRecipient names who filters the recipient's mail, from its MX: the provider decides
// where a block is taken (a Proofpoint IP check, a Microsoft delisting …).
func runRecipient(ctx context.Context, env *Env, t Target) Result {
	dom := t.RecipientDomain
	d := map[string]any{"domain": dom}
	mxs, err := env.Resolver.MX(ctx, dom)
	switch {
	case resolver.KindOf(err) == resolver.NXDomain:
		return Result{Status: Fail, Details: d, Summary: dom + " does not exist (NXDOMAIN): check the recipient address for a typo",
			Fix: "Correct the recipient domain"}
	case resolver.KindOf(err) == resolver.NoData:
		return Result{Status: Warn, Details: d, Summary: dom + " has no MX record: mail to it goes to its A/AAAA address, so no filtering provider can be named"}
	case err != nil:
		return Result{Status: Error, Details: d, Summary: "the recipient's MX could not be checked: " + dnsTrouble(err)}
	}
	if isNullMX(mxs) {
		d["null_mx"] = true
		return Result{Status: Fail, Details: d, Summary: dom + " publishes a null MX (RFC 7505): it accepts no mail at all",
			Fix: "Check the recipient address: this domain receives no mail"}
	}
	hosts := make([]string, len(mxs))
	for i, mx := range mxs {
		hosts[i] = mx.Host
	}
	d["mx"] = hosts
	var f triage.Filter
	var found bool
	var via string
	for _, h := range hosts {
		if f, found = triage.FilterForHost(h); found {
			via = h
			break
		}
	}
	if !found {
		return Result{Status: Pass, Details: d,
			Summary: fmt.Sprintf("%s receives at %s; the filter behind it is not recognised (its own servers or an unlisted provider): read the rejection text for who blocked", dom, strings.Join(hosts, ", "))}
	}
	d["provider"] = f.Provider
	d["product"] = f.Product
	// Who filters says which desks can act, not that there is a block to lift: where the
	// case goes is the case's route (a customer's false positive goes to its own support).
	summary := fmt.Sprintf("%s is filtered by %s (MX %s)", dom, f.Product, via)
	if f.Provider == "proofpoint" {
		d["route"] = triage.RouteFor("proofpoint-ipcheck", ipString(t)) // a sender's desk there
	}
	return Result{Status: Pass, Details: d, Summary: summary}
}

func ipString(t Target) string {
	if t.IP.IsValid() {
		return t.IP.String()
	}
	return ""
}
