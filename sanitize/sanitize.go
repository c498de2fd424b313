// Package sanitize makes text from outside the program safe to show, copy or store.
//
// Everything that arrives from DNS, SMTP banners, pasted bounces or files passes through
// Text (multi-line) or Line (single-line) once, where it enters, after charset decoding.
// Control characters and escape sequences are not removed but made visible, so a support
// engineer still sees that they were there: C0 controls and DEL become Unicode control
// pictures (ESC is "␛"), C1 controls and invisible direction overrides become "<U+009B>",
// invalid UTF-8 becomes U+FFFD.
package sanitize

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Text sanitizes multi-line text: newline and tab pass through, a CR that ends a line
// (CRLF) is dropped, everything else that could act on a terminal is made visible.
func Text(s string) string { return clean(s, true, true) }

// Line sanitizes text meant for one line: newlines and tabs are made visible too.
func Line(s string) string { return clean(s, false, false) }

// Record sanitizes the text of one DNS record: like Line, but a tab passes through, since
// it is whitespace (WSP) inside the records the checks parse (RFC 7489 §6.4, RFC 8461
// §3.1, RFC 8460 §3, RFC 6376 §3.2); made visible, it would break them.
func Record(s string) string { return clean(s, false, true) }

// Clean reports whether s would pass through Text unchanged.
func Clean(s string) bool { return Text(s) == s }

func clean(s string, multiline, tab bool) string {
	if isPlain(s, multiline, tab) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
		case multiline && r == '\n', (multiline || tab) && r == '\t':
			b.WriteRune(r)
		case multiline && r == '\r' && i+1 < len(s) && s[i+1] == '\n':
			// CRLF line end: keep only the LF.
		case r < 0x20:
			b.WriteRune(0x2400 + r) // control pictures: ␀ … ␟
		case r == 0x7f:
			b.WriteRune('␡')
		case hidden(r):
			fmt.Fprintf(&b, "<U+%04X>", r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// hidden reports runes that act on a terminal or reorder text without being seen:
// C1 controls (0x9b is a one-byte CSI) and the bidirectional overrides and isolates
// used to disguise text (CVE-2021-42574).
func hidden(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r == 0x2028, r == 0x2029, r == 0xfeff, r == 0x200b:
		// Line and paragraph separators break lines in editors, forms and scripts; a byte
		// order mark and a zero-width space hide in text unseen.
		return true
	}
	return false
}

// isPlain is the fast path: printable ASCII (and, when multiline, newline and tab; when
// tab, tab) only.
func isPlain(s string, multiline, tab bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			continue
		}
		if multiline && c == '\n' || (multiline || tab) && c == '\t' {
			continue
		}
		if c >= 0x80 {
			// Non-ASCII: check rune by rune.
			for _, r := range s[i:] {
				if r == utf8.RuneError || r < 0x20 && !(multiline && r == '\n' || (multiline || tab) && r == '\t') || r == 0x7f || hidden(r) {
					return false
				}
			}
			return utf8.ValidString(s[i:])
		}
		return false
	}
	return true
}
