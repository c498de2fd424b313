package checks

import (
	"strings"
	"testing"
)

func TestDKIMCheck(t *testing.T) {
	env, srv := authEnv(t, authZone)
	srv.ServFail("bad._domainkey.good.test")
	cases := []authCase{
		{"given selector", Target{Domain: "good.test", Selectors: []string{"s1"}}, Pass, "key published for selector(s) s1", ""},
		{"probe", Target{Domain: "good.test"}, Pass, "keys found at selector(s) google, s1", ""},
		{"probe finds nothing", Target{Domain: "none.test"}, Warn, "absence proves nothing", ""},
		{"1024-bit", Target{Domain: "good.test", Selectors: []string{"weak"}}, Warn, "1024 bits", "2048-bit"},
		{"768-bit", Target{Domain: "good.test", Selectors: []string{"tiny"}}, Fail, "768 bits", "2048-bit"},
		{"revoked", Target{Domain: "good.test", Selectors: []string{"old"}}, Fail, "revoked", ""},
		{"missing selector", Target{Domain: "good.test", Selectors: []string{"nope"}}, Fail, "selector nope has no key", "nope._domainkey.good.test"},
		{"escape in key", Target{Domain: "escape.test", Selectors: []string{"esc"}}, Fail, "broken", ""},
		{"servfail", Target{Domain: "good.test", Selectors: []string{"bad"}}, Error, "SERVFAIL", ""},
		{"cname loop", Target{Domain: "cname.test", Selectors: []string{"x"}}, Fail, "has no key", ""},
		{"no domain", Target{HELO: "mail.good.test"}, Skip, "no sending domain", ""},
	}
	for _, c := range cases {
		r := c.run(t, env, "dkim")
		if c.name == "given selector" {
			rows, _ := r.Details["selectors"].([]map[string]any)
			if len(rows) != 1 || rows[0]["esp"] != "esp:sendgrid" || rows[0]["bits"] != 2048 {
				t.Errorf("s1 details %v", rows)
			}
		}
		if c.name == "probe" && !strings.Contains(r.Summary, "others may exist") {
			t.Errorf("probe summary %q does not say others may exist", r.Summary)
		}
	}
}
