package casefile

// The check records of the test cases come from the real checks run against a loopback
// DNS server (checks/dnstest) serving fixture zones, so what a message states is tested
// against what the checks actually report, not against hand-made results.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	msgdkim "github.com/emersion/go-msgauth/dkim"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dnsbl"
	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/message"
	"github.com/unblock-mail/unblock/checks/resolver"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

// signingKey is a 2048-bit RSA key made once per test binary.
func signingKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

// keyTXT is the DKIM key record of the signing key at name.
func keyTXT(t testing.TB, name string) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&signingKey(t).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	v := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	var parts []string
	for len(v) > 200 {
		parts = append(parts, `"`+v[:200]+`"`)
		v = v[200:]
	}
	parts = append(parts, `"`+v+`"`)
	return name + " TXT " + strings.Join(parts, " ") + "\n"
}

// healthyLists gives every blocklist its RFC 5782 test entry, as live lists have.
func healthyLists() string {
	var b strings.Builder
	for _, z := range dnsbl.Zones() {
		if z.Kind == dnsbl.KindIP {
			b.WriteString("2.0.0.127." + z.Zone + ". A 127.0.0.2\n")
		} else {
			b.WriteString("test." + z.Zone + ". A 127.0.1.2\n")
		}
	}
	return b.String()
}

// hygiene are the checks that reach beyond DNS (SMTP, HTTPS) or that the message never
// states; the tests do not run them.
var hygiene = map[string]bool{"mx": true, "a": true, "starttls": true, "mx-starttls": true, "mta-sts": true, "tls-rpt": true, "recipient": true}

func testEnv(t testing.TB, zone string) *checks.Env {
	t.Helper()
	srv := dnstest.Start(t, zone)
	res, err := resolver.New(resolver.Config{Servers: []string{srv.Addr}, Timeout: 500 * time.Millisecond, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return &checks.Env{Resolver: res, Now: func() time.Time { return t0 }}
}

// runChecks runs the live checks (hygiene left out) for target over zone.
func runChecks(t testing.TB, zone string, target checks.Target) []checks.Result {
	t.Helper()
	env := testEnv(t, zone)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []checks.Result
	for r := range checks.Run(ctx, env, target, hygiene) {
		out = append(out, r)
	}
	return out
}

// runMessageChecks runs the tests of a message (no live checks) over zone.
func runMessageChecks(t testing.TB, zone string, raw []byte) []checks.Result {
	t.Helper()
	env := testEnv(t, zone)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	skip := map[string]bool{}
	for _, id := range checks.IDs() {
		skip[id] = true
	}
	_, ch, err := message.Check(ctx, env, raw, checks.Target{}, skip)
	if err != nil {
		t.Fatal(err)
	}
	var out []checks.Result
	for r := range ch {
		out = append(out, r)
	}
	return out
}

// signed is a message from From through ip (HELO helo), DKIM-signed with d= and s=.
func signed(t testing.TB, from, ip, helo, d, s string) []byte {
	t.Helper()
	msg := "Return-Path: <" + from + ">\r\n" +
		"Received: from " + helo + " (" + helo + " [" + ip + "])\r\n" +
		"\tby mx.recipient.test with ESMTPS id 4Qx1; " + t0.Add(-time.Minute).Format(time.RFC1123Z) + "\r\n" +
		"From: Accounts <" + from + ">\r\n" +
		"To: ap@ourco.example\r\n" +
		"Subject: Invoice 2211\r\n" +
		"Date: " + t0.Add(-2*time.Minute).Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <a1@vendor.example>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" +
		"Your invoice is in the portal.\r\n"
	var out bytes.Buffer
	err := msgdkim.Sign(&out, strings.NewReader(msg), &msgdkim.SignOptions{
		Domain: d, Selector: s, Signer: signingKey(t),
		HeaderCanonicalization: msgdkim.CanonicalizationRelaxed,
		BodyCanonicalization:   msgdkim.CanonicalizationRelaxed,
		HeaderKeys:             []string{"From", "To", "Subject", "Date", "Message-ID"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// senderZone publishes example.com as a sender who set everything up, sending from
// 192.0.2.1 (mail.example.com), and a blocklist picture: listed nowhere, Spamhaus
// refusing the query as from a public resolver.
func senderZone(t testing.TB) string {
	return `example.com. TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc.example.com. TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
1.2.0.192.in-addr.arpa. PTR mail.example.com.
mail.example.com. A 192.0.2.1
mail.example.com. TXT "v=spf1 a -all"
1.2.0.192.zen.spamhaus.org. A 127.255.255.254
example.com.dbl.spamhaus.org. A 127.255.255.254
` + keyTXT(t, "s2026._domainkey.example.com.") + healthyLists()
}

// vendorZone publishes vendor.example, a supplier whose invoices a customer's filter
// quarantines, sending from 203.0.113.5 (out.vendor.example), listed on Spamhaus SBL.
func vendorZone(t testing.TB) string {
	return `vendor.example. TXT "v=spf1 ip4:203.0.113.5 ~all"
_dmarc.vendor.example. TXT "v=DMARC1; p=quarantine"
5.113.0.203.in-addr.arpa. PTR out.vendor.example.
out.vendor.example. A 203.0.113.5
5.113.0.203.zen.spamhaus.org. A 127.0.0.2
` + keyTXT(t, "k1._domainkey.vendor.example.") + healthyLists()
}
