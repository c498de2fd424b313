package checks

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/mtasts/ststest"
)

const stsZone = `
enforce.example. MX 10 mx1.enforce.example.
_mta-sts.enforce.example. TXT "v=STSv1; id=2024a;"
mta-sts.enforce.example. A 127.0.0.1

mismatch.example. MX 10 mx1.mismatch.example.
mismatch.example. MX 20 backup.other.example.
_mta-sts.mismatch.example. TXT "v=STSv1; id=1;"
mta-sts.mismatch.example. A 127.0.0.1

testing.example. MX 10 backup.other.example.
_mta-sts.testing.example. TXT "v=STSv1; id=1;"
mta-sts.testing.example. A 127.0.0.1

off.example. MX 10 mx.off.example.
_mta-sts.off.example. TXT "v=STSv1; id=1;"
mta-sts.off.example. A 127.0.0.1

redirect.example. MX 10 mx.redirect.example.
_mta-sts.redirect.example. TXT "v=STSv1; id=1;"
mta-sts.redirect.example. A 127.0.0.1

big.example. MX 10 mx.big.example.
_mta-sts.big.example. TXT "v=STSv1; id=1;"
mta-sts.big.example. A 127.0.0.1

slow.example. MX 10 mx.slow.example.
_mta-sts.slow.example. TXT "v=STSv1; id=1;"
mta-sts.slow.example. A 127.0.0.1

nohost.example. MX 10 mx.nohost.example.
_mta-sts.nohost.example. TXT "v=STSv1; id=1;"

two.example. TXT "unrelated"
_mta-sts.two.example. TXT "v=STSv1; id=1;"
_mta-sts.two.example. TXT "v=STSv1; id=2;"
_mta-sts.badrec.example. TXT "v=STSv1; id=not-valid!"
_mta-sts.none.example. TXT "google-site-verification=abc"

_smtp._tls.enforce.example. TXT "v=TLSRPTv1; rua=mailto:tls@enforce.example"
_smtp._tls.two.example. TXT "v=TLSRPTv1; rua=mailto:a@two.example"
_smtp._tls.two.example. TXT "v=TLSRPTv1; rua=mailto:b@two.example"
_smtp._tls.badrec.example. TXT "v=TLSRPTv1; rua=ftp://x.example/"
_smtp._tls.evil.example. TXT "v=TLSRPTv1; rua=mailto:a@evil.example\027[2J"
`

func TestMTASTSCheck(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/mta-sts.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		switch r.Host {
		case "mta-sts.enforce.example", "mta-sts.mismatch.example":
			w.Write([]byte("version: STSv1\nmode: enforce\nmx: *.enforce.example\nmx: mx1.mismatch.example\nmax_age: 604800\n"))
		case "mta-sts.testing.example":
			w.Write([]byte("version: STSv1\nmode: testing\nmx: mx1.testing.example\nmax_age: 604800\n"))
		case "mta-sts.off.example":
			w.Write([]byte("version: STSv1\nmode: none\nmax_age: 86400\n"))
		case "mta-sts.redirect.example":
			http.Redirect(w, r, "https://elsewhere.example/policy", http.StatusMovedPermanently)
		case "mta-sts.big.example":
			w.Write([]byte(strings.Repeat("x", 70<<10)))
		case "mta-sts.slow.example":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
			}
		}
	})
	var names []string
	for _, d := range []string{"enforce", "mismatch", "testing", "off", "redirect", "big", "slow"} {
		names = append(names, "mta-sts."+d+".example")
	}
	mtastsClient = ststest.Server(t, mux, names...)
	defer func() { mtastsClient = nil }()
	env, s := liveEnv(t, stsZone)
	s.ServFail("_mta-sts.servfail.example")
	s.Hang("mx.slow.example")
	for _, c := range []liveCase{
		{"enforce", Target{Domain: "enforce.example"}, Pass, "MTA-STS mode enforce, id 2024a; every MX (mx1.enforce.example) matches"},
		{"enforce mismatch", Target{Domain: "mismatch.example"}, Fail, "MX backup.other.example matches no mx line"},
		{"testing mismatch", Target{Domain: "testing.example"}, Warn, "would fail under enforce"},
		{"mode none", Target{Domain: "off.example"}, Warn, "switched off"},
		{"redirect", Target{Domain: "redirect.example"}, Fail, "redirects"},
		{"oversized", Target{Domain: "big.example"}, Fail, "larger than 64 KB"},
		{"no policy host", Target{Domain: "nohost.example"}, Fail, "does not resolve"},
		{"two records", Target{Domain: "two.example"}, Fail, "2 MTA-STS records"},
		{"bad record", Target{Domain: "badrec.example"}, Fail, "id must be"},
		{"absent", Target{Domain: "none.example"}, Warn, "no MTA-STS record"},
		{"servfail", Target{Domain: "servfail.example"}, Error, "SERVFAIL"},
		{"no domain", Target{HELO: "x.example"}, Skip, "no sending domain"},
	} {
		r := c.check(t, env, "mta-sts")
		if c.name == "enforce mismatch" && !strings.Contains(r.Fix, "mx: backup.other.example") {
			t.Errorf("fix: %q", r.Fix)
		}
	}
}

func TestMTASTSCheckCertificateAndDeadline(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/mta-sts.txt", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mtastsClient = ststest.Server(t, mux, "somebody-else.example")
	defer func() { mtastsClient = nil }()
	env, _ := liveEnv(t, stsZone)
	r := runLive(t, env, "mta-sts", Target{Domain: "enforce.example"})
	if r.Status != Fail || !strings.Contains(r.Summary, "certificate") {
		t.Errorf("wrong certificate: %s %q", r.Status, r.Summary)
	}
	mtastsClient = ststest.Server(t, mux, "mta-sts.slow.example")
	ctxRun := time.Now()
	for _, res := range runOnly(t, env, "mta-sts", Target{Domain: "slow.example"}, 300*time.Millisecond) {
		if res.Status != Error {
			t.Errorf("a server that never answers: %s %q", res.Status, res.Summary)
		}
	}
	if took := time.Since(ctxRun); took > 2*time.Second {
		t.Errorf("the run's deadline did not hold: %v", took)
	}
}

func TestTLSRPTCheck(t *testing.T) {
	env, s := liveEnv(t, stsZone)
	s.ServFail("_smtp._tls.servfail.example")
	for _, c := range []liveCase{
		{"good", Target{Domain: "enforce.example"}, Pass, "mailto:tls@enforce.example"},
		{"two", Target{Domain: "two.example"}, Fail, "2 TLS-RPT records"},
		{"bad", Target{Domain: "badrec.example"}, Fail, "mailto: or https:"},
		{"absent", Target{Domain: "none.example"}, Warn, "no TLS-RPT record"},
		{"servfail", Target{Domain: "servfail.example"}, Error, "SERVFAIL"},
		{"escape", Target{Domain: "evil.example"}, Pass, "␛[2J"},
		{"no domain", Target{HELO: "x.example"}, Skip, "no sending domain"},
	} {
		c.check(t, env, "tls-rpt")
	}
}
