package reports

// TLS-RPT reports (RFC 8460 §4): JSON, usually gzipped, about mail sent TO the domain
// that publishes _smtp._tls. They measure the domain's inbound TLS, not how its own mail
// is sent: shown as inbound hygiene, never as evidence for the sending side.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// TLSDomain is what TLS-RPT reports say about one policy domain: the totals across
// reporters, then each reporter.
type TLSDomain struct {
	Domain    string         `json:"domain"`
	Total     TLSCounts      `json:"total"`
	Reporters []*TLSReporter `json:"reporters"`
	byName    map[string]*TLSReporter
}

// TLSReporter is one reporting organisation's counts.
type TLSReporter struct {
	Name string `json:"reporter"`
	TLSCounts
}

// TLSCounts are sessions as reported.
type TLSCounts struct {
	Successful int64 `json:"successful_sessions"`
	Failed     int64 `json:"failed_sessions"`
	// Failures are failed sessions by result-type (starttls-not-supported,
	// certificate-expired, sts-policy-fetch-error …).
	Failures map[string]int64 `json:"failures,omitempty"`
	// Policies are the policy types the reporter applied (sts, tlsa, no-policy-found).
	Policies map[string]int64 `json:"policies,omitempty"`
	Reports  int              `json:"reports"`
	Span
}

func (c *TLSCounts) merge(o *TLSCounts) {
	c.Successful += o.Successful
	c.Failed += o.Failed
	merge(&c.Failures, o.Failures)
	merge(&c.Policies, o.Policies)
	c.Reports += o.Reports
	c.add(o.First, o.Last)
}

func (d *TLSDomain) sort() {
	slices.SortFunc(d.Reporters, func(a, b *TLSReporter) int {
		return cmp.Or(cmp.Compare(b.Successful+b.Failed, a.Successful+a.Failed), cmp.Compare(a.Name, b.Name))
	})
}

// tlsJSON is the report as RFC 8460 §4.4 writes it; unknown members are ignored.
type tlsJSON struct {
	Org       string `json:"organization-name"`
	DateRange struct {
		Start string `json:"start-datetime"`
		End   string `json:"end-datetime"`
	} `json:"date-range"`
	ReportID string `json:"report-id"`
	Policies []struct {
		Policy struct {
			Type   string `json:"policy-type"`
			Domain string `json:"policy-domain"`
		} `json:"policy"`
		Summary struct {
			Successful int64 `json:"total-successful-session-count"`
			Failed     int64 `json:"total-failure-session-count"`
		} `json:"summary"`
		Failures []struct {
			Type  string `json:"result-type"`
			Count int64  `json:"failed-session-count"`
		} `json:"failure-details"`
	} `json:"policies"`
}

func (in *input) readTLS(rd io.Reader) {
	var rep tlsJSON
	dec := json.NewDecoder(&bounded{r: rd, left: maxJSONBytes, limit: maxJSONBytes, what: "a TLS-RPT report"})
	if err := dec.Decode(&rep); err != nil {
		in.fail(in.name, "not a TLS-RPT report: %v", err)
		return
	}
	if rep.Org == "" && len(rep.Policies) == 0 {
		in.fail(in.name, "not a TLS-RPT report: no organization-name and no policies")
		return
	}
	start, err1 := parseTLSTime(rep.DateRange.Start)
	end, err2 := parseTLSTime(rep.DateRange.End)
	if err := cmp.Or(err1, err2); err != nil {
		in.fail(in.name, "TLS-RPT date-range: %v", err)
		return
	}
	in.found++
	r := in.r
	org := cmpOr(field(rep.Org), "unnamed reporter")
	r.mu.Lock()
	defer r.mu.Unlock()
	key := "tls\x00" + strings.ToLower(org) + "\x00" + field(rep.ReportID)
	if rep.ReportID != "" && r.seen[key] {
		r.dups++
		return
	}
	r.seen[key] = true
	r.reports++
	counted := map[*TLSDomain]bool{}
	for _, p := range rep.Policies {
		domain := strings.ToLower(strings.TrimSuffix(field(p.Policy.Domain), "."))
		if domain == "" || !r.wantDomain(domain) {
			continue
		}
		if p.Summary.Successful < 0 || p.Summary.Failed < 0 {
			continue
		}
		d := r.tls[domain]
		if d == nil {
			d = &TLSDomain{Domain: domain, byName: map[string]*TLSReporter{}}
			r.tls[domain] = d
		}
		c := TLSCounts{Successful: p.Summary.Successful, Failed: p.Summary.Failed}
		add(&c.Policies, cmpOr(token(p.Policy.Type), "unreported"), p.Summary.Successful+p.Summary.Failed)
		for _, f := range p.Failures {
			if f.Count > 0 {
				add(&c.Failures, cmpOr(token(f.Type), "unreported"), f.Count)
			}
		}
		if !counted[d] {
			c.Reports = 1
			counted[d] = true
		}
		c.add(start, end)
		rv := d.byName[strings.ToLower(org)]
		if rv == nil {
			rv = &TLSReporter{Name: org}
			d.byName[strings.ToLower(org)] = rv
			d.Reporters = append(d.Reporters, rv)
		}
		rv.merge(&c)
		d.Total.merge(&c)
	}
}

func parseTLSTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", field(s))
	}
	return t.UTC(), nil
}
