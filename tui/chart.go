package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/casefile"
)

// timeline is the failures of a case counted per hour and per recipient domain:
// computed when the case changes, drawn at any width by merging hours into the
// smallest unit (1, 2, 3, 6, 12 hours, a day, a week) whose columns fit.
type timeline struct {
	first   time.Time // start of the first hour
	hours   int
	rows    []chartRow // top recipient domains, then the others together
	undated int        // failures with no time: counted, not drawn
	total   int
}

type chartRow struct {
	domain string
	counts []int // per hour
	total  int
}

const chartDomains = 4

// chartUnits are the bucket sizes the chart may use, in hours.
var chartUnits = []int{1, 2, 3, 6, 12, 24, 168}

func newTimeline(events []casefile.Event) timeline {
	var t timeline
	var first, last time.Time
	for _, e := range events {
		if !e.IsFailure() {
			continue
		}
		t.total += e.MessageCount()
		if e.At.IsZero() {
			t.undated += e.MessageCount()
			continue
		}
		if first.IsZero() || e.At.Before(first) {
			first = e.At
		}
		if e.At.After(last) {
			last = e.At
		}
	}
	if first.IsZero() {
		return t
	}
	t.first = first.UTC().Truncate(time.Hour)
	t.hours = int(last.UTC().Truncate(time.Hour).Sub(t.first)/time.Hour) + 1
	byDomain := map[string]*chartRow{}
	for _, e := range events {
		if !e.IsFailure() || e.At.IsZero() {
			continue
		}
		d := e.RecipientDomain
		if d == "" {
			d = "(unknown)"
		}
		r := byDomain[d]
		if r == nil {
			r = &chartRow{domain: d, counts: make([]int, t.hours)}
			byDomain[d] = r
		}
		r.counts[int(e.At.UTC().Sub(t.first)/time.Hour)] += e.MessageCount()
		r.total += e.MessageCount()
	}
	all := make([]*chartRow, 0, len(byDomain))
	for _, r := range byDomain {
		all = append(all, r)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].total != all[j].total {
			return all[i].total > all[j].total
		}
		return all[i].domain < all[j].domain
	})
	for i, r := range all {
		if i < chartDomains || len(all) == chartDomains+1 {
			t.rows = append(t.rows, *r)
			continue
		}
		if len(t.rows) == chartDomains {
			t.rows = append(t.rows, chartRow{domain: fmt.Sprintf("%d others", len(all)-chartDomains), counts: make([]int, t.hours)})
		}
		o := &t.rows[len(t.rows)-1]
		for j, n := range r.counts {
			o.counts[j] += n
		}
		o.total += r.total
	}
	return t
}

var bars = []rune(" ▁▂▃▄▅▆▇█")

// draw renders the chart in w cells: one row per recipient domain, one column per
// bucket (the latest ones when even weeks do not fit), scaled to the busiest bucket.
func (t timeline) draw(st Styles, w int) string {
	if t.hours == 0 {
		if t.undated > 0 {
			return st.Muted.Render(plural(t.undated, "failure") + ", none with a time: the chart needs timestamps")
		}
		return st.Muted.Render("no failures recorded yet: paste a bounce (p)")
	}
	labelW := 18
	cols := max(4, w-labelW-8)
	// Align buckets to the unit (days start at 00:00 UTC) and pick the smallest unit that fits.
	unit := chartUnits[len(chartUnits)-1]
	for _, u := range chartUnits {
		if t.bucketsOf(u) <= cols {
			unit = u
			break
		}
	}
	origin := t.first.Truncate(time.Duration(unit) * time.Hour)
	if unit == 168 {
		origin = t.first.Truncate(24 * time.Hour)
	}
	n := t.bucketsOf(unit)
	start := max(0, n-cols)
	peak := 1
	merged := make([][]int, len(t.rows))
	for i, r := range t.rows {
		merged[i] = make([]int, n)
		for h, c := range r.counts {
			merged[i][int(t.first.Add(time.Duration(h)*time.Hour).Sub(origin)/time.Hour)/unit] += c
		}
		for _, c := range merged[i][start:] {
			peak = max(peak, c)
		}
	}
	var b strings.Builder
	name := map[int]string{1: "hour", 2: "2 hours", 3: "3 hours", 6: "6 hours", 12: "12 hours", 24: "day", 168: "week"}[unit]
	fmt.Fprintf(&b, "%s\n", st.Muted.Render(fmt.Sprintf("failures per %s by recipient domain (busiest: %d)", name, peak)))
	for i, r := range t.rows {
		var line strings.Builder
		for _, c := range merged[i][start:] {
			k := 0
			if c > 0 {
				k = max(1, c*(len(bars)-1)/peak)
			}
			line.WriteRune(bars[k])
		}
		label := truncate(r.domain, labelW-1)
		fmt.Fprintf(&b, "%s%s %s\n", padRight(label, labelW), st.Bar.Render(line.String()), st.Muted.Render(fmt.Sprint(r.total)))
	}
	layout := "01-02 15:00"
	if unit >= 24 {
		layout = "2006-01-02"
	}
	from := origin.Add(time.Duration(start*unit) * time.Hour).Format(layout)
	to := origin.Add(time.Duration((n-1)*unit) * time.Hour).Format(layout)
	span := n - start
	axis := from
	if gap := span - len(from) - len(to); gap >= 1 {
		axis += strings.Repeat(" ", gap) + to
	} else if span > 1 {
		axis += " → " + to
	}
	b.WriteString(strings.Repeat(" ", labelW) + st.Muted.Render(axis+" UTC"))
	if t.undated > 0 {
		b.WriteString("\n" + st.Muted.Render(fmt.Sprintf("(+%d without a time)", t.undated)))
	}
	return b.String()
}

// bucketsOf is how many buckets of unit hours the failures span.
func (t timeline) bucketsOf(unit int) int {
	origin := t.first.Truncate(time.Duration(unit) * time.Hour)
	if unit == 168 {
		origin = t.first.Truncate(24 * time.Hour)
	}
	last := t.first.Add(time.Duration(t.hours-1) * time.Hour)
	return int(last.Sub(origin)/time.Hour)/unit + 1
}
