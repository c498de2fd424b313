package checks

import (
	"strings"
	"testing"
)

// TestDKIMTwoKeyRecordsAtOneSelector (RFC 6376 §3.6.2.2: key records must be unique per
// selector, the results are otherwise undefined): a live key beside a revoked one is said,
// with which one is revoked, whatever order the server returns them in.
func TestDKIMTwoKeyRecordsAtOneSelector(t *testing.T) {
	key := authTestKey(2048)
	env, _ := liveEnv(t, `
two._domainkey.dk2.test.  TXT "v=DKIM1; k=rsa; p=`+key[:200]+`" "`+key[200:]+`"
two._domainkey.dk2.test.  TXT "v=DKIM1; k=rsa; p="
one._domainkey.dk2.test.  TXT "v=DKIM1; k=rsa; p=`+key[:200]+`" "`+key[200:]+`"
one._domainkey.dk2.test.  TXT "google-site-verification=abc"
`)
	r := runLive(t, env, "dkim", Target{Domain: "dk2.test", Selectors: []string{"two"}})
	if r.Status != Fail || !strings.Contains(r.Summary, "2 key records") || !strings.Contains(r.Summary, "1 revoked") || !strings.Contains(r.Fix, "delete all but the key record you sign with") {
		t.Errorf("two records: %s %q fix %q", r.Status, r.Summary, r.Fix)
	}
	// Another TXT beside the key is several records too: a verifier that reads the first
	// (dkimpy does) finds no key. It fails as two keys do.
	r = runLive(t, env, "dkim", Target{Domain: "dk2.test", Selectors: []string{"one"}})
	if r.Status != Fail || !strings.Contains(r.Summary, "1 other TXT record") || !strings.Contains(r.Fix, "delete every TXT record at one._domainkey.dk2.test but the key record") {
		t.Errorf("one key beside another TXT record: %s %q fix %q", r.Status, r.Summary, r.Fix)
	}
}
