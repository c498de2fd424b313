package maillog

import (
	"bytes"
	"time"
)

// Stamp is the time on one log line, as far as the line says it: syslog's RFC 3164 stamps
// carry no year, so only the month, day and time of day are known; ISO and Exim stamps
// carry the year (Year true, At set).
type Stamp struct {
	Host   string // the syslog host, "" for Exim
	Month  int
	Day    int
	Second int       // of the day
	At     time.Time // when Year
	Year   bool
}

// InYear is the stamp's time in a given year (in the zone given for stamps without one).
func (s Stamp) InYear(year int, loc *time.Location) time.Time {
	if s.Year {
		return s.At
	}
	return time.Date(year, time.Month(s.Month), s.Day, 0, 0, s.Second, 0, loc)
}

// FirstStamp returns the stamp of the first syslog or Exim line in b that has one.
func FirstStamp(b []byte, loc *time.Location) (Stamp, bool) {
	for n := 0; len(b) > 0 && n < 1000; n++ {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if s, ok := lineStamp(line, loc); ok {
			return s, true
		}
	}
	return Stamp{}, false
}

// LastStamp returns the stamp of the last whole line in b that has one (b may begin in
// the middle of a line: the end of a file).
func LastStamp(b []byte, loc *time.Location) (Stamp, bool) {
	b = bytes.TrimRight(b, "\r\n")
	for n := 0; len(b) > 0 && n < 1000; n++ {
		i := bytes.LastIndexByte(b, '\n')
		if i < 0 {
			break // the first line may be cut
		}
		if s, ok := lineStamp(bytes.TrimRight(b[i+1:], "\r"), loc); ok {
			return s, true
		}
		b = b[:i]
	}
	return Stamp{}, false
}

func lineStamp(line []byte, loc *time.Location) (Stamp, bool) {
	if loc == nil {
		loc = time.Local
	}
	c := &clock{loc: loc}
	if n, ok := eximStamp(line); ok {
		st := line[:n]
		if i := bytes.IndexByte(st[19:], ' '); i >= 0 {
			st = append(append([]byte(nil), st[:19+i]...), st[20+i:]...) // "… +0100": the zone after a space
		}
		if t, ok := c.iso(st); ok {
			return Stamp{At: t, Year: true, Month: int(t.Month()), Day: t.Day()}, true
		}
	}
	h, ok := parseSyslog(line)
	if !ok {
		return Stamp{}, false
	}
	s := Stamp{Host: string(h.host)}
	if h.iso {
		t, ok := c.iso(h.stamp)
		if !ok {
			return Stamp{}, false
		}
		s.At, s.Year, s.Month, s.Day = t, true, int(t.Month()), t.Day()
		return s, true
	}
	b := h.stamp
	d1 := b[4]
	if d1 == ' ' {
		d1 = '0'
	}
	d, ok1 := digits([]byte{d1, b[5]})
	hh, ok2 := digits(b[7:9])
	mm, ok3 := digits(b[10:12])
	ss, ok4 := digits(b[13:15])
	s.Month = monthOf(b)
	if s.Month == 0 || !ok1 || !ok2 || !ok3 || !ok4 || d < 1 || d > 31 {
		return Stamp{}, false
	}
	s.Day, s.Second = d, hh*3600+mm*60+ss
	return s, true
}
