package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

// check refuses the names new refuses (W6 of the DNS trap hunt): a control character in
// --helo, --domain or --selector is bad input, exit 2 with one line naming the flag, and
// the name is never looked up nor written back raw.
func TestCheckRefusesControlCharactersInNames(t *testing.T) {
	srv := dnstest.Start(t, `
ok.example.               TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.ok.example.        TXT "v=DMARC1; p=reject"
mail.ok.example.          A   192.0.2.10
10.2.0.192.in-addr.arpa.  PTR mail.ok.example.
`)
	for _, tc := range []struct {
		flag string
		args []string
	}{
		{"--helo", []string{"--only", "helo", "--ip", "192.0.2.10", "--domain", "ok.example", "--helo", "mail\x1b[31m.ok.example"}},
		{"--domain", []string{"--only", "spf,dmarc", "--ip", "192.0.2.10", "--domain", "ok\x1b[31m.example"}},
		{"--domain", []string{"--only", "spf", "--ip", "192.0.2.10", "--domain", "a\x1b[2J@ok.example"}},
		{"--selector", []string{"--only", "dkim", "--ip", "192.0.2.10", "--domain", "ok.example", "--selector", "go\x1b[2Jod"}},
		{"--selector", []string{"--only", "dkim", "--ip", "192.0.2.10", "--domain", "ok.example", "--selector", "s1\x07"}},
		{"--recipient-domain", []string{"--only", "recipient", "--ip", "192.0.2.10", "--domain", "ok.example", "--recipient-domain", "c\x9b1m.example"}},
		{"--recipient-domain", []string{"--only", "recipient", "--ip", "192.0.2.10", "--domain", "ok.example", "--recipient-domain", "c\u009b1m.example"}},
		{"--helo", []string{"--only", "helo", "--ip", "192.0.2.10", "--domain", "ok.example", "--helo", "mail.ok.example\u202e"}},
	} {
		for _, asJSON := range []bool{false, true} {
			args := append([]string{"check", "--resolver", srv.Addr}, tc.args...)
			if asJSON {
				args = append(args, "--json")
			}
			before := srv.Total()
			var out, errb bytes.Buffer
			code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
			if code != 2 {
				t.Errorf("%q: exit %d, want 2; stdout %q", args, code, out.String())
			}
			if out.Len() > 0 {
				t.Errorf("%q: stdout %q, want nothing", args, out.String())
			}
			msg := errb.String()
			if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "unblock: "+tc.flag+" ") ||
				!(strings.Contains(msg, "is not a domain name") || strings.Contains(msg, "is not a host name") || strings.Contains(msg, "is not an address") || strings.Contains(msg, "is not a DKIM selector")) {
				t.Errorf("%q: stderr %q, want one line naming %s and what is wrong", args, msg, tc.flag)
			}
			if strings.ContainsAny(msg, "\x1b\x07\u009b") {
				t.Errorf("%q: stderr holds a raw control character: %q", args, msg)
			}
			if n := srv.Total() - before; n > 0 {
				t.Errorf("%q: %d DNS queries for a name that was refused", args, n)
			}
		}
	}

	// What new accepts, check accepts: the same function decides.
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"check", "--resolver", srv.Addr, "--only", "spf,dmarc,helo",
		"--ip", "192.0.2.10", "--domain", "ok.example", "--helo", "mail.ok.example", "--selector", "s1", "--json"},
		strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("a valid run: exit %d, stderr %q, stdout %s", code, errb.String(), out.String())
	}
}

// Whatever a check lets through, the JSON document holds no control character but tab and
// newline: jq -r prints a \u001b as a real ESC.
func TestCheckJSONHoldsNoControlCharacters(t *testing.T) {
	res, err := resolver.ForRun([]string{"127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name string   `json:"name"`
		Seen []string `json:"seen"`
	}
	bad := "x\x1b[31my\x07\u009b\r"
	r := checks.Result{ID: "dkim", Status: checks.Fail, Summary: "selector " + bad, Fix: "publish\n" + bad,
		Details: map[string]any{"selectors": []row{{Name: bad, Seen: []string{bad}}}, bad: 1, "n": uint64(1) << 60}}
	var out bytes.Buffer
	tg := checks.Target{Domain: bad, HELO: bad, Selectors: []string{bad}}
	if err := writeCheckJSON(&out, tg, res, 0, []checks.Result{r}); err != nil {
		t.Fatal(err)
	}
	for _, esc := range []string{`\u001b`, `\u0007`, `\r`, "\u009b"} {
		if strings.Contains(out.String(), esc) {
			t.Errorf("the JSON holds %q:\n%s", esc, out.String())
		}
	}
	if !strings.Contains(out.String(), `"n": 1152921504606846976`) {
		t.Errorf("a large number changed on its way through:\n%s", out.String())
	}
}
