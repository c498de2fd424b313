package casefile

// Receivers' reports as evidence: what DMARC aggregate reports, SNDS and TLS-RPT said
// about the case's IPs and domain, kept as sums in a timeline event of kind "report".
// The rows stay in the report files.

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/casefile/reports"
)

// Report types.
const (
	ReportDMARC = "dmarc"   // DMARC aggregate reports (RFC 7489, RFC 9990)
	ReportSNDS  = "snds"    // Microsoft SNDS data and IP status
	ReportTLS   = "tls-rpt" // TLS-RPT (RFC 8460): mail sent to the domain, inbound hygiene
)

// ReportSummary is what receivers' reports of one type said about one sending IP (or,
// for TLS-RPT, the case's domain) over the event's dates. A zero count is omitted.
type ReportSummary struct {
	Type    string `yaml:"type"`
	Reports int    `yaml:"reports,omitempty"`
	// Receivers are the reporting organisations, most messages first.
	Receivers []string `yaml:"receivers,omitempty,flow"`

	// DMARC aggregate: messages, and how many passed DMARC, had aligned DKIM or aligned
	// SPF passing, and were quarantined or rejected.
	Messages    int64 `yaml:"messages,omitempty"`
	DMARCPass   int64 `yaml:"dmarc_pass,omitempty"`
	DKIMAligned int64 `yaml:"dkim_aligned,omitempty"`
	SPFAligned  int64 `yaml:"spf_aligned,omitempty"`
	Quarantined int64 `yaml:"quarantined,omitempty"`
	Rejected    int64 `yaml:"rejected,omitempty"`

	// SNDS: days of data by filter colour, the highest complaint rate as SNDS wrote it,
	// trap hits, and the IP status ("blocked: reason" or "not blocked").
	Days          int    `yaml:"days,omitempty"`
	Green         int    `yaml:"green,omitempty"`
	Yellow        int    `yaml:"yellow,omitempty"`
	Red           int    `yaml:"red,omitempty"`
	ComplaintRate string `yaml:"complaint_rate,omitempty"`
	TrapHits      int64  `yaml:"trap_hits,omitempty"`
	Status        string `yaml:"status,omitempty"`

	// TLS-RPT: sessions to the domain, failed sessions and their result types.
	Domain   string           `yaml:"domain,omitempty"`
	Sessions int64            `yaml:"sessions,omitempty"`
	Failed   int64            `yaml:"failed,omitempty"`
	Failures map[string]int64 `yaml:"failures,omitempty"`
}

// maxReceivers bounds the receivers named in a summary.
const maxReceivers = 50

// maxUnnamedIPs bounds the IPs kept for a case that names none: the busiest, since
// reports also name every forwarder and spoofer of the domain.
const maxUnnamedIPs = 5

// AddReports keeps what the reports say about the case as report events, one per type
// and sending IP (TLS-RPT: per domain): a new summary replaces the one there unless
// that one already covers it (add the whole folder of reports each time). It returns
// how many events were added or replaced.
func (c *Case) AddReports(s *reports.Summary, source string, now time.Time) int {
	var events []Event
	for i, ip := range s.DMARC {
		if !c.reportIP(ip.IP) || len(c.Identifiers.IPs) == 0 && i >= maxUnnamedIPs {
			continue
		}
		t := &ip.Total
		r := &ReportSummary{Type: ReportDMARC, Reports: t.Reports, Messages: t.Messages, DMARCPass: t.DMARCPass,
			DKIMAligned: t.DKIMAligned, SPFAligned: t.SPFAligned,
			Quarantined: t.Disposition.Get("quarantine"), Rejected: t.Disposition.Get("reject")}
		for _, rv := range ip.Receivers {
			if len(r.Receivers) < maxReceivers {
				r.Receivers = append(r.Receivers, rv.Name)
			}
		}
		events = append(events, Event{Kind: KindReport, At: t.First, Last: t.Last, IP: ip.IP, Report: r})
	}
	for i, ip := range s.SNDS {
		if !c.reportIP(ip.IP) || len(c.Identifiers.IPs) == 0 && i >= maxUnnamedIPs {
			continue
		}
		r := &ReportSummary{Type: ReportSNDS, Days: len(ip.Days), Receivers: []string{"Outlook.com"}}
		var first, last time.Time
		worst := -1.0
		for _, d := range ip.Days {
			switch d.Filter {
			case "green":
				r.Green++
			case "yellow":
				r.Yellow++
			case "red":
				r.Red++
			}
			r.TrapHits += d.TrapHits
			if pct, _, ok := d.ComplaintPercent(); ok && pct > worst {
				worst, r.ComplaintRate = pct, d.ComplaintRate
			}
			if t, err := time.Parse(time.DateOnly, d.Date); err == nil {
				if first.IsZero() {
					first = t
				}
				last = t.Add(24*time.Hour - time.Second)
			}
		}
		for _, st := range ip.Status {
			r.Status = "not blocked"
			if st.Blocked {
				r.Status = strings.TrimSuffix("blocked: "+st.Reason, ": ")
				break
			}
		}
		r.Reports = len(ip.Days)
		events = append(events, Event{Kind: KindReport, At: first, Last: last, IP: ip.IP, Report: r})
	}
	for _, d := range s.TLS {
		if c.Identifiers.Domain == "" || d.Domain != c.Identifiers.Domain {
			continue
		}
		t := &d.Total
		r := &ReportSummary{Type: ReportTLS, Reports: t.Reports, Domain: d.Domain, Sessions: t.Successful + t.Failed, Failed: t.Failed}
		for k, n := range t.Failures {
			if r.Failures == nil {
				r.Failures = map[string]int64{}
			}
			r.Failures[k] = n
		}
		for _, rp := range d.Reporters {
			if len(r.Receivers) < maxReceivers {
				r.Receivers = append(r.Receivers, rp.Name)
			}
		}
		events = append(events, Event{Kind: KindReport, At: t.First, Last: t.Last, Report: r})
	}
	changed := 0
	for _, e := range events {
		e.Source, e.Added = source, now.UTC()
		if c.keepReport(e) {
			changed++
		}
	}
	return changed
}

// reportIP reports whether reports about ip belong in the case: one of its IPs, or any
// when the case names none.
func (c *Case) reportIP(ip string) bool {
	return len(c.Identifiers.IPs) == 0 || slices.Contains(c.Identifiers.IPs, ip)
}

// keepReport keeps one summary per type and subject: e replaces the one there, unless
// that one is the same or covers e (its dates hold e's and it counts at least as many
// reports: e is a part of what was read before). False when nothing changed.
func (c *Case) keepReport(e Event) bool {
	for i, old := range c.Timeline {
		if old.Kind != KindReport || old.Report == nil || old.Report.Type != e.Report.Type || old.IP != e.IP || old.Report.Domain != e.Report.Domain {
			continue
		}
		same := old.At.Equal(e.At) && old.Last.Equal(e.Last) && sameReport(old.Report, e.Report)
		covered := !old.At.After(e.At) && !old.LastSeen().Before(e.LastSeen()) && old.Report.Reports >= e.Report.Reports
		if same || covered {
			return false
		}
		c.Timeline[i] = e
		return true
	}
	c.Timeline = append(c.Timeline, e)
	return true
}

func sameReport(a, b *ReportSummary) bool {
	return fmt.Sprintf("%+v", *a) == fmt.Sprintf("%+v", *b)
}

// ReportEvents are the case's report events of a type, for its IPs (or domain), the
// latest first.
func (c *Case) ReportEvents(typ string) []Event {
	var out []Event
	for _, e := range c.Timeline {
		if e.Kind == KindReport && e.Report != nil && e.Report.Type == typ && (e.IP == "" || c.reportIP(e.IP)) {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b Event) int { return b.LastSeen().Compare(a.LastSeen()) })
	return out
}

// HasReportedAuthentication reports whether receivers' DMARC aggregate reports about the
// case's IPs are in the case: what receivers measured, the best authentication evidence.
func (c *Case) HasReportedAuthentication() bool {
	return slices.ContainsFunc(c.ReportEvents(ReportDMARC), func(e Event) bool { return e.Report.Messages > 0 })
}

// ReportEvidence is the receivers' reports in sentences, one a line, for a message:
// DMARC aggregate and SNDS, for the case's IPs, with their failures. TLS-RPT measures
// mail sent to the domain and proves nothing about its sending, so it is not quoted.
func (c *Case) ReportEvidence() []string {
	var lines []string
	seen := map[string]bool{}
	for _, e := range c.ReportEvents(ReportDMARC) {
		r := e.Report
		if seen[e.IP] || r.Messages == 0 {
			continue
		}
		seen[e.IP] = true
		line := fmt.Sprintf("DMARC aggregate reports from %s, %s: %s from %s, %s with aligned DKIM",
			counted(int64(len(r.Receivers)), "receiver"), dayRange(e.At, e.LastSeen()), counted(r.Messages, "message"), e.IP,
			countOf(r.DKIMAligned, r.Messages))
		if r.SPFAligned < r.Messages {
			line += ", " + countOf(r.SPFAligned, r.Messages) + " with aligned SPF"
		}
		if fail := r.Messages - r.DMARCPass; fail > 0 {
			line += "; " + countOf(fail, r.Messages) + " failed DMARC"
			var acted []string
			if r.Quarantined > 0 {
				acted = append(acted, thousands(r.Quarantined)+" quarantined")
			}
			if r.Rejected > 0 {
				acted = append(acted, thousands(r.Rejected)+" rejected")
			}
			if len(acted) > 0 {
				line += " (" + strings.Join(acted, ", ") + ")"
			}
		} else {
			line += "; all passed DMARC"
		}
		lines = append(lines, line)
	}
	clear(seen)
	for _, e := range c.ReportEvents(ReportSNDS) {
		r := e.Report
		if seen[e.IP] {
			continue
		}
		seen[e.IP] = true
		var parts []string
		if r.Days > 0 {
			days := fmt.Sprintf("green on %d of %d days", r.Green, r.Days)
			var other []string
			if r.Yellow > 0 {
				other = append(other, fmt.Sprintf("yellow on %d", r.Yellow))
			}
			if r.Red > 0 {
				other = append(other, fmt.Sprintf("red on %d", r.Red))
			}
			if len(other) > 0 {
				days += " (" + strings.Join(other, ", ") + ")"
			}
			parts = append(parts, days)
			if rate := strings.TrimSpace(r.ComplaintRate); strings.HasPrefix(rate, "<") {
				parts = append(parts, "complaint rate under "+strings.TrimSpace(rate[1:]))
			} else if rate != "" {
				parts = append(parts, "complaint rate up to "+rate)
			}
			if r.TrapHits > 0 {
				parts = append(parts, counted(r.TrapHits, "trap hit"))
			} else {
				parts = append(parts, "no trap hits")
			}
		}
		if r.Status != "" {
			parts = append(parts, "IP status "+r.Status)
		}
		if len(parts) == 0 {
			continue
		}
		when := ""
		if !e.At.IsZero() {
			when = ", " + dayRange(e.At, e.LastSeen())
		}
		lines = append(lines, fmt.Sprintf("SNDS for %s%s: %s", e.IP, when, strings.Join(parts, ", ")))
	}
	return lines
}

// countOf is "47,680 (98.9%)": a count and its share of total, never rounded up to 100%.
func countOf(n, total int64) string {
	if total == 0 {
		return thousands(n)
	}
	p := float64(n) * 100 / float64(total)
	pct := fmt.Sprintf("%.1f%%", p)
	switch {
	case n == total:
		pct = "100%"
	case p > 99.9:
		pct = "over 99.9%"
	case n > 0 && p < 0.1:
		pct = "under 0.1%"
	}
	return thousands(n) + " (" + pct + ")"
}

// counted is "48,210 messages", "1 receiver".
func counted(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return thousands(n) + " " + noun + "s"
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// dayRange is "24–30 Nov 2026", "28 Oct – 3 Nov 2026" or "3 Nov 2026": the days covered.
// A report ending at midnight covers the day before.
func dayRange(first, last time.Time) string {
	first, last = first.UTC(), last.UTC()
	if last.After(first) && last.Hour() == 0 && last.Minute() == 0 && last.Second() == 0 {
		last = last.Add(-time.Second)
	}
	switch {
	case last.IsZero() || first.Format(time.DateOnly) >= last.Format(time.DateOnly):
		return first.Format("2 Jan 2006")
	case first.Year() != last.Year():
		return first.Format("2 Jan 2006") + " – " + last.Format("2 Jan 2006")
	case first.Month() != last.Month():
		return first.Format("2 Jan") + " – " + last.Format("2 Jan 2006")
	}
	return first.Format("2") + "–" + last.Format("2 Jan 2006")
}
