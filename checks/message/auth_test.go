package message

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

func loadKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile("testdata/keys/rsa2048.pem")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

// keyRecord is a DKIM key record in master-file form, split into strings of 200 bytes.
func keyRecord(t testing.TB, name string, der []byte) string {
	t.Helper()
	v := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	var parts []string
	for len(v) > 200 {
		parts = append(parts, `"`+v[:200]+`"`)
		v = v[200:]
	}
	parts = append(parts, `"`+v+`"`)
	return name + " TXT " + strings.Join(parts, " ") + "\n"
}

func weakKeyDER(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/keys/rsa512.pub.pem")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	return blk.Bytes
}

// authZone publishes SPF, DMARC and DKIM keys for the fixture domains.
func authZone(t testing.TB, key *rsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return `example.com. TXT "v=spf1 ip4:192.0.2.10 -all"
mail.example.com. A 192.0.2.10
mail.example.com. TXT "v=spf1 a -all"
_dmarc.example.com. TXT "v=DMARC1; p=reject; rua=mailto:d@example.com"
strict.test. TXT "v=spf1 -all"
_dmarc.strict.test. TXT "v=DMARC1; p=quarantine; adkim=s; aspf=s"
` + keyRecord(t, "sel._domainkey.example.com.", der) +
		keyRecord(t, "sel._domainkey.strict.test.", der) +
		keyRecord(t, "weak._domainkey.example.com.", weakKeyDER(t))
}

func fixture(now time.Time, from, extra string) string {
	return "Return-Path: <bounce@example.com>\r\n" +
		"Received: from mail.example.com (mail.example.com [192.0.2.10])\r\n" +
		"\tby mx.recipient.test with ESMTPS id 4Qx1; " + now.Add(-time.Minute).Format(time.RFC1123Z) + "\r\n" +
		"From: Alice <" + from + ">\r\n" +
		"To: bob@recipient.test\r\n" +
		"Subject: Quarterly report\r\n" +
		"Date: " + now.Add(-2*time.Minute).Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <q3.2026@example.com>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		extra +
		"\r\n" +
		"The report is attached to the portal.\r\nRegards, Alice\r\n"
}

func signMsg(t testing.TB, key *rsa.PrivateKey, msg, domain, selector string, expires time.Time) []byte {
	t.Helper()
	var out bytes.Buffer
	err := msgdkim.Sign(&out, strings.NewReader(msg), &msgdkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed,
		BodyCanonicalization:   msgdkim.CanonicalizationRelaxed,
		HeaderKeys:             []string{"From", "From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"},
		Expiration:             expires,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func testEnv(t testing.TB, zone string, now time.Time) *checks.Env {
	t.Helper()
	srv := dnstest.Start(t, zone)
	res, err := resolver.New(resolver.Config{Servers: []string{srv.Addr}, Timeout: 400 * time.Millisecond, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return &checks.Env{Resolver: res, Now: func() time.Time { return now }}
}

// runCheck runs Check with every live check skipped and returns the results by id.
func runCheck(t testing.TB, env *checks.Env, raw []byte) (checks.Target, map[string]checks.Result) {
	t.Helper()
	skip := map[string]bool{}
	for _, id := range checks.IDs() {
		skip[id] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tgt, ch, err := Check(ctx, env, raw, checks.Target{}, skip)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]checks.Result{}
	for r := range ch {
		if _, dup := out[r.ID]; dup {
			t.Errorf("result %s reported twice", r.ID)
		}
		out[r.ID] = r
	}
	return tgt, out
}

func want(t *testing.T, rs map[string]checks.Result, id string, st checks.Status, substr string) {
	t.Helper()
	r, ok := rs[id]
	if !ok {
		t.Fatalf("no result %s", id)
	}
	if r.Status != st || !strings.Contains(r.Summary, substr) {
		t.Errorf("%s = %s %q; want %s containing %q", id, r.Status, r.Summary, st, substr)
	}
}

func TestDKIMSignedFixtureAndEachBreakage(t *testing.T) {
	key := loadKey(t)
	now := time.Now().UTC().Truncate(time.Second)
	env := testEnv(t, authZone(t, key), now)
	msg := fixture(now, "alice@example.com", "")

	good := signMsg(t, key, msg, "example.com", "sel", time.Time{})
	tgt, rs := runCheck(t, env, good)
	want(t, rs, "message/dkim", checks.Pass, "d=example.com s=sel")
	want(t, rs, "message/spf", checks.Pass, "SPF pass")
	want(t, rs, "message/spf-helo", checks.Pass, "HELO mail.example.com")
	want(t, rs, "message/dmarc", checks.Pass, "DMARC pass")
	want(t, rs, "message/dkim-key", checks.Pass, "rsa 2048 bits")
	if tgt.IP.String() != "192.0.2.10" || tgt.HELO != "mail.example.com" || tgt.Domain != "example.com" ||
		tgt.EnvelopeSender != "bounce@example.com" || tgt.RecipientDomain != "recipient.test" || len(tgt.Selectors) != 1 || tgt.Selectors[0] != "sel" {
		t.Errorf("target from the message: %+v", tgt)
	}

	cases := []struct {
		name  string
		raw   []byte
		st    checks.Status
		why   string
		other func(t *testing.T, rs map[string]checks.Result)
	}{
		{"changed header", bytes.Replace(good, []byte("Subject: Quarterly report"), []byte("Subject: [EXTERNAL] Quarterly report"), 1),
			checks.Fail, "header hash mismatch", func(t *testing.T, rs map[string]checks.Result) {
				want(t, rs, "message/dmarc", checks.Pass, "DMARC pass") // SPF still passes aligned
			}},
		{"changed body", bytes.Replace(good, []byte("Regards, Alice"), []byte("Regards, Alice\r\n-- \r\nScanned by the gateway"), 1),
			checks.Fail, "body hash mismatch", nil},
		{"removed key", signMsg(t, key, msg, "example.com", "gone", time.Time{}),
			checks.Fail, "key missing: no key record at gone._domainkey.example.com", func(t *testing.T, rs map[string]checks.Result) {
				want(t, rs, "message/dkim-key", checks.Fail, "no key record")
			}},
		{"expired signature", signMsg(t, key, msg, "example.com", "sel", time.Now().Add(-time.Hour)),
			checks.Fail, "expired: x=", nil},
		{"l= added after signing", bytes.Replace(good, []byte("DKIM-Signature: "), []byte("DKIM-Signature: l=10; "), 1),
			checks.Fail, "body hash mismatch", nil},
		{"weak key", signMsg(t, key, msg, "example.com", "weak", time.Time{}),
			checks.Fail, "weak key at weak._domainkey.example.com (512 bits)", func(t *testing.T, rs map[string]checks.Result) {
				want(t, rs, "message/dkim-key", checks.Fail, "512 bits")
			}},
		{"sha1", bytes.Replace(good, []byte("a=rsa-sha256"), []byte("a=rsa-sha1"), 1),
			checks.Fail, "RFC 8301 forbids sha1", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if bytes.Equal(c.raw, good) {
				t.Fatal("fixture was not changed")
			}
			_, rs := runCheck(t, env, c.raw)
			want(t, rs, "message/dkim", c.st, c.why)
			if c.other != nil {
				c.other(t, rs)
			}
		})
	}
}

func TestDMARCAlignmentRelaxedAndStrict(t *testing.T) {
	key := loadKey(t)
	now := time.Now().UTC().Truncate(time.Second)
	env := testEnv(t, authZone(t, key), now)

	// From a subdomain, signed by the parent: aligned under relaxed (example.com's default).
	relaxed := signMsg(t, key, fixture(now, "alice@news.example.com", ""), "example.com", "sel", time.Time{})
	_, rs := runCheck(t, env, relaxed)
	want(t, rs, "message/dmarc", checks.Pass, "dkim example.com pass aligned (relaxed)")

	// strict.test asks adkim=s: the parent's signature no longer aligns, SPF fails, so the
	// receiver quarantines.
	strict := signMsg(t, key, fixture(now, "alice@news.strict.test", ""), "strict.test", "sel", time.Time{})
	_, rs = runCheck(t, env, strict)
	want(t, rs, "message/dmarc", checks.Fail, "p=quarantine")
	want(t, rs, "message/dmarc", checks.Fail, "aligned only relaxed, record asks strict")

	// Unsigned, from an IP SPF does not authorise: DMARC fails with p=reject.
	forged := strings.Replace(fixture(now, "alice@example.com", ""), "[192.0.2.10]", "[203.0.113.5]", 1)
	_, rs = runCheck(t, env, []byte(forged))
	want(t, rs, "message/dkim", checks.Fail, "no DKIM signature")
	want(t, rs, "message/spf", checks.Fail, "SPF fail")
	want(t, rs, "message/dmarc", checks.Fail, "p=reject: rejected")
}

func TestAuthenticationResultsCompared(t *testing.T) {
	key := loadKey(t)
	now := time.Now().UTC().Truncate(time.Second)
	env := testEnv(t, authZone(t, key), now)
	good := signMsg(t, key, fixture(now, "alice@example.com", ""), "example.com", "sel", time.Time{})
	agree := append([]byte("Authentication-Results: mx.recipient.test; spf=pass smtp.mailfrom=bounce@example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com\r\n"), good...)
	_, rs := runCheck(t, env, agree)
	want(t, rs, "message/authentication-results", checks.Pass, "as we compute")

	differ := append([]byte("Authentication-Results: mx.recipient.test; spf=pass smtp.mailfrom=bounce@example.com; dkim=fail header.d=example.com; dmarc=fail header.from=example.com\r\n"), good...)
	_, rs = runCheck(t, env, differ)
	want(t, rs, "message/authentication-results", checks.Warn, "dkim d=example.com: receiver fail, we pass")
	want(t, rs, "message/authentication-results", checks.Warn, "dmarc: receiver fail, we pass")
}

func TestLinkBlocklistOverDNS(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	zone := `test.dbl.spamhaus.org. A 127.0.1.2
spammy.example.dbl.spamhaus.org. A 127.0.1.4
`
	env := testEnv(t, zone, now)
	msg := fixture(now, "alice@example.com", "") + "Read it at https://www.spammy.example/login and https://fine.example/\r\n"
	_, rs := runCheck(t, env, []byte(msg))
	want(t, rs, "message/link-blocklist", checks.Fail, "spammy.example (DBL: phishing domain)")

	clean := fixture(now, "alice@example.com", "") + "Read it at https://fine.example/\r\n"
	_, rs = runCheck(t, env, []byte(clean))
	want(t, rs, "message/link-blocklist", checks.Pass, "listed on no domain blocklist")
}

// Every registered id is reported exactly once by Check, and there are at least 40.
func TestCheckReportsEveryTest(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	env := testEnv(t, "", now)
	_, rs := runCheck(t, env, []byte(fixture(now, "alice@example.com", "")))
	ids := IDs()
	if len(ids) < 40 {
		t.Errorf("%d message tests, want at least 40", len(ids))
	}
	for _, id := range ids {
		r, ok := rs[id]
		if !ok {
			t.Errorf("%s not reported", id)
			continue
		}
		if r.Summary == "" {
			t.Errorf("%s has no summary", id)
		}
		if (r.Status == checks.Fail || r.Status == checks.Warn) && r.Fix == "" && id != "message/spamassassin" {
			t.Errorf("%s %s without a fix: %s", id, r.Status, r.Summary)
		}
	}
}

// What the caller gives wins over what the message says; the rest is filled in.
func TestCheckKeepsWhatBaseGives(t *testing.T) {
	key := loadKey(t)
	now := time.Now().UTC().Truncate(time.Second)
	env := testEnv(t, authZone(t, key), now)
	raw := signMsg(t, key, fixture(now, "alice@example.com", ""), "example.com", "sel", time.Time{})
	skip := map[string]bool{}
	for _, id := range checks.IDs() {
		skip[id] = true
	}
	base := checks.Target{IP: netip.MustParseAddr("203.0.113.9"), RecipientDomain: "other.test"}
	tgt, ch, err := Check(context.Background(), env, raw, base, skip)
	if err != nil {
		t.Fatal(err)
	}
	rs := map[string]checks.Result{}
	for r := range ch {
		rs[r.ID] = r
	}
	if tgt.IP != base.IP || tgt.RecipientDomain != "other.test" || tgt.HELO != "mail.example.com" || tgt.Domain != "example.com" {
		t.Errorf("target = %+v", tgt)
	}
	// SPF is evaluated for the address the caller named, which example.com does not authorise.
	want(t, rs, "message/spf", checks.Fail, "from 203.0.113.9")
	if _, _, err := Check(context.Background(), env, []byte("just some words\n"), base, skip); err == nil {
		t.Error("text without a header was taken for a message")
	}
}

// A copy pulled from a Proofpoint customer's mailbox: the hop from pphosted.com into the
// customer's server is the customer's filter, found by the recipient domain's MX; the
// sender is the hop below it.
func TestSendingHopBehindRecipientFilter(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	date := now.Add(-time.Minute).Format(time.RFC1123Z)
	msg := "Received: from mx0b-00069f02.pphosted.com (mx0b-00069f02.pphosted.com [205.220.177.32]) by mail.customer.test with ESMTPS id E1; " + date + "\r\n" +
		"Received: from pps.filterd (m0246632.ppops.net [127.0.0.1]) by mx0b-00069f02.pphosted.com with ESMTP id 4AM9xQ0Z; " + date + "\r\n" +
		"Received: from mail.sender.test (mail.sender.test [198.51.100.20]) by mx0b-00069f02.pphosted.com with ESMTPS id 4AM9xQ0Y; " + date + "\r\n" +
		"From: a@sender.test\r\nTo: admin@customer.test\r\nSubject: invoice\r\nDate: " + date + "\r\nMessage-ID: <1@sender.test>\r\n\r\nhello\r\n"
	// Without DNS the pure reading takes the filter's host for the sender.
	if m := Parse([]byte(msg), Options{Now: now}); m.Sending != 0 {
		t.Fatalf("pure reading picked hop %d", m.Sending)
	}
	env := testEnv(t, "customer.test. MX 10 mx0b-00069f02.pphosted.com.\n", now)
	tgt, rs := runCheck(t, env, []byte(msg))
	if tgt.IP.String() != "198.51.100.20" || tgt.HELO != "mail.sender.test" || tgt.RecipientDomain != "customer.test" {
		t.Errorf("target = %+v", tgt)
	}
	want(t, rs, "message/sending-hop", checks.Pass, "sent from 198.51.100.20 (HELO mail.sender.test) to mx0b-00069f02.pphosted.com, hop 3 of 3")
}
