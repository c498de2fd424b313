package message

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks"
)

// dkimTags are the tags a test signature carries beyond v, a, c, bh and b, in order.
type dkimTags struct {
	d, s, i string
	l       int // -1: no l=
	h       []string
}

var wsp = regexp.MustCompile(`[ \t]+`)

// relaxedBody is RFC 6376 §3.4.4 body canonicalization.
func relaxedBody(body string) string {
	lines := strings.Split(body, "\r\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(wsp.ReplaceAllString(l, " "), " ")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\r\n") + "\r\n"
}

// relaxedHeader is RFC 6376 §3.4.2 header canonicalization of one field.
func relaxedHeader(name, value string) string {
	value = strings.ReplaceAll(value, "\r\n", "")
	value = strings.TrimSpace(wsp.ReplaceAllString(value, " "))
	return strings.ToLower(strings.TrimSpace(name)) + ":" + value
}

// signRFC signs header (fields separated by CRLF, no blank line) and body with a
// relaxed/relaxed rsa-sha256 DKIM-Signature written here from RFC 6376 §3.7, so tests
// can carry what go-msgauth's signer does not write: l=, a d= in upper case, any i=.
func signRFC(t testing.TB, key *rsa.PrivateKey, header, body string, tg dkimTags) []byte {
	t.Helper()
	cb := relaxedBody(body)
	if tg.l >= 0 {
		if tg.l <= len(cb) {
			cb = cb[:tg.l]
		}
	}
	bh := sha256.Sum256([]byte(cb))
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimSuffix(header, "\r\n"), "\r\n") {
		n, v, _ := strings.Cut(f, ":")
		fields[strings.ToLower(n)] = v
	}
	sig := "v=1; a=rsa-sha256; c=relaxed/relaxed; d=" + tg.d + "; s=" + tg.s + ";"
	if tg.i != "" {
		sig += " i=" + tg.i + ";"
	}
	if tg.l >= 0 {
		sig += fmt.Sprintf(" l=%d;", tg.l)
	}
	sig += " h=" + strings.Join(tg.h, ":") + "; bh=" + base64.StdEncoding.EncodeToString(bh[:]) + "; b="
	var hashed strings.Builder
	for _, h := range tg.h {
		hashed.WriteString(relaxedHeader(h, fields[strings.ToLower(h)]) + "\r\n")
	}
	hashed.WriteString(relaxedHeader("DKIM-Signature", sig))
	sum := sha256.Sum256([]byte(hashed.String()))
	b, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return []byte("DKIM-Signature: " + sig + base64.StdEncoding.EncodeToString(b) + "\r\n" + header + "\r\n" + body)
}

func rfcHeader(now time.Time, from string) string {
	return "Return-Path: <bounce@example.com>\r\n" +
		"Received: from mail.example.com (mail.example.com [192.0.2.10])\r\n" +
		"\tby mx.recipient.test with ESMTPS id 4Qx1; " + now.Add(-time.Minute).Format(time.RFC1123Z) + "\r\n" +
		"From: " + from + "\r\n" +
		"To: bob@recipient.test\r\n" +
		"Subject: Quarterly report\r\n" +
		"Date: " + now.Add(-2*time.Minute).Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <q3.2026@example.com>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n"
}

const rfcBody = "The report is attached to the portal.\r\nRegards, Alice\r\n"

// rfcZone adds to authZone a key with t=s and the policies of a second author domain.
func rfcZone(t testing.TB, key *rsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	strict := strings.Replace(keyRecord(t, "strict._domainkey.example.com.", der), `"v=DKIM1; k=rsa; `, `"v=DKIM1; k=rsa; t=s; `, 1)
	return authZone(t, key) + strict + keyRecord(t, "sel._domainkey.other.test.", der) + `
_dmarc.other.test. TXT "v=DMARC1; p=reject"
_dmarc.third.test. TXT "v=DMARC1; p=quarantine"
`
}

func sigResult(t *testing.T, rs map[string]checks.Result) []map[string]any {
	t.Helper()
	sigs, _ := rs["message/dkim"].Details["signatures"].([]map[string]any)
	return sigs
}

// TestDKIMIdentityCase (RFC 4343 and RFC 6376 §3.5: domain names compare without regard
// to case): i= in another case than d= is in d=, and the signature verifies.
func TestDKIMIdentityCase(t *testing.T) {
	key := loadKey(t)
	now := time.Now().UTC().Truncate(time.Second)
	env := testEnv(t, rfcZone(t, key), now)
	h := []string{"From", "To", "Subject", "Date", "Message-ID"}
	for _, tg := range []dkimTags{
		{d: "Example.COM", s: "sel", i: "alice@example.com", l: -1, h: h},
		{d: "example.com", s: "sel", i: "@Mail.EXAMPLE.com", l: -1, h: h},
	} {
		raw := signRFC(t, key, rfcHeader(now, "Alice <alice@example.com>"), rfcBody, tg)
		_, rs := runCheck(t, env, raw)
		want(t, rs, "message/dkim", checks.Pass, "DKIM verifies")
		want(t, rs, "message/dmarc", checks.Pass, "DMARC pass")
	}
	// The check does not just accept any i=: one outside d= is refused (RFC 6376 §3.5).
	raw := signRFC(t, key, rfcHeader(now, "Alice <alice@example.com>"), rfcBody, dkimTags{d: "example.com", s: "sel", i: "@example.net", l: -1, h: h})
	_, rs := runCheck(t, env, raw)
	want(t, rs, "message/dkim", checks.Fail, "i=@example.net is not in d=example.com")
}

// TestDKIMStrictFlag (RFC 6376 §3.6.1, t=s): the key refuses an i= in a subdomain of d=
// and accepts one in d= itself.
func TestDKIMStrictFlag(t *testing.T) {
	key := loadKey(t)
	now := time.Now().UTC().Truncate(time.Second)
	env := testEnv(t, rfcZone(t, key), now)
	h := []string{"From", "To", "Subject", "Date", "Message-ID"}
	raw := signRFC(t, key, rfcHeader(now, "Alice <alice@example.com>"), rfcBody, dkimTags{d: "example.com", s: "strict", i: "alice@mail.example.com", l: -1, h: h})
	_, rs := runCheck(t, env, raw)
	want(t, rs, "message/dkim", checks.Fail, "has t=s")
	raw = signRFC(t, key, rfcHeader(now, "Alice <alice@example.com>"), rfcBody, dkimTags{d: "example.com", s: "strict", i: "alice@example.com", l: -1, h: h})
	_, rs = runCheck(t, env, raw)
	want(t, rs, "message/dkim", checks.Pass, "DKIM verifies")
}

// TestDKIMBodyLength (RFC 6376 §3.5 l=, §8.2): the signature verifies over the first l
// octets of the canonical body; what follows is counted and reported, not failed. A
// body shorter than l= fails (§3.4.5).
func TestDKIMBodyLength(t *testing.T) {
	key := loadKey(t)
	now := time.Now().UTC().Truncate(time.Second)
	env := testEnv(t, rfcZone(t, key), now)
	h := []string{"From", "To", "Subject", "Date", "Message-ID"}
	l := len(relaxedBody(rfcBody))
	appended := "Click here to claim your prize\r\n"
	raw := signRFC(t, key, rfcHeader(now, "Alice <alice@example.com>"), rfcBody, dkimTags{d: "example.com", s: "sel", l: l, h: h})
	raw = append(raw, appended...)
	_, rs := runCheck(t, env, raw)
	want(t, rs, "message/dkim", checks.Warn, fmt.Sprintf("%d bytes of the body after l=%d are not signed", len(appended), l))
	want(t, rs, "message/dmarc", checks.Pass, "DMARC pass")
	if sigs := sigResult(t, rs); len(sigs) != 1 || sigs[0]["result"] != "pass" || sigs[0]["unsigned_bytes"] != int64(len(appended)) {
		t.Errorf("signature details: %v", sigs)
	}
	// l= covering the whole body: a plain pass.
	raw = signRFC(t, key, rfcHeader(now, "Alice <alice@example.com>"), rfcBody, dkimTags{d: "example.com", s: "sel", l: l, h: h})
	_, rs = runCheck(t, env, raw)
	want(t, rs, "message/dkim", checks.Pass, "DKIM verifies")
	// l= longer than the body.
	raw = signRFC(t, key, rfcHeader(now, "Alice <alice@example.com>"), rfcBody, dkimTags{d: "example.com", s: "sel", l: l + 50, h: h})
	_, rs = runCheck(t, env, raw)
	want(t, rs, "message/dkim", checks.Fail, "shorter than")
}

// TestDMARCSeveralAuthors (RFC 7489 §6.6.1; RFC 9989 §5.3.1, §11.5): every author domain of
// a From with several addresses is checked; the strictest failing policy applies; a
// domain without a policy leaves no verdict (none, with why), never a pass.
func TestDMARCSeveralAuthors(t *testing.T) {
	key := loadKey(t)
	now := time.Now().UTC().Truncate(time.Second)
	env := testEnv(t, rfcZone(t, key), now)
	h := []string{"From", "To", "Subject", "Date", "Message-ID"}
	sign := func(from string) []byte {
		return signRFC(t, key, rfcHeader(now, from), rfcBody, dkimTags{d: "example.com", s: "sel", l: -1, h: h})
	}
	_, rs := runCheck(t, env, sign("alice@example.com, carol@nopolicy.test"))
	want(t, rs, "message/dmarc", checks.Warn, "no DMARC verdict for a From with 2 author domains: nopolicy.test publishes no policy")
	if v := rs["message/dmarc"].Details["verdict"].(*DMARCVerdict); v.Result != "none" || len(v.Authors) != 2 {
		t.Errorf("verdict %+v", v)
	}
	_, rs = runCheck(t, env, sign("alice@example.com, dave@third.test, erin@other.test"))
	want(t, rs, "message/dmarc", checks.Fail, "the strictest failing policy applies, other.test's: DMARC fail with p=reject")
	if !strings.HasPrefix(rs["message/dmarc"].Summary, "From example.com, third.test, other.test:") {
		t.Errorf("summary does not name every author domain: %q", rs["message/dmarc"].Summary)
	}
	// Both authors pass only when each is authenticated aligned: a second signature by
	// other.test makes it so.
	raw := signRFC(t, key, rfcHeader(now, "alice@example.com, erin@other.test"), rfcBody, dkimTags{d: "other.test", s: "sel", l: -1, h: h})
	_, rs = runCheck(t, env, raw)
	want(t, rs, "message/dmarc", checks.Pass, "DMARC pass for each of the 2 author domains")
}

// TestDKIMTwoKeyRecords (RFC 6376 §3.6.2.2): a selector with a live and a revoked key
// record is said to have two, not reported as a bad signature.
func TestDKIMTwoKeyRecords(t *testing.T) {
	key := loadKey(t)
	now := time.Now().UTC().Truncate(time.Second)
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	env := testEnv(t, rfcZone(t, key)+keyRecord(t, "two._domainkey.example.com.", der)+"two._domainkey.example.com. TXT \"v=DKIM1; k=rsa; p=\"\n", now)
	raw := signRFC(t, key, rfcHeader(now, "Alice <alice@example.com>"), rfcBody, dkimTags{d: "example.com", s: "two", l: -1, h: []string{"From", "To", "Subject"}})
	_, rs := runCheck(t, env, raw)
	want(t, rs, "message/dkim", checks.Fail, "2 key records at two._domainkey.example.com")
	if !strings.Contains(rs["message/dkim"].Fix, "delete all but the key record you sign with") {
		t.Errorf("fix: %q", rs["message/dkim"].Fix)
	}
}
