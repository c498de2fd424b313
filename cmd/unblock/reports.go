package main

// The reports verb: what receivers reported (DMARC aggregate, TLS-RPT, SNDS), summed per
// sending IP. A thin layer over casefile/reports.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/spf13/cobra"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/reports"
	"github.com/unblock-mail/unblock/sanitize"
)

func init() {
	verbs = append(verbs, reportsCmd)
}

// addReports keeps, for the case, what the report files and folders among args say;
// it returns the arguments left for triage (the case first) and whether it kept any.
// A path counts as reports when some report was read from it.
func (a *app) addReports(ctx context.Context, s *casefile.Store, who casefile.Summary, args []string) ([]string, bool, error) {
	rest := args[:1:1]
	var found []string
	opts := reports.Options{IPs: who.IPs}
	if len(opts.IPs) == 0 {
		opts.Domain = who.Domain
	}
	rd := reports.NewReader(opts)
	read := 0
	for _, p := range args[1:] {
		if p == "-" {
			rest = append(rest, p)
			continue
		}
		if err := rd.ReadPaths(ctx, []string{p}); err != nil {
			rest = append(rest, p) // triage says what is wrong with it
			continue
		}
		// Reports counts every report read, about the case or not.
		if sm := rd.Summary(); sm.Reports+sm.Duplicates > read {
			read = sm.Reports + sm.Duplicates
			found = append(found, p)
		} else {
			rest = append(rest, p)
		}
	}
	if len(found) == 0 {
		return args, false, nil
	}
	sum := rd.Summary()
	for _, pr := range sum.Problems {
		if slices.ContainsFunc(found, func(p string) bool { return strings.HasPrefix(pr.File, p) }) {
			fmt.Fprintln(a.stderr, "unblock: "+sanitize.Line(pr.String()))
		}
	}
	changed := 0
	c, err := a.edit(s, args[0], func(c *casefile.Case) error {
		changed = c.AddReports(sum, strings.Join(found, " "), now())
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	about := "the case's IPs"
	if len(c.Identifiers.IPs) == 0 {
		about = "the case"
	}
	fmt.Fprintf(a.stdout, "%s: read %d reports; kept %d report %s about %s\n",
		sanitize.Line(c.ID), sum.Reports, changed, plural(changed, "summary", "summaries"), about)
	for _, line := range c.ReportEvidence() {
		fmt.Fprintln(a.stdout, "  "+sanitize.Line(line))
	}
	return rest, true, nil
}

func reportsCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reports PATH...",
		Short: "Sum what receivers reported: DMARC aggregate, TLS-RPT and SNDS, per sending IP",
		Long: `reports reads DMARC aggregate reports (RFC 7489 and RFC 9990 XML, as .xml, .xml.gz or
.zip, or the mails, mbox files and Maildir folders they arrived in), TLS-RPT reports
(RFC 8460 JSON, gzipped or not) and Microsoft SNDS CSV exports, given as files or
folders. It prints, per sending IP, the totals across receivers and then each receiver:
messages, DMARC, DKIM and SPF results and alignment, the disposition and the dates.
TLS-RPT is about mail sent to your domain (inbound hygiene); SNDS gives the filter colour,
complaint rate and trap hits per day.

A file that is not a report is named on standard error with the reason. Exit status: 0
when some report was read, 2 when none could be.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rd := reports.NewReader(reports.Options{})
			if err := rd.ReadPaths(cmd.Context(), args); err != nil {
				return badInput("%v", err)
			}
			s := rd.Summary()
			for _, p := range s.Problems {
				fmt.Fprintln(a.stderr, "unblock: "+sanitize.Line(p.String()))
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				if err := enc.Encode(s); err != nil {
					return fmt.Errorf("writing JSON: %w", err)
				}
			} else {
				printReports(a.stdout, s)
			}
			if s.Empty() {
				return badInput("no report could be read from %d %s", s.Files, plural(s.Files, "file", "files"))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"dmarc":[…],"tls_rpt":[…],"snds":[…]} as JSON`)
	return cmd
}

// count writes n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + count(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// percent is n of total as a percentage, one decimal; 100% only when all.
func percent(n, total int64) string {
	if total == 0 {
		return "-"
	}
	p := float64(n) * 100 / float64(total)
	switch {
	case n == total:
		return "100%"
	case p > 99.9:
		return ">99.9%"
	case n > 0 && p < 0.1:
		return "<0.1%"
	}
	return fmt.Sprintf("%.1f%%", p)
}

func countPct(n, total int64) string {
	if n == 0 {
		return "0"
	}
	return count(n) + " " + percent(n, total)
}

// dates writes a span as days: "2026-11-24 … 2026-11-30", one day once.
func dates(s reports.Span) string {
	if s.First.IsZero() {
		return "-"
	}
	first := s.First.UTC().Format(time.DateOnly)
	// A report's end is the first second after it (or its last second): a day ending at
	// midnight covers the day before.
	last := s.Last.UTC().Add(-time.Second).Format(time.DateOnly)
	if last <= first {
		return first
	}
	return first + " … " + last
}

// breakdown writes a map of counts, largest first: "pass 40 · fail 2".
func breakdown(m map[string]int64, total int64) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return int(m[b] - m[a])
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, sanitize.Line(k)+" "+countPct(m[k], total))
	}
	return strings.Join(parts, " · ")
}

// maxIPsShown bounds the sending IPs printed: reports name every forwarder and spoofer,
// and the IPs that matter send the most.
const maxIPsShown = 25

func printReports(w io.Writer, s *reports.Summary) {
	if len(s.DMARC) > 0 {
		lipgloss.Fprintln(w, boldStyle.Render("DMARC aggregate reports")+mutedStyle.Render(" · what receivers measured of mail from each sending IP"))
	}
	head := []string{"RECEIVER", "MESSAGES", "DMARC PASS", "DKIM ALIGNED", "SPF ALIGNED", "QUARANTINE", "REJECT", "DATES"}
	for i, ip := range s.DMARC {
		if i == maxIPsShown {
			lipgloss.Fprintln(w, "")
			lipgloss.Fprintln(w, mutedStyle.Render(fmt.Sprintf("… and %s more sending IPs with fewer messages (--json lists all)", count(int64(len(s.DMARC)-i)))))
			break
		}
		lipgloss.Fprintln(w, "")
		title := boldStyle.Render(sanitize.Line(ip.IP))
		if len(ip.Domains) > 0 {
			title += "  " + mutedStyle.Render("From: "+sanitize.Line(strings.Join(ip.Domains, ", ")))
		}
		lipgloss.Fprintln(w, title)
		row := func(name string, c *reports.Counts) []string {
			return []string{name, count(c.Messages), countPct(c.DMARCPass, c.Messages), countPct(c.DKIMAligned, c.Messages),
				countPct(c.SPFAligned, c.Messages), countPct(c.Disposition.Get("quarantine"), c.Messages),
				countPct(c.Disposition.Get("reject"), c.Messages), dates(c.Span)}
		}
		rows := [][]string{head, row(fmt.Sprintf("all %d receivers", len(ip.Receivers)), &ip.Total)}
		if len(ip.Receivers) == 1 {
			rows = rows[:1]
		}
		for _, rv := range ip.Receivers {
			rows = append(rows, row(sanitize.Line(rv.Name), &rv.Counts))
		}
		printTable(w, rows)
		t := &ip.Total
		lipgloss.Fprintln(w, "  "+mutedStyle.Render("DKIM results ")+breakdown(t.DKIM.Map(), t.Messages))
		lipgloss.Fprintln(w, "  "+mutedStyle.Render("SPF results  ")+breakdown(t.SPF.Map(), t.Messages))
		if len(t.Overrides) > 0 {
			lipgloss.Fprintln(w, "  "+mutedStyle.Render("overridden   ")+breakdown(t.Overrides, t.Messages))
		}
		if f := t.DMARCFail(); f > 0 {
			lipgloss.Fprintln(w, "  "+modeStyles["hard-block"].Render(fmt.Sprintf("%s messages (%s) failed DMARC", count(f), percent(f, t.Messages))))
		}
	}
	if len(s.TLS) > 0 {
		lipgloss.Fprintln(w, "")
		lipgloss.Fprintln(w, boldStyle.Render("TLS-RPT reports")+mutedStyle.Render(" · mail sent TO these domains: inbound hygiene, not evidence about your sending"))
		for _, d := range s.TLS {
			lipgloss.Fprintln(w, "")
			lipgloss.Fprintln(w, boldStyle.Render(sanitize.Line(d.Domain)))
			rows := [][]string{{"REPORTER", "SESSIONS", "FAILED", "DATES"}}
			tr := func(name string, c *reports.TLSCounts) []string {
				total := c.Successful + c.Failed
				return []string{name, count(total), countPct(c.Failed, total), dates(c.Span)}
			}
			if len(d.Reporters) > 1 {
				rows = append(rows, tr(fmt.Sprintf("all %d reporters", len(d.Reporters)), &d.Total))
			}
			for _, rp := range d.Reporters {
				rows = append(rows, tr(sanitize.Line(rp.Name), &rp.TLSCounts))
			}
			printTable(w, rows)
			if len(d.Total.Failures) > 0 {
				lipgloss.Fprintln(w, "  "+mutedStyle.Render("failures ")+breakdown(d.Total.Failures, d.Total.Failed))
			}
			lipgloss.Fprintln(w, "  "+mutedStyle.Render("policies ")+breakdown(d.Total.Policies, d.Total.Successful+d.Total.Failed))
		}
	}
	if len(s.SNDS) > 0 {
		lipgloss.Fprintln(w, "")
		lipgloss.Fprintln(w, boldStyle.Render("Microsoft SNDS")+mutedStyle.Render(" · Outlook.com's view of each IP"))
		for _, ip := range s.SNDS {
			lipgloss.Fprintln(w, "")
			colours := map[string]int{}
			for _, d := range ip.Days {
				colours[d.Filter]++
			}
			title := boldStyle.Render(sanitize.Line(ip.IP))
			if len(ip.Days) > 0 {
				title += mutedStyle.Render(fmt.Sprintf("  green %d · yellow %d · red %d of %d days", colours["green"], colours["yellow"], colours["red"], len(ip.Days)))
			}
			lipgloss.Fprintln(w, title)
			for _, st := range ip.Status {
				line := "  status: not blocked"
				if st.Blocked {
					line = "  status: BLOCKED"
				}
				if st.First != st.Last {
					line += " (range " + st.First + "–" + st.Last + ")"
				}
				if st.Reason != "" {
					line += " · " + st.Reason
				}
				lipgloss.Fprintln(w, sanitize.Line(line))
			}
			if len(ip.Days) == 0 {
				continue
			}
			rows := [][]string{{"DAY", "FILTER", "COMPLAINTS", "TRAP HITS", "RECIPIENTS"}}
			for _, d := range ip.Days {
				rows = append(rows, []string{d.Date, d.Filter, cmpOr(d.ComplaintRate, "-"), count(d.TrapHits), count(d.Recipients)})
			}
			printTable(w, rows)
		}
	}
	lipgloss.Fprintln(w, "")
	line := fmt.Sprintf("%d reports from %d files", s.Reports, s.Files)
	if s.Duplicates > 0 {
		line += fmt.Sprintf(" · %d seen twice, counted once", s.Duplicates)
	}
	if s.OmittedMessages > 0 {
		line += fmt.Sprintf(" · %s messages from IPs past the limit not shown", count(s.OmittedMessages))
	}
	if len(s.Problems) > 0 {
		line += fmt.Sprintf(" · %d %s (on standard error)", len(s.Problems), plural(len(s.Problems), "problem", "problems"))
	}
	lipgloss.Fprintln(w, mutedStyle.Render(line))
}

// printTable writes rows in columns, the first row muted as a header, numbers right-aligned.
func printTable(w io.Writer, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], lipgloss.Width(c))
		}
	}
	for n, r := range rows {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range r {
			gap := strings.Repeat(" ", widths[i]-lipgloss.Width(c))
			switch {
			case i == 0:
				b.WriteString(c + gap)
			case i == len(r)-1:
				b.WriteString(c)
			default:
				b.WriteString(gap + c)
			}
			if i < len(r)-1 {
				b.WriteString("  ")
			}
		}
		text := strings.TrimRight(b.String(), " ")
		if n == 0 {
			text = mutedStyle.Render(text)
		}
		lipgloss.Fprintln(w, text)
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
