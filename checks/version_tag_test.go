package checks

import (
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/checks/dmarc"
	"github.com/unblock-mail/unblock/checks/mtasts"
)

const versionTagZone = `
_dmarc.lead.vt.test.     TXT " v=DMARC1; p=reject"
lead.vt.test.            A 127.0.0.1
_dmarc.sub.org.vt.test.  TXT " v=DMARC1; p=none"
sub.org.vt.test.         A 127.0.0.1
_dmarc.org.vt.test.      TXT "v=DMARC1; p=reject; rua=mailto:d@org.vt.test"
_dmarc.spaced.vt.test.   TXT "v = DMARC1; p=reject; rua=mailto:d@spaced.vt.test"
_dmarc.np.vt.test.       TXT "v=DMARC1; p=reject; np=none; rua=mailto:d@np.vt.test"
_dmarc.sp.vt.test.       TXT "v=DMARC1; p=reject; sp=none; rua=mailto:d@sp.vt.test"
a.sp.vt.test.            A 127.0.0.1
_smtp._tls.lead.vt.test. TXT " v=TLSRPTv1; rua=mailto:tls@lead.vt.test"
_smtp._tls.eq.vt.test.   TXT "v = TLSRPTv1; rua=mailto:tls@eq.vt.test"
_smtp._tls.ok.vt.test.   TXT "v=TLSRPTv1; rua=mailto:tls@ok.vt.test"
`

// TestVersionTagFirst: DMARC (RFC 7489 §6.6.3, RFC 9989 §4.7) and TLS-RPT (RFC 8460 §3)
// records that do not start with their version tag are discarded, a leading space
// included; the policy then comes from the next record on the walk. "v = DMARC1" is in
// RFC 7489's grammar: accepted, with a warning that some receivers disagree. The fix for
// a none that came from np= or sp= changes that tag, and the summary names it.
func TestVersionTagFirst(t *testing.T) {
	env, _ := liveEnv(t, versionTagZone)
	for _, c := range []struct {
		name, id, domain string
		status           Status
		want, fix        string
		applied          string
	}{
		{"RFC 7489 §6.6.3 leading space: discarded", "dmarc", "lead.vt.test", Fail, "receivers ignore it", `"v=DMARC1; p=reject"`, ""},
		{"RFC 9989 §4.10 leading space at the subdomain: the org policy applies", "dmarc", "sub.org.vt.test", Fail, "receivers ignore it", "", "reject"},
		{"RFC 7489 §6.4 spaces around =: accepted with a warning", "dmarc", "spaced.vt.test", Warn, `spaces around "="`, `"v=DMARC1; p=reject; rua=mailto:d@spaced.vt.test"`, "reject"},
		{"RFC 9989 §4.7 np=none for a domain that does not exist", "dmarc", "gone.np.vt.test", Warn, "np=none applies to gone.np.vt.test", `"v=DMARC1; p=reject; np=quarantine; rua=mailto:d@np.vt.test"`, "none"},
		{"RFC 9989 §4.7 sp=none for a subdomain", "dmarc", "a.sp.vt.test", Warn, "sp=none applies to a.sp.vt.test", `"v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@sp.vt.test"`, "none"},
		{"RFC 8460 §3 TLS-RPT leading space: discarded", "tls-rpt", "lead.vt.test", Fail, `does not begin with "v=TLSRPTv1"`, `"v=TLSRPTv1; rua=mailto:tls@lead.vt.test"`, ""},
		{"RFC 8460 §3 TLS-RPT spaces around =: discarded", "tls-rpt", "eq.vt.test", Fail, `does not begin with "v=TLSRPTv1"`, `"v=TLSRPTv1; rua=mailto:tls@eq.vt.test"`, ""},
		{"RFC 8460 §3 TLS-RPT as written", "tls-rpt", "ok.vt.test", Pass, "tls@ok.vt.test", "", ""},
	} {
		r := runLive(t, env, c.id, Target{Domain: c.domain})
		all := r.Summary + "\n" + strings.Join(anyStrings(r.Details["notes"]), "\n")
		if r.Status != c.status || !strings.Contains(all, c.want) || !strings.Contains(r.Fix, c.fix) {
			t.Errorf("%s: %s %q fix %q; want %s with %q, fix %q", c.name, r.Status, all, r.Fix, c.status, c.want, c.fix)
		}
		if c.applied != "" && r.Details["applied_policy"] != c.applied {
			t.Errorf("%s: applied policy %v, want %s", c.name, r.Details["applied_policy"], c.applied)
		}
		if c.applied == "none" && strings.Contains(r.Fix, "p=quarantine; sp=none") {
			t.Errorf("%s: the fix changes p= instead of the tag that applies: %q", c.name, r.Fix)
		}
	}
}

func TestVersionTagParsers(t *testing.T) {
	for txt, want := range map[string]bool{
		"v=DMARC1; p=none": true, "v=DMARC1": true, "V=DMARC1;p=none": true, "v = DMARC1; p=none": true,
		"v=DMARC1 ; p=none": true, " v=DMARC1; p=none": false, "\tv=DMARC1; p=none": false,
		"p=none; v=DMARC1": false, "v=DMARC10; p=none": false, "v=dmarc1; p=none": false, "v=DMARC1 p=none": false,
	} {
		if got := dmarc.IsRecord(txt); got != want {
			t.Errorf("dmarc.IsRecord(%q) = %v, want %v (RFC 7489 §6.4, §6.6.3)", txt, got, want)
		}
	}
	if r, err := dmarc.ParseRecord("v = DMARC1; p=reject"); err != nil || !r.SpacedVersion {
		t.Errorf("spaced version: %v %+v", err, r)
	}
	for txt, want := range map[string]bool{
		"v=TLSRPTv1; rua=mailto:a@b": true, "v=TLSRPTv1;rua=mailto:a@b": true, " v=TLSRPTv1; rua=mailto:a@b": false,
		"v = TLSRPTv1; rua=mailto:a@b": false, "v=TLSRPTv10; rua=mailto:a@b": false, "rua=mailto:a@b; v=TLSRPTv1": false,
	} {
		if got := mtasts.IsTLSRPT(txt); got != want {
			t.Errorf("mtasts.IsTLSRPT(%q) = %v, want %v (RFC 8460 §3)", txt, got, want)
		}
	}
}
