package dkim

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

// rsaKey returns p= for an RSA public key with a modulus of bits bits. Verifiers read only
// the size, so the modulus need not be a product of primes.
func rsaKey(t testing.TB, bits int) string {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(12345))
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func edKey(t testing.TB) string {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pub)
}

func TestParseKey(t *testing.T) {
	cases := []struct {
		txt   string
		bits  int
		level Level
		text  string
	}{
		{"v=DKIM1; k=rsa; p=" + rsaKey(t, 2048), 2048, "", ""},
		{"v=DKIM1; k=rsa; p=" + rsaKey(t, 1024), 1024, LevelWarn, "2048 is the recommended"},
		{"v=DKIM1; p=" + rsaKey(t, 768), 768, LevelFail, "under 1024"},
		{"v=DKIM1; k=ed25519; p=" + edKey(t), 256, "", ""},
		{"v=DKIM1; t=y; p=" + rsaKey(t, 2048), 2048, LevelWarn, "testing"},
		{"v=DKIM1; h=sha1; p=" + rsaKey(t, 2048), 2048, LevelFail, "only sha1"},
		{"v=DKIM1; p=", 0, LevelFail, "revoked"},
	}
	for _, c := range cases {
		k, err := ParseKey(c.txt)
		if err != nil {
			t.Errorf("%.40q: %v", c.txt, err)
			continue
		}
		if k.Bits != c.bits {
			t.Errorf("%.40q: %d bits, want %d", c.txt, k.Bits, c.bits)
		}
		ps := k.Problems()
		if c.level == "" && len(ps) > 0 {
			t.Errorf("%.40q: unexpected %+v", c.txt, ps)
		}
		if c.level != "" && (len(ps) == 0 || ps[0].Level != c.level || !strings.Contains(ps[0].Text, c.text)) {
			t.Errorf("%.40q: got %+v, want %s %q", c.txt, ps, c.level, c.text)
		}
	}
	for _, bad := range []string{"v=DKIM1; k=rsa", "k=rsa; v=DKIM1; p=" + rsaKey(t, 2048), "v=DKIM1; p=!!!", "v=DKIM1; k=dsa; p=" + rsaKey(t, 2048), "v=DKIM1; k=ed25519; p=" + rsaKey(t, 2048)} {
		if _, err := ParseKey(bad); err == nil {
			t.Errorf("%.50q: want an error", bad)
		}
	}
}

func TestLookupAndProbe(t *testing.T) {
	long := rsaKey(t, 2048)
	zone := fmt.Sprintf(`
s1._domainkey.example.test.         CNAME s1.domainkey.u123.wl.sendgrid.net.
s1.domainkey.u123.wl.sendgrid.net.  TXT "v=DKIM1; k=rsa; p=%s" "%s"
google._domainkey.example.test.     TXT "v=DKIM1; p=%s"
old._domainkey.example.test.        TXT "v=DKIM1; p="
loop._domainkey.example.test.       CNAME loop2._domainkey.example.test.
loop2._domainkey.example.test.      CNAME loop._domainkey.example.test.
`, long[:200], long[200:], rsaKey(t, 1024))
	srv := dnstest.Start(t, zone)
	res, err := resolver.New(resolver.Config{Servers: []string{srv.Addr}, Timeout: time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l := LookupKey(ctx, res, "s1", "example.test")
	if !l.Found || l.Key == nil || l.Key.Bits != 2048 || l.ESP != "esp:sendgrid" || len(l.CNAMEs) != 1 {
		t.Errorf("s1: %+v", l)
	}
	if l := LookupKey(ctx, res, "old", "example.test"); l.Key == nil || !l.Key.Revoked {
		t.Errorf("old: %+v", l)
	}
	if l := LookupKey(ctx, res, "loop", "example.test"); l.Err == nil || l.Found {
		t.Errorf("CNAME loop must be an error: %+v", l)
	}
	srv.ServFail("k1._domainkey.example.test")
	got := Probe(ctx, res, "example.test", CommonSelectors)
	var found []string
	var errs int
	for _, l := range got {
		if l.Found {
			found = append(found, l.Selector)
		}
		if l.Err != nil {
			errs++
		}
	}
	if strings.Join(found, ",") != "google,s1" || errs != 1 {
		t.Errorf("probe found %v with %d errors", found, errs)
	}
	if srv.Queries("selector1._domainkey.example.test", dns.TypeToString[dns.TypeTXT]) != 1 {
		t.Error("selector1 not probed exactly once")
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add("v=DKIM1; k=rsa; p=" + rsaKey(f, 1024))
	f.Add("v=DKIM1; k=ed25519; t=y:s; h=sha256; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
	f.Add("v=DKIM1; p=")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err == nil && !k.Revoked && k.Bits == 0 {
			t.Fatalf("%q: a key without a size", s)
		}
	})
}

// ESPFor reads triage's host table: the same ESP pools the PTR check knows.
func TestESPForUsesTheHostTable(t *testing.T) {
	for name, want := range map[string]string{
		"s1.domainkey.u9.wl123.sendgrid.net.":                      "esp:sendgrid",
		"zendesk1._domainkey.zendesk.com":                          "esp:zendesk",
		"selector1-example-com._domainkey.example.onmicrosoft.com": "microsoft",
		"dkim.notsendgrid.net":                                     "",
	} {
		if got := ESPFor(name); got != want {
			t.Errorf("ESPFor(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestKeyTypeMismatchSaid: an ed25519 key published as k=rsa is said in words, never as
// the ASN.1 parser's internals.
func TestKeyTypeMismatchSaid(t *testing.T) {
	_, err := ParseKey("v=DKIM1; k=rsa; p=" + edKey(t))
	if err == nil || strings.Contains(err.Error(), "asn1") || !strings.Contains(err.Error(), "k=ed25519") {
		t.Errorf("an ed25519 key under k=rsa: %v", err)
	}
}
