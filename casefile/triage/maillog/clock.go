package maillog

import (
	"bytes"
	"fmt"
	"time"
)

// syslogHeader is a syslog line taken apart; the slices point into the line.
type syslogHeader struct {
	stamp []byte // "Nov 22 21:17:36" (RFC 3164) or an ISO 8601 time (RFC 5424, rsyslog)
	iso   bool
	host  []byte
	tag   []byte // program name without [pid]: "postfix/smtp", "postfix-203.0.113.25/smtp"
	msg   []byte
}

// parseSyslog reads the header of an RFC 3164 or RFC 5424 line (the forms syslog daemons
// and journalctl write), with or without the <PRI> that only raw network syslog keeps.
func parseSyslog(line []byte) (h syslogHeader, ok bool) {
	i := 0
	if len(line) > 0 && line[0] == '<' {
		j := 1
		for j < len(line) && j < 5 && line[j] >= '0' && line[j] <= '9' {
			j++
		}
		if j >= len(line) || line[j] != '>' {
			return h, false
		}
		i = j + 1
		if i+1 < len(line) && line[i] == '1' && line[i+1] == ' ' {
			i += 2 // RFC 5424 version
		}
	}
	rest := line[i:]
	if len(rest) < 16 {
		return h, false
	}
	c := rest[0]
	switch {
	case c >= 'A' && c <= 'Z':
		if rest[3] != ' ' || rest[6] != ' ' || rest[9] != ':' || rest[12] != ':' {
			return h, false
		}
		end := 15
		if rest[15] == '.' {
			// journalctl -o short-precise: "Nov 23 10:15:03.500123"
			end = 16
			for end < len(rest) && end < 26 && rest[end] >= '0' && rest[end] <= '9' {
				end++
			}
		}
		if end == 16 || end >= len(rest) || rest[end] != ' ' {
			return h, false
		}
		h.stamp, rest = rest[:end], rest[end+1:]
	case c >= '0' && c <= '9':
		sp := indexByte(rest, ' ')
		if sp < 19 || rest[4] != '-' || rest[10] != 'T' {
			return h, false
		}
		h.stamp, h.iso, rest = rest[:sp], true, rest[sp+1:]
	default:
		return h, false
	}
	sp := indexByte(rest, ' ')
	if sp <= 0 {
		return h, false
	}
	h.host, rest = rest[:sp], rest[sp+1:]
	sp = indexByte(rest, ' ')
	if sp <= 0 {
		return h, false
	}
	tag := rest[:sp]
	rest = rest[sp+1:]
	if tag[len(tag)-1] == ':' {
		tag = tag[:len(tag)-1]
		if b := indexByte(tag, '['); b > 0 {
			tag = tag[:b]
		}
		h.tag, h.msg = tag, rest
		return h, true
	}
	// RFC 5424: APP-NAME PROCID MSGID STRUCTURED-DATA MSG
	h.tag = tag
	for k := 0; k < 2; k++ {
		sp = indexByte(rest, ' ')
		if sp < 0 {
			return h, false
		}
		rest = rest[sp+1:]
	}
	switch {
	case len(rest) > 0 && rest[0] == '-':
		rest = rest[1:]
	case len(rest) > 0 && rest[0] == '[':
		// Skip SD elements; values may hold escaped ']' (\]).
		for len(rest) > 0 && rest[0] == '[' {
			j := 1
			for j < len(rest) && rest[j] != ']' {
				if rest[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(rest) {
				return h, false
			}
			rest = rest[j+1:]
		}
	default:
		return h, false
	}
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	if len(rest) >= 3 && rest[0] == 0xef && rest[1] == 0xbb && rest[2] == 0xbf {
		rest = rest[3:] // BOM
	}
	h.msg = rest
	return h, true
}

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }

// clock turns log timestamps into UTC times, filling in the year and zone that syslog
// leaves out, and remembers what it assumed.
type clock struct {
	loc        *time.Location
	locSet     bool
	year       int
	yearSet    bool
	yearNote   string
	now        func() time.Time
	started    bool
	lastMonth  int
	rollovers  int
	firstYear  int
	usedYear   bool
	usedZone   bool
	pastShift  bool // the default year put the first line in the future: took the year before
	rolledAt   []string
	minuteKey  int64
	minuteUnix int64
}

func newClock(opt Options) *clock {
	c := &clock{loc: opt.Location, year: opt.Year, now: opt.Now, yearNote: cmpOr(opt.YearNote, "as given")}
	c.locSet = c.loc != nil
	if c.loc == nil {
		c.loc = time.Local
	}
	c.yearSet = c.year != 0
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

func monthOf(b []byte) int {
	// The three letters as one number: a switch, not a loop over the names (every line
	// of a syslog file has a month).
	switch uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) {
	case 'J'<<16 | 'a'<<8 | 'n':
		return 1
	case 'F'<<16 | 'e'<<8 | 'b':
		return 2
	case 'M'<<16 | 'a'<<8 | 'r':
		return 3
	case 'A'<<16 | 'p'<<8 | 'r':
		return 4
	case 'M'<<16 | 'a'<<8 | 'y':
		return 5
	case 'J'<<16 | 'u'<<8 | 'n':
		return 6
	case 'J'<<16 | 'u'<<8 | 'l':
		return 7
	case 'A'<<16 | 'u'<<8 | 'g':
		return 8
	case 'S'<<16 | 'e'<<8 | 'p':
		return 9
	case 'O'<<16 | 'c'<<8 | 't':
		return 10
	case 'N'<<16 | 'o'<<8 | 'v':
		return 11
	case 'D'<<16 | 'e'<<8 | 'c':
		return 12
	}
	return 0
}

func digits(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// rfc3164 reads "Nov 22 21:17:36" (day may be space-padded); src names the line for the
// rollover note.
func (c *clock) rfc3164(b []byte, src func() string) (time.Time, bool) {
	m := monthOf(b)
	d1 := b[4]
	if d1 == ' ' {
		d1 = '0'
	}
	d, ok1 := digits([]byte{d1, b[5]})
	hh, ok2 := digits(b[7:9])
	mm, ok3 := digits(b[10:12])
	ss, ok4 := digits(b[13:15])
	if m == 0 || !ok1 || !ok2 || !ok3 || !ok4 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, false
	}
	c.usedYear, c.usedZone = true, true
	if !c.started {
		c.started = true
		if !c.yearSet {
			now := c.now()
			c.year = now.In(c.loc).Year()
			// A log read in January that starts in December is last year's.
			if time.Date(c.year, time.Month(m), d, hh, mm, ss, 0, c.loc).After(now.Add(24 * time.Hour)) {
				c.year--
				c.pastShift = true
			}
		}
		c.firstYear = c.year
	} else if m < c.lastMonth-1 {
		// The month went back: the year turned. (Back by one month is out-of-order lines
		// around a month's end, not a new year.)
		c.year++
		c.rollovers++
		if len(c.rolledAt) < 5 {
			c.rolledAt = append(c.rolledAt, fmt.Sprintf("%d at %s", c.year, src()))
		}
	}
	c.lastMonth = m
	ns := 0
	if len(b) > 16 && b[15] == '.' {
		// A fraction of a second (journalctl -o short-precise): to nanoseconds.
		for i, scale := 16, 100000000; i < len(b) && scale > 0; i, scale = i+1, scale/10 {
			ns += int(b[i]-'0') * scale
		}
	}
	return c.local(c.year, m, d, hh, mm, ss, ns), true
}

// local converts a wall time in the clock's zone, caching per minute: zone offsets only
// change on minute boundaries, and a log has many lines per minute.
func (c *clock) local(y, m, d, hh, mm, ss, ns int) time.Time {
	key := int64(y)<<32 | int64(m)<<24 | int64(d)<<16 | int64(hh)<<8 | int64(mm)
	if key != c.minuteKey || c.minuteUnix == 0 {
		c.minuteKey = key
		c.minuteUnix = time.Date(y, time.Month(m), d, hh, mm, 0, 0, c.loc).Unix()
	}
	return time.Unix(c.minuteUnix+int64(ss), int64(ns)).UTC()
}

// iso reads "2026-11-22T21:17:36[.frac][Z|±hh:mm|±hhmm]", with 'T' or ' ' between date and
// time; without a zone the clock's zone is assumed.
func (c *clock) iso(b []byte) (time.Time, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	hh, ok4 := digits(b[11:13])
	mm, ok5 := digits(b[14:16])
	ss, ok6 := digits(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || m < 1 || m > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, false
	}
	rest := b[19:]
	ns := 0
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		j := 1
		scale := 100000000
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			ns += int(rest[j]-'0') * scale
			scale /= 10
			j++
		}
		if j == 1 {
			return time.Time{}, false
		}
		rest = rest[j:]
	}
	switch {
	case len(rest) == 0:
		c.usedZone = true
		return c.local(y, m, d, hh, mm, ss, ns), true
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
		return time.Date(y, time.Month(m), d, hh, mm, ss, ns, time.UTC), true
	case rest[0] == '+' || rest[0] == '-':
		var zh, zm int
		var ok bool
		switch {
		case len(rest) == 6 && rest[3] == ':':
			zh, ok = digits(rest[1:3])
			if ok {
				zm, ok = digits(rest[4:6])
			}
		case len(rest) == 5:
			zh, ok = digits(rest[1:3])
			if ok {
				zm, ok = digits(rest[3:5])
			}
		}
		if !ok || zh > 23 || zm > 59 {
			return time.Time{}, false
		}
		off := (zh*60 + zm) * 60
		if rest[0] == '-' {
			off = -off
		}
		t := time.Date(y, time.Month(m), d, hh, mm, ss, ns, time.UTC)
		return t.Add(-time.Duration(off) * time.Second), true
	}
	return time.Time{}, false
}

// assumed fills in the Result's account of what the clock took from options or defaults.
func (c *clock) assumed(res *Result) {
	if c.usedYear {
		res.Year = c.firstYear
		res.Rollovers = c.rollovers
		switch {
		case c.yearSet:
			res.Assumed = append(res.Assumed, fmt.Sprintf("year %d for syslog timestamps (%s)", c.firstYear, c.yearNote))
		case c.pastShift:
			res.Assumed = append(res.Assumed, fmt.Sprintf("year %d for syslog timestamps (the current year would put them in the future)", c.firstYear))
		default:
			res.Assumed = append(res.Assumed, fmt.Sprintf("year %d for syslog timestamps (the current year)", c.firstYear))
		}
		for _, r := range c.rolledAt {
			res.Assumed = append(res.Assumed, "year advanced to "+r+" (month went back)")
		}
	}
	if c.usedZone {
		res.Zone = c.loc.String()
		if res.Zone == "Local" {
			abbr, off := time.Now().In(c.loc).Zone()
			res.Zone = fmt.Sprintf("Local (%s, UTC%+03d:%02d)", abbr, off/3600, abs(off%3600)/60)
		}
		how := "the local zone"
		if c.locSet {
			how = "as given"
		}
		res.Assumed = append(res.Assumed, fmt.Sprintf("zone %s for timestamps without one (%s)", res.Zone, how))
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
