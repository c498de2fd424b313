package checks

import (
	"context"
	"fmt"
	"strings"

	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks/iprev"
	"github.com/unblock-mail/unblock/checks/resolver"
)

func init() {
	register(Check{ID: "ptr", Applies: needIP, Run: runPTR})
}

func needIP(t Target) (bool, string) {
	if !t.IP.IsValid() {
		return false, "no sending IP given"
	}
	return true, ""
}

func ptrFix(t Target) string {
	name := "mail.example.com"
	if t.Domain != "" {
		name = "mail." + t.Domain
	}
	return fmt.Sprintf("Ask whoever owns %s (the hosting provider or ISP, not your DNS host) to set its PTR to your mail server's name, for example %s, and publish %s. IN %s %s",
		t.IP, name, name, addrType(t), t.IP.Unmap())
}

func addrType(t Target) string {
	if t.IP.Unmap().Is4() {
		return "A"
	}
	return "AAAA"
}

// espNote says what a PTR name in an ESP's shared pool means for the case.
func espNote(names []string) (map[string]any, string) {
	for _, n := range names {
		if e, ok := triage.ESPForHost(n); ok {
			d := map[string]any{"name": e.Name, "product": e.Product, "support": e.Support, "provider": "esp:" + e.Name,
				"route": triage.ESPRoute(e)}
			return d, fmt.Sprintf("%s is in %s's sending pool: its reputation and any delisting go through %s support (%s), with the same evidence", n, e.Product, e.Product, e.Support)
		}
	}
	return nil, ""
}

// runPTR reports the IP's reverse names: receivers reject or score down mail from an IP
// without one, or with a name that looks like a home connection.
func runPTR(ctx context.Context, env *Env, t Target) Result {
	rd := iprev.Lookup(ctx, env.Resolver, t.IP)
	d := map[string]any{"ip": rd.IP.String()}
	if rd.Err != nil {
		if resolver.IsNotFound(rd.Err) {
			return Result{Status: Fail, Details: d, Fix: ptrFix(t),
				Summary: fmt.Sprintf("%s has no PTR record (%s): many receivers refuse mail from it", rd.IP, resolver.KindOf(rd.Err))}
		}
		return Result{Status: Error, Details: d, Summary: "PTR could not be checked: " + dnsTrouble(rd.Err)}
	}
	names := make([]string, len(rd.Names))
	for i, n := range rd.Names {
		names[i] = n.Name
	}
	d["names"] = names
	summary := fmt.Sprintf("%s has PTR %s", rd.IP, strings.Join(names, ", "))
	esp, note := espNote(names)
	if esp != nil {
		d["esp"] = esp
		summary += "; " + note
	}
	var bogus []string
	for _, n := range names {
		if why := iprev.Oddity(n); why != "" {
			// A PTR name holding ESC or another byte no host name has (RFC 1123
			// §2.1): it was looked up as the bytes it holds, and is reported as odd.
			bogus = append(bogus, n+" ("+why+")")
			continue
		}
		if why := ptrNotAHostName(n); why != "" {
			bogus = append(bogus, n+" ("+why+")")
		}
	}
	if len(bogus) == len(names) {
		// Every name is one no receiver can take for a mail server's.
		d["not_host_names"] = bogus
		return Result{Status: Warn, Details: d, Fix: ptrFix(t),
			Summary: summary + "; not the name of a host on the Internet: " + strings.Join(bogus, ", ")}
	}
	var generic []string
	for _, n := range names {
		if g, why := iprev.Generic(n, rd.IP); g {
			generic = append(generic, fmt.Sprintf("%s (%s)", n, why))
		}
	}
	if len(generic) > 0 && esp == nil {
		d["generic"] = generic
		return Result{Status: Warn, Details: d, Fix: ptrFix(t),
			Summary: summary + "; it looks like a dynamic or generic access address: " + strings.Join(generic, ", ")}
	}
	return Result{Status: Pass, Details: d, Summary: summary}
}

// ptrNotAHostName says why a PTR name cannot name a mail server (RFC 1912 §2.1: a PTR
// names the host's fully qualified name), or "".
func ptrNotAHostName(name string) string {
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	switch {
	case n == "localhost" || strings.HasPrefix(n, "localhost."):
		return "the loopback name"
	case !strings.Contains(n, "."):
		return "a single label, not a fully qualified name"
	}
	return ""
}
