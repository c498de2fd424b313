package reports

// Microsoft SNDS exports. The daily data export is CSV without a header (the web page's
// download may add one), one row per IP and day: IP, activity start, activity end, RCPT
// commands, DATA commands, message recipients, filter result (GREEN, YELLOW, RED),
// complaint rate ("< 0.1%" or a percentage), trap message start, trap message end, trap
// hits, sample HELO, sample MAIL FROM, comments. The IP status export is first IP, last
// IP, blocked (Yes/No) and the reason.

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SNDSIP is what SNDS says about one IP, day by day, and its block status.
type SNDSIP struct {
	IP     string       `json:"ip"`
	Days   []SNDSDay    `json:"days,omitempty"`
	Status []SNDSStatus `json:"status,omitempty"`
}

// SNDSDay is one day of SNDS data for an IP.
type SNDSDay struct {
	Date string `json:"date"` // YYYY-MM-DD, the day the activity started
	// Filter is the filter result colour: green (up to 10% judged spam), yellow (10–90%),
	// red (over 90%).
	Filter        string `json:"filter"`
	ComplaintRate string `json:"complaint_rate,omitempty"` // as SNDS writes it: "< 0.1%", "0.3%"
	TrapHits      int64  `json:"trap_hits"`
	Recipients    int64  `json:"recipients"`
	RCPTCommands  int64  `json:"rcpt_commands"`
	DATACommands  int64  `json:"data_commands"`
}

// SNDSStatus is a row of the IP status export: a range of IPs and whether Outlook.com
// blocks it.
type SNDSStatus struct {
	First   string `json:"first"`
	Last    string `json:"last"`
	Blocked bool   `json:"blocked"`
	Reason  string `json:"reason,omitempty"`
}

// ComplaintPercent reads the complaint rate: the percentage, and whether SNDS only said
// it is below that ("< 0.1%"). ok is false when there is no rate (too few messages).
func (d SNDSDay) ComplaintPercent() (pct float64, below, ok bool) {
	s := strings.TrimSpace(d.ComplaintRate)
	if strings.HasPrefix(s, "<") {
		below = true
		s = strings.TrimSpace(s[1:])
	}
	s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v > 100 {
		return 0, false, false
	}
	return v, below, true
}

func (ip *SNDSIP) sort() {
	slices.SortFunc(ip.Days, func(a, b SNDSDay) int { return cmp.Compare(a.Date, b.Date) })
}

// sndsColumns is the number of columns of the data export; the status export has 4.
const sndsColumns = 13

// looksLikeSNDS reports whether text starts like an SNDS export: its first row (after a
// header, if any) begins with an IP address and has the columns of one of the exports.
func looksLikeSNDS(text []byte) bool {
	lines := bytes.SplitN(text, []byte("\n"), 3)
	for i, l := range lines {
		if i == len(lines)-1 && len(lines) == 3 && !bytes.Contains(l, []byte(",")) {
			break
		}
		f := bytes.Split(bytes.TrimRight(l, "\r"), []byte(","))
		if _, ok := parseIP(string(f[0])); ok {
			// A line longer than the head is judged by its start; the reader bounds it.
			cut := i == len(lines)-1 && !bytes.HasSuffix(text, []byte("\n"))
			return len(f) >= sndsColumns || len(f) == 4 || cut && len(f) > 1
		}
		if i > 0 || !sndsHeader(string(l)) {
			return false
		}
	}
	return false
}

// sndsHeader reports whether a line is the header the web download adds.
func sndsHeader(l string) bool {
	l = strings.ToLower(l)
	return strings.HasPrefix(l, "ip") || strings.HasPrefix(l, "first ip") || strings.HasPrefix(l, "\"ip")
}

func (in *input) readSNDS(rd io.Reader) {
	cr := csv.NewReader(&runGuard{r: rd, delims: "\n", what: "a CSV line"})
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	var days []struct {
		ip  string
		day SNDSDay
	}
	var status []SNDSStatus
	line := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line++
		if err != nil {
			var tb *errTooBig
			if errors.As(err, &tb) || strings.Contains(err.Error(), "refused") {
				in.fail(in.name, "%v", err)
			} else {
				in.fail(in.name, "CSV: %v", err)
			}
			return
		}
		if line == 1 && sndsHeader(strings.Join(rec, ",")) {
			continue
		}
		where := fmt.Sprintf("%s:%d", in.name, line)
		switch {
		case len(rec) >= sndsColumns:
			ip, ok := parseIP(rec[0])
			if !ok {
				in.fail(where, "%q is not an IP address", field(rec[0]))
				continue
			}
			day, err := sndsDay(rec)
			if err != nil {
				in.fail(where, "%v", err)
				continue
			}
			days = append(days, struct {
				ip  string
				day SNDSDay
			}{ip, day})
		case len(rec) == 4:
			first, ok1 := parseIP(rec[0])
			last, ok2 := parseIP(rec[1])
			if !ok1 || !ok2 {
				in.fail(where, "not an IP range: %q to %q", field(rec[0]), field(rec[1]))
				continue
			}
			b := strings.ToLower(strings.TrimSpace(rec[2]))
			if b != "yes" && b != "no" {
				in.fail(where, "blocked is %q, not Yes or No", field(rec[2]))
				continue
			}
			status = append(status, SNDSStatus{First: first, Last: last, Blocked: b == "yes", Reason: field(strings.TrimSpace(rec[3]))})
		default:
			in.fail(where, "%d columns: neither the SNDS data export (%d) nor the IP status export (4)", len(rec), sndsColumns)
		}
	}
	if len(days) == 0 && len(status) == 0 {
		if len(in.problems) == 0 {
			in.fail(in.name, "not a report: an SNDS export with no rows")
		}
		return
	}
	in.found++
	r := in.r
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports++
	for _, d := range days {
		if !r.wantIP(d.ip) {
			continue
		}
		ip := r.sndsIP(d.ip)
		seen := r.sndsSeen[d.ip]
		if seen == nil {
			seen = map[string]int{}
			r.sndsSeen[d.ip] = seen
		}
		if i, ok := seen[d.day.Date]; ok {
			ip.Days[i] = d.day // the same day exported again: the later file wins
			continue
		}
		seen[d.day.Date] = len(ip.Days)
		ip.Days = append(ip.Days, d.day)
	}
	for _, s := range status {
		for _, ipText := range r.statusIPs(s) {
			ip := r.sndsIP(ipText)
			if !slices.Contains(ip.Status, s) {
				ip.Status = append(ip.Status, s)
			}
		}
	}
}

func (r *Reader) sndsIP(ipText string) *SNDSIP {
	ip := r.snds[ipText]
	if ip == nil {
		ip = &SNDSIP{IP: ipText}
		r.snds[ipText] = ip
	}
	return ip
}

// statusIPs are the IPs a status row is shown under: the wanted IPs inside its range,
// or, when every IP is wanted, its first IP.
func (r *Reader) statusIPs(s SNDSStatus) []string {
	if r.ips == nil {
		return []string{s.First}
	}
	first, _ := netip.ParseAddr(s.First)
	last, _ := netip.ParseAddr(s.Last)
	var out []string
	for ipText := range r.ips {
		ip, _ := netip.ParseAddr(ipText)
		if ip.Compare(first) >= 0 && ip.Compare(last) <= 0 {
			out = append(out, ipText)
		}
	}
	slices.Sort(out)
	return out
}

func sndsDay(rec []string) (SNDSDay, error) {
	var d SNDSDay
	at := cmpOr(strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2]))
	t, err := parseSNDSTime(at)
	if err != nil {
		return d, err
	}
	d.Date = t.Format(time.DateOnly)
	nums := []*int64{&d.RCPTCommands, &d.DATACommands, &d.Recipients}
	for i, p := range nums {
		if *p, err = sndsCount(rec[3+i]); err != nil {
			return d, err
		}
	}
	if d.TrapHits, err = sndsCount(rec[10]); err != nil {
		return d, err
	}
	switch c := strings.ToLower(strings.TrimSpace(rec[6])); c {
	case "green", "yellow", "red":
		d.Filter = c
	default:
		return d, fmt.Errorf("filter result %q is not GREEN, YELLOW or RED", field(rec[6]))
	}
	d.ComplaintRate = field(strings.TrimSpace(rec[7]))
	if _, _, ok := d.ComplaintPercent(); !ok && d.ComplaintRate != "" {
		return d, fmt.Errorf("complaint rate %q is not a percentage", d.ComplaintRate)
	}
	return d, nil
}

func sndsCount(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a count", field(s))
	}
	return n, nil
}

// parseSNDSTime reads the activity times SNDS writes ("11/28/2026 3:00 PM", US order).
func parseSNDSTime(s string) (time.Time, error) {
	for _, layout := range []string{"1/2/2006 3:04 PM", "1/2/2006 15:04", "1/2/2006", time.DateTime, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("activity time %q is not a date SNDS writes", field(s))
}
