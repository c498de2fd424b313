package checks

import (
	"strings"
	"testing"
)

func TestDMARCCheck(t *testing.T) {
	env, srv := authEnv(t, authZone)
	srv.ServFail("_dmarc.servfail.test")
	cases := []authCase{
		{"reject", Target{Domain: "good.test"}, Pass, "policy reject for good.test at _dmarc.good.test; organizational domain good.test", ""},
		{"inherited", Target{Domain: "news.good.test"}, Pass, "inherited by news.good.test", ""},
		{"p=none", Target{Domain: "neutral.test"}, Warn, "p=none", `_dmarc.neutral.test. IN TXT "v=DMARC1; p=quarantine; rua=mailto:r@reports.vendor.test"`},
		{"absent", Target{Domain: "none.test"}, Fail, "no DMARC policy for none.test", `_dmarc.none.test. IN TXT "v=DMARC1; p=none`},
		{"several records", Target{Domain: "broken.test"}, Fail, "has 2 DMARC records", ""},
		{"escape in rua", Target{Domain: "escape.test"}, Warn, "p=none", ""},
		{"servfail", Target{Domain: "servfail.test"}, Error, "SERVFAIL", ""},
		{"no domain", Target{}, Skip, "no sending domain", ""},
	}
	for _, c := range cases {
		r := c.run(t, env, "dmarc")
		switch c.name {
		case "p=none":
			notes, _ := r.Details["notes"].([]string)
			if !authHasNote(notes, "pct was removed") || !authHasNote(notes, "has not agreed to receive reports") {
				t.Errorf("p=none notes %q: want the removed pct and the unauthorised destination", notes)
			}
		case "several records":
			notes, _ := r.Details["notes"].([]string)
			if !authHasNote(notes, "no DMARC policy") {
				t.Errorf("several records: notes %q", notes)
			}
		}
	}
}

func authHasNote(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// TestDMARCFixesKeepIntent: the fix for a record with pct under 100 keeps the rollout in
// test mode (t=y) instead of enforcing the policy on everything, and a rua= written without
// mailto: gets it, rather than the record given back unchanged.
func TestDMARCFixesKeepIntent(t *testing.T) {
	env, _ := liveEnv(t, `
_dmarc.pct0.test.   TXT "v=DMARC1; p=reject; pct=0; rua=mailto:d@pct0.test"
_dmarc.pct100.test. TXT "v=DMARC1; p=reject; pct=100; rua=mailto:d@pct100.test"
_dmarc.rua.test.    TXT "v=DMARC1; p=reject; rua=d@rua.test"
pct0.test. A 192.0.2.1
pct100.test. A 192.0.2.1
rua.test. A 192.0.2.1
`)
	for domain, want := range map[string]string{
		"pct0.test":   `"v=DMARC1; p=reject; rua=mailto:d@pct0.test; t=y"`,
		"pct100.test": `"v=DMARC1; p=reject; rua=mailto:d@pct100.test"`,
		"rua.test":    `"v=DMARC1; p=reject; rua=mailto:d@rua.test"`,
	} {
		r := runLive(t, env, "dmarc", Target{Domain: domain})
		if !strings.Contains(r.Fix, "_dmarc."+domain+". IN TXT "+want) {
			t.Errorf("%s: %s %q\nfix: %s\nwant %s", domain, r.Status, r.Summary, r.Fix, want)
		}
	}
}

// TestDMARCReportAddressTrouble: a rua= whose domain cannot exist is a warning (receivers
// send no reports), and an authorization lookup that fails is said in the result, not
// left in the details of a plain pass.
func TestDMARCReportAddressTrouble(t *testing.T) {
	env, srv := liveEnv(t, `
_dmarc.baddom.test. TXT "v=DMARC1; p=reject; rua=mailto:d@bad..example"
_dmarc.extsf.test.  TXT "v=DMARC1; p=reject; rua=mailto:d@reports.example"
baddom.test. A 192.0.2.1
extsf.test. A 192.0.2.1
`)
	srv.ServFail("extsf.test._report._dmarc.reports.example")
	r := runLive(t, env, "dmarc", Target{Domain: "baddom.test"})
	if r.Status != Warn || !strings.Contains(r.Summary, "no valid domain") {
		t.Errorf("bad rua domain: %s %q", r.Status, r.Summary)
	}
	r = runLive(t, env, "dmarc", Target{Domain: "extsf.test"})
	notes, _ := r.Details["notes"].([]string)
	if r.Status != Pass || !strings.Contains(strings.Join(notes, "\n"), "whether reports.example accepts reports for extsf.test could not be checked") {
		t.Errorf("unreadable authorization: %s %q notes %q", r.Status, r.Summary, notes)
	}
}
