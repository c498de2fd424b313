// Package dmarc reads DMARC policy records (RFC 9989), finds them by the DNS tree walk,
// names the organizational domain, and tells whether two domains are aligned.
//
// go-msgauth/dmarc knows only RFC 7489; RFC 9989 added np, t and psd, removed pct, rf and
// ri, and replaced the public suffix list with the tree walk.
package dmarc

import (
	"errors"
	"fmt"
	"strings"
)

// Policy is a requested handling of failing mail (RFC 9989 §4.7).
type Policy string

const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

// Alignment is an identifier alignment mode (RFC 9989 §4.4).
type Alignment string

const (
	Relaxed Alignment = "r"
	Strict  Alignment = "s"
)

// PSD is the psd tag: whether the record's domain is a public suffix domain.
type PSD string

const (
	PSDYes     PSD = "y"
	PSDNo      PSD = "n"
	PSDUnknown PSD = "u" // the default
)

// ErrSyntax is wrapped by every error about a record's text.
var ErrSyntax = errors.New("DMARC syntax error")

// removedTags were dropped by RFC 9989: receivers ignore them.
var removedTags = map[string]string{
	"pct": "pct was removed by RFC 9989; use t=y to test a policy",
	"rf":  "rf was removed by RFC 9989: failure reports have one format",
	"ri":  "ri was removed by RFC 9989: aggregate reports are daily",
}

// Record is a parsed DMARC policy record.
type Record struct {
	Policy            Policy    // p
	SubdomainPolicy   Policy    // sp; "" when absent (p applies)
	NonexistentPolicy Policy    // np; "" when absent (sp, then p applies)
	Testing           bool      // t=y
	ADKIM             Alignment // default relaxed
	ASPF              Alignment // default relaxed
	FailureOptions    string    // fo, default "0"
	RUA               []string  // aggregate report URIs as written
	RUF               []string  // failure report URIs as written
	PSD               PSD
	// Removed lists tags RFC 9989 removed (pct, rf, ri) found in the record, with why.
	Removed []string
	// SpacedVersion is set when the version tag has whitespace around "=" ("v = DMARC1"):
	// in RFC 7489's grammar, but many receivers do not take it for a record.
	SpacedVersion bool
	// Invalid lists tags whose values receivers discard, falling back to the default
	// (RFC 7489 §6.3, RFC 9989 §4.7): a bad p= is p=none, not a record that is ignored.
	Invalid []string
	tags    []string // the tags in order, as written, for String
}

// IsRecord reports whether a TXT string is a DMARC record: it must begin with the
// version tag (RFC 7489 §6.6.3, RFC 9989 §4.7: records that do not start with "v=" and
// the version are discarded), so a leading space is not one. RFC 7489's grammar allows
// whitespace around "=" ("v" *WSP "=" *WSP "DMARC1"): such a record is one (see
// SpacedVersion).
func IsRecord(txt string) bool {
	_, ok := versionEnd(txt)
	return ok
}

// versionEnd returns where the version tag ends and whether txt begins with one.
func versionEnd(txt string) (int, bool) {
	if txt == "" || (txt[0] != 'v' && txt[0] != 'V') {
		return 0, false
	}
	i := skipWSP(txt, 1)
	if i >= len(txt) || txt[i] != '=' {
		return 0, false
	}
	i = skipWSP(txt, i+1)
	if !strings.HasPrefix(txt[i:], "DMARC1") {
		return 0, false
	}
	i += len("DMARC1")
	j := skipWSP(txt, i)
	if j < len(txt) && txt[j] != ';' {
		return 0, false // "v=DMARC10", "v=DMARC1 p=reject"
	}
	return i, true
}

func skipWSP(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// ParseRecord parses a record strictly enough to tell the publisher what is wrong; the
// error wraps ErrSyntax and names the tag.
func ParseRecord(txt string) (*Record, error) {
	if !IsRecord(txt) {
		return nil, fmt.Errorf(`%w: a DMARC record starts with "v=DMARC1"`, ErrSyntax)
	}
	r := &Record{ADKIM: Relaxed, ASPF: Relaxed, FailureOptions: "0", PSD: PSDUnknown}
	if end, _ := versionEnd(txt); end != len("v=DMARC1") {
		r.SpacedVersion = true
	}
	seen := map[string]bool{}
	parts := strings.Split(txt, ";")
	for i, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			r.Invalid = append(r.Invalid, fmt.Sprintf("%q is not tag=value: receivers skip it", part))
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		value = strings.TrimSpace(value)
		if i == 0 {
			r.tags = append(r.tags, "v=DMARC1")
			continue
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: tag %q appears twice", ErrSyntax, name)
		}
		seen[name] = true
		if err := r.tag(name, value); err != nil {
			r.Invalid = append(r.Invalid, err.Error())
			continue
		}
		r.tags = append(r.tags, name+"="+value)
	}
	if r.Policy == "" {
		// RFC 9989 §4.7: an otherwise valid record without a usable p= is read as p=none.
		r.Policy = PolicyNone
		if !seen["p"] {
			r.Invalid = append(r.Invalid, "no p= tag: receivers read the record as p=none")
		}
	}
	return r, nil
}

// tag reads one tag into r; an error says why receivers discard its value.
func (r *Record) tag(name, value string) error {
	bad := func(want string) error {
		fallback := map[string]string{"p": "p=none", "sp": "p", "np": "sp or p", "adkim": "r", "aspf": "r", "t": "n", "psd": "u", "fo": "0"}[name]
		return fmt.Errorf("%s=%s is not valid (want %s): receivers use %s", name, value, want, fallback)
	}
	switch name {
	case "p", "sp", "np":
		p := Policy(strings.ToLower(value))
		if p != PolicyNone && p != PolicyQuarantine && p != PolicyReject {
			return bad("none, quarantine or reject")
		}
		switch name {
		case "p":
			r.Policy = p
		case "sp":
			r.SubdomainPolicy = p
		default:
			r.NonexistentPolicy = p
		}
	case "adkim", "aspf":
		a := Alignment(strings.ToLower(value))
		if a != Relaxed && a != Strict {
			return bad("r (relaxed) or s (strict)")
		}
		if name == "adkim" {
			r.ADKIM = a
		} else {
			r.ASPF = a
		}
	case "t":
		switch strings.ToLower(value) {
		case "y":
			r.Testing = true
		case "n":
		default:
			return bad("y or n")
		}
	case "psd":
		p := PSD(strings.ToLower(value))
		if p != PSDYes && p != PSDNo && p != PSDUnknown {
			return bad("y, n or u")
		}
		r.PSD = p
	case "fo":
		for _, o := range strings.Split(value, ":") {
			if o = strings.TrimSpace(o); o != "0" && o != "1" && o != "d" && o != "s" {
				return bad("0, 1, d or s, separated by colons")
			}
		}
		r.FailureOptions = value
	case "rua", "ruf":
		var uris []string
		for _, u := range strings.Split(value, ",") {
			u = strings.TrimSpace(u)
			if _, err := ReportDomain(u); err != nil {
				r.Invalid = append(r.Invalid, fmt.Sprintf("%s: %v: no reports are sent to it", name, err))
				continue
			}
			uris = append(uris, u)
		}
		if name == "rua" {
			r.RUA = uris
		} else {
			r.RUF = uris
		}
	default:
		if why, ok := removedTags[name]; ok {
			r.Removed = append(r.Removed, why)
		}
		// Unknown tags are ignored (RFC 9989 §4.7).
	}
	return nil
}

// ReportDomain returns the domain of a mailto: report URI (RFC 9989 §4.7: rua and ruf are
// mailto URIs, optionally with a !size suffix).
func ReportDomain(uri string) (string, error) {
	if len(uri) < 7 || !strings.EqualFold(uri[:7], "mailto:") {
		return "", fmt.Errorf("%q is not a mailto: URI", uri)
	}
	addr := uri[7:]
	if i := strings.IndexByte(addr, '!'); i >= 0 {
		addr = addr[:i]
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", fmt.Errorf("%q has no address", uri)
	}
	dom := strings.ToLower(strings.TrimSuffix(addr[at+1:], "."))
	if !hostname(dom) {
		return "", fmt.Errorf("%q has no valid domain", uri)
	}
	return dom, nil
}

// hostname reports a domain of letters, digits and hyphens in dot-separated labels of 1
// to 63 characters, none starting or ending with a hyphen (RFC 1123 §2.1), with a dot.
func hostname(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Applied returns the policy that applies to a domain that found this record at
// recordDomain: p for the domain itself, else np for a domain that does not exist, else
// sp, each falling back to the next (RFC 9989 §4.7).
func (r *Record) Applied(domain, recordDomain string, exists bool) Policy {
	if strings.EqualFold(domain, recordDomain) {
		return r.Policy
	}
	if !exists && r.NonexistentPolicy != "" {
		return r.NonexistentPolicy
	}
	if r.SubdomainPolicy != "" {
		return r.SubdomainPolicy
	}
	return r.Policy
}

// String prints the record as the text to publish.
func (r *Record) String() string { return strings.Join(r.tags, "; ") }

// Value is the value of a tag as written (names compare case-insensitively).
func (r *Record) Value(name string) (string, bool) {
	for _, t := range r.tags {
		n, v, _ := strings.Cut(t, "=")
		if strings.EqualFold(strings.TrimSpace(n), name) {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// With returns the record's text to publish with tag set to value (added at the end if
// absent) and the tags RFC 9989 removed left out; an empty tag changes nothing else.
func (r *Record) With(tag, value string) string {
	var tags []string
	found := false
	for _, t := range r.tags {
		n, _, _ := strings.Cut(t, "=")
		switch {
		case removedTags[strings.ToLower(n)] != "":
			continue
		case tag != "" && strings.EqualFold(n, tag):
			t = tag + "=" + value
			found = true
		case strings.EqualFold(strings.TrimSpace(n), "rua") || strings.EqualFold(strings.TrimSpace(n), "ruf"):
			t = strings.TrimSpace(n) + "=" + mailtoURIs(t[len(n)+1:])
		}
		tags = append(tags, t)
	}
	switch {
	case !found && tag == "p" && len(tags) > 0:
		// p= reads best right after v= (the order of RFC 9989's grammar).
		tags = append([]string{tags[0], "p=" + value}, tags[1:]...)
	case !found && tag != "":
		tags = append(tags, tag+"="+value)
	}
	return strings.Join(tags, "; ")
}

// mailtoURIs writes report addresses given without their scheme ("d@example.com") as the
// mailto: URIs RFC 9989 §4.7 requires; other URIs are kept as written.
func mailtoURIs(v string) string {
	uris := strings.Split(v, ",")
	for i, u := range uris {
		u = strings.TrimSpace(u)
		if strings.Contains(u, "@") && !strings.Contains(u, ":") {
			u = "mailto:" + u
		}
		uris[i] = u
	}
	return strings.Join(uris, ",")
}
