package checks

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/sanitize"
)

func init() {
	register(Check{ID: "mx", Applies: needDomain, Run: runMX})
	register(Check{ID: "a", Applies: needDomain, Run: runA})
}

func needDomain(t Target) (bool, string) {
	if t.Domain == "" {
		return false, "no sending domain given"
	}
	return true, ""
}

// dnsTrouble says why a lookup gave no answer, in words that keep "could not be
// checked" apart from "not there".
func dnsTrouble(err error) string {
	var e *resolver.Error
	if !errors.As(err, &e) {
		return sanitize.Line(err.Error())
	}
	switch e.Kind {
	case resolver.Timeout:
		return fmt.Sprintf("no answer in time for %s (timeout)", e.Name)
	case resolver.ServFail:
		return fmt.Sprintf("the resolver answered SERVFAIL for %s (often a broken DNSSEC chain or an unreachable authoritative server)", e.Name)
	case resolver.Refused:
		return fmt.Sprintf("the resolver answered REFUSED for %s", e.Name)
	case resolver.Network:
		return "the resolver could not be reached: " + e.Error()
	case resolver.Loop:
		return fmt.Sprintf("the CNAME chain of %s loops or is too long", e.Name)
	}
	return e.Error()
}

func addrStrings(as []netip.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// mxHost is one exchanger as the mx check saw it.
type mxHost struct {
	resolver.MX
	Addrs   []netip.Addr
	CNAMEs  []string
	Err     error
	Problem string
}

// lookupMXHosts resolves every exchanger at once; a host named by an IP address or an
// alias is a problem (RFC 5321 §5.1, RFC 2181 §10.3) though most senders follow them.
func lookupMXHosts(ctx context.Context, r *resolver.Resolver, mxs []resolver.MX) []mxHost {
	out := make([]mxHost, len(mxs))
	var wg sync.WaitGroup
	for i, mx := range mxs {
		out[i].MX = mx
		if _, err := netip.ParseAddr(mx.Host); err == nil {
			out[i].Problem = "an IP address where a host name must be (RFC 5321 §5.1)"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &out[i]
			// A and AAAA go out together; the alias check then reads the A answer
			// from the resolver's cache instead of costing a round trip of its own.
			h.Addrs, h.Err = r.IPs(ctx, mx.Host)
			if ans, err := r.Query(ctx, mx.Host, dns.TypeA); err == nil && len(ans.CNAMEs) > 0 {
				h.CNAMEs = ans.CNAMEs
			}
			switch {
			case h.Err != nil && resolver.IsNotFound(h.Err):
				h.Problem = "does not resolve (" + resolver.KindOf(h.Err).String() + ")"
			case len(h.CNAMEs) > 0:
				h.Problem = "is an alias (CNAME to " + h.CNAMEs[len(h.CNAMEs)-1] + "); an MX must name the host itself (RFC 2181 §10.3)"
			case len(h.Addrs) > 0 && !slices.ContainsFunc(h.Addrs, isPublic):
				h.Problem = "resolves only to " + strings.Join(addrStrings(h.Addrs), ", ") + ", not reachable from the Internet"
			}
		}()
	}
	wg.Wait()
	return out
}

func isNullMX(mxs []resolver.MX) bool {
	return len(mxs) == 1 && mxs[0].Host == ""
}

// runMX checks that the sending domain can receive bounces: receivers reject mail whose
// envelope domain cannot take a reply.
func runMX(ctx context.Context, env *Env, t Target) Result {
	r := env.Resolver
	mxs, err := r.MX(ctx, t.Domain)
	d := map[string]any{"domain": t.Domain}
	switch {
	case err != nil && resolver.KindOf(err) == resolver.NXDomain:
		return Result{Status: Fail, Details: d,
			Summary: fmt.Sprintf("%s does not exist (NXDOMAIN): it can receive no bounces, and receivers reject mail from it", t.Domain),
			Fix:     "Send from a domain that exists, or register and publish " + t.Domain}
	case err != nil && resolver.KindOf(err) == resolver.NoData:
		// RFC 5321 §5.1: with no MX, the domain's own address is the implicit MX.
		addrs, aerr := r.IPs(ctx, t.Domain)
		if aerr != nil && !resolver.IsNotFound(aerr) {
			return Result{Status: Error, Details: d, Summary: "no MX record, and the A/AAAA fallback could not be checked: " + dnsTrouble(aerr)}
		}
		fix := fmt.Sprintf("Publish an MX record: %s. IN MX 10 mail.%s.", t.Domain, t.Domain)
		if len(addrs) == 0 {
			return Result{Status: Fail, Details: d, Fix: fix,
				Summary: fmt.Sprintf("%s has no MX and no A/AAAA record: bounces to it cannot be delivered", t.Domain)}
		}
		d["implicit_mx"] = addrStrings(addrs)
		return Result{Status: Warn, Details: d, Fix: fix,
			Summary: fmt.Sprintf("%s has no MX record; bounces go to its A/AAAA address %s (implicit MX, RFC 5321 §5.1)", t.Domain, addrs[0])}
	case err != nil:
		return Result{Status: Error, Details: d, Summary: "MX could not be checked: " + dnsTrouble(err)}
	}
	if isNullMX(mxs) {
		d["null_mx"] = true
		return Result{Status: Fail, Details: d,
			Summary: fmt.Sprintf("%s publishes a null MX (RFC 7505): it accepts no mail, so it cannot receive bounces, and receivers may reject it as a sender (5.7.27)", t.Domain),
			Fix:     fmt.Sprintf("Send from a domain that receives mail, or replace the null MX of %s with a real one", t.Domain)}
	}
	hosts := lookupMXHosts(ctx, r, mxs)
	var list []map[string]any
	var good, bad, unknown int
	var problems []string
	nullMixed := false
	for _, h := range hosts {
		m := map[string]any{"host": h.Host, "preference": h.Pref}
		if h.Host == "" {
			h.Problem = "a null MX (0 .) mixed with other MX records: RFC 7505 §3 forbids it, and senders may treat the domain as taking no mail"
		}
		if len(h.Addrs) > 0 {
			m["addresses"] = addrStrings(h.Addrs)
		}
		switch {
		case h.Host == "":
			m["problem"] = h.Problem
			problems = append(problems, h.Problem)
			nullMixed = true
		case h.Problem != "":
			m["problem"] = h.Problem
			problems = append(problems, fmt.Sprintf("%s %s", h.Host, h.Problem))
		}
		switch {
		case len(h.Addrs) > 0:
			good++
		case h.Err != nil && !resolver.IsNotFound(h.Err):
			unknown++
			m["error"] = dnsTrouble(h.Err)
		default:
			bad++
		}
		list = append(list, m)
	}
	d["mx"] = list
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = orDot(h.Host)
	}
	switch {
	case good == 0 && unknown > 0:
		return Result{Status: Error, Details: d, Summary: "the MX hosts could not be resolved: " + strings.Join(names, ", ")}
	case good == 0:
		return Result{Status: Fail, Details: d,
			Summary: "no MX host resolves: " + strings.Join(problems, "; "),
			Fix:     "Give every MX host an A/AAAA record, or point the MX at hosts that have one"}
	case len(problems) > 0:
		fix := "Point each MX at a host name with its own A/AAAA record"
		if nullMixed {
			fix = fmt.Sprintf("Remove the null MX (0 .) of %s: it takes mail at its other MX hosts", t.Domain)
		}
		return Result{Status: Warn, Details: d,
			Summary: fmt.Sprintf("%d of %d MX hosts resolve; %s", good, len(hosts), strings.Join(problems, "; ")),
			Fix:     fix}
	case unknown > 0:
		return Result{Status: Warn, Details: d,
			Summary: fmt.Sprintf("%d of %d MX hosts resolve; %d could not be checked", good, len(hosts), unknown)}
	}
	return Result{Status: Pass, Details: d, Summary: "MX " + strings.Join(names, ", ") + ": every host resolves"}
}

func orDot(host string) string {
	if host == "" {
		return "."
	}
	return host
}

// runA reports the sending domain's own addresses: not needed to send, but a domain with
// neither MX nor address does not exist for mail.
func runA(ctx context.Context, env *Env, t Target) Result {
	r := env.Resolver
	d := map[string]any{"domain": t.Domain}
	addrs, err := r.IPs(ctx, t.Domain)
	if err != nil && !resolver.IsNotFound(err) {
		return Result{Status: Error, Details: d, Summary: "A/AAAA could not be checked: " + dnsTrouble(err)}
	}
	if resolver.KindOf(err) == resolver.NXDomain {
		return Result{Status: Fail, Details: d, Summary: t.Domain + " does not exist (NXDOMAIN)",
			Fix: "Send from a domain that exists"}
	}
	if len(addrs) == 0 {
		mxs, merr := r.MX(ctx, t.Domain)
		switch {
		case merr == nil && !isNullMX(mxs):
			return Result{Status: Pass, Details: d, Summary: t.Domain + " has no A/AAAA record; that is fine, its MX receives mail"}
		case merr != nil && !resolver.IsNotFound(merr):
			return Result{Status: Error, Details: d, Summary: t.Domain + " has no A/AAAA record, and its MX could not be checked: " + dnsTrouble(merr)}
		}
		return Result{Status: Fail, Details: d,
			Summary: t.Domain + " has neither an A/AAAA record nor a usable MX: for mail it does not exist",
			Fix:     fmt.Sprintf("Publish an MX record: %s. IN MX 10 mail.%s.", t.Domain, t.Domain)}
	}
	d["addresses"] = addrStrings(addrs)
	var private []string
	for _, a := range addrs {
		if !isPublic(a) {
			private = append(private, a.String())
		}
	}
	if len(private) > 0 {
		return Result{Status: Warn, Details: d,
			Summary: fmt.Sprintf("%s resolves to %s, not reachable from the Internet", t.Domain, strings.Join(private, ", ")),
			Fix:     "Publish only public addresses for " + t.Domain + " in the public DNS"}
	}
	return Result{Status: Pass, Details: d, Summary: t.Domain + " resolves to " + strings.Join(addrStrings(addrs), ", ")}
}

// isPublic reports whether a can be reached from the Internet: not loopback, private,
// link-local or unspecified.
func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate()
}
