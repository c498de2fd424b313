package tui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/casefile"
)

// timeline is the failures of a case counted per hour or per day and per recipient
// domain: computed when the case changes, drawn at any width.
type timeline struct {
	unit    time.Duration // time.Hour or 24h
	first   time.Time     // start of the first bucket
	buckets int
	rows    []chartRow // top recipient domains, then "other"
	undated int        // failures with no time: counted, not drawn
	total   int
}

type chartRow struct {
	domain string
	counts []int
	total  int
}

const chartDomains = 4

// newTimeline buckets the failures; more than two days of them are counted per day.
func newTimeline(events []casefile.Event) timeline {
	var t timeline
	var first, last time.Time
	for _, e := range events {
		if !e.IsFailure() {
			continue
		}
		t.total += e.Messages()
		if e.At.IsZero() {
			t.undated += e.Messages()
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
	t.unit = time.Hour
	if last.Sub(first) > 48*time.Hour {
		t.unit = 24 * time.Hour
	}
	t.first = first.UTC().Truncate(t.unit)
	t.buckets = int(last.UTC().Truncate(t.unit).Sub(t.first)/t.unit) + 1
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
			r = &chartRow{domain: d, counts: make([]int, t.buckets)}
			byDomain[d] = r
		}
		i := int(e.At.UTC().Sub(t.first) / t.unit)
		r.counts[i] += e.Messages()
		r.total += e.Messages()
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
			t.rows = append(t.rows, chartRow{domain: fmt.Sprintf("%d others", len(all)-chartDomains), counts: make([]int, t.buckets)})
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

// draw renders the chart in w cells: one row per recipient domain, one column per hour
// or day (the latest ones when there are more than fit), scaled to the busiest bucket.
func (t timeline) draw(st Styles, w int) string {
	if t.buckets == 0 {
		if t.undated > 0 {
			return st.Muted.Render(plural(t.undated, "failure") + ", none with a time: the chart needs timestamps")
		}
		return st.Muted.Render("no failures recorded yet: paste a bounce (p)")
	}
	labelW := 18
	cols := max(4, w-labelW-10)
	start := 0
	if t.buckets > cols {
		start = t.buckets - cols
	}
	peak := 1
	for _, r := range t.rows {
		for _, n := range r.counts[start:] {
			peak = max(peak, n)
		}
	}
	var b strings.Builder
	unit := "hour"
	if t.unit > time.Hour {
		unit = "day"
	}
	fmt.Fprintf(&b, "%s\n", st.Muted.Render(fmt.Sprintf("failures per %s by recipient domain (busiest %s: %d)", unit, unit, peak)))
	for _, r := range t.rows {
		var line strings.Builder
		for _, n := range r.counts[start:] {
			i := 0
			if n > 0 {
				i = max(1, n*(len(bars)-1)/peak)
			}
			line.WriteRune(bars[i])
		}
		label := truncate(r.domain, labelW-1)
		fmt.Fprintf(&b, "%s%s %s\n", padRight(label, labelW), st.Bar.Render(line.String()), st.Muted.Render(fmt.Sprint(r.total)))
	}
	layout := "2006-01-02 15:00"
	if t.unit > time.Hour {
		layout = "2006-01-02"
	}
	from := t.first.Add(time.Duration(start) * t.unit).Format(layout)
	to := t.first.Add(time.Duration(t.buckets-1) * t.unit).Format(layout)
	span := t.buckets - start
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
