package message

import (
	"strconv"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/sanitize"
)

// Signature is one DKIM-Signature field read tag by tag (RFC 6376 §3.5): what the
// verification library does not report (selector, algorithm, canonicalization, l=).
type Signature struct {
	Domain    string   // d=
	Selector  string   // s=
	Algorithm string   // a=, e.g. rsa-sha256
	Canon     string   // c=, e.g. relaxed/relaxed
	Headers   []string // h=, lower case
	Identity  string   // i=
	Length    int64    // l=, -1 when absent
	Signed    time.Time
	Expires   time.Time
	Tags      map[string]string // every tag, values sanitized, b= and bh= cut short
	Err       string            // why the field could not be read, if it could not
}

// Signatures reads every DKIM-Signature field, top first.
func (m *Message) Signatures() []Signature {
	var out []Signature
	for _, v := range m.values("Dkim-Signature") {
		out = append(out, parseSignature(v))
	}
	return out
}

// tagList splits a tag=value list (RFC 6376 §3.2) with whitespace removed from values.
// It reads on past a fault, so callers can still name the domain, and returns the first
// fault: an empty tag between semicolons, a tag without "=", a malformed or repeated name.
func tagList(v string) (map[string]string, string) {
	tags := map[string]string{}
	fault := ""
	parts := strings.Split(v, ";")
	for i, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			if i < len(parts)-1 && fault == "" {
				fault = "empty tag between semicolons"
			}
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			if fault == "" {
				fault = "tag without '=': " + sanitize.Line(clip(part, 40))
			}
			continue
		}
		k = strings.TrimSpace(k)
		if !tagName(k) && fault == "" {
			fault = "malformed tag name " + strconv.Quote(sanitize.Line(clip(k, 20)))
		}
		if _, dup := tags[k]; dup && fault == "" {
			fault = "tag " + sanitize.Line(k) + " given twice"
		}
		if _, dup := tags[k]; !dup {
			tags[k] = strings.Join(strings.Fields(val), "")
		}
	}
	return tags, fault
}

// tagName is ALPHA *(ALPHA / DIGIT / "_") (RFC 6376 §3.2).
func tagName(k string) bool {
	if k == "" || !(k[0] >= 'a' && k[0] <= 'z' || k[0] >= 'A' && k[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func parseSignature(v string) Signature {
	tags, err := tagList(v)
	s := Signature{Tags: map[string]string{}, Length: -1, Err: err}
	for k, val := range tags {
		shown := val
		if k == "b" || k == "bh" {
			shown = clip(val, 16)
		}
		s.Tags[sanitize.Line(k)] = sanitize.Line(shown)
	}
	s.Domain = strings.ToLower(sanitize.Line(tags["d"]))
	s.Selector = strings.ToLower(sanitize.Line(tags["s"]))
	s.Algorithm = strings.ToLower(sanitize.Line(tags["a"]))
	s.Canon = strings.ToLower(sanitize.Line(tags["c"]))
	if s.Canon == "" {
		s.Canon = "simple/simple"
	} else if !strings.Contains(s.Canon, "/") {
		s.Canon += "/simple"
	}
	s.Identity = sanitize.Line(tags["i"])
	if h := tags["h"]; h != "" {
		for _, name := range strings.Split(h, ":") {
			s.Headers = append(s.Headers, strings.ToLower(sanitize.Line(name)))
		}
	}
	if l, ok := tags["l"]; ok {
		n, e := strconv.ParseInt(l, 10, 64)
		if e != nil {
			n = 0
		}
		s.Length = n
	}
	if t, e := strconv.ParseInt(tags["t"], 10, 64); e == nil {
		s.Signed = time.Unix(t, 0).UTC()
	}
	if t, e := strconv.ParseInt(tags["x"], 10, 64); e == nil {
		s.Expires = time.Unix(t, 0).UTC()
	}
	if s.Err == "" {
		for _, req := range []string{"v", "a", "b", "bh", "d", "h", "s"} {
			if _, ok := tags[req]; !ok {
				s.Err = "required tag " + req + "= missing"
				break
			}
		}
	}
	return s
}

// clip shortens s to n bytes with an ellipsis, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}
