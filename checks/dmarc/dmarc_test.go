package dmarc

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
)

const zone = `
_dmarc.example.test.        TXT "v=DMARC1; p=reject; sp=quarantine; np=reject; rua=mailto:agg@example.test,mailto:d@reports.vendor.test; ruf=mailto:f@other.test"
example.test._report._dmarc.reports.vendor.test. TXT "v=DMARC1"
_dmarc.none.test.           TXT "v=DMARC1; p=none; pct=50; ri=3600"
_dmarc.two.test.            TXT "v=DMARC1; p=none"
_dmarc.two.test.            TXT "v=DMARC1; p=reject"
_dmarc.bad.test.            TXT "v=DMARC1; p=bounce"
_dmarc.psd.               TXT "v=DMARC1; p=reject; psd=y"
_dmarc.org.psd.           TXT "v=DMARC1; p=quarantine"
`

func setup(t *testing.T) (*dnstest.Server, *resolver.Resolver) {
	t.Helper()
	srv := dnstest.Start(t, zone)
	res, err := resolver.New(resolver.Config{Servers: []string{srv.Addr}, Timeout: time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return srv, res
}

func TestParseRecord(t *testing.T) {
	r, err := ParseRecord("v=DMARC1; p=quarantine; adkim=s; t=y; fo=1:d; pct=20; rf=afrf")
	if err != nil {
		t.Fatal(err)
	}
	if r.Policy != PolicyQuarantine || r.ADKIM != Strict || r.ASPF != Relaxed || !r.Testing || len(r.Removed) != 2 {
		t.Errorf("parsed %+v", r)
	}
	if got := r.With("p", "reject"); got != "v=DMARC1; p=reject; adkim=s; t=y; fo=1:d" {
		t.Errorf("With: %q, want p changed and pct, rf left out", got)
	}
	for _, bad := range []string{"v=DMARC1; p=none; p=reject", "v=spf1 -all", "p=reject; v=DMARC1"} {
		if _, err := ParseRecord(bad); !errors.Is(err, ErrSyntax) {
			t.Errorf("%q: want a syntax error, got %v", bad, err)
		}
	}
	// A bad value is discarded for the default, not the whole record (RFC 7489 §6.3,
	// RFC 9989 §4.7): a missing or unknown p= reads as p=none.
	for _, rec := range []string{"v=DMARC1; p=bounce", "v=DMARC1; rua=http://x", "v=DMARC1", "v=DMARC1; p=none; adkim=x"} {
		r, err := ParseRecord(rec)
		if err != nil || r.Policy != PolicyNone || len(r.Invalid) == 0 || r.ADKIM != Relaxed || len(r.RUA) != 0 {
			t.Errorf("%q: got %+v, %v; want p=none with the bad value named", rec, r, err)
		}
	}
}

func TestWalkNames(t *testing.T) {
	got := WalkNames("a.b.c.d.e.f.g.h.i.example.com")
	want := []string{"a.b.c.d.e.f.g.h.i.example.com", "e.f.g.h.i.example.com", "f.g.h.i.example.com", "g.h.i.example.com", "h.i.example.com", "i.example.com", "example.com", "com"}
	if !slices.Equal(got, want) {
		t.Errorf("walk %v, want %v", got, want)
	}
	if len(got) > MaxQueries {
		t.Errorf("%d queries", len(got))
	}
}

func TestDiscover(t *testing.T) {
	srv, res := setup(t)
	ctx := context.Background()

	d := Discover(ctx, res, "mail.example.test")
	if d.Err != nil || d.Policy == nil || d.Policy.Domain != "example.test" || d.OrgDomain != "example.test" {
		t.Fatalf("mail.example.test: %+v", d)
	}
	if p := d.Policy.Record.Applied("mail.example.test", "example.test", true); p != PolicyQuarantine {
		t.Errorf("subdomain policy %s", p)
	}
	if p := d.Policy.Record.Applied("gone.example.test", "example.test", false); p != PolicyReject {
		t.Errorf("non-existent policy %s", p)
	}
	ext := CheckReportDestinations(ctx, res, "example.test", d.OrgDomain, append(d.Policy.Record.RUA, d.Policy.Record.RUF...))
	if len(ext) != 2 || !ext[0].Authorized || ext[1].Authorized || ext[1].DestDomain != "other.test" {
		t.Errorf("external destinations %+v", ext)
	}

	if d := Discover(ctx, res, "x.org.psd"); d.OrgDomain != "org.psd" || d.Policy.Domain != "org.psd" {
		t.Errorf("psd: %+v", d)
	}
	if d := Discover(ctx, res, "two.test"); d.Policy != nil || len(d.Found) != 1 || len(d.Found[0].Several) != 2 {
		t.Errorf("two records: %+v", d)
	}
	// An unknown p= is read as p=none (RFC 9989 §4.7): the record still counts.
	if d := Discover(ctx, res, "bad.test"); d.Policy == nil || d.Policy.Record.Policy != PolicyNone || len(d.Policy.Record.Invalid) != 1 {
		t.Errorf("bad record: %+v", d)
	}
	if d := Discover(ctx, res, "absent.test"); d.Policy != nil || d.Err != nil || d.OrgDomain != "absent.test" {
		t.Errorf("absent: %+v", d)
	}

	srv.ServFail("_dmarc.broken.test")
	if d := Discover(ctx, res, "broken.test"); d.Err == nil || d.Policy != nil {
		t.Errorf("SERVFAIL must be an error, never absent: %+v", d)
	}
}

func TestAligned(t *testing.T) {
	if !Aligned(Relaxed, "example.test", "example.test", "bounce.example.test", "example.test") {
		t.Error("relaxed subdomain not aligned")
	}
	if Aligned(Strict, "example.test", "example.test", "bounce.example.test", "example.test") {
		t.Error("strict subdomain aligned")
	}
	if Aligned(Relaxed, "example.test", "example.test", "esp.test", "esp.test") {
		t.Error("other domain aligned")
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{"v=DMARC1; p=reject", "v=DMARC1; p=none; rua=mailto:a@b.test!10m; fo=1:d; psd=y", "v=DMARC1;p=quarantine;sp=none;np=reject;t=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err != nil {
			return
		}
		back, err := ParseRecord(r.String())
		if err != nil {
			t.Fatalf("%q printed back as %q: %v", s, r.String(), err)
		}
		if back.Policy != r.Policy {
			t.Fatalf("%q: policy %s printed back as %s", s, r.Policy, back.Policy)
		}
	})
}
