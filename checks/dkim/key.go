// Package dkim reads DKIM public key records (RFC 6376 §3.6.1): key type and size, flags,
// revocation, hash restrictions, and the CNAME chain that delegates a selector to an
// email service provider. Signature verification is go-msgauth's; this package tells a
// publisher what is wrong with the key a verifier will fetch.
package dkim

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks/resolver"
)

// Key sizes (RFC 8301 §3.2: at least 1024 bits, 2048 recommended).
const (
	MinRSABits         = 1024
	RecommendedRSABits = 2048
)

// ErrSyntax is wrapped by every error about a key record's text.
var ErrSyntax = errors.New("DKIM key record syntax error")

// Key is a parsed key record.
type Key struct {
	Type     string   // k: "rsa" (the default) or "ed25519"
	Bits     int      // the key size; 256 for ed25519; 0 when revoked or unreadable
	Hashes   []string // h: the hash algorithms allowed; empty means any
	Services []string // s: empty means any ("*")
	Testing  bool     // t=y: the domain is testing DKIM (RFC 6376 §3.6.1)
	Strict   bool     // t=s: i= must equal d=, no subdomains
	Revoked  bool     // p= is empty (RFC 6376 §3.6.1)
	Notes    string   // n
}

// folding turns the line breaks of a folded record into spaces.
var folding = strings.NewReplacer("\r", " ", "\n", " ", "\u240d", " ", "\u240a", " ")

// ParseKey parses a key record's text (the TXT strings joined). A record may be folded
// with CRLF (RFC 6376 §3.2: FWS between tags and inside p=); its CR and LF, raw or made
// visible where the record entered (sanitize.Record: ␍ ␊), are whitespace.
func ParseKey(txt string) (*Key, error) {
	txt = folding.Replace(txt)
	k := &Key{Type: "rsa"}
	seen := map[string]bool{}
	var p string
	hasP := false
	for i, part := range strings.Split(txt, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q is not tag=value", ErrSyntax, part)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if seen[name] {
			return nil, fmt.Errorf("%w: tag %q appears twice", ErrSyntax, name)
		}
		seen[name] = true
		switch name {
		case "v":
			if i != 0 || value != "DKIM1" {
				return nil, fmt.Errorf(`%w: v= must come first and be "DKIM1"`, ErrSyntax)
			}
		case "k":
			// Case-sensitive (RFC 6376 §3.2; §3.6.1 gives no exception): k=RSA is not
			// rsa, and verifiers (go-msgauth, dkimpy) find no usable key.
			k.Type = value
		case "h":
			for _, h := range strings.Split(value, ":") {
				k.Hashes = append(k.Hashes, strings.ToLower(strings.TrimSpace(h)))
			}
		case "s":
			for _, s := range strings.Split(value, ":") {
				if s = strings.TrimSpace(s); s != "*" {
					k.Services = append(k.Services, strings.ToLower(s))
				}
			}
		case "t":
			for _, f := range strings.Split(value, ":") {
				switch strings.TrimSpace(f) {
				case "y":
					k.Testing = true
				case "s":
					k.Strict = true
				}
			}
		case "n":
			k.Notes = value
		case "p":
			hasP = true
			p = strings.Join(strings.Fields(value), "")
		}
	}
	if !hasP {
		return nil, fmt.Errorf("%w: no p= tag (the public key)", ErrSyntax)
	}
	if p == "" {
		k.Revoked = true
		return k, nil
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("%w: p= is not valid base64", ErrSyntax)
	}
	switch k.Type {
	case "rsa":
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			// Some publishers put a bare PKCS#1 key in p=; verifiers differ on it.
			rk, err2 := x509.ParsePKCS1PublicKey(der)
			if err2 != nil {
				// The parser's own words are ASN.1 internals: say what the bytes are.
				why := "its bytes are not a DER-encoded public key"
				if len(der) == ed25519.PublicKeySize {
					why = "it is 32 bytes, the size of an ed25519 key: publish it with k=ed25519"
				}
				return nil, fmt.Errorf("%w: k=rsa but p= is not an RSA public key (%s)", ErrSyntax, why)
			}
			pub = rk
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: k=rsa but p= holds another kind of key", ErrSyntax)
		}
		k.Bits = rk.N.BitLen()
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: an ed25519 key is %d bytes, p= has %d", ErrSyntax, ed25519.PublicKeySize, len(der))
		}
		k.Bits = 256
	default:
		if t := strings.ToLower(k.Type); t == "rsa" || t == "ed25519" {
			return nil, fmt.Errorf("%w: k=%s is not k=%s: tag values are case-sensitive (RFC 6376 §3.2), so verifiers know no such key type", ErrSyntax, k.Type, t)
		}
		return nil, fmt.Errorf("%w: unknown key type k=%s", ErrSyntax, k.Type)
	}
	return k, nil
}

// Level grades a key problem.
type Level string

const (
	LevelFail Level = "fail"
	LevelWarn Level = "warn"
)

// Problem is one thing wrong with a key.
type Problem struct {
	Level Level  `json:"level"`
	Text  string `json:"text"`
}

// Problems grades the key: RSA under 1024 bits fails (verifiers ignore it, RFC 8301),
// under 2048 warns; a revoked key fails; t=y warns (receivers may treat the signature as
// unsigned); a key limited to sha1 fails (RFC 8301 forbids rsa-sha1).
func (k *Key) Problems() []Problem {
	var out []Problem
	switch {
	case k.Revoked:
		out = append(out, Problem{LevelFail, "the key is revoked (empty p=): nothing signed with this selector verifies"})
	case k.Type == "rsa" && k.Bits < MinRSABits:
		out = append(out, Problem{LevelFail, fmt.Sprintf("RSA key of %d bits: verifiers ignore keys under %d bits (RFC 8301); publish a 2048-bit key", k.Bits, MinRSABits)})
	case k.Type == "rsa" && k.Bits < RecommendedRSABits:
		out = append(out, Problem{LevelWarn, fmt.Sprintf("RSA key of %d bits: 2048 is the recommended size", k.Bits)})
	}
	if k.Testing {
		out = append(out, Problem{LevelWarn, "t=y: the domain says it is testing DKIM; receivers may treat its signatures as absent"})
	}
	if len(k.Hashes) > 0 && !contains(k.Hashes, "sha256") {
		out = append(out, Problem{LevelFail, "h=" + strings.Join(k.Hashes, ":") + ": the key allows only sha1, which verifiers no longer accept (RFC 8301); remove h= or use sha256"})
	}
	if len(k.Services) > 0 && !contains(k.Services, "email") {
		out = append(out, Problem{LevelFail, "s=" + strings.Join(k.Services, ":") + ": the key is not for email"})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CommonSelectors are probed when no selector is known: those of the big mailbox
// providers and ESPs and the usual defaults of MTAs. Finding none proves nothing.
var CommonSelectors = []string{
	"google", "selector1", "selector2", "k1", "k2", "k3", "s1", "s2",
	"default", "dkim", "mail", "smtp", "mx", "sig1", "mandrill", "pm",
}

// ESPFor returns the provider a selector's CNAME target belongs to ("esp:sendgrid",
// "microsoft" …), or "". The knowledge is triage's host table, shared with the PTR and
// recipient checks.
func ESPFor(name string) string {
	if e, ok := triage.ESPForHost(name); ok {
		return "esp:" + e.Name
	}
	if f, ok := triage.FilterForHost(name); ok {
		return f.Provider
	}
	return ""
}

// Lookup is the key record of one selector.
type Lookup struct {
	Selector string
	Domain   string
	Name     string   // <selector>._domainkey.<domain>
	Text     string   // the record as published
	Key      *Key     // nil when absent or unreadable
	ParseErr error    // the record is there but broken
	CNAMEs   []string // the chain followed from Name
	ESP      string   // the provider the chain ends at, if known
	Found    bool     // a record is published (Key or ParseErr set)
	// Several holds every key record at Name when there is more than one (RFC 6376
	// §3.6.2.2: the results are undefined; a verifier may use any of them).
	Several []string
	// Others holds the other TXT records at Name beside a key record (an SPF record, a
	// site verification): they too make the RRset several records, §3.6.2.2, and a
	// verifier that reads the first gets no key.
	Others []string
	Err    error // the name could not be asked: neither found nor absent
}

// LookupKey fetches and parses the key record of selector at domain.
func LookupKey(ctx context.Context, res *resolver.Resolver, selector, domain string) *Lookup {
	l := &Lookup{Selector: selector, Domain: domain, Name: selector + "._domainkey." + domain}
	ans, err := res.Query(ctx, l.Name, dns.TypeTXT)
	var re *resolver.Error
	switch {
	case err == nil:
		l.CNAMEs = ans.CNAMEs
	case errors.As(err, &re):
		l.CNAMEs = re.CNAMEs
	}
	for _, c := range l.CNAMEs {
		if esp := ESPFor(c); esp != "" {
			l.ESP = esp
		}
	}
	if err != nil {
		if !resolver.IsNotFound(err) {
			l.Err = err
		}
		return l
	}
	txts, err := res.TXT(ctx, l.Name)
	if err != nil {
		l.Err = err
		return l
	}
	// A name may carry other TXT records; the key record is the one that parses, or the
	// one that looks like it tries to.
	// Every key record is kept: RFC 6376 §3.6.2.2 wants one per selector, and with two
	// a verifier may pick either.
	for _, t := range txts {
		k, err := ParseKey(t)
		if err == nil {
			l.Several = append(l.Several, t)
			if l.Key == nil {
				l.Found, l.Text, l.Key, l.ParseErr = true, t, k, nil
			}
			continue
		}
		if strings.Contains(t, "p=") || strings.Contains(t, "v=DKIM1") {
			l.Several = append(l.Several, t)
			if l.Key == nil {
				l.Found, l.Text, l.ParseErr = true, t, err
			}
			continue
		}
		l.Others = append(l.Others, t)
	}
	if len(l.Several) < 2 {
		l.Several = nil
	}
	if !l.Found {
		l.Others = nil
	}
	return l
}

// Probe looks up every selector at once, in the order given.
func Probe(ctx context.Context, res *resolver.Resolver, domain string, selectors []string) []*Lookup {
	out := make([]*Lookup, len(selectors))
	var wg sync.WaitGroup
	for i, s := range selectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = LookupKey(ctx, res, s, domain)
		}()
	}
	wg.Wait()
	return out
}
