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
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// plainSafe reports whether s, written as a plain scalar in a block mapping, reads back
// as exactly s: no indicator first, no ": " or " #", no edge spaces, not a null, one
// line of printable text.
func plainSafe(s string) bool {
	if s == "" || s == "~" || s == "null" || s == "Null" || s == "NULL" {
		return false
	}
	if strings.ContainsRune("-?:,[]{}#&*!|>'\"%@`. ", rune(s[0])) {
		return false
	}
	if s[len(s)-1] == ' ' || s[len(s)-1] == ':' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			return printableRunes(s[i:])
		case c < 0x20 || c == 0x7f:
			return false
		case c == ':' && i+1 < len(s) && s[i+1] == ' ', c == '#' && s[i-1] == ' ':
			return false
		}
	}
	return true
}

// flowSafe reports whether s can stand plainly in a flow sequence: plain, and none of
// the flow indicators.
func flowSafe(s string) bool {
	return plainSafe(s) && !strings.ContainsAny(s, ",[]{}:#?")
}

func printableRunes(s string) bool {
	for i, r := range s {
		if r == ':' && strings.HasPrefix(s[i:], ": ") || r == '#' && i > 0 && s[i-1] == ' ' {
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
func appendEvent(b []byte, e *Event) ([]byte, bool) {
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
	str := func(k, v string) {
		if v == "" {
			return
		}
		if !plainSafe(v) {
			ok = false
			return
		}
		key(k)
		b = append(b, v...)
		b = append(b, '\n')
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
			b = t.AppendFormat(b, time.RFC3339Nano)
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

// appendTimeline writes the timeline key and its events.
func appendTimeline(b []byte, events []Event) ([]byte, error) {
	if len(events) == 0 {
		return b, nil
	}
	b = append(b, "timeline:\n"...)
	var chunk bytes.Buffer
	for i := range events {
		var ok bool
		if b, ok = appendEvent(b, &events[i]); ok {
			continue
		}
		chunk.Reset()
		if err := encodeYAML(&chunk, events[i:i+1]); err != nil {
			return nil, err
		}
		// A top-level sequence; under the timeline key it is indented by two.
		for line := range bytes.Lines(chunk.Bytes()) {
			if len(line) > 1 {
				b = append(b, "  "...)
			}
			b = append(b, line...)
		}
	}
	return b, nil
}

// splitTimeline cuts a case file before its timeline when the timeline is the last key
// and every line after it is indented; otherwise the whole file goes to yaml/v3.
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
	body := data[at+len("timeline:\n"):]
	for l := range bytes.Lines(body) {
		if len(bytes.TrimSpace(l)) > 0 && !bytes.HasPrefix(l, []byte("  ")) {
			return nil, nil, 0, false
		}
	}
	line = 2 + bytes.Count(data[:at], []byte("\n")) // the line after "timeline:"
	return data[:at], body, line, true
}

// parseTimeline reads the events of a timeline section starting at line first.
func parseTimeline(name string, body []byte, first int) ([]Event, error) {
	events := make([]Event, 0, bytes.Count(body, []byte("\n  - "))+1)
	strs := interner{}
	lineNo := first
	var item []byte
	itemLine := first
	itemStart := -1
	flush := func() error {
		if len(item) == 0 {
			return nil
		}
		e, ok := parseEvent(item, strs)
		if !ok {
			var err error
			if e, err = decodeEvent(name, item, itemLine); err != nil {
				return err
			}
		}
		events = append(events, e)
		item, itemStart = nil, -1
		return nil
	}
	for off := 0; off < len(body); {
		end := bytes.IndexByte(body[off:], '\n') + 1
		if end == 0 {
			end = len(body) - off
		}
		l := body[off : off+end]
		if bytes.HasPrefix(l, []byte("  - ")) || bytes.Equal(l, []byte("  -\n")) {
			if err := flush(); err != nil {
				return nil, err
			}
			itemStart, itemLine = off, lineNo
		} else if itemStart < 0 && len(bytes.TrimSpace(l)) > 0 {
			return nil, errNotPlain
		}
		off += end
		if itemStart >= 0 {
			item = body[itemStart:off]
		}
		lineNo++
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return events, nil
}

var errNotPlain = errors.New("timeline not in the plain form")

// parseEvent reads an event in the plain form; false sends it to yaml/v3.
func parseEvent(item []byte, strs interner) (Event, bool) {
	var e Event
	var seen uint32
	first := true
	for l := range bytes.Lines(item) {
		if len(l) == 0 || l[len(l)-1] != '\n' {
			return e, false
		}
		l = l[:len(l)-1]
		prefix := "    "
		if first {
			prefix, first = "  - ", false
		}
		if !bytes.HasPrefix(l, []byte(prefix)) {
			return e, false
		}
		kb, vb, ok := bytes.Cut(l[4:], []byte(": "))
		if !ok {
			return e, false
		}
		bit, known := eventKeys[string(kb)]
		k := string(kb) // no allocation: the switch below compares constants
		v := strs.get(vb)
		if !known || seen&bit != 0 {
			return e, false
		}
		seen |= bit
		switch k {
		case "at", "last", "added":
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil || !strings.HasSuffix(v, "Z") {
				return e, false
			}
			switch k {
			case "at":
				e.At = t
			case "last":
				e.Last = t
			default:
				e.Added = t
			}
		case "reply_code", "count", "attempts", "messages":
			n, ok := intText(v)
			if !ok {
				return e, false
			}
			switch k {
			case "count":
				e.Count = n
			case "attempts":
				e.Attempts = n
			case "messages":
				e.Messages = n
			default:
				e.ReplyCode = n
			}
		case "recipients":
			inner, open := strings.CutPrefix(v, "[")
			inner, closed := strings.CutSuffix(inner, "]")
			if !open || !closed || inner == "" {
				return e, false
			}
			for r := range strings.SplitSeq(inner, ", ") {
				if !flowSafe(r) {
					return e, false
				}
				e.Recipients = append(e.Recipients, r)
			}
		default:
			if !plainSafe(v) {
				return e, false
			}
			switch k {
			case "kind":
				e.Kind = EventKind(v)
			case "recipient_domain":
				e.RecipientDomain = v
			case "recipient":
				e.Recipient = v
			case "reply":
				e.Reply = v
			case "enhanced_code":
				e.EnhancedCode = v
			case "source":
				e.Source = v
			case "provider":
				e.Provider = v
			case "control":
				e.Control = v
			case "ip":
				e.IP = v
			case "mode":
				e.Mode = triage.Mode(v)
			case "from_ip":
				e.FromIP = v
			case "mx":
				e.MX = v
			case "stage":
				e.Stage = v
			case "what":
				e.What = v
			case "from":
				e.From = v
			case "to":
				e.To = v
			}
		}
	}
	return e, seen != 0
}

var eventKeys = func() map[string]uint32 {
	m := map[string]uint32{}
	for i, k := range []string{"kind", "at", "last", "added", "attempts", "messages", "recipient_domain", "recipients", "reply", "reply_code", "enhanced_code", "source", "provider", "control", "ip", "mode", "from_ip", "mx", "stage", "what", "from", "to", "count", "recipient"} {
		m[k] = 1 << i
	}
	return m
}()

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

// interner keeps one copy of the values that repeat through a timeline (the reply, the
// provider, the IP), which are most of them.
type interner map[string]string

func (m interner) get(b []byte) string {
	if s, ok := m[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(m) < 4096 {
		m[s] = s
	}
	return s
}
