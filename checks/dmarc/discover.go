package dmarc

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/unblock-mail/unblock/checks/resolver"
)

// MaxQueries is the most names the DNS tree walk asks (RFC 9989 §4.10).
const MaxQueries = 8

// Found is what the walk found at one name.
type Found struct {
	Domain  string   // the domain the record is for (without _dmarc.)
	Text    string   // the record as published
	Record  *Record  // nil when Err is set
	Err     error    // a syntax error
	Several []string // set instead when the name has several DMARC records
}

// Discovery is the result of the tree walk for one domain.
type Discovery struct {
	Domain string // the domain asked about (the RFC5322.From domain)
	// Policy is the record that governs Domain: the first valid one on the walk; nil
	// when there is none.
	Policy *Found
	// OrgDomain is the organizational domain (RFC 9989 §4.10.2).
	OrgDomain string
	// Names are the names asked, in walk order.
	Names []string
	// Found has every name that had something DMARC-like, in walk order: invalid and
	// duplicated records too, so they can be reported.
	Found []Found
	// Err is set when a name on the walk could not be asked (not "not found"): the walk
	// cannot say a record is absent.
	Err error
}

// WalkNames returns the names the tree walk asks for domain, in order: the domain, then
// (from 8 labels or more) its last 7 labels, then one label fewer each time down to the
// top-level domain, at most MaxQueries.
func WalkNames(domain string) []string {
	labels := strings.Split(strings.ToLower(strings.TrimSuffix(domain, ".")), ".")
	out := []string{strings.Join(labels, ".")}
	if len(labels) >= 8 {
		labels = labels[len(labels)-7:]
		out = append(out, strings.Join(labels, "."))
	}
	for len(labels) > 1 && len(out) < MaxQueries {
		labels = labels[1:]
		out = append(out, strings.Join(labels, "."))
	}
	return out
}

// Discover walks the tree for domain. The names are independent, so all are asked at
// once: the walk costs one round trip.
func Discover(ctx context.Context, res *resolver.Resolver, domain string) *Discovery {
	d := &Discovery{Domain: strings.ToLower(strings.TrimSuffix(domain, "."))}
	if _, err := resolver.Normalize(d.Domain); err != nil {
		d.Err = err
		return d
	}
	d.Names = WalkNames(d.Domain)
	found := make([]*Found, len(d.Names))
	errs := make([]error, len(d.Names))
	var wg sync.WaitGroup
	for i, name := range d.Names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found[i], errs[i] = lookup(ctx, res, name)
		}()
	}
	wg.Wait()
	for i, f := range found {
		if errs[i] != nil && d.Policy == nil && d.Err == nil {
			// A name we could not ask comes before any record: what it holds is unknown.
			d.Err = errs[i]
		}
		if f == nil {
			continue
		}
		d.Found = append(d.Found, *f)
		if d.Policy == nil && d.Err == nil && f.Record != nil {
			d.Policy = f
		}
	}
	d.OrgDomain = orgDomain(d.Domain, d.Found)
	return d
}

// nearMiss finds a DMARC version tag anywhere in a TXT string, spaced or not: a record
// meant as DMARC that receivers discard (a leading space, text before it).
var nearMiss = regexp.MustCompile(`(?i)v\s*=\s*dmarc1`)

// lookup reads _dmarc.<name>; nil when nothing DMARC-like is there.
func lookup(ctx context.Context, res *resolver.Resolver, name string) (*Found, error) {
	txts, err := res.TXT(ctx, "_dmarc."+name)
	if err != nil {
		if resolver.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	var recs []string
	for _, t := range txts {
		if IsRecord(t) {
			recs = append(recs, t)
		}
	}
	switch len(recs) {
	case 0:
		// A record that names DMARC1 but does not begin "v=DMARC1;" is ignored by
		// receivers (RFC 9989 §4.7: v= comes first); say so instead of "absent".
		for _, t := range txts {
			if nearMiss.MatchString(t) {
				return &Found{Domain: name, Text: t,
					Err: fmt.Errorf(`%w: it must begin with "v=DMARC1;" and separate every tag with ";"`, ErrSyntax)}, nil
			}
		}
		return nil, nil
	case 1:
		f := &Found{Domain: name, Text: recs[0]}
		f.Record, f.Err = ParseRecord(recs[0])
		return f, nil
	}
	// Several records at one name: receivers use none of them (RFC 9989 §4.10).
	return &Found{Domain: name, Several: recs}, nil
}

// orgDomain applies RFC 9989 §4.10.2 to what the walk found: the first record with psd=n
// names itself; a record with psd=y (other than the start) names the domain one label
// below it; otherwise the record with the fewest labels; otherwise the start.
func orgDomain(start string, found []Found) string {
	var fewest string
	for _, f := range found {
		if f.Record == nil {
			continue
		}
		switch {
		case f.Record.PSD == PSDNo:
			return f.Domain
		case f.Record.PSD == PSDYes && f.Domain != start:
			return oneBelow(start, f.Domain)
		}
		fewest = f.Domain
	}
	if fewest != "" {
		return fewest
	}
	return start
}

// oneBelow returns the ancestor of domain (or domain itself) with one label more than psd.
func oneBelow(domain, psd string) string {
	labels := strings.Split(domain, ".")
	n := strings.Count(psd, ".") + 2
	if n > len(labels) {
		return domain
	}
	return strings.Join(labels[len(labels)-n:], ".")
}

// OrgDomain returns the organizational domain of domain by the tree walk.
func OrgDomain(ctx context.Context, res *resolver.Resolver, domain string) (string, error) {
	d := Discover(ctx, res, domain)
	return d.OrgDomain, d.Err
}

// Aligned reports whether an authenticated identifier (the SPF-checked MAIL FROM domain
// or a DKIM d= domain) is aligned with the From domain (RFC 9989 §4.4): strict needs the
// same name; relaxed needs the same organizational domain.
func Aligned(mode Alignment, fromDomain, fromOrg, idDomain, idOrg string) bool {
	norm := func(s string) string { return strings.ToLower(strings.TrimSuffix(s, ".")) }
	if norm(fromDomain) == norm(idDomain) {
		return true
	}
	if mode == Strict {
		return false
	}
	return fromOrg != "" && norm(fromOrg) == norm(idOrg)
}

// ExternalReport is the authorisation check of a report destination outside the
// policy's organizational domain (RFC 9989 §4.7, RFC 9990).
type ExternalReport struct {
	URI        string
	DestDomain string
	Name       string // <policy domain>._report._dmarc.<dest domain>
	Authorized bool
	Err        error // the name could not be asked
}

// CheckReportDestinations checks each rua/ruf destination outside orgDomain for the
// record that says it accepts reports for policyDomain; all names at once.
func CheckReportDestinations(ctx context.Context, res *resolver.Resolver, policyDomain, orgDomain string, uris []string) []ExternalReport {
	var out []ExternalReport
	for _, u := range uris {
		dest, err := ReportDomain(u)
		if err != nil || dest == orgDomain || strings.HasSuffix(dest, "."+orgDomain) {
			continue
		}
		out = append(out, ExternalReport{URI: u, DestDomain: dest, Name: policyDomain + "._report._dmarc." + dest})
	}
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			txts, err := res.TXT(ctx, out[i].Name)
			if err != nil {
				if !resolver.IsNotFound(err) {
					out[i].Err = err
				}
				return
			}
			for _, t := range txts {
				if IsRecord(t) {
					out[i].Authorized = true
				}
			}
		}()
	}
	wg.Wait()
	return out
}
