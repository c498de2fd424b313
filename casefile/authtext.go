package casefile

// The authentication block of a message: what a receiver sees of the sender, one
// statement per mechanism, each starting with the mechanism and its result and ending
// with when it was checked. Only what the case's check records hold is stated; hygiene
// (MX, A, MTA-STS, TLS-RPT, the sender's own STARTTLS, the recipient's filter) is not.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/unblock-mail/unblock/checks/dnsbl"
)

// AuthStatement is one line of the authentication block.
type AuthStatement struct {
	Mechanism string // SPF, DKIM, DMARC, PTR, HELO, Blocklists
	Text      string // the statement, starting with "Mechanism: result"
	Failing   bool   // the mechanism fails (or the sender is listed), as checked
}

// AuthStatements are the case's authentication and reputation as a receiver sees them,
// from its check records, in the order SPF, DKIM, DMARC, PTR/FCrDNS, HELO, blocklists.
func (c *Case) AuthStatements() []AuthStatement {
	get := func(id string) (AuthCheck, bool) {
		for _, a := range c.Authentication {
			if a.ID == id {
				return a, true
			}
		}
		return AuthCheck{}, false
	}
	var out []AuthStatement
	add := func(mech, text string, failing bool, at ...AuthCheck) {
		if text == "" {
			return
		}
		out = append(out, AuthStatement{Mechanism: mech, Text: text + checkedWhen(at...), Failing: failing})
	}

	// SPF: the domain check's verdict for the IP, else the tested message's.
	// A domain with no record gets none, not fail (RFC 7208 §4.5): the block says so, and
	// the narrative does not call it a failing SPF.
	if a, ok := get("spf"); ok {
		add("SPF", spfText(a), a.Status == "fail" && a.Result != "none", a)
	} else if m, ok := get("message/spf"); ok {
		add("SPF", spfText(m), m.Status == "fail" && m.Result != "none", m)
	}

	// DKIM: a verified signature is a pass; a published key is only a key.
	if m, ok := get("message/dkim"); ok && (len(m.Signatures) > 0 || m.Status == "fail") {
		add("DKIM", dkimSignatureText(m), m.Status == "fail", m)
	} else if a, ok := get("dkim"); ok {
		text := dkimKeyText(a)
		if c.receiverVerifiedDKIM() {
			// The receiver verified a signature (its verdict is stated apart): it is
			// our checks that verified none.
			text = strings.TrimSuffix(text, "; no signature verified yet") + "; no signature verified by these checks"
		}
		add("DKIM", text, a.Status == "fail", a)
	}

	// DMARC: the policy, and the tested message's verdict when there is one.
	a, hasPolicy := get("dmarc")
	m, hasVerdict := get("message/dmarc")
	switch {
	case hasPolicy && hasVerdict && m.Result != "":
		add("DMARC", dmarcText(a)+"; "+dmarcVerdictText(m), a.Status == "fail" || m.Status == "fail", a, m)
	case hasPolicy:
		add("DMARC", dmarcText(a), a.Status == "fail", a)
	case hasVerdict:
		add("DMARC", "DMARC: "+strings.TrimPrefix(dmarcVerdictText(m), "the tested message: ")+" on the tested message", m.Status == "fail", m)
	}

	// PTR and its forward confirmation.
	ptr, hasPTR := get("ptr")
	fc, hasFC := get("fcrdns")
	if hasPTR || hasFC {
		text, failing, at := ptrText(ptr, hasPTR, fc, hasFC)
		add("PTR", text, failing, at...)
	}
	if h, ok := get("helo"); ok {
		add("HELO", heloText(h), h.Status == "fail", h)
	}
	if b, ok := get("dnsbl"); ok {
		add("Blocklists", blocklistText(b), len(b.Listed) > 0, b)
	}
	return out
}

// checkedWhen says when the statement was checked: the oldest of its checks.
func checkedWhen(as ...AuthCheck) string {
	var at AuthCheck
	for _, a := range as {
		if !a.CheckedAt.IsZero() && (at.CheckedAt.IsZero() || a.CheckedAt.Before(at.CheckedAt)) {
			at = a
		}
	}
	if at.CheckedAt.IsZero() {
		return ""
	}
	return " (checked " + at.CheckedAt.Format(stamp) + ")"
}

func couldNot(mech string, a AuthCheck) string {
	s := mech + ": could not be checked"
	if a.Summary != "" {
		s += " (" + a.Summary + ")"
	}
	return s
}

func spfText(a AuthCheck) string {
	if a.Status == "error" && a.Result == "" {
		return couldNot("SPF", a)
	}
	var s string
	switch {
	case a.Result != "" && a.IP != "":
		s = fmt.Sprintf("SPF: %s for %s (%s)", a.Result, a.IP, a.Domain)
	case a.Result != "":
		s = fmt.Sprintf("SPF: %s (%s)", a.Result, a.Domain)
	case a.Status == "fail":
		s = "SPF: fail (" + a.Summary + ")"
	case a.Domain != "":
		s = "SPF: record published for " + a.Domain + "; not evaluated for a sending IP"
	default:
		s = "SPF: " + a.Status + " (" + a.Summary + ")"
	}
	if a.HELOResult != "" {
		s += fmt.Sprintf("; SPF for the HELO identity %s: %s", a.HELO, a.HELOResult)
	}
	return s
}

func dkimSignatureText(m AuthCheck) string {
	switch {
	case len(m.Signatures) == 0 && m.Status == "error":
		return couldNot("DKIM", m)
	case len(m.Signatures) == 0:
		return "DKIM: none (the tested message has no DKIM signature)"
	}
	var parts []string
	for i, s := range m.Signatures {
		p := fmt.Sprintf("d=%s, s=%s", s.Domain, s.Selector)
		if s.Result != "pass" && s.Why != "" {
			p += ": " + s.Why
		}
		if i == 0 {
			parts = append(parts, fmt.Sprintf("DKIM: %s (%s)", s.Result, p))
		} else {
			parts = append(parts, fmt.Sprintf("%s (%s)", s.Result, p))
		}
	}
	return strings.Join(parts, "; ") + " on the tested message"
}

func dkimKeyText(a AuthCheck) string {
	if a.Status == "error" && len(a.Keys) == 0 {
		return couldNot("DKIM", a)
	}
	var published, missing []string
	for _, k := range a.Keys {
		switch {
		case k.Error != "":
			missing = append(missing, k.Selector+" could not be read: "+k.Error)
		case !k.Found:
			missing = append(missing, "no key for "+k.Selector)
		case k.Revoked:
			published = append(published, k.Selector+", revoked")
		default:
			d := k.Selector
			switch {
			case k.Type == "rsa" && k.Bits > 0:
				d += fmt.Sprintf(", %d-bit RSA", k.Bits)
			case k.Type == "ed25519":
				d += ", Ed25519" // its size is fixed: the bits say nothing
			case k.Type != "":
				d += ", " + strings.ToUpper(k.Type)
			}
			if k.Testing {
				d += ", t=y"
			}
			published = append(published, d)
		}
	}
	var s string
	switch {
	case len(published) > 0:
		s = "DKIM: key published (" + strings.Join(published, "; ") + ")"
		if len(missing) > 0 {
			s += "; " + strings.Join(missing, "; ")
		}
	case len(missing) > 0:
		s = "DKIM: " + strings.Join(missing, "; ")
	case a.Probed:
		s = "DKIM: no key found at the common selectors probed"
	default:
		// Without the key rows a status says only how the key check went: never
		// "DKIM: pass", which is a verified signature's.
		s = "DKIM: key check " + a.Status + " (" + a.Summary + ")"
	}
	if a.Domain != "" {
		s += " at " + a.Domain
	}
	return s + "; no signature verified yet"
}

func dmarcText(a AuthCheck) string {
	switch {
	case a.Policy != "":
		s := "DMARC: p=" + a.Policy
		if a.PolicyDomain != "" && a.PolicyDomain != a.Domain {
			s += fmt.Sprintf(" (%s, inherited from %s)", a.Domain, a.PolicyDomain)
		} else if a.Domain != "" {
			s += " (" + a.Domain + ")"
		}
		return s
	case a.Status == "error":
		return couldNot("DMARC", a)
	case a.Status == "fail":
		s := "DMARC: no policy"
		if a.Domain != "" {
			s += " for " + a.Domain
		}
		if a.Summary != "" && !strings.HasPrefix(a.Summary, "no DMARC policy") {
			s += " (" + a.Summary + ")" // a broken or doubled record says why
		}
		return s
	}
	// Without the policy a status says only how the record check went: never
	// "DMARC: pass", which is a tested message's verdict.
	return "DMARC: policy check " + a.Status + " (" + a.Summary + ")"
}

func dmarcVerdictText(m AuthCheck) string {
	s := "the tested message: " + m.Result
	if len(m.Aligned) > 0 {
		s += " (aligned: " + strings.Join(m.Aligned, ", ") + ")"
	} else if m.Result != "none" {
		s += " (no aligned identity passes)"
	}
	return s
}

func ptrText(ptr AuthCheck, hasPTR bool, fc AuthCheck, hasFC bool) (string, bool, []AuthCheck) {
	var at []AuthCheck
	if hasPTR {
		at = append(at, ptr)
	}
	if hasFC {
		at = append(at, fc)
	}
	ip := ptr.IP
	if ip == "" {
		ip = fc.IP
	}
	switch {
	case hasFC && fc.Status == "pass" && len(fc.Names) > 0:
		return fmt.Sprintf("PTR/FCrDNS: pass (%s → %s → %s)", ip, fc.Names[0], ip), hasPTR && ptr.Status == "fail", at
	case hasPTR && ptr.Status == "fail", !hasPTR && fc.Status == "fail" && len(fc.Names) == 0 && strings.Contains(fc.Summary, "no PTR"):
		return fmt.Sprintf("PTR: none for %s (no PTR record)", ip), true, at
	case hasPTR && ptr.Status == "error" && (!hasFC || fc.Status == "error"):
		return couldNot("PTR", ptr), false, at
	}
	var parts []string
	if hasPTR && len(ptr.Names) > 0 {
		parts = append(parts, fmt.Sprintf("PTR: %s (%s → %s)", ptr.Status, ip, strings.Join(ptr.Names, ", ")))
	} else if hasPTR {
		parts = append(parts, "PTR: "+ptr.Status+" ("+ptr.Summary+")")
	}
	if hasFC {
		switch fc.Status {
		case "error":
			parts = append(parts, "FCrDNS: could not be checked ("+fc.Summary+")")
		case "fail":
			parts = append(parts, "FCrDNS: fail (no PTR name resolves back to "+ip+")")
		default:
			parts = append(parts, "FCrDNS: "+fc.Status)
		}
	}
	return strings.Join(parts, "; "), fc.Status == "fail", at
}

func heloText(h AuthCheck) string {
	switch {
	case h.Status == "error":
		return couldNot("HELO", h)
	case h.HELOMatchesPTR:
		return fmt.Sprintf("HELO: %s (%s, the IP's forward-confirmed PTR name)", h.Status, h.HELO)
	case h.HELOResolvesToIP && h.IP != "":
		return fmt.Sprintf("HELO: %s (%s resolves to %s)", h.Status, h.HELO, h.IP)
	}
	return fmt.Sprintf("HELO: %s (%s)", h.Status, h.Summary)
}

func blocklistText(b AuthCheck) string {
	if len(b.Listed) == 0 && len(b.NotListed) == 0 {
		switch {
		case len(b.Unread) > 0:
			return "Blocklists: none could be read: " + unreadText(b.Unread)
		case b.Status == "error":
			return couldNot("Blocklists", b)
		}
		return "Blocklists: " + b.Status + " (" + b.Summary + ")"
	}
	// IP lists and domain lists are counted apart: "not listed on 10 lists" after the
	// IP's lines reads as ten IP lists.
	var ipListed, domainListed []string
	for _, l := range b.Listed {
		what := l.List
		var in []string
		in = append(in, l.Labels...)
		in = append(in, l.Codes...)
		if len(in) > 0 {
			what += " (" + strings.Join(in, ", ") + ")"
		}
		switch {
		case l.Subject == "" || l.Subject == b.IP:
			ipListed = append(ipListed, what)
		case l.Subject == b.Domain:
			domainListed = append(domainListed, what)
		default:
			domainListed = append(domainListed, what+" for "+l.Subject)
		}
	}
	var ipNot, domainNot []string
	for _, z := range b.NotListed {
		if b.domainList(z, "") {
			domainNot = append(domainNot, z)
		} else {
			ipNot = append(ipNot, z)
		}
	}
	var ipUnread, domainUnread []Unread
	for _, u := range b.Unread {
		if u.Subject != "" && u.Subject != b.IP || u.Subject == "" && b.domainList("", u.List) {
			domainUnread = append(domainUnread, u)
		} else {
			ipUnread = append(ipUnread, u)
		}
	}
	parts := []string{listsText(cmpOr(b.IP, "the IP"), ipListed, ipNot, ipUnread, "IP list"),
		listsText(cmpOr(b.Domain, "the domain"), domainListed, domainNot, domainUnread, "domain list")}
	parts = slices.DeleteFunc(parts, func(s string) bool { return s == "" })
	return "Blocklists: " + strings.Join(parts, "; ")
}

// listsText says how one subject stands on its kind of list: "192.0.2.1 not listed on
// 7 of 8 IP lists (1 could not be read: …)", "192.0.2.1 listed on Spamhaus ZEN (SBL),
// not listed on 7 other IP lists".
func listsText(subject string, listed, not []string, unread []Unread, noun string) string {
	var s string
	if len(listed) > 0 {
		s = subject + " listed on " + strings.Join(listed, ", ")
		noun = "other " + noun
		if len(not) > 0 || len(unread) > 0 {
			s += ", "
		}
	} else if len(not) > 0 || len(unread) > 0 {
		s = subject + " "
	}
	switch {
	case len(not) == 0 && len(unread) == 0:
	case len(unread) == 0:
		s += "not listed on " + plural(len(not), noun)
	case len(not) == 0:
		s += fmt.Sprintf("none of %s could be read: %s", plural(len(unread), noun), unreadText(unread))
	default:
		s += fmt.Sprintf("not listed on %d of %s (%d could not be read: %s)", len(not),
			plural(len(not)+len(unread), noun), len(unread), unreadText(unread))
	}
	return s
}

// domainList reports whether a list (by zone or by name) is asked about the domain: as
// the check recorded it, else as the catalog of lists says.
func (b AuthCheck) domainList(zone, name string) bool {
	if zone != "" && slices.Contains(b.DomainLists, zone) {
		return true
	}
	for _, z := range dnsbl.Zones() {
		if (zone != "" && z.Zone == zone || name != "" && z.Name == name) && z.Kind == dnsbl.KindDomain {
			return true
		}
	}
	return false
}

func cmpOr(s, alt string) string {
	if s != "" {
		return s
	}
	return alt
}

// unreadText groups the lists that could not be read by their reason.
func unreadText(us []Unread) string {
	var order []string
	by := map[string][]string{}
	for _, u := range us {
		if _, ok := by[u.Why]; !ok {
			order = append(order, u.Why)
		}
		by[u.Why] = append(by[u.Why], u.List)
	}
	var parts []string
	for _, why := range order {
		parts = append(parts, strings.Join(by[why], ", ")+" ("+why+")")
	}
	return strings.Join(parts, "; ")
}
