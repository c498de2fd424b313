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
