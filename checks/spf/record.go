// Package spf reads, lints and evaluates Sender Policy Framework records (RFC 7208).
//
// ParseRecord is a strict parser of the record grammar (RFC 7208 §12): the whole record is
// checked before anything is evaluated, as §4.6 requires, so an error after a match is
// still an error. Lint walks the include/redirect tree of a domain over our resolver and
// explains the DNS lookups each term costs. Evaluate runs check_host (§4) for an IP with
// blitiri.com.ar/go/spf over our resolver, after our own checks of the domain and of every
// record it fetches.
package spf

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Limits from RFC 7208.
const (
	MaxLookups     = 10  // §4.6.4: terms that cause DNS lookups
	MaxVoidLookups = 2   // §4.6.4: lookups that return no answer
	MaxMXNames     = 10  // §4.6.4: MX names looked up per mx term
	MaxRecordBytes = 450 // §3.4: a record should fit a 512-byte UDP answer
	MaxStringBytes = 255 // RFC 1035 §3.3: one character-string
)

// ErrSyntax is wrapped by every error about a record's text.
var ErrSyntax = errors.New("SPF syntax error")

// SyntaxError names the term that broke the grammar.
type SyntaxError struct {
	Term   string // the offending term as written ("" for the record as a whole)
	Reason string
}

func (e *SyntaxError) Error() string {
	if e.Term == "" {
		return e.Reason
	}
	return fmt.Sprintf("%q: %s", e.Term, e.Reason)
}

func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// Term is one directive or modifier of a record.
type Term struct {
	Text      string // as written
	Qualifier byte   // '+', '-', '~', '?' for a mechanism; 0 for a modifier
	Name      string // mechanism or modifier name, lower case: all include a mx ptr ip4 ip6 exists redirect exp …
	Value     string // the domain-spec, address or modifier value ("" when absent)
	Prefix4   int    // the ip4 or a/mx IPv4 prefix length; -1 when not given
	Prefix6   int    // the ip6 or a/mx IPv6 prefix length; -1 when not given
	Modifier  bool
}

// Lookups is what the term costs against the limit of RFC 7208 §4.6.4.
func (t Term) Lookups() int {
	switch t.Name {
	case "include", "a", "mx", "ptr", "exists", "redirect":
		return 1
	}
	return 0
}

// HasMacro reports whether the term's domain-spec depends on the message (§7).
func (t Term) HasMacro() bool { return strings.Contains(t.Value, "%") }

// Record is a parsed SPF record.
type Record struct {
	Terms    []Term
	Redirect string // the redirect= domain-spec, if any
	Exp      string // the exp= domain-spec, if any
}

// IsRecord reports whether a TXT string is an SPF record: "v=spf1" alone or followed by a
// space (§4.5), case-insensitively.
func IsRecord(txt string) bool {
	if len(txt) < 6 || !strings.EqualFold(txt[:6], "v=spf1") {
		return false
	}
	return len(txt) == 6 || txt[6] == ' '
}

// ParseRecord parses a whole record strictly; the error wraps ErrSyntax and names the
// offending term.
func ParseRecord(txt string) (*Record, error) {
	if !IsRecord(txt) {
		return nil, &SyntaxError{Reason: `not an SPF record: it must start with "v=spf1"`}
	}
	for i := 0; i < len(txt); i++ {
		if c := txt[i]; c != ' ' && (c < 0x21 || c > 0x7e) {
			// §12: a record is ASCII; terms are separated by spaces only.
			term := txt[strings.LastIndexByte(txt[:i], ' ')+1:]
			if j := strings.IndexByte(term, ' '); j >= 0 {
				term = term[:j]
			}
			return nil, &SyntaxError{Term: term, Reason: "characters other than printable ASCII and spaces are not allowed"}
		}
	}
	r := &Record{}
	for _, f := range strings.Split(txt[6:], " ") {
		if f == "" {
			continue
		}
		t, err := parseTerm(f)
		if err != nil {
			return nil, err
		}
		switch t.Name {
		case "redirect":
			if r.Redirect != "" {
				return nil, &SyntaxError{Term: f, Reason: "redirect= may appear only once"}
			}
			r.Redirect = t.Value
		case "exp":
			if r.Exp != "" {
				return nil, &SyntaxError{Term: f, Reason: "exp= may appear only once"}
			}
			r.Exp = t.Value
		}
		r.Terms = append(r.Terms, t)
	}
	return r, nil
}

// All returns the record's "all" term, if any.
func (r *Record) All() (Term, bool) {
	for _, t := range r.Terms {
		if t.Name == "all" {
			return t, true
		}
	}
	return Term{}, false
}

// String prints the record back as the text to publish.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString("v=spf1")
	for _, t := range r.Terms {
		b.WriteByte(' ')
		b.WriteString(t.Text)
	}
	return b.String()
}

// WithAll returns a copy of the record whose all term has the qualifier q ('~' or '-'),
// written in lower case; a record without one gets it at the end (a redirect then no
// longer applies, RFC 7208 §6.1).
func (r *Record) WithAll(q byte) *Record {
	out := &Record{Exp: r.Exp, Redirect: r.Redirect}
	all := Term{Text: string(q) + "all", Qualifier: q, Name: "all", Prefix4: -1, Prefix6: -1}
	found := false
	for _, x := range r.Terms {
		if x.Name == "all" && !x.Modifier {
			if !found {
				out.Terms = append(out.Terms, all)
				found = true
			}
			continue
		}
		if x.Name == "redirect" && x.Modifier && !found {
			continue // an all term makes it unreachable
		}
		out.Terms = append(out.Terms, x)
	}
	if !found {
		out.Terms = append(out.Terms, all)
		out.Redirect = ""
	}
	return out
}

// Authorize returns a copy of the record with term (ip4:… or include:…) added before the
// "all" term or the redirect, where a receiver will reach it.
func (r *Record) Authorize(term string) *Record {
	out := &Record{Redirect: r.Redirect, Exp: r.Exp}
	t, _ := parseTerm(term)
	added, afterAll := false, false
	for _, x := range r.Terms {
		if afterAll && (!x.Modifier || x.Name == "redirect") {
			// Never reached once all matches (RFC 7208 §5.1, §6.1): the record to
			// publish leaves them out.
			if x.Name == "redirect" {
				out.Redirect = ""
			}
			continue
		}
		if !added && (x.Name == "all" || x.Name == "redirect") {
			out.Terms = append(out.Terms, t)
			added = true
		}
		out.Terms = append(out.Terms, x)
		afterAll = afterAll || x.Name == "all"
	}
	if !added {
		out.Terms = append(out.Terms, t)
	}
	return out
}

func parseTerm(f string) (Term, error) {
	t := Term{Text: f, Prefix4: -1, Prefix6: -1}
	// A modifier is name "=" …, where name starts with a letter (§12).
	if i := strings.IndexByte(f, '='); i > 0 && isName(f[:i]) && !strings.ContainsAny(f[:i], ":/") {
		t.Modifier = true
		t.Name = strings.ToLower(f[:i])
		t.Value = f[i+1:]
		switch t.Name {
		case "redirect", "exp":
			if err := checkDomainSpec(t.Value, false); err != nil {
				return t, &SyntaxError{Term: f, Reason: err.Error()}
			}
		default:
			if err := checkMacroString(t.Value, true); err != nil {
				return t, &SyntaxError{Term: f, Reason: err.Error()}
			}
		}
		return t, nil
	}
	t.Qualifier = '+'
	if strings.IndexByte("+-~?", f[0]) >= 0 {
		t.Qualifier = f[0]
		f = f[1:]
	}
	name, rest := f, ""
	if i := strings.IndexAny(f, ":/"); i >= 0 {
		name, rest = f[:i], f[i:]
	}
	t.Name = strings.ToLower(name)
	bad := func(reason string) (Term, error) { return t, &SyntaxError{Term: t.Text, Reason: reason} }
	switch t.Name {
	case "all":
		if rest != "" {
			return bad(`"all" takes no argument`)
		}
	case "include", "exists":
		if !strings.HasPrefix(rest, ":") {
			return bad(fmt.Sprintf("%q needs a domain: %s:<domain>", t.Name, t.Name))
		}
		t.Value = rest[1:]
		if err := checkDomainSpec(t.Value, false); err != nil {
			return bad(err.Error())
		}
	case "a", "mx":
		spec, err := splitDualCIDR(rest, &t)
		if err != nil {
			return bad(err.Error())
		}
		if spec != "" {
			if !strings.HasPrefix(spec, ":") {
				return bad("unexpected text after " + t.Name)
			}
			t.Value = spec[1:]
			if err := checkDomainSpec(t.Value, false); err != nil {
				return bad(err.Error())
			}
		}
	case "ptr":
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return bad("unexpected text after ptr")
			}
			t.Value = rest[1:]
			if err := checkDomainSpec(t.Value, false); err != nil {
				return bad(err.Error())
			}
		}
	case "ip4", "ip6":
		if !strings.HasPrefix(rest, ":") {
			return bad(fmt.Sprintf("%q needs an address: %s:<address>", t.Name, t.Name))
		}
		addr, plen, hasLen := strings.Cut(rest[1:], "/")
		a, err := netip.ParseAddr(addr)
		if err != nil || a.Zone() != "" || (t.Name == "ip4") != a.Is4() {
			return bad(fmt.Sprintf("%q is not an IPv%c address", addr, t.Name[2]))
		}
		t.Value = addr
		if hasLen {
			max := 32
			if t.Name == "ip6" {
				max = 128
			}
			n, err := prefixLen(plen, max)
			if err != nil {
				return bad(err.Error())
			}
			if t.Name == "ip4" {
				t.Prefix4 = n
			} else {
				t.Prefix6 = n
			}
		}
	default:
		return bad("unknown mechanism")
	}
	return t, nil
}

// splitDualCIDR takes a/mx's optional trailing "/n", "//n" or "/n//m" off rest.
func splitDualCIDR(rest string, t *Term) (string, error) {
	if i := strings.Index(rest, "//"); i >= 0 {
		n, err := prefixLen(rest[i+2:], 128)
		if err != nil {
			return "", err
		}
		t.Prefix6 = n
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		n, err := prefixLen(rest[i+1:], 32)
		if err != nil {
			return "", err
		}
		t.Prefix4 = n
		rest = rest[:i]
	}
	return rest, nil
}

// prefixLen reads a CIDR length: digits without a leading zero (§12), at most max.
func prefixLen(s string, max int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || s == "" || s[0] == '+' || (len(s) > 1 && s[0] == '0') || n < 0 || n > max {
		return 0, fmt.Errorf("prefix length %q: want 0 to %d without leading zeros", s, max)
	}
	return n, nil
}

func isName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// checkMacroString checks macro-string (§7.1); exp allows the letters c, r and t, which
// only explanation text may use.
func checkMacroString(s string, exp bool) error {
	_, err := scanMacros(s, exp)
	return err
}

// scanMacros checks s and reports whether it ends in a macro-expand.
func scanMacros(s string, exp bool) (endsInMacro bool, err error) {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '%' {
			if c < 0x21 || c > 0x7e {
				return false, errors.New("invalid character in domain")
			}
			endsInMacro = false
			i++
			continue
		}
		if i+1 >= len(s) {
			return false, errors.New(`"%" must start a macro: %{…}, %%, %_ or %-`)
		}
		switch s[i+1] {
		case '%', '_', '-':
			i += 2
			endsInMacro = true
			continue
		case '{':
		default:
			return false, fmt.Errorf("%q is not a macro: use %%{…}, %%%%, %%_ or %%-", s[i:i+2])
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return false, errors.New("macro not closed with }")
		}
		body := s[i+2 : i+end]
		if body == "" {
			return false, errors.New("empty macro %{}")
		}
		letter := body[0] | 0x20
		switch letter {
		case 's', 'l', 'o', 'd', 'i', 'p', 'h', 'v':
		case 'c', 'r', 't':
			if !exp {
				return false, fmt.Errorf("macro letter %q is allowed only in explanation text", body[0])
			}
		default:
			return false, fmt.Errorf("unknown macro letter %q", body[0])
		}
		j := 1
		for j < len(body) && isDigit(body[j]) {
			j++
		}
		if j < len(body) && (body[j]|0x20) == 'r' {
			j++
		}
		for ; j < len(body); j++ {
			if !strings.ContainsRune(".-+,/_=", rune(body[j])) {
				return false, fmt.Errorf("bad macro transformer or delimiter in %%{%s}", body)
			}
		}
		i += end + 1
		endsInMacro = true
	}
	return endsInMacro, nil
}

// checkDomainSpec checks domain-spec = macro-string domain-end (§7.1), where domain-end
// is "." toplabel ["."] or a macro: so a literal name needs two labels and a top label
// that is not all digits.
func checkDomainSpec(s string, exp bool) error {
	if s == "" {
		return errors.New("empty domain")
	}
	endsInMacro, err := scanMacros(s, exp)
	if err != nil {
		return err
	}
	if endsInMacro {
		return nil
	}
	name := strings.TrimSuffix(s, ".")
	i := strings.LastIndexByte(name, '.')
	if i < 0 {
		return fmt.Errorf("%q is not a domain with a top-level label", s)
	}
	if !isTopLabel(name[i+1:]) {
		return fmt.Errorf("%q: top-level label %q is not valid", s, name[i+1:])
	}
	return nil
}

// isTopLabel: letters, digits and inner hyphens, not all digits (§7.1 toplabel).
func isTopLabel(l string) bool {
	if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	alpha := false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case isAlpha(c):
			alpha = true
		case isDigit(c):
		case c == '-':
			alpha = true // the second form of toplabel: 1*alphanum "-" … alphanum
		default:
			return false
		}
	}
	return alpha
}

// CheckDomain checks a name check_host is asked about (§4.3): at least two labels, none
// empty or longer than 63 bytes, at most 253 bytes, a valid top-level label. A domain that
// fails is not looked up: the result is "none".
func CheckDomain(d string) error {
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return errors.New("empty domain")
	}
	if len(d) > 253 {
		return errors.New("domain longer than 253 bytes")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("%q is not a multi-label domain", d)
	}
	for _, l := range labels {
		if l == "" {
			return fmt.Errorf("%q has an empty label", d)
		}
		if len(l) > 63 {
			return fmt.Errorf("%q has a label longer than 63 bytes", d)
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; c < 0x21 || c > 0x7e {
				return fmt.Errorf("%q has a character not allowed in a domain", d)
			}
		}
	}
	if !isTopLabel(labels[len(labels)-1]) {
		return fmt.Errorf("%q: top-level label %q is not valid", d, labels[len(labels)-1])
	}
	return nil
}
