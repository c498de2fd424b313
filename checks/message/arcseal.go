package message

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dkim"
	"github.com/unblock-mail/unblock/sanitize"
)

// ARC signatures are DKIM signatures over other inputs (RFC 8617 §4.1); go-msgauth
// verifies only DKIM-Signature fields, so the ARC-Message-Signature and ARC-Seal
// verification below canonicalizes (RFC 6376 §3.4) and verifies itself.

func init() {
	netTests = append(netTests, netTest{"arc", testARCChain})
}

// arcFields returns the fields of instance i: seal, message signature, results.
func (m *Message) arcFields(i int) (as, ams, aar *Field) {
	for k := range m.Fields {
		f := &m.Fields[k]
		switch f.Name {
		case "Arc-Seal", "Arc-Message-Signature":
			tags, _ := tagList(f.raw)
			if n, err := strconv.Atoi(tags["i"]); err == nil && n == i {
				if f.Name == "Arc-Seal" {
					as = f
				} else {
					ams = f
				}
			}
		case "Arc-Authentication-Results":
			v := strings.TrimSpace(f.raw)
			if strings.HasPrefix(v, "i=") {
				num, _, _ := strings.Cut(v[2:], ";")
				if n, err := strconv.Atoi(strings.TrimSpace(num)); err == nil && n == i {
					aar = f
				}
			}
		}
	}
	return
}

// testARCChain is message/arc with the signatures verified: the structure as the pure
// test reads it, then the newest ARC-Message-Signature and every ARC-Seal (RFC 8617 §5.2).
func testARCChain(ctx context.Context, m *Message, env *checks.Env) checks.Result {
	r := testARC(m)
	if r.Status != checks.Pass {
		return r
	}
	n, _ := r.Details["instances"].(int)
	keys := func(d, s string) (*rsa.PublicKey, error) { return m.arcKey(ctx, env, d, s) }
	if err := m.verifyAMS(n, keys); err != nil {
		r = result(checks.Fail, fmt.Sprintf("ARC chain of %d instances fails: ARC-Message-Signature i=%d: %s", n, n, err),
			"the message changed after the last ARC sealer signed it, or that sealer's key is not published")
		r.Details = map[string]any{"instances": n, "failed": fmt.Sprintf("ams i=%d", n)}
		return r
	}
	for i := n; i >= 1; i-- {
		if err := m.verifySeal(i, keys); err != nil {
			r = result(checks.Fail, fmt.Sprintf("ARC chain of %d instances fails: ARC-Seal i=%d: %s", n, i, err),
				"an ARC set was altered or its sealer's key is not published")
			r.Details = map[string]any{"instances": n, "failed": fmt.Sprintf("as i=%d", i)}
			return r
		}
	}
	chain, _ := r.Details["chain"].([]string)
	out := pass(fmt.Sprintf("ARC chain of %d instances verifies (%s)", n, strings.Join(chain, ", ")))
	out.Details = map[string]any{"instances": n, "chain": chain}
	return out
}

// arcKey fetches the RSA key of selector s at domain d.
func (m *Message) arcKey(ctx context.Context, env *checks.Env, d, s string) (*rsa.PublicKey, error) {
	l := dkim.LookupKey(ctx, env.Resolver, s, d)
	switch {
	case l.Err != nil:
		return nil, fmt.Errorf("key %s could not be fetched: %s", l.Name, errText(l.Err))
	case !l.Found:
		return nil, fmt.Errorf("no key at %s", l.Name)
	case l.ParseErr != nil:
		return nil, fmt.Errorf("key at %s: %s", l.Name, errText(l.ParseErr))
	case l.Key.Revoked:
		return nil, fmt.Errorf("key at %s is revoked", l.Name)
	case l.Key.Type != "rsa":
		return nil, fmt.Errorf("key at %s is %s; ARC signs with rsa-sha256", l.Name, l.Key.Type)
	case l.Key.Bits < dkim.MinRSABits:
		return nil, fmt.Errorf("key at %s has %d bits", l.Name, l.Key.Bits)
	}
	// checks/dkim graded the record; the key itself is its p= tag.
	tags, _ := tagList(l.Text)
	der, err := base64.StdEncoding.DecodeString(tags["p"])
	if err != nil {
		return nil, fmt.Errorf("key at %s: p= is not base64", l.Name)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		k, err2 := x509.ParsePKCS1PublicKey(der)
		if err2 != nil {
			return nil, fmt.Errorf("key at %s: %s", l.Name, errText(err))
		}
		return k, nil
	}
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("key at %s is not RSA", l.Name)
	}
	return k, nil
}

type keyFunc func(d, s string) (*rsa.PublicKey, error)

// verifyAMS checks the ARC-Message-Signature of instance i like a DKIM signature.
func (m *Message) verifyAMS(i int, keys keyFunc) error {
	_, ams, _ := m.arcFields(i)
	tags, terr := tagList(ams.raw)
	if terr != "" {
		return fmt.Errorf("%s", terr)
	}
	if tags["a"] != "rsa-sha256" {
		return fmt.Errorf("algorithm %q is not rsa-sha256", sanitize.Line(tags["a"]))
	}
	for _, req := range []string{"b", "bh", "d", "s"} {
		if tags[req] == "" {
			return fmt.Errorf("tag %s= missing", req)
		}
	}
	if _, ok := tags["h"]; !ok {
		return fmt.Errorf("tag h= missing")
	}
	// Without c= the ARC suite (and the sealers it was made with) canonicalize relaxed;
	// an empty c= is an error.
	hc, bc := "relaxed", "relaxed"
	if c, ok := tags["c"]; ok {
		if c == "" {
			return fmt.Errorf("c= is empty")
		}
		hc, bc, _ = strings.Cut(c, "/")
		if bc == "" {
			bc = "simple"
		}
	}
	if (hc != "simple" && hc != "relaxed") || (bc != "simple" && bc != "relaxed") {
		return fmt.Errorf("canonicalization %q unknown", sanitize.Line(tags["c"]))
	}
	names := strings.Split(tags["h"], ":")
	for _, n := range names {
		if strings.EqualFold(strings.TrimSpace(n), "arc-seal") {
			return fmt.Errorf("h= signs ARC-Seal, which RFC 8617 §4.1.2 forbids")
		}
	}
	bh, err := base64.StdEncoding.DecodeString(tags["bh"])
	if err != nil {
		return fmt.Errorf("bh= is not base64")
	}
	h := sha256.New()
	canonBody(h, m.body, bc == "relaxed")
	if subtle.ConstantTimeCompare(h.Sum(nil), bh) != 1 {
		return fmt.Errorf("body hash mismatch: the body changed after sealing")
	}
	h.Reset()
	used := map[*Field]bool{}
	for _, n := range names {
		if f := m.pickField(strings.TrimSpace(n), used); f != nil {
			h.Write([]byte(canonHeader(f.field, hc == "relaxed")))
		}
	}
	self := strings.TrimSuffix(canonHeader(withoutB(ams.field), hc == "relaxed"), "\r\n")
	h.Write([]byte(self))
	return verifyRSA(h, tags, keys)
}

// verifySeal checks the ARC-Seal of instance i: it signs every ARC set up to i, oldest
// first, each as results, message signature, seal; always relaxed (RFC 8617 §5.1.1).
func (m *Message) verifySeal(i int, keys keyFunc) error {
	h := sha256.New()
	var tags map[string]string
	for j := 1; j <= i; j++ {
		as, ams, aar := m.arcFields(j)
		h.Write([]byte(canonHeader(aar.field, true)))
		h.Write([]byte(canonHeader(ams.field, true)))
		if j < i {
			h.Write([]byte(canonHeader(as.field, true)))
			continue
		}
		var terr string
		tags, terr = tagList(as.raw)
		if terr != "" {
			return fmt.Errorf("%s", terr)
		}
		if tags["a"] != "rsa-sha256" {
			return fmt.Errorf("algorithm %q is not rsa-sha256", sanitize.Line(tags["a"]))
		}
		h.Write([]byte(strings.TrimSuffix(canonHeader(withoutB(as.field), true), "\r\n")))
	}
	return verifyRSA(h, tags, keys)
}

func verifyRSA(h hash.Hash, tags map[string]string, keys keyFunc) error {
	sig, err := base64.StdEncoding.DecodeString(tags["b"])
	if err != nil {
		return fmt.Errorf("b= is not base64")
	}
	key, err := keys(strings.ToLower(tags["d"]), strings.ToLower(tags["s"]))
	if err != nil {
		return err
	}
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, h.Sum(nil), sig); err != nil {
		return fmt.Errorf("signature does not verify with the key at %s._domainkey.%s", sanitize.Line(tags["s"]), sanitize.Line(tags["d"]))
	}
	return nil
}

// pickField returns the bottom-most field named name not used yet (RFC 6376 §5.4.2).
func (m *Message) pickField(name string, used map[*Field]bool) *Field {
	for k := len(m.Fields) - 1; k >= 0; k-- {
		f := &m.Fields[k]
		if !used[f] && strings.EqualFold(f.Name, name) {
			used[f] = true
			return f
		}
	}
	return nil
}

// withoutB returns a signature field with the value of its b= tag removed.
func withoutB(field []byte) []byte {
	colon := bytes.IndexByte(field, ':')
	if colon < 0 {
		return field
	}
	out := append([]byte(nil), field[:colon+1]...)
	rest := field[colon+1:]
	for len(rest) > 0 {
		semi := bytes.IndexByte(rest, ';')
		tag := rest
		if semi >= 0 {
			tag = rest[:semi]
		}
		k, _, ok := bytes.Cut(tag, []byte("="))
		if ok && string(bytes.TrimSpace(k)) == "b" {
			eq := bytes.IndexByte(tag, '=')
			out = append(out, tag[:eq+1]...)
			if semi < 0 {
				// The value ran to the end of the field: keep its line end.
				if bytes.HasSuffix(tag, []byte("\r\n")) {
					out = append(out, "\r\n"...)
				}
			}
		} else {
			out = append(out, tag...)
		}
		if semi < 0 {
			break
		}
		out = append(out, ';')
		rest = rest[semi+1:]
	}
	return out
}

// canonHeader canonicalizes one whole field (RFC 6376 §3.4.1, §3.4.2).
func canonHeader(field []byte, relaxed bool) string {
	if !relaxed {
		return string(field)
	}
	colon := bytes.IndexByte(field, ':')
	if colon < 0 {
		return string(field)
	}
	name := strings.ToLower(strings.TrimRight(string(field[:colon]), " \t"))
	var b strings.Builder
	b.Grow(len(field))
	b.WriteString(name)
	b.WriteByte(':')
	space := false
	for _, c := range bytes.TrimSpace(field[colon+1:]) {
		switch c {
		case '\r', '\n':
			continue
		case ' ', '\t':
			space = true
			continue
		}
		if space && b.Len() > len(name)+1 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(c)
	}
	b.WriteString("\r\n")
	return b.String()
}

// canonBody writes the canonical body (RFC 6376 §3.4.3, §3.4.4) to h.
func canonBody(h hash.Hash, body []byte, relaxed bool) {
	blank := 0 // empty lines held back: trailing ones are dropped
	wrote := false
	for len(body) > 0 {
		i := bytes.IndexByte(body, '\n')
		var line []byte
		if i < 0 {
			line, body = body, nil
		} else {
			line, body = body[:i], body[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if relaxed {
			line = relaxLine(line)
		}
		if len(line) == 0 {
			blank++
			continue
		}
		for ; blank > 0; blank-- {
			h.Write([]byte("\r\n"))
		}
		h.Write(line)
		h.Write([]byte("\r\n"))
		wrote = true
	}
	if !wrote && !relaxed {
		h.Write([]byte("\r\n"))
	}
}

// relaxLine collapses runs of whitespace to one space and drops trailing whitespace.
func relaxLine(line []byte) []byte {
	out := make([]byte, 0, len(line))
	space := false
	for _, c := range line {
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space {
			out = append(out, ' ')
			space = false
		}
		out = append(out, c)
	}
	return out
}
