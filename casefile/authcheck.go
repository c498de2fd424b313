package casefile

// What a case keeps of a check run, and how the run is recorded: the TUI's checks screen
// and `unblock check --case` both go through CheckTarget and RecordChecks, so a case
// refreshed by a script holds exactly what the screen would have saved.

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dnsbl"
	"github.com/unblock-mail/unblock/sanitize"
)

// DKIMKey is one selector's key record as the dkim check read it.
type DKIMKey struct {
	Selector string `yaml:"selector" json:"selector"`
	Found    bool   `yaml:"found" json:"found"`
	Type     string `yaml:"type,omitempty" json:"type,omitempty"` // rsa, ed25519
	Bits     int    `yaml:"bits,omitempty" json:"bits,omitempty"`
	Revoked  bool   `yaml:"revoked,omitempty" json:"revoked,omitempty"`
	Testing  bool   `yaml:"testing,omitempty" json:"testing,omitempty"`
	Error    string `yaml:"error,omitempty" json:"error,omitempty"` // why it could not be read
}

// DKIMSignature is one signature of a tested message and its verification.
type DKIMSignature struct {
	Domain   string `yaml:"domain" json:"domain"`     // d=
	Selector string `yaml:"selector" json:"selector"` // s=
	Result   string `yaml:"result" json:"result"`     // pass, fail, permerror, temperror
	Why      string `yaml:"why,omitempty" json:"why,omitempty"`
}

// Listing is one blocklist that lists the sender.
type Listing struct {
	List    string   `yaml:"list" json:"list"` // the list's name (Spamhaus ZEN)
	Zone    string   `yaml:"zone" json:"zone"`
	Subject string   `yaml:"subject,omitempty" json:"subject,omitempty"` // the IP or domain listed
	Codes   []string `yaml:"codes,omitempty,flow" json:"codes,omitempty"`
	Labels  []string `yaml:"labels,omitempty,flow" json:"labels,omitempty"` // SBL, PBL …
}

// Unread is a blocklist that could not be read, and why.
type Unread struct {
	List    string `yaml:"list" json:"list"`
	Why     string `yaml:"why" json:"why"`
	Subject string `yaml:"subject,omitempty" json:"subject,omitempty"` // the IP or domain asked
}

// authIDs are the checks whose results speak of authentication and reputation as a
// receiver sees them; the other checks (mx, a, mta-sts, tls-rpt, starttls, mx-starttls,
// recipient) are hygiene, kept for the checks screen and the export.
var authIDs = []string{"spf", "dkim", "dmarc", "ptr", "fcrdns", "helo", "dnsbl",
	"message/spf", "message/spf-helo", "message/dkim", "message/dmarc"}

// messageKept are the tests of a message's own content kept in the case: those a
// receiver's authentication verdict is made of. The rest (MIME, links, headers) is the
// check command's report, not part of the case.
var messageKept = []string{"message/spf", "message/spf-helo", "message/dkim", "message/dkim-key", "message/dmarc",
	"message/arc", "message/authentication-results"}

// IsAuthentication reports whether a check id is one of authentication or reputation
// (what a message may state), rather than hygiene.
func IsAuthentication(id string) bool { return slices.Contains(authIDs, id) }

// CheckTarget is what the live checks are about for this case: its first IP, its
// domain, envelope sender, HELO name, selectors and first recipient domain.
func (c *Case) CheckTarget() checks.Target {
	id := c.Identifiers
	t := checks.Target{Domain: id.Domain, EnvelopeSender: id.EnvelopeSender, HELO: id.HELO, Selectors: slices.Clone(id.Selectors)}
	if ip, err := netip.ParseAddr(c.IP()); err == nil {
		t.IP = ip
	}
	if len(id.RecipientDomains) > 0 {
		t.RecipientDomain = id.RecipientDomains[0]
	}
	return t
}

// RecordChecks records a run for the case's own target (CheckTarget).
func (c *Case) RecordChecks(results []checks.Result, at time.Time) {
	c.RecordChecksFor(c.CheckTarget(), results, at)
}

// RecordChecksFor records the results of a run about t, checked at at. A check that ran
// replaces what the case held for it; a skipped one leaves the earlier result, which
// keeps its own time. Each record keeps, from the check's details, what a message states:
// the IP and domain checked, results, keys, signatures, policy, listings.
func (c *Case) RecordChecksFor(t checks.Target, results []checks.Result, at time.Time) {
	at = utc(at)
	out := slices.Clone(c.Authentication)
	for _, r := range results {
		if r.Status == checks.Skip {
			continue
		}
		if strings.HasPrefix(r.ID, "message/") && !slices.Contains(messageKept, r.ID) {
			continue
		}
		a := AuthCheck{
			ID:        sanitize.Line(r.ID),
			Status:    string(r.Status),
			Summary:   sanitize.Line(r.Summary),
			Fix:       sanitize.Text(r.Fix), // a fix may be several records, one a line
			CheckedAt: at,
		}
		a.keepDetails(t, r)
		if i := slices.IndexFunc(out, func(o AuthCheck) bool { return o.ID == a.ID }); i >= 0 {
			out[i] = a
		} else {
			out = append(out, a)
		}
	}
	slices.SortStableFunc(out, func(a, b AuthCheck) int { return strings.Compare(a.ID, b.ID) })
	c.Authentication = out
}

// details is the union of the detail keys the checks write that a case keeps. The
// details are read through JSON so that a check's own types (a verdict struct) and
// plain maps read alike.
type details struct {
	Domain   string `json:"domain"`
	IP       string `json:"ip"`
	Result   string `json:"result"`
	Name     string `json:"name"`
	MailFrom *struct {
		Domain string `json:"domain"`
		Result string `json:"result"`
	} `json:"mail_from"`
	HELO json.RawMessage `json:"helo"`
	// dkim
	Probed    bool `json:"probed"`
	Selectors []struct {
		Selector string `json:"selector"`
		Found    bool   `json:"found"`
		KeyType  string `json:"key_type"`
		Bits     int    `json:"bits"`
		Testing  bool   `json:"testing"`
		Revoked  bool   `json:"revoked"`
		Error    string `json:"error"`
	} `json:"selectors"`
	Signatures []struct {
		Domain   string `json:"domain"`
		Selector string `json:"selector"`
		Result   string `json:"result"`
		Why      string `json:"why"`
	} `json:"signatures"`
	// dmarc
	RecordDomain  string `json:"record_domain"`
	AppliedPolicy string `json:"applied_policy"`
	Verdict       *struct {
		Result     string `json:"result"`
		Applied    string `json:"applied"`
		Policy     string `json:"policy"`
		Identities []struct {
			Kind    string `json:"kind"`
			Domain  string `json:"domain"`
			Result  string `json:"result"`
			Aligned bool   `json:"aligned"`
		} `json:"identities"`
	} `json:"verdict"`
	// ptr, fcrdns, helo
	Names        json.RawMessage `json:"names"`
	MatchesRDNS  bool            `json:"matches_rdns"`
	ResolvesToIP bool            `json:"resolves_to_ip"`
	// dnsbl
	Zones []struct {
		Zone     string   `json:"zone"`
		Name     string   `json:"name"`
		State    string   `json:"state"`
		Codes    []string `json:"codes"`
		Meanings []string `json:"meanings"`
		Subject  string   `json:"subject"`
		Advice   string   `json:"advice"`
		Note     string   `json:"note"`
	} `json:"zones"`
}

func (a *AuthCheck) keepDetails(t checks.Target, r checks.Result) {
	if t.IP.IsValid() && a.ID != "dkim" && a.ID != "dmarc" && a.ID != "message/dkim" {
		a.IP = t.IP.String()
	}
	if len(r.Details) == 0 {
		return
	}
	raw, err := json.Marshal(r.Details)
	if err != nil {
		return
	}
	var d details
	if json.Unmarshal(raw, &d) != nil {
		return
	}
	line := sanitize.Line
	switch a.ID {
	case "spf":
		a.Domain = line(d.Domain)
		if d.MailFrom != nil {
			a.Domain, a.Result = line(d.MailFrom.Domain), line(d.MailFrom.Result)
		}
		var helo struct {
			Domain string `json:"domain"`
			Result string `json:"result"`
		}
		if json.Unmarshal(d.HELO, &helo) == nil && helo.Result != "" {
			a.HELO, a.HELOResult = line(helo.Domain), line(helo.Result)
		}
	case "message/spf", "message/spf-helo":
		a.Domain, a.Result = line(d.Domain), line(d.Result)
	case "dkim":
		a.Domain = line(d.Domain)
		a.Probed = d.Probed
		for _, s := range d.Selectors {
			if d.Probed && !s.Found && s.Error == "" {
				continue // a common selector that is not there says nothing
			}
			a.Keys = append(a.Keys, DKIMKey{Selector: line(s.Selector), Found: s.Found, Type: line(s.KeyType), Bits: s.Bits,
				Revoked: s.Revoked, Testing: s.Testing, Error: line(s.Error)})
		}
	case "message/dkim":
		for _, s := range d.Signatures {
			a.Signatures = append(a.Signatures, DKIMSignature{Domain: line(s.Domain), Selector: line(s.Selector), Result: line(s.Result), Why: line(s.Why)})
		}
	case "dmarc":
		a.Domain = line(d.Domain)
		a.Policy = line(d.AppliedPolicy)
		a.PolicyDomain = line(d.RecordDomain)
	case "message/dmarc":
		if v := d.Verdict; v != nil {
			a.Result = line(v.Result)
			a.Policy = line(v.Applied)
			for _, id := range v.Identities {
				if id.Aligned && id.Result == "pass" {
					a.Aligned = append(a.Aligned, line(id.Kind+" "+id.Domain))
				}
			}
		}
	case "ptr":
		var names []string
		if json.Unmarshal(d.Names, &names) == nil {
			a.Names = sanitizeAll(names)
		}
	case "fcrdns":
		var names []struct {
			Name      string `json:"name"`
			Confirmed bool   `json:"confirmed"`
		}
		if json.Unmarshal(d.Names, &names) == nil {
			for _, n := range names {
				if n.Confirmed {
					a.Names = append(a.Names, line(n.Name))
				}
			}
		}
	case "helo":
		a.HELO = line(d.Name)
		a.HELOMatchesPTR, a.HELOResolvesToIP = d.MatchesRDNS, d.ResolvesToIP
	case "dnsbl":
		a.Domain = t.Domain
		seen := map[string]bool{}
		for _, z := range d.Zones {
			switch z.State {
			case "listed":
				l := Listing{List: line(z.Name), Zone: line(z.Zone), Subject: line(z.Subject), Codes: sanitizeAll(z.Codes)}
				for _, m := range z.Meanings {
					l.Labels = append(l.Labels, line(dnsbl.Label(m, z.Name)))
				}
				a.Listed = append(a.Listed, l)
				seen[z.Zone] = true
			case "not-listed":
				if !seen[z.Zone] && !slices.Contains(a.NotListed, z.Zone) {
					a.NotListed = append(a.NotListed, line(z.Zone))
					if z.Subject != "" && z.Subject != a.IP {
						a.DomainLists = append(a.DomainLists, line(z.Zone))
					}
				}
			default:
				if !slices.ContainsFunc(a.Unread, func(u Unread) bool { return u.List == z.Name }) {
					a.Unread = append(a.Unread, Unread{List: line(z.Name), Why: line(unreadWhy(z.Zone, z.State, z.Advice, z.Note)), Subject: line(z.Subject)})
				}
			}
		}
		// A list that listed one subject and cleared another (a domain and its
		// registered domain) is a listing, not also a clean answer.
		a.NotListed = slices.DeleteFunc(a.NotListed, func(z string) bool { return seen[z] })
		a.DomainLists = slices.DeleteFunc(a.DomainLists, func(z string) bool { return seen[z] })
	}
}

// unreadWhy says in a few words why a list could not be read, the same words for every
// list with the same trouble so that they group: a refusal code's meaning ("Spamhaus
// refused: the query came through a public or open resolver"), else the head of the
// note with the list's own name taken out.
func unreadWhy(zone, state, advice, note string) string {
	if state == "refused" && advice != "" && note == "the answer is a refusal code, not a listing" {
		why, _, _ := strings.Cut(advice, ";")
		return why
	}
	if note == "" {
		return state
	}
	if zone != "" {
		note = strings.ReplaceAll(note, zone, "the list")
	}
	if head, _, ok := strings.Cut(note, ": "); ok && !strings.HasPrefix(head, "lookup") && len(head) > 8 {
		return head
	}
	return note
}

func sanitizeAll(s []string) []string {
	var out []string
	for _, x := range s {
		out = append(out, sanitize.Line(x))
	}
	return out
}
