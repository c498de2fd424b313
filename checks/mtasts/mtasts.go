// Package mtasts reads a domain's MTA-STS record and policy (RFC 8461) and its SMTP
// TLS reporting record (RFC 8460): pure parsers, a policy fetch that follows the RFC's
// rules (HTTPS with a valid certificate, no redirects, a bounded body), and the match of
// the policy's mx patterns against the domain's MX hosts.
package mtasts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/unblock-mail/unblock/sanitize"
)

// MaxPolicySize bounds the policy body read; RFC 8461 §3.3 lets senders limit it, and a
// policy is a few lines.
const MaxPolicySize = 64 << 10

// MaxAgeLimit is the largest max_age RFC 8461 §3.2 allows (about a year).
const MaxAgeLimit = 31557600

// Errors a policy fetch or parse ends with; wrapped with details.
var (
	ErrRecord   = errors.New("invalid MTA-STS record")
	ErrPolicy   = errors.New("invalid MTA-STS policy")
	ErrRedirect = errors.New("the policy URL redirects, and RFC 8461 §3.3 forbids following redirects")
	ErrTooLarge = fmt.Errorf("the policy is larger than %d KB", MaxPolicySize>>10)
	ErrStatus   = errors.New("the policy URL did not answer 200 OK")
	ErrTLSRPT   = errors.New("invalid TLS-RPT record")
)

// Record is the _mta-sts TXT record (RFC 8461 §3.1).
type Record struct {
	Version string // STSv1
	ID      string // changes when the policy does
}

// String is the record as published.
func (r Record) String() string { return fmt.Sprintf("v=%s; id=%s;", r.Version, r.ID) }

// IsRecord reports whether a TXT string is meant as an MTA-STS record (starts with
// v=STSv1), the test RFC 8461 §3.1 uses to discard unrelated TXT records.
func IsRecord(txt string) bool {
	return strings.HasPrefix(strings.TrimSpace(txt), "v=STSv1")
}

// ParseRecord parses the _mta-sts TXT record.
func ParseRecord(txt string) (Record, error) {
	var r Record
	fields := strings.Split(txt, ";")
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			if i == len(fields)-1 {
				continue
			}
			return r, fmt.Errorf("%w: empty field", ErrRecord)
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return r, fmt.Errorf("%w: field %q has no '='", ErrRecord, f)
		}
		switch {
		case i == 0 && k == "v":
			r.Version = v
		case i == 0:
			return r, fmt.Errorf("%w: must begin with v=STSv1", ErrRecord)
		case k == "id":
			if r.ID != "" {
				return r, fmt.Errorf("%w: id given twice", ErrRecord)
			}
			r.ID = v
		}
	}
	if r.Version != "STSv1" {
		return r, fmt.Errorf("%w: version %q, want STSv1", ErrRecord, r.Version)
	}
	if r.ID == "" || len(r.ID) > 32 || !alnum(r.ID) {
		return r, fmt.Errorf("%w: id must be 1 to 32 letters and digits, got %q", ErrRecord, r.ID)
	}
	return r, nil
}

func alnum(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Mode is a policy's mode.
type Mode string

const (
	Enforce Mode = "enforce"
	Testing Mode = "testing"
	None    Mode = "none"
)

// Policy is an MTA-STS policy (RFC 8461 §3.2).
type Policy struct {
	Version string
	Mode    Mode
	MX      []string
	MaxAge  int
}

// String is the policy as served.
func (p Policy) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: %s\r\nmode: %s\r\n", p.Version, p.Mode)
	for _, mx := range p.MX {
		fmt.Fprintf(&b, "mx: %s\r\n", mx)
	}
	fmt.Fprintf(&b, "max_age: %d\r\n", p.MaxAge)
	return b.String()
}

// ParsePolicy parses a policy body.
func ParsePolicy(text string) (Policy, error) {
	var p Policy
	seen := map[string]bool{}
	for n, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return p, fmt.Errorf("%w: line %d %q is not key: value", ErrPolicy, n+1, sanitize.Line(line))
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k != "mx" && seen[k] {
			return p, fmt.Errorf("%w: line %d: %s given twice", ErrPolicy, n+1, sanitize.Line(k))
		}
		seen[k] = true
		switch k {
		case "version":
			p.Version = v
		case "mode":
			p.Mode = Mode(v)
		case "mx":
			p.MX = append(p.MX, strings.ToLower(strings.TrimSuffix(v, ".")))
		case "max_age":
			a, err := strconv.Atoi(v)
			if err != nil || a < 0 || len(v) > 10 {
				return p, fmt.Errorf("%w: line %d: max_age %q is not a number of seconds", ErrPolicy, n+1, sanitize.Line(v))
			}
			p.MaxAge = a
		}
	}
	switch {
	case p.Version != "STSv1":
		return p, fmt.Errorf("%w: version %q, want STSv1", ErrPolicy, sanitize.Line(p.Version))
	case p.Mode != Enforce && p.Mode != Testing && p.Mode != None:
		return p, fmt.Errorf("%w: mode %q, want enforce, testing or none", ErrPolicy, sanitize.Line(string(p.Mode)))
	case !seen["max_age"]:
		return p, fmt.Errorf("%w: no max_age", ErrPolicy)
	case p.MaxAge > MaxAgeLimit:
		return p, fmt.Errorf("%w: max_age %d is over the limit of %d", ErrPolicy, p.MaxAge, MaxAgeLimit)
	case p.Mode != None && len(p.MX) == 0:
		return p, fmt.Errorf("%w: mode %s needs at least one mx line", ErrPolicy, p.Mode)
	}
	return p, nil
}

// Matches reports whether host is allowed by one of the policy's mx patterns: an exact
// name, or "*." standing for exactly one leftmost label (RFC 8461 §4.1).
func (p Policy) Matches(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest {
				return true
			}
		} else if pat == host {
			return true
		}
	}
	return false
}

// PolicyURL is where a domain's policy is served.
func PolicyURL(domain string) string {
	return "https://mta-sts." + strings.TrimSuffix(domain, ".") + "/.well-known/mta-sts.txt"
}

// FetchPolicy gets domain's policy with client, without following redirects and reading
// at most MaxPolicySize bytes. The client's transport decides trust (its TLS roots); a
// certificate error comes back as the transport's error.
func FetchPolicy(ctx context.Context, client *http.Client, domain string) (Policy, string, error) {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, PolicyURL(domain), nil)
	if err != nil {
		return Policy{}, "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Policy{}, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return Policy{}, "", fmt.Errorf("%w (%s to %s)", ErrRedirect, resp.Status, sanitize.Line(resp.Header.Get("Location")))
	}
	if resp.StatusCode != http.StatusOK {
		return Policy{}, "", fmt.Errorf("%w: %s", ErrStatus, sanitize.Line(resp.Status))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicySize+1))
	if err != nil {
		return Policy{}, "", err
	}
	if len(body) > MaxPolicySize {
		return Policy{}, "", ErrTooLarge
	}
	raw := sanitize.Text(string(body))
	p, err := ParsePolicy(raw)
	if mt, _, merr := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil && merr == nil && mt != "text/plain" {
		err = fmt.Errorf("%w (served as %s, not text/plain)", err, sanitize.Line(mt))
	}
	return p, raw, err
}

// TLSRPT is the _smtp._tls TXT record (RFC 8460 §3).
type TLSRPT struct {
	Version string
	RUA     []string // mailto: or https: URIs reports go to
}

// String is the record as published.
func (r TLSRPT) String() string {
	return fmt.Sprintf("v=%s; rua=%s", r.Version, strings.Join(r.RUA, ","))
}

// IsTLSRPT reports whether a TXT string is a TLS-RPT record: it begins with the version
// field exactly (RFC 8460 §3: "v=TLSRPTv1" first, no space before it or around "=");
// records that do not are discarded, as senders discard them.
func IsTLSRPT(txt string) bool {
	rest, ok := strings.CutPrefix(txt, "v=TLSRPTv1")
	if !ok {
		return false
	}
	rest = strings.TrimLeft(rest, " \t")
	return rest == "" || rest[0] == ';'
}

// IsTLSRPTNearMiss reports whether txt names the TLS-RPT version but is not a record
// senders read (a leading space, spaces around "=", text before it).
func IsTLSRPTNearMiss(txt string) bool {
	return !IsTLSRPT(txt) && tlsrptVersion.MatchString(txt)
}

var tlsrptVersion = regexp.MustCompile(`(?i)v\s*=\s*tlsrptv1`)

// ParseTLSRPT parses the _smtp._tls TXT record.
func ParseTLSRPT(txt string) (TLSRPT, error) {
	var r TLSRPT
	fields := strings.Split(txt, ";")
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return r, fmt.Errorf("%w: field %q has no '='", ErrTLSRPT, f)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch {
		case i == 0 && k != "v":
			return r, fmt.Errorf("%w: must begin with v=TLSRPTv1", ErrTLSRPT)
		case k == "v":
			r.Version = v
		case k == "rua":
			for _, u := range strings.Split(v, ",") {
				u = strings.TrimSpace(u)
				pu, err := url.Parse(u)
				if err != nil || (pu.Scheme != "mailto" && pu.Scheme != "https") || (pu.Opaque == "" && pu.Host == "") {
					return r, fmt.Errorf("%w: rua %q must be a mailto: or https: URI", ErrTLSRPT, u)
				}
				r.RUA = append(r.RUA, u)
			}
		}
	}
	if r.Version != "TLSRPTv1" {
		return r, fmt.Errorf("%w: version %q, want TLSRPTv1", ErrTLSRPT, r.Version)
	}
	if len(r.RUA) == 0 {
		return r, fmt.Errorf("%w: no rua= destination for reports", ErrTLSRPT)
	}
	return r, nil
}
