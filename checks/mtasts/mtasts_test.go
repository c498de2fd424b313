package mtasts

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/mtasts/ststest"
)

func TestParseRecord(t *testing.T) {
	r, err := ParseRecord("v=STSv1; id=20240101T000000;")
	if err != nil || r.ID != "20240101T000000" || r.String() != "v=STSv1; id=20240101T000000;" {
		t.Errorf("%+v %v", r, err)
	}
	for _, bad := range []string{"v=STSv2; id=1", "id=1; v=STSv1", "v=STSv1;", "v=STSv1; id=has-dash", "v=STSv1; id=" + strings.Repeat("a", 33), "v=STSv1; junk"} {
		if _, err := ParseRecord(bad); !errors.Is(err, ErrRecord) {
			t.Errorf("ParseRecord(%q) = %v", bad, err)
		}
	}
}

const goodPolicy = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mail.example.net\r\nmax_age: 604800\r\n"

func TestParsePolicyAndMatch(t *testing.T) {
	p, err := ParsePolicy(goodPolicy)
	if err != nil || p.Mode != Enforce || p.MaxAge != 604800 || len(p.MX) != 2 {
		t.Fatalf("%+v %v", p, err)
	}
	if p.String() != goodPolicy {
		t.Errorf("String() = %q", p.String())
	}
	for host, want := range map[string]bool{
		"mx1.example.com": true, "MX1.example.com.": true, "a.mail.example.net": true,
		"a.b.mail.example.net": false, "mail.example.net": false, "mx2.example.com": false,
	} {
		if p.Matches(host) != want {
			t.Errorf("Matches(%s) != %v", host, want)
		}
	}
	for _, bad := range []string{
		"version: STSv1\nmode: enforce\nmax_age: 10\n",
		"version: STSv1\nmode: strict\nmx: a.example\nmax_age: 10\n",
		"version: STSv1\nmode: enforce\nmx: a.example\n",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999\n",
		"version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 10\n",
		"mode: enforce\nmx: a.example\nmax_age: 10\n",
		"<html>not a policy</html>",
	} {
		if _, err := ParsePolicy(bad); !errors.Is(err, ErrPolicy) {
			t.Errorf("ParsePolicy(%q) = %v", bad, err)
		}
	}
	if p, err := ParsePolicy("version: STSv1\nmode: none\nmax_age: 86400\n"); err != nil || p.Mode != None {
		t.Errorf("mode none: %v", err)
	}
}

func TestParseTLSRPT(t *testing.T) {
	r, err := ParseTLSRPT("v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example.net/tls")
	if err != nil || len(r.RUA) != 2 {
		t.Errorf("%+v %v", r, err)
	}
	for _, bad := range []string{"v=TLSRPTv1;", "v=TLSRPTv1; rua=ftp://x.example/", "rua=mailto:a@b.example; v=TLSRPTv1", "v=TLSRPTv2; rua=mailto:a@b.example", "v=TLSRPTv1; rua=mailto:"} {
		if _, err := ParseTLSRPT(bad); !errors.Is(err, ErrTLSRPT) {
			t.Errorf("ParseTLSRPT(%q) = %v", bad, err)
		}
	}
}

func TestFetchPolicy(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/mta-sts.txt", func(w http.ResponseWriter, r *http.Request) {
		switch r.Host {
		case "mta-sts.good.example":
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(goodPolicy))
		case "mta-sts.redirect.example":
			http.Redirect(w, r, "https://mta-sts.good.example/.well-known/mta-sts.txt", http.StatusFound)
		case "mta-sts.big.example":
			w.Write([]byte(goodPolicy + strings.Repeat("# padding\n", MaxPolicySize/10+10)))
		case "mta-sts.html.example":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>\x1b[31mhello</html>"))
		case "mta-sts.slow.example":
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	})
	var names []string
	for _, d := range []string{"good", "redirect", "big", "html", "slow", "missing"} {
		names = append(names, "mta-sts."+d+".example")
	}
	client := ststest.Server(t, mux, names...)
	ctx := context.Background()
	p, raw, err := FetchPolicy(ctx, client, "good.example")
	if err != nil || p.Mode != Enforce || raw != strings.ReplaceAll(goodPolicy, "\r\n", "\n") {
		t.Errorf("good: %+v %v", p, err)
	}
	if _, _, err := FetchPolicy(ctx, client, "redirect.example"); !errors.Is(err, ErrRedirect) {
		t.Errorf("redirect followed or misread: %v", err)
	}
	if _, _, err := FetchPolicy(ctx, client, "big.example"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	if _, _, err := FetchPolicy(ctx, client, "missing.example"); !errors.Is(err, ErrStatus) {
		t.Errorf("404: %v", err)
	}
	_, raw, err = FetchPolicy(ctx, client, "html.example")
	if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "text/html") || strings.Contains(raw, "\x1b") {
		t.Errorf("html: %v %q", err, raw)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, _, err := FetchPolicy(short, client, "slow.example"); err == nil || time.Since(start) > time.Second {
		t.Errorf("slow server: %v after %v", err, time.Since(start))
	}
	// A certificate for another name is a verification failure, not a policy.
	other := ststest.Server(t, mux, "other.test")
	if _, _, err := FetchPolicy(ctx, other, "good.example"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("wrong certificate accepted: %v", err)
	}
}
