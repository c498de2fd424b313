package main

// Findings and progressions written as JSON by appending to a buffer: a large log has
// hundreds of thousands of them, and encoding/json would reflect over each. The bytes are
// those of encoding/json with SetEscapeHTML(false) (and, for progressions, its indent):
// TestTriageJSONAsEncodingJSON holds them to it.

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/casefile/triage/maillog"
)

// appendFinding appends a finding as encoding/json writes it on one line, without the line end.
func appendFinding(b []byte, f *triage.Finding) []byte {
	if f.Original != nil {
		// Not in logs: said by encoding/json.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		g := *f // f itself stays off the heap for the findings of logs
		if err := enc.Encode(&g); err != nil {
			return append(b, "null"...)
		}
		return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
	}
	b = append(b, `{"source":`...)
	b = appendJSONString(b, f.Source)
	b = append(b, `,"mode":`...)
	b = appendJSONString(b, string(f.Mode))
	b = append(b, `,"cause":`...)
	b = appendJSONString(b, string(f.Cause))
	b = append(b, `,"provider":`...)
	b = appendJSONString(b, f.Provider)
	b = appendField(b, "receiver", f.Receiver)
	b = appendField(b, "control", f.Control)
	b = appendField(b, "ip", f.IP)
	b = appendField(b, "sending_ip", f.SendingIP)
	if f.ReplyCode != 0 {
		b = append(b, `,"reply_code":`...)
		b = strconv.AppendInt(b, int64(f.ReplyCode), 10)
	}
	b = appendField(b, "enhanced_code", f.EnhancedCode)
	b = appendField(b, "recipient", f.Recipient)
	b = appendField(b, "recipient_domain", f.RecipientDomain)
	b = appendField(b, "sender", f.Sender)
	b = appendField(b, "message_id", f.MessageID)
	if !f.At.IsZero() {
		b = append(b, `,"at":`...)
		b = appendJSONTime(b, f.At)
	}
	b = appendField(b, "text", f.Text)
	if len(f.Notes) > 0 {
		b = append(b, `,"notes":`...)
		b = appendStrings(b, f.Notes)
	}
	b = append(b, `,"route":{"kind":`...)
	b = appendJSONString(b, f.Route.Kind)
	b = appendField(b, "contact", f.Route.Contact)
	b = appendField(b, "url", f.Route.URL)
	if len(f.Route.Asks) > 0 {
		b = append(b, `,"asks":`...)
		b = appendStrings(b, f.Route.Asks)
	}
	b = append(b, '}')
	b = appendField(b, "receiver_provider", f.ReceiverProvider)
	b = appendField(b, "meaning", f.Meaning)
	b = appendField(b, "advice", f.Advice)
	b = appendField(b, "stage", f.Stage)
	b = appendField(b, "action", f.Action)
	b = appendField(b, "queue_id", f.QueueID)
	if f.Inbound {
		b = append(b, `,"inbound":true`...)
	}
	return append(b, '}')
}

// appendProgression appends a progression as encoding/json writes it, on one line (one
// a line, as the findings are), without the line end.
func appendProgression(b []byte, p *maillog.Progression) []byte {
	b = append(b, `{"queue_id":`...)
	b = appendJSONString(b, p.QueueID)
	b = appendField(b, "recipient", p.Recipient)
	b = appendField(b, "sender", p.Sender)
	b = appendField(b, "sending_host", p.Host)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, p.Source)
	b = append(b, `,"steps":`...)
	switch {
	case p.Steps == nil:
		b = append(b, "null"...)
	case len(p.Steps) == 0:
		b = append(b, "[]"...)
	default:
		for i := range p.Steps {
			s := &p.Steps[i]
			if i == 0 {
				b = append(b, '[')
			} else {
				b = append(b, ',')
			}
			b = append(b, `{"status":`...)
			b = appendJSONString(b, string(s.Status))
			b = append(b, `,"count":`...)
			b = strconv.AppendInt(b, int64(s.Count), 10)
			b = append(b, `,"first":`...)
			b = appendJSONTime(b, s.First)
			b = append(b, `,"last":`...)
			b = appendJSONTime(b, s.Last)
			b = appendField(b, "dsn", s.DSN)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// appendField appends ,"key":"value" unless the value is empty (omitempty).
func appendField(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendJSONString(b, v)
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONTime appends a time as time.Time's MarshalJSON does: RFC 3339 with the
// nanoseconds that are not zero.
func appendJSONTime(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y > 9999 {
		out, err := t.MarshalJSON()
		if err != nil {
			return append(b, `""`...)
		}
		return append(b, out...)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// plainRun returns how many bytes from i on go into a JSON string as they are, counted
// eight at a time (a shorter tail is left to the caller): none below 0x20, none at 0x80
// or above, no quote and no backslash.
func plainRun(s string, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	n := i
	for ; n+8 <= len(s); n += 8 {
		c := s[n : n+8]
		w := uint64(c[0]) | uint64(c[1])<<8 | uint64(c[2])<<16 | uint64(c[3])<<24 |
			uint64(c[4])<<32 | uint64(c[5])<<40 | uint64(c[6])<<48 | uint64(c[7])<<56
		q := w ^ ('"' * ones)
		bs := w ^ ('\\' * ones)
		if (w|(w-0x20*ones)|(q-ones)&^q|(bs-ones)&^bs)&highs != 0 {
			break
		}
	}
	return n - i
}

// appendJSONString appends s quoted as encoding/json does without HTML escaping: quote,
// backslash and control characters escaped, invalid UTF-8 as \ufffd, U+2028 and U+2029
// escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none needs a look: printable ASCII but quote and
		// backslash.
		i += plainRun(s, i)
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
