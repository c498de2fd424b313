package message

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dkim"
	"github.com/unblock-mail/unblock/checks/dmarc"
	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/checks/spf"
	"github.com/unblock-mail/unblock/sanitize"
)

// maxSignatures bounds the DKIM signatures verified (each costs a key lookup and a pass
// over the body); receivers stop early too.
const maxSignatures = 10

// SignatureResult is one DKIM signature's verification.
type SignatureResult struct {
	Signature
	// Result is pass, fail (the signature does not match the message), permerror (the
	// signature or key cannot be used) or temperror (the key could not be fetched).
	Result string `json:"result"`
	// Why says, for anything but pass, what failed in a person's words; for a pass with
	// l=, how much of the body the signature covers.
	Why string `json:"why,omitempty"`
	// Unsigned is how many body bytes follow what an l= signature covers.
	Unsigned int64        `json:"unsigned_bytes,omitempty"`
	Key      *dkim.Lookup `json:"-"`
}

// Auth is what a receiver would compute for the message: DKIM, SPF for the MAIL FROM and
// the HELO identity, and DMARC. It is computed once per message and shared by the tests.
type Auth struct {
	Signatures []SignatureResult
	DKIMErr    error // the verifier could not run at all

	IP       netip.Addr
	HELO     string
	Sender   string // the MAIL FROM used: the envelope sender, or postmaster@HELO for <>
	SPF      *spf.Verdict
	HELOSPF  *spf.Verdict
	SPFWhy   string // why SPF was not evaluated
	FromDom  string
	FromDoms []string // every distinct author domain, in From's order
	DMARC    *DMARCVerdict
	DMARCErr error
}

// DMARCVerdict is the verdict a receiver reaches for the From domain.
type DMARCVerdict struct {
	Domain    string       `json:"domain,omitempty"` // the author domain judged
	Result    string       `json:"result"`           // pass, fail, none
	Policy    dmarc.Policy `json:"policy,omitempty"`
	Applied   dmarc.Policy `json:"applied,omitempty"` // the policy for this From domain (p, sp or np)
	Testing   bool         `json:"testing,omitempty"`
	Record    string       `json:"record,omitempty"`
	RecordAt  string       `json:"record_at,omitempty"`
	OrgDomain string       `json:"org_domain,omitempty"`
	ASPF      string       `json:"aspf,omitempty"`
	ADKIM     string       `json:"adkim,omitempty"`
	// Identities are the authenticated identities and their alignment with From.
	Identities []Identity `json:"identities,omitempty"`
	Action     string     `json:"action"` // what the receiver does with the message
	// Authors holds one verdict per author domain when From has several.
	Authors []*DMARCVerdict `json:"authors,omitempty"`
}

// Identity is one authenticated identifier and how it aligns with the From domain.
type Identity struct {
	Kind    string `json:"kind"` // spf or dkim
	Domain  string `json:"domain"`
	Result  string `json:"result"` // its own authentication result
	Relaxed bool   `json:"relaxed"`
	Strict  bool   `json:"strict"`
	Aligned bool   `json:"aligned"` // under the mode the record asks for
}

func (m *Message) auth(ctx context.Context, env *checks.Env) *Auth {
	m.authOnce.Do(func() { m.authResult = m.computeAuth(ctx, env) })
	return m.authResult
}

func (m *Message) computeAuth(ctx context.Context, env *checks.Env) *Auth {
	a := &Auth{FromDom: m.FromDomain(), FromDoms: m.FromDomains()}
	if m.Sending >= 0 {
		a.IP = m.Hops[m.Sending].IP
		a.HELO = m.Hops[m.Sending].HELO
	}
	if m.base.IP.IsValid() {
		a.IP = m.base.IP
	}
	if m.base.HELO != "" {
		a.HELO = m.base.HELO
	}
	a.Sender = m.base.EnvelopeSender
	if a.Sender == "" {
		a.Sender = m.EnvelopeSender()
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); m.verifyDKIM(ctx, env, a) }()
	go func() { defer wg.Done(); m.evaluateSPF(ctx, env, a) }()
	wg.Wait()
	m.evaluateDMARC(ctx, env, a)
	return a
}

func (m *Message) verifyDKIM(ctx context.Context, env *checks.Env, a *Auth) {
	sigs := m.Signatures()
	if len(sigs) == 0 {
		return
	}
	opts := &msgdkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			txt, err := env.Resolver.TXT(ctx, name)
			return txt, resolver.NetError(err)
		},
		MaxVerifications: maxSignatures,
		// l= is verified over the octets it covers and what follows is reported,
		// not failed (RFC 6376 §3.5; the third_party/go-msgauth patch).
		AllowBodyLength: true,
	}
	vs, err := msgdkim.VerifyWithOptions(bytes.NewReader(m.raw), opts)
	if err != nil && err != msgdkim.ErrTooManySignatures {
		a.DKIMErr = err
	}
	for i, s := range sigs {
		if i >= maxSignatures {
			break
		}
		r := SignatureResult{Signature: s}
		if s.Domain != "" && s.Selector != "" {
			r.Key = dkim.LookupKey(ctx, env.Resolver, s.Selector, s.Domain)
		}
		switch {
		case i < len(vs) && vs[i].Err == nil:
			r.Result = "pass"
			if vs[i].HasBodyLength {
				r.Unsigned = vs[i].UnsignedBodyBytes
				r.Why = fmt.Sprintf("l=%d: the signature covers the first %d bytes of the body", vs[i].BodyLength, vs[i].BodyLength)
				if r.Unsigned > 0 {
					r.Why += fmt.Sprintf("; the last %d bytes are not signed, so anyone could have added them (RFC 6376 §8.2)", r.Unsigned)
				}
			}
		case i < len(vs):
			r.Result, r.Why = classifyDKIM(vs[i].Err, s, r.Key, env.Now())
		default:
			r.Result, r.Why = "temperror", "not verified: "+errText(a.DKIMErr)
		}
		a.Signatures = append(a.Signatures, r)
	}
}

// classifyDKIM turns go-msgauth's error into a result and the reason in a person's words,
// reading the signature and key record for what the library does not say.
func classifyDKIM(err error, s Signature, key *dkim.Lookup, now time.Time) (string, string) {
	msg := err.Error()
	name := s.Selector + "._domainkey." + s.Domain
	res := "permerror"
	if msgdkim.IsTempFail(err) {
		res = "temperror"
	}
	switch {
	case strings.Contains(msg, "body hash did not verify"):
		return "fail", "body hash mismatch: the body was changed after signing (a footer, a disclaimer, a rewritten link, re-encoding)"
	case strings.Contains(msg, "signature did not verify"):
		return "fail", "header hash mismatch: a signed header field (" + strings.Join(first(s.Headers, 6), ", ") + ") was changed after signing, or the key at " + name + " is not the one that signed"
	case strings.Contains(msg, "body shorter than"):
		return "fail", fmt.Sprintf("l=%d: the body is shorter than the %d bytes the signature says it covers (RFC 6376 §3.4.5)", s.Length, s.Length)
	case strings.Contains(msg, "multiple TXT records"):
		n := "several"
		if key != nil && len(key.Several) > 1 {
			n = fmt.Sprint(len(key.Several))
		}
		return res, fmt.Sprintf("%s key records at %s: the result is undefined (RFC 6376 §3.6.2.2), a verifier may use any of them; keep one", n, name)
	case strings.Contains(msg, "t=s forbids"):
		return res, fmt.Sprintf("the key at %s has t=s, so i=%s must be in %s itself, not a subdomain (RFC 6376 §3.6.1)", name, s.Identity, s.Domain)
	case strings.Contains(msg, "domain mismatch"):
		return res, fmt.Sprintf("i=%s is not in d=%s or a subdomain of it (RFC 6376 §3.5)", s.Identity, s.Domain)
	case strings.Contains(msg, "expired"):
		return res, fmt.Sprintf("expired: x= was %s (%s ago)", s.Expires.Format(time.RFC3339), roundDur(now.Sub(s.Expires)))
	case strings.Contains(msg, "too weak") || strings.Contains(s.Algorithm, "sha1"):
		return res, "signed with " + orDefault(s.Algorithm, "rsa-sha1") + ": RFC 8301 forbids sha1; verifiers treat it as unsigned"
	case strings.Contains(msg, "too short"):
		bits := ""
		if key != nil && key.Key != nil {
			bits = fmt.Sprintf(" (%d bits)", key.Key.Bits)
		}
		return res, "weak key at " + name + bits + ": verifiers ignore RSA keys under 1024 bits (RFC 8301)"
	case strings.Contains(msg, "key revoked"):
		return res, "the key at " + name + " is revoked (empty p=)"
	case res == "temperror":
		return res, "the key at " + name + " could not be fetched: " + sanitize.Line(msg)
	case strings.Contains(msg, "no key for signature") || strings.Contains(msg, "no valid key"):
		return res, "key missing: no key record at " + name
	}
	return res, sanitize.Line(strings.TrimPrefix(msg, "dkim: "))
}

func (m *Message) evaluateSPF(ctx context.Context, env *checks.Env, a *Auth) {
	if !a.IP.IsValid() {
		a.SPFWhy = "no sending IP found in the Received fields (give --ip)"
		return
	}
	helo := a.HELO
	if strings.HasPrefix(helo, "[") {
		helo = ""
	}
	sender := a.Sender
	if sender == "" && helo != "" {
		// RFC 7208 §2.4: for the null sender the HELO identity is checked as postmaster@HELO.
		sender = "postmaster@" + helo
	}
	var wg sync.WaitGroup
	if sender != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := spf.Evaluate(ctx, env.Resolver, a.IP, helo, sender)
			a.SPF = &v
		}()
	} else {
		a.SPFWhy = "neither envelope sender nor HELO name known"
	}
	if helo != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := spf.Evaluate(ctx, env.Resolver, a.IP, helo, "postmaster@"+helo)
			a.HELOSPF = &v
		}()
	}
	wg.Wait()
}

func (m *Message) evaluateDMARC(ctx context.Context, env *checks.Env, a *Auth) {
	if a.FromDom == "" {
		a.DMARCErr = fmt.Errorf("no readable From domain")
		return
	}
	if len(a.FromDoms) <= 1 {
		a.DMARC, a.DMARCErr = dmarcFor(ctx, env, a, a.FromDom)
		return
	}
	// Several author domains (a From with several addresses): each is checked as the
	// Author Domain, and the strictest policy among those that fail applies (RFC 7489
	// §6.6.1; RFC 9989 §5.3.1, §11.5). Pass needs every one to pass; a domain without
	// a policy leaves no verdict (none, with the reason), never a pass.
	v := &DMARCVerdict{}
	var failed, missing []*DMARCVerdict
	for _, dom := range a.FromDoms {
		dv, err := dmarcFor(ctx, env, a, dom)
		if err != nil {
			a.DMARCErr = fmt.Errorf("author domain %s: %w", dom, err)
			return
		}
		v.Authors = append(v.Authors, dv)
		switch dv.Result {
		case "fail":
			failed = append(failed, dv)
		case "none":
			missing = append(missing, dv)
		}
	}
	a.DMARC = v
	rank := map[dmarc.Policy]int{dmarc.PolicyNone: 1, dmarc.PolicyQuarantine: 2, dmarc.PolicyReject: 3}
	switch {
	case len(failed) > 0:
		worst := failed[0]
		for _, f := range failed[1:] {
			if rank[effective(f)] > rank[effective(worst)] {
				worst = f
			}
		}
		*v = DMARCVerdict{Authors: v.Authors, Result: "fail", Domain: worst.Domain, Policy: worst.Policy, Applied: worst.Applied,
			Testing: worst.Testing, Record: worst.Record, RecordAt: worst.RecordAt, OrgDomain: worst.OrgDomain,
			ASPF: worst.ASPF, ADKIM: worst.ADKIM, Identities: worst.Identities,
			Action: fmt.Sprintf("%d author domains; the strictest failing policy applies, %s's: %s", len(a.FromDoms), worst.Domain, worst.Action)}
	case len(missing) > 0:
		var names []string
		for _, d := range missing {
			names = append(names, d.Domain)
		}
		v.Result = "none"
		v.Action = fmt.Sprintf("no DMARC verdict for a From with %d author domains: %s publishes no policy, so the message cannot pass for every author", len(a.FromDoms), strings.Join(names, ", "))
	default:
		v.Result = "pass"
		v.Policy = v.Authors[0].Policy
		for _, d := range v.Authors {
			if rank[d.Policy] < rank[v.Policy] {
				v.Policy = d.Policy
			}
		}
		v.Action = fmt.Sprintf("DMARC pass for each of the %d author domains: delivered on its merits", len(a.FromDoms))
	}
}

// effective is the policy a failing verdict leads to: one level milder in test mode.
func effective(v *DMARCVerdict) dmarc.Policy {
	if !v.Testing {
		return v.Applied
	}
	switch v.Applied {
	case dmarc.PolicyReject:
		return dmarc.PolicyQuarantine
	}
	return dmarc.PolicyNone
}

// dmarcFor computes the DMARC verdict for one author domain.
func dmarcFor(ctx context.Context, env *checks.Env, a *Auth, fromDom string) (*DMARCVerdict, error) {
	d := dmarc.Discover(ctx, env.Resolver, fromDom)
	if d.Err != nil {
		return nil, d.Err
	}
	v := &DMARCVerdict{Domain: fromDom, OrgDomain: d.OrgDomain}
	aspf, adkim := dmarc.Relaxed, dmarc.Relaxed
	if d.Policy != nil {
		r := d.Policy.Record
		v.Policy, v.Testing, v.Record, v.RecordAt = r.Policy, r.Testing, sanitize.Line(d.Policy.Text), d.Policy.Domain
		v.Applied = r.Applied(fromDom, d.Policy.Domain, true)
		if r.ASPF != "" {
			aspf = r.ASPF
		}
		if r.ADKIM != "" {
			adkim = r.ADKIM
		}
	}
	v.ASPF, v.ADKIM = string(aspf), string(adkim)
	orgOf := func(dom string) string {
		o, err := dmarc.OrgDomain(ctx, env.Resolver, dom)
		if err != nil || o == "" {
			return orgDomain(dom)
		}
		return o
	}
	pass := false
	if a.SPF != nil {
		dom := a.SPF.Domain
		id := Identity{Kind: "spf", Domain: dom, Result: string(a.SPF.Result)}
		o := orgOf(dom)
		id.Strict = dmarc.Aligned(dmarc.Strict, fromDom, d.OrgDomain, dom, o)
		id.Relaxed = dmarc.Aligned(dmarc.Relaxed, fromDom, d.OrgDomain, dom, o)
		id.Aligned = dmarc.Aligned(aspf, fromDom, d.OrgDomain, dom, o)
		pass = pass || (id.Aligned && a.SPF.Result == spf.Pass)
		v.Identities = append(v.Identities, id)
	}
	for _, s := range a.Signatures {
		if s.Domain == "" {
			continue
		}
		id := Identity{Kind: "dkim", Domain: s.Domain, Result: s.Result}
		o := orgOf(s.Domain)
		id.Strict = dmarc.Aligned(dmarc.Strict, fromDom, d.OrgDomain, s.Domain, o)
		id.Relaxed = dmarc.Aligned(dmarc.Relaxed, fromDom, d.OrgDomain, s.Domain, o)
		id.Aligned = dmarc.Aligned(adkim, fromDom, d.OrgDomain, s.Domain, o)
		pass = pass || (id.Aligned && s.Result == "pass")
		v.Identities = append(v.Identities, id)
	}
	switch {
	case d.Policy == nil:
		v.Result, v.Action = "none", "no DMARC policy: the receiver judges the message on its own"
	case pass:
		v.Result, v.Action = "pass", "DMARC pass: delivered on its merits"
	default:
		v.Result = "fail"
		switch {
		case v.Testing:
			v.Action = fmt.Sprintf("DMARC fail; p=%s in testing (t=y): receivers apply the next milder policy", v.Applied)
		case v.Applied == dmarc.PolicyReject:
			v.Action = "DMARC fail with p=reject: rejected (Gmail 550 5.7.26, Proofpoint \"DMARC Reject\")"
		case v.Applied == dmarc.PolicyQuarantine:
			v.Action = "DMARC fail with p=quarantine: delivered to spam or quarantined"
		default:
			v.Action = "DMARC fail with p=none: delivered on its merits, reported to the domain"
		}
	}
	return v, nil
}

func init() {
	netTests = append(netTests,
		netTest{"dkim", testDKIM},
		netTest{"dkim-key", testDKIMKey},
		netTest{"spf", testSPF},
		netTest{"spf-helo", testSPFHELO},
		netTest{"dmarc", testDMARC},
		netTest{"authentication-results", testAuthResults},
	)
}

func testDKIM(ctx context.Context, m *Message, env *checks.Env) checks.Result {
	a := m.auth(ctx, env)
	if len(a.Signatures) == 0 {
		if a.DKIMErr != nil {
			return result(checks.Error, "DKIM could not be verified: "+errText(a.DKIMErr), "")
		}
		return result(checks.Fail, "no DKIM signature: Gmail, Yahoo and Microsoft require DKIM (aligned with From for bulk mail)",
			"sign outgoing mail with DKIM in your domain (2048-bit RSA, rsa-sha256)")
	}
	var passed, failed, temp, unsigned []string
	var sigs []map[string]any
	for _, s := range a.Signatures {
		who := fmt.Sprintf("d=%s s=%s", s.Domain, s.Selector)
		e := map[string]any{"domain": s.Domain, "selector": s.Selector, "algorithm": s.Algorithm, "canonicalization": s.Canon, "result": s.Result}
		if s.Why != "" {
			e["why"] = s.Why
		}
		if s.Key != nil && s.Key.Key != nil {
			e["key_bits"] = s.Key.Key.Bits
			e["key_type"] = s.Key.Key.Type
		}
		if s.Length >= 0 {
			e["l"] = s.Length
		}
		sigs = append(sigs, e)
		if s.Unsigned > 0 {
			e["unsigned_bytes"] = s.Unsigned
			unsigned = append(unsigned, fmt.Sprintf("%s: %d bytes of the body after l=%d are not signed", who, s.Unsigned, s.Length))
		}
		switch s.Result {
		case "pass":
			passed = append(passed, who)
		case "temperror":
			temp = append(temp, who+": "+s.Why)
		default:
			failed = append(failed, who+": "+s.Why)
		}
	}
	d := map[string]any{"signatures": sigs}
	var r checks.Result
	switch {
	case len(passed) == 0 && len(failed) == 0:
		r = result(checks.Error, "DKIM could not be verified: "+temp[0], "")
	case len(passed) == 0:
		r = result(checks.Fail, fmt.Sprintf("%d DKIM signatures, none verifies: %s", len(a.Signatures), failed[0]),
			dkimFix(a.Signatures))
	case len(failed) > 0 || len(temp) > 0:
		bad := append(failed, temp...)
		r = result(checks.Warn, fmt.Sprintf("%s verifies; %s", strings.Join(passed, ", "), bad[0]), dkimFix(a.Signatures))
	case len(unsigned) > 0:
		// It verifies: the result is pass (RFC 6376 §3.5); what l= leaves out is a risk
		// to say, not a failure.
		r = result(checks.Warn, fmt.Sprintf("DKIM verifies: %s; %s", strings.Join(passed, ", "), strings.Join(unsigned, "; ")),
			"sign without l= so the whole body is covered")
	default:
		r = pass(fmt.Sprintf("DKIM verifies: %s", strings.Join(passed, ", ")))
	}
	r.Details = d
	return r
}

func dkimFix(sigs []SignatureResult) string {
	for _, s := range sigs {
		switch {
		case s.Result == "pass":
			continue
		case strings.HasPrefix(s.Why, "body hash"):
			return "sign after every change to the body (footers, link tracking), or move the change before signing"
		case strings.HasPrefix(s.Why, "header hash"):
			return "find the hop that rewrites signed fields (Subject tags, From rewriting) or publish the key that signs"
		case strings.HasPrefix(s.Why, "key missing"):
			return fmt.Sprintf("publish the public key at %s._domainkey.%s", s.Selector, s.Domain)
		case strings.HasPrefix(s.Why, "expired"):
			return "sign with a longer x= or none; check the signer's clock"
		case strings.HasPrefix(s.Why, "l="):
			return "sign without l= so the whole body is covered"
		case strings.Contains(s.Why, "key records at"):
			return fmt.Sprintf("delete all but the key record you sign with at %s._domainkey.%s", s.Selector, s.Domain)
		case strings.Contains(s.Why, "has t=s"):
			return fmt.Sprintf("sign with i= in %s itself (or without i=), or publish the key without t=s", s.Domain)
		case strings.HasPrefix(s.Why, "i="):
			return fmt.Sprintf("sign with an i= in %s or one of its subdomains, or without i=", s.Domain)
		case strings.HasPrefix(s.Why, "weak key"):
			return "publish and sign with a 2048-bit RSA key"
		case strings.HasPrefix(s.Why, "signed with"):
			return "sign with rsa-sha256"
		}
	}
	return "fix the signing configuration so the signature verifies"
}

func testDKIMKey(ctx context.Context, m *Message, env *checks.Env) checks.Result {
	a := m.auth(ctx, env)
	if len(a.Signatures) == 0 {
		return skip("no DKIM signature")
	}
	worst := checks.Pass
	var lines []string
	var keys []map[string]any
	for _, s := range a.Signatures {
		name := s.Selector + "._domainkey." + s.Domain
		e := map[string]any{"name": name, "algorithm": s.Algorithm}
		switch {
		case s.Key == nil:
			lines = append(lines, name+": signature has no d= or s=")
			worst = worse(worst, checks.Fail)
		case s.Key.Err != nil:
			e["error"] = errText(s.Key.Err)
			lines = append(lines, name+": could not be fetched ("+errText(s.Key.Err)+")")
			worst = worse(worst, checks.Error)
		case !s.Key.Found:
			lines = append(lines, name+": no key record")
			worst = worse(worst, checks.Fail)
		case s.Key.ParseErr != nil:
			lines = append(lines, name+": "+errText(s.Key.ParseErr))
			worst = worse(worst, checks.Fail)
		default:
			k := s.Key.Key
			e["key_type"], e["key_bits"] = k.Type, k.Bits
			if s.Key.ESP != "" {
				e["delegated_to"] = s.Key.ESP
			}
			desc := fmt.Sprintf("%s: %s %d bits, signed %s", name, k.Type, k.Bits, orDefault(s.Algorithm, "?"))
			var probs []string
			for _, p := range k.Problems() {
				probs = append(probs, p.Text)
				if p.Level == dkim.LevelFail {
					worst = worse(worst, checks.Fail)
				} else {
					worst = worse(worst, checks.Warn)
				}
			}
			if kt, _, _ := strings.Cut(s.Algorithm, "-"); kt != "" && kt != k.Type {
				probs = append(probs, fmt.Sprintf("the signature says %s but the key is %s", kt, k.Type))
				worst = worse(worst, checks.Fail)
			}
			if k.Type == "ed25519" && len(a.Signatures) == 1 {
				probs = append(probs, "ed25519 only: Microsoft and many receivers do not verify ed25519 yet; add an RSA signature beside it")
				worst = worse(worst, checks.Warn)
			}
			if len(probs) > 0 {
				desc += ": " + strings.Join(probs, "; ")
			}
			lines = append(lines, desc)
		}
		keys = append(keys, e)
	}
	r := result(worst, strings.Join(first(lines, 3), " · "), "")
	if worst != checks.Pass {
		r.Fix = "publish a 2048-bit RSA key (k=rsa, no t=y, no h=sha1) at each selector and sign with rsa-sha256"
	}
	r.Details = map[string]any{"keys": keys}
	return r
}

func worse(a, b checks.Status) checks.Status {
	rank := map[checks.Status]int{checks.Skip: 0, checks.Pass: 1, checks.Warn: 2, checks.Error: 3, checks.Fail: 4}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

func spfResult(v *spf.Verdict, identity string) checks.Result {
	s := fmt.Sprintf("SPF %s for %s (%s)", v.Result, identity, orDefault(v.Domain, "?"))
	if v.Reason != "" {
		s += ": " + sanitize.Line(v.Reason)
	}
	d := map[string]any{"result": string(v.Result), "domain": v.Domain}
	var r checks.Result
	switch v.Result {
	case spf.Pass:
		r = pass(s)
	case spf.Fail, spf.PermError:
		r = result(checks.Fail, s, "add the sending IP (or its provider's include:) to the SPF record of "+v.Domain+", and keep it under 10 lookups")
	case spf.SoftFail, spf.Neutral:
		r = result(checks.Warn, s, "authorise the sending IP in the SPF record of "+v.Domain)
	case spf.None:
		r = result(checks.Fail, s, "publish an SPF record for "+v.Domain)
	default:
		r = result(checks.Error, s, "")
	}
	r.Details = d
	return r
}

func testSPF(ctx context.Context, m *Message, env *checks.Env) checks.Result {
	a := m.auth(ctx, env)
	if a.SPF == nil {
		return skip("SPF not evaluated: " + a.SPFWhy)
	}
	r := spfResult(a.SPF, fmt.Sprintf("%s from %s", orDefault(a.Sender, "postmaster@"+a.HELO), a.IP))
	return r
}

func testSPFHELO(ctx context.Context, m *Message, env *checks.Env) checks.Result {
	a := m.auth(ctx, env)
	if a.HELOSPF == nil {
		if !a.IP.IsValid() {
			return skip("SPF for HELO not evaluated: no sending IP")
		}
		return skip("SPF for HELO not evaluated: no HELO name (or an address literal)")
	}
	r := spfResult(a.HELOSPF, fmt.Sprintf("HELO %s from %s", a.HELO, a.IP))
	if a.HELOSPF.Result == spf.None {
		// Few domains publish SPF for their MTAs' names; receivers check it only for bounces.
		r.Status = checks.Warn
		r.Fix = "publish \"v=spf1 a -all\" at the HELO name so bounces (null sender) pass SPF"
	}
	return r
}

func testDMARC(ctx context.Context, m *Message, env *checks.Env) checks.Result {
	a := m.auth(ctx, env)
	if a.DMARCErr != nil {
		if a.FromDom == "" {
			return skip("no readable From domain (see message/from)")
		}
		return result(checks.Error, "DMARC policy of "+a.FromDom+" could not be read: "+errText(a.DMARCErr), "")
	}
	v := a.DMARC
	var ids []string
	for _, id := range v.Identities {
		al := "not aligned"
		switch {
		case id.Strict:
			al = "aligned (strict)"
		case id.Relaxed && id.Aligned:
			al = "aligned (relaxed)"
		case id.Relaxed:
			al = "aligned only relaxed, record asks strict"
		}
		ids = append(ids, fmt.Sprintf("%s %s %s %s", id.Kind, id.Domain, id.Result, al))
	}
	d := map[string]any{"verdict": v}
	authors := a.FromDom
	if len(a.FromDoms) > 1 {
		authors = strings.Join(a.FromDoms, ", ")
	}
	s := fmt.Sprintf("From %s: %s", authors, v.Action)
	if len(ids) > 0 {
		s += " [" + strings.Join(ids, "; ") + "]"
	}
	var r checks.Result
	switch v.Result {
	case "pass":
		r = pass(s)
		if v.Policy == dmarc.PolicyNone {
			r = result(checks.Warn, s+"; policy p=none protects nothing", "move to p=quarantine, then p=reject, once reports show all your mail passes")
		}
	case "none":
		isBulk, _ := m.bulk()
		st := checks.Warn
		if isBulk {
			st = checks.Fail
		}
		fix := "publish _dmarc." + orDefault(v.OrgDomain, a.FromDom) + " TXT \"v=DMARC1; p=none; rua=mailto:…\" (Gmail and Yahoo require it from bulk senders)"
		for _, au := range v.Authors {
			if au.Result == "none" {
				fix = "publish _dmarc." + orDefault(au.OrgDomain, au.Domain) + " TXT \"v=DMARC1; p=none; rua=mailto:…\", or send with one author (one From address)"
				break
			}
		}
		r = result(st, s, fix)
	default:
		st := checks.Fail
		if v.Applied == dmarc.PolicyNone || v.Applied == "" {
			st = checks.Warn
		}
		r = result(st, s, "sign with DKIM in the From domain (d="+a.FromDom+") or send with an envelope sender in it, so one passes aligned")
	}
	r.Details = d
	return r
}
