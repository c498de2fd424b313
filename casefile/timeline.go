package casefile

// The timeline is most of a case file (10,000 failures make 2.5 MB) and yaml/v3 takes
// about 25 µs an event each way, five times the budget for loading a case. So events in
// the plain form Marshal writes — one "key: value" a line, values that are plain YAML
// scalars meaning exactly their text — are read and written here directly; any event
// in another form (a multi-line reply, quotes, comments, a hand edit) goes through
// yaml/v3 as before, with its line numbers. Tests compare both paths on the same bytes.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"go.yaml.in/yaml/v3"

	"github.com/unblock-mail/unblock/sanitize"
)

// plainSafe reports whether s, written as a plain scalar in a block mapping, reads back
// as exactly s: no indicator first, no ": " or " #", no edge spaces, not a null, one
// line of printable text.
func plainSafe(s string) bool { return plainText(s, false) }

// colonQuoted reports whether s is a reply as yaml/v3 writes it single-quoted and the
// plain form does too: a string that would be plain but for ": " or " #" inside
// ("said: 550 …", common in replies). Other strings that are not plain go to yaml/v3,
// whose choice of quotes the plain form does not try to follow.
func colonQuoted(s string) bool {
	return (strings.Contains(s, ": ") || strings.Contains(s, " #")) && plainText(s, true)
}

// plainText is plainSafe; with colons, ": " and " #" inside are allowed (as if their
// space, or their #, were another character).
func plainText(s string, colons bool) bool {
	if s == "" || s == "~" || s == "null" || s == "Null" || s == "NULL" {
		return false
	}
	if strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`. ", rune(s[0])) {
		return false
	}
	n := len(s)
	last := s[n-1]
	if colons && n > 1 && (last == ' ' && s[n-2] == ':' || last == '#' && s[n-2] == ' ' && (n < 3 || s[n-3] != ':')) {
		last = '_' // the end of ": " or " #"
	}
	if last == ' ' || last == ':' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			return printableRunes(s[i:], colons)
		case c < 0x20 || c == 0x7f:
			return false
		case colons:
		case c == ':' && i+1 < len(s) && s[i+1] == ' ', c == '#' && s[i-1] == ' ':
			return false
		}
	}
	return true
}

// singleSafe reports whether s, single-quoted on one line, reads back as s: every rune
// printable.
func singleSafe(s string) bool {
	if s == "" {
		return false
	}
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 || !unicode.IsPrint(r) {
			return false // not UTF-8, or a control, format or separator character
		}
		s = s[size:]
	}
	return true
}

func appendSingleQuoted(b []byte, s string) []byte {
	b = append(b, '\'')
	for {
		i := strings.IndexByte(s, '\'')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '\'')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '\'')
}

// singleQuoted reads a single-quoted scalar on one line ('it”s'); false sends it to
// yaml/v3.
func singleQuoted(v string) (string, bool) {
	if len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if !strings.Contains(inner, "'") {
		return inner, singleSafe(inner)
	}
	var u strings.Builder
	for {
		i := strings.IndexByte(inner, '\'')
		if i < 0 {
			break
		}
		if i+1 >= len(inner) || inner[i+1] != '\'' {
			return "", false // a quote that is not doubled ends the scalar early
		}
		u.WriteString(inner[:i+1])
		inner = inner[i+2:]
	}
	u.WriteString(inner)
	return u.String(), singleSafe(u.String())
}

// flowSafe reports whether s can stand plainly in a flow sequence: plain, and none of
// the flow indicators.
func flowSafe(s string) bool {
	return plainSafe(s) && !strings.ContainsAny(s, ",[]{}:#?")
}

func printableRunes(s string, colons bool) bool {
	for i, r := range s {
		if !colons && (r == ':' && strings.HasPrefix(s[i:], ": ") || r == '#' && i > 0 && s[i-1] == ' ') {
			return false
		}
		if r == utf8.RuneError || r == '\t' || r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xFEFF || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// intSafe matches the integers Marshal writes.
func intText(s string) (int, bool) {
	if s == "" || (len(s) > 1 && s[0] == '0') || s[0] == '+' || strings.HasPrefix(s, "-0") {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// appendEvent writes one event in the plain form, or reports false if a value needs
// YAML quoting.
//
// memo remembers how each field's last value was written: the values of
// a timeline repeat (the reply, the provider), and checking them is most of the work.
func appendEvent(b []byte, e *Event, memo *styleMemo) ([]byte, bool) {
	if e.Report != nil {
		return b, false // a mapping inside the event: yaml/v3 writes it
	}
	start := len(b)
	first := true
	key := func(k string) {
		if first {
			b = append(b, "  - "...)
			first = false
		} else {
			b = append(b, "    "...)
		}
		b = append(b, k...)
		b = append(b, ": "...)
	}
	ok := true
	slot := 0
	str := func(k, v string) {
		at := &memo[slot%len(memo)]
		slot++
		if v == "" {
			return
		}
		if at.v != v || at.style == 0 {
			at.v, at.style = v, styleOf(v)
		}
		switch at.style {
		case stylePlain:
			key(k)
			b = append(b, v...)
			b = append(b, '\n')
		case styleSingle:
			key(k)
			b = appendSingleQuoted(b, v)
			b = append(b, '\n')
		default:
			ok = false
		}
	}
	num := func(k string, v int) {
		if v != 0 {
			key(k)
			b = strconv.AppendInt(b, int64(v), 10)
			b = append(b, '\n')
		}
	}
	tm := func(k string, t time.Time) {
		if !t.IsZero() {
			key(k)
			b = appendTime(b, t)
			b = append(b, '\n')
		}
	}
	str("kind", string(e.Kind))
	tm("at", e.At)
	tm("last", e.Last)
	tm("added", e.Added)
	num("attempts", e.Attempts)
	num("messages", e.Messages)
	str("recipient_domain", e.RecipientDomain)
	if len(e.Recipients) > 0 {
		for _, r := range e.Recipients {
			if !flowSafe(r) {
				ok = false
			}
		}
		if ok {
			key("recipients")
			b = append(b, '[')
			for i, r := range e.Recipients {
				if i > 0 {
					b = append(b, ", "...)
				}
				b = append(b, r...)
			}
			b = append(b, "]\n"...)
		}
	}
	str("reply", e.Reply)
	num("reply_code", e.ReplyCode)
	str("enhanced_code", e.EnhancedCode)
	str("source", e.Source)
	str("provider", e.Provider)
	str("control", e.Control)
	str("ip", e.IP)
	str("mode", string(e.Mode))
	str("from_ip", e.FromIP)
	str("mx", e.MX)
	str("stage", e.Stage)
	str("what", e.What)
	str("from", e.From)
	str("to", e.To)
	str("recipient", e.Recipient)
	num("count", e.Count)
	if !ok || first {
		return b[:start], false
	}
	return b, true
}

// styleMemo remembers, for each string field of an event in the order appendEvent
// writes them, the last value and how it is written.
type styleMemo [16]struct {
	v     string
	style uint8
}

const (
	stylePlain = 1 + iota
	styleSingle
	styleYAML
)

func styleOf(v string) uint8 {
	switch {
	case plainSafe(v):
		return stylePlain
	case colonQuoted(v):
		return styleSingle
	}
	return styleYAML
}

// appendTime writes t as RFC 3339 (time.RFC3339Nano): a whole second in UTC, the
// times a case holds, by hand; any other through time.AppendFormat.
func appendTime(b []byte, t time.Time) []byte {
	if t.Nanosecond() != 0 || t.Location() != time.UTC {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	hour, minute, sec := t.Clock()
	two := func(n int) { b = append(b, byte('0'+n/10), byte('0'+n%10)) }
	two(year / 100)
	two(year % 100)
	b = append(b, '-')
	two(int(month))
	b = append(b, '-')
	two(day)
	b = append(b, 'T')
	two(hour)
	b = append(b, ':')
	two(minute)
	b = append(b, ':')
	two(sec)
	return append(b, 'Z')
}

// writeTimeline writes the timeline key and its events to w, a chunk at a time: a save
// of a 100,000-event case never holds its 40 MB of text at once.
func writeTimeline(w io.Writer, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	const chunk = 256 << 10
	b := make([]byte, 0, chunk+4096)
	b = append(b, "timeline:\n"...)
	var yb bytes.Buffer
	var memo styleMemo
	for i := range events {
		var ok bool
		if b, ok = appendEvent(b, &events[i], &memo); !ok {
			yb.Reset()
			if err := encodeYAML(&yb, events[i:i+1]); err != nil {
				return err
			}
			// A top-level sequence; under the timeline key it is indented by two.
			for line := range bytes.Lines(yb.Bytes()) {
				if len(line) > 1 {
					b = append(b, "  "...)
				}
				b = append(b, line...)
			}
		}
		if len(b) >= chunk {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	_, err := w.Write(b)
	return err
}

// splitTimeline cuts a case file before its timeline key; parseTimeline checks that
// every line after it is indented (the timeline is the last key).
func splitTimeline(data []byte) (head, timeline []byte, line int, ok bool) {
	var at int
	switch {
	case bytes.HasPrefix(data, []byte("timeline:\n")):
		at = 0
	default:
		i := bytes.Index(data, []byte("\ntimeline:\n"))
		if i < 0 {
			return nil, nil, 0, false
		}
		at = i + 1
	}
	line = 2 + bytes.Count(data[:at], []byte("\n")) // the line after "timeline:"
	return data[:at], data[at+len("timeline:\n"):], line, true
}

// parseTimeline reads the events of a timeline section starting at line first. An
// event in the plain form is read here, any other through yaml/v3; errNotPlain says
// that the section is not a timeline's alone (a line not indented follows it). The
// events come out sanitized; exact says that writeTimeline writes them back as the
// same bytes (every event plain, its keys in order, its values as Marshal writes them,
// nothing sanitized or upgraded), so that a save can tell a change by the bytes.
//
// The values are cut from one string holding the whole section (body itself when owned:
// bytes that never change), and the recipients from one array: 100,000 events make a
// handful of allocations, not a million. The events have room for a few more, as an
// edit adds them.
func parseTimeline(name string, body []byte, first int, owned bool) (events []Event, exact bool, err error) {
	var text string
	if owned {
		text = unsafe.String(unsafe.SliceData(body), len(body))
	} else {
		text = string(body)
	}
	n := estimateEvents(body)
	p := timelineParser{events: make([]Event, 0, n+64), recipients: make([]string, 0, n), exact: true}
	lineNo := first
	itemStart, itemLine := -1, 0
	flush := func(end int) error {
		if itemStart < 0 {
			return nil
		}
		if p.plain && p.seen != 0 {
			p.exact = p.exact && p.curExact && p.seen&keyKind != 0 // upgrade gives a kind
			p.events = append(p.events, p.cur)
			return nil
		}
		p.exact = false
		e, err := decodeEvent(name, body[itemStart:end], itemLine)
		if err != nil {
			return err
		}
		sanitizeValue(reflect.ValueOf(&e).Elem())
		p.events = append(p.events, e)
		return nil
	}
	for off := 0; off < len(text); lineNo++ {
		next := len(text)
		l := text[off:]
		if i := strings.IndexByte(l, '\n'); i >= 0 {
			l, next = l[:i], off+i+1
		}
		switch {
		case strings.HasPrefix(l, "  - ") || l == "  -":
			if err := flush(off); err != nil {
				return nil, false, err
			}
			itemStart, itemLine = off, lineNo
			p.start(l == "  -")
			if len(l) > 4 {
				p.field(l[4:])
			}
		case strings.TrimSpace(l) == "":
			p.plain, p.exact = false, false // a blank line inside an event: yaml/v3 reads it
		case !strings.HasPrefix(l, "  ") || itemStart < 0:
			return nil, false, errNotPlain
		case p.plain && strings.HasPrefix(l, "    "):
			p.field(l[4:])
		default:
			p.plain = false
		}
		if next == len(text) && !strings.HasSuffix(text, "\n") {
			p.plain = false // the plain form ends every line
		}
		off = next
	}
	if err := flush(len(body)); err != nil {
		return nil, false, err
	}
	// No event: Marshal writes no timeline key.
	return p.events, p.exact && len(p.events) > 0, nil
}

var errNotPlain = errors.New("timeline not in the plain form")

// estimateEvents is about how many events a timeline section holds, a little over,
// from how many start in its first megabyte (counting them all is a fifth of the time
// it takes to read them).
func estimateEvents(body []byte) int {
	const sample = 1 << 20
	n := bytes.Count(body[:min(len(body), sample)], []byte("\n  - ")) + 1
	if len(body) > sample {
		n = int(float64(n) * float64(len(body)) / sample * 1.05)
	}
	return n
}

// timelineParser reads the plain form one line at a time into cur; plain turns false
// at the first line it cannot read, and the event then goes to yaml/v3.
type timelineParser struct {
	events     []Event
	recipients []string // the backing of every event's Recipients
	cur        Event
	seen       uint32 // keys read, by bit
	last       uint32 // the last key's bit: the keys come in Marshal's order
	plain      bool
	curExact   bool // cur is written back as read
	exact      bool // every event so far is
	memo       [32]struct {
		raw, val  string
		ok, exact bool
	}
}

func (p *timelineParser) start(empty bool) {
	p.cur, p.seen, p.last, p.plain, p.curExact = Event{}, 0, 0, !empty, true
}

// Bits of the keys of the plain form, to refuse a key given twice.
const (
	keyKind = 1 << iota
	keyAt
	keyLast
	keyAdded
	keyAttempts
	keyMessages
	keyRecipientDomain
	keyRecipients
	keyReply
	keyReplyCode
	keyEnhancedCode
	keySource
	keyProvider
	keyControl
	keyIP
	keyMode
	keyFromIP
	keyMX
	keyStage
	keyWhat
	keyFrom
	keyTo
	keyCount
	keyRecipient
)

// field reads one "key: value" line of the plain form into cur.
func (p *timelineParser) field(l string) {
	k, v, ok := strings.Cut(l, ": ")
	if !ok {
		p.plain = false
		return
	}
	e := &p.cur
	var bit uint32
	var str *string
	var t *time.Time
	var n *int
	switch k {
	case "kind":
		bit, str = keyKind, (*string)(&e.Kind)
	case "at":
		bit, t = keyAt, &e.At
	case "last":
		bit, t = keyLast, &e.Last
	case "added":
		bit, t = keyAdded, &e.Added
	case "attempts":
		bit, n = keyAttempts, &e.Attempts
	case "messages":
		bit, n = keyMessages, &e.Messages
	case "reply_code":
		bit, n = keyReplyCode, &e.ReplyCode
	case "count":
		bit, n = keyCount, &e.Count
		p.curExact = false // schema 1: upgraded
	case "recipients":
		bit = keyRecipients
		ok = p.recipientList(v)
	case "recipient_domain":
		bit, str = keyRecipientDomain, &e.RecipientDomain
	case "reply":
		bit, str = keyReply, &e.Reply
	case "enhanced_code":
		bit, str = keyEnhancedCode, &e.EnhancedCode
	case "source":
		bit, str = keySource, &e.Source
	case "provider":
		bit, str = keyProvider, &e.Provider
	case "control":
		bit, str = keyControl, &e.Control
	case "ip":
		bit, str = keyIP, &e.IP
	case "mode":
		bit, str = keyMode, (*string)(&e.Mode)
	case "from_ip":
		bit, str = keyFromIP, &e.FromIP
	case "mx":
		bit, str = keyMX, &e.MX
	case "stage":
		bit, str = keyStage, &e.Stage
	case "what":
		bit, str = keyWhat, &e.What
	case "from":
		bit, str = keyFrom, &e.From
	case "to":
		bit, str = keyTo, &e.To
	case "recipient":
		bit, str = keyRecipient, &e.Recipient
		p.curExact = false // schema 1: upgraded
	default:
		ok = false
	}
	switch {
	case str != nil:
		ok = p.text(bits.TrailingZeros32(bit), v, str)
	case t != nil:
		var exact bool
		*t, exact, ok = timeText(v)
		p.curExact = p.curExact && exact && !t.IsZero()
	case n != nil:
		*n, ok = intText(v)
		p.curExact = p.curExact && *n != 0 // Marshal leaves out a zero
	}
	if !ok || p.seen&bit != 0 {
		p.plain = false
	}
	p.curExact = p.curExact && bit > p.last
	p.seen |= bit
	p.last = bit
}

// text reads the value v of the string field with key bit i into dst: plain, or
// single-quoted. The last value of each key and what it read as are remembered: the
// values of a timeline repeat (the reply, the provider), and checking them is most of
// the work.
func (p *timelineParser) text(i int, v string, dst *string) bool {
	m := &p.memo[i]
	if m.raw != v || m.raw == "" {
		m.raw, m.ok, m.exact = v, true, true
		switch {
		case strings.HasPrefix(v, "'"):
			m.val, m.ok = singleQuoted(v)
			m.exact = colonQuoted(m.val) // else Marshal writes it otherwise
		default:
			m.val, m.ok = v, plainSafe(v)
		}
		// Sanitized (untrusted.go): a value it changes is not written back as read.
		if m.ok && !sanitize.Clean(m.val) {
			m.val, m.exact = sanitize.Text(m.val), false
		}
	}
	*dst = m.val
	p.curExact = p.curExact && m.exact
	return m.ok
}

// clean is v sanitized (untrusted.go); an event with a value it changes is not written
// back as read.
func (p *timelineParser) clean(v string) string {
	if sanitize.Clean(v) {
		return v
	}
	p.curExact = false
	return sanitize.Text(v)
}

// recipientList reads a flow sequence of plain addresses into cur.Recipients.
func (p *timelineParser) recipientList(v string) bool {
	inner, open := strings.CutPrefix(v, "[")
	inner, closed := strings.CutSuffix(inner, "]")
	if !open || !closed || inner == "" {
		return false
	}
	from := len(p.recipients)
	for r := range strings.SplitSeq(inner, ", ") {
		if !flowSafe(r) {
			p.recipients = p.recipients[:from]
			return false
		}
		p.recipients = append(p.recipients, p.clean(r))
	}
	// Capped: appending to one event's recipients copies them, never touches the next's.
	p.cur.Recipients = p.recipients[from:len(p.recipients):len(p.recipients)]
	return true
}

// timeText reads a time in RFC 3339 in UTC ("Z"); exact says that Marshal writes it
// back as v. The whole second is read by hand (time.Parse is a third of the cost of
// reading a timeline); anything else goes to time.Parse.
func timeText(v string) (t time.Time, exact, ok bool) {
	if !strings.HasSuffix(v, "Z") {
		return time.Time{}, false, false
	}
	if len(v) == len("2006-01-02T15:04:05Z") && v[4] == '-' && v[7] == '-' && v[10] == 'T' && v[13] == ':' && v[16] == ':' {
		year, ok1 := digits(v[0:4])
		month, ok2 := digits(v[5:7])
		day, ok3 := digits(v[8:10])
		hour, ok4 := digits(v[11:13])
		minute, ok5 := digits(v[14:16])
		sec, ok6 := digits(v[17:19])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && month >= 1 && month <= 12 && day >= 1 && hour < 24 && minute < 60 && sec < 60 {
			t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
			if t.Day() == day { // not 31 November
				return t, true, true
			}
		}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil && string(appendTime(nil, t)) == v, err == nil
}

// digits reads a fixed-width decimal number.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// decodeEvent reads one event through yaml/v3, its errors numbered as in the file.
func decodeEvent(name string, item []byte, line int) (Event, error) {
	var text bytes.Buffer
	for l := range bytes.Lines(item) {
		text.Write(bytes.TrimPrefix(l, []byte("  ")))
	}
	src := text.Bytes()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	var evs []Event
	if err := dec.Decode(&evs); err != nil {
		return Event{}, loadErrorAt(name, src, err, line-1)
	}
	if len(evs) != 1 {
		return Event{}, fmt.Errorf("%s:%d: a timeline entry must be one mapping", name, line)
	}
	return evs[0], nil
}
