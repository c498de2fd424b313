package casefile

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/reports"
	"github.com/unblock-mail/unblock/casefile/triage"
)

// receiversReports reads the reports package's fixtures: Google, Microsoft, Yahoo and
// Mimecast aggregate reports, a TLS-RPT report and SNDS exports, all about example.com
// and 203.0.113.25.
func receiversReports(t *testing.T, c *Case) *reports.Summary {
	t.Helper()
	o := reports.Options{IPs: c.Identifiers.IPs}
	rd := reports.NewReader(o)
	if err := rd.ReadPaths(context.Background(), []string{"reports/testdata/reports"}); err != nil {
		t.Fatal(err)
	}
	return rd.Summary()
}

func reportCase() *Case {
	c := &Case{ID: "2026-12-01-microsoft-203-0-113-25", Status: StatusOpen, Role: Sender, Provider: "microsoft", Mode: triage.HardBlock}
	c.Identifiers.IPs = []string{"203.0.113.25"}
	c.Identifiers.Domain = "example.com"
	c.Timeline = []Event{{Kind: KindFailure, At: t0, IP: "203.0.113.25", Provider: "microsoft", Mode: triage.HardBlock,
		Reply: "550 5.7.606 Access denied, banned sending IP [203.0.113.25]", ReplyCode: 550, EnhancedCode: "5.7.606"}}
	return c
}

func TestAddReportsAndEvidence(t *testing.T) {
	c := reportCase()
	sum := receiversReports(t, c)
	if n := c.AddReports(sum, "reports/", t0); n != 3 {
		t.Fatalf("AddReports kept %d summaries, want DMARC, SNDS and TLS-RPT", n)
	}
	dmarc := c.ReportEvents(ReportDMARC)
	if len(dmarc) != 1 {
		t.Fatalf("DMARC events: %+v", dmarc)
	}
	r := dmarc[0].Report
	// The fixtures' records for 203.0.113.25 (see reports_test.go).
	if r.Messages != 2778 || r.DKIMAligned != 2751 || r.SPFAligned != 2774 || r.DMARCPass != 2774 || r.Quarantined != 4 || r.Reports != 4 {
		t.Errorf("DMARC summary %+v", r)
	}
	if !slices.Equal(r.Receivers, []string{"Enterprise Outlook", "google.com", "Yahoo", "Mimecast"}) {
		t.Errorf("receivers %v", r.Receivers)
	}
	got := c.ReportEvidence()
	want := []string{
		"DMARC aggregate reports from 4 receivers, 24–27 Nov 2026: 2,778 messages from 203.0.113.25, 2,751 (99.0%) with aligned DKIM, 2,774 (99.9%) with aligned SPF; 4 (0.1%) failed DMARC (4 quarantined)",
		"SNDS for 203.0.113.25, 1–30 Nov 2026: green on 28 of 30 days (yellow on 2), complaint rate up to 0.3%, 2 trap hits, IP status not blocked",
	}
	if !slices.Equal(got, want) {
		t.Errorf("evidence:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	tls := c.ReportEvents(ReportTLS)
	if len(tls) != 1 || tls[0].Report.Sessions != 5340 || tls[0].Report.Failures["certificate-expired"] != 12 {
		t.Errorf("TLS-RPT kept as %+v", tls)
	}
	for _, l := range got {
		if strings.Contains(l, "TLS") || strings.Contains(l, "5,340") {
			t.Errorf("TLS-RPT quoted as evidence of sending: %s", l)
		}
	}
	// The same reports again change nothing; a part of them (one file) changes nothing.
	if n := c.AddReports(sum, "reports/", t0.Add(time.Hour)); n != 0 {
		t.Errorf("the same reports again changed %d events", n)
	}
	one := reports.NewReader(reports.Options{IPs: c.Identifiers.IPs})
	if err := one.ReadPaths(context.Background(), []string{"reports/testdata/reports/yahoo.com!example.com!1795651200!1795737599.zip"}); err != nil {
		t.Fatal(err)
	}
	if n := c.AddReports(one.Summary(), "yahoo.zip", t0.Add(time.Hour)); n != 0 {
		t.Errorf("a report already counted replaced the summary (%d)", n)
	}
}

// A case whose IP the reports do not name keeps nothing and says nothing.
func TestReportsAboutOtherIPs(t *testing.T) {
	c := reportCase()
	c.Identifiers.IPs = []string{"192.0.2.99"}
	c.Identifiers.Domain = "example.org"
	if n := c.AddReports(receiversReports(t, c), "reports/", t0); n != 0 {
		t.Errorf("kept %d summaries about other IPs", n)
	}
	if ev := c.ReportEvidence(); len(ev) != 0 {
		t.Errorf("evidence %v", ev)
	}
}

// A report event goes through yaml/v3, and the case loads back the same; the other
// events keep the plain form.
func TestReportEventRoundTrip(t *testing.T) {
	s := testStore(t)
	c := reportCase()
	c.ID = ""
	if err := s.Create(c, false); err != nil {
		t.Fatal(err)
	}
	c.AddReports(receiversReports(t, c), "reports/", t0)
	if err := s.Save(c); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  - kind: report\n", "    report:\n", "      type: dmarc\n", "      dkim_aligned: 2751\n",
		"      receivers: [Enterprise Outlook, google.com, Yahoo, Mimecast]\n", "        certificate-expired: 12\n",
		"  - kind: failure\n    at: 2026-11-22T09:30:00Z\n"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("the file lacks %q:\n%s", want, data)
		}
	}
	loaded, err := s.Find(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded.Timeline, c.Timeline) {
		t.Errorf("timeline changed through the file:\n%+v\n%+v", loaded.Timeline, c.Timeline)
	}
	if err := s.Save(loaded); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(c.Path())
	if !bytes.Equal(data, again) {
		t.Errorf("load and save rewrote the file")
	}
}

// Receiver-reported authentication is authentication evidence; the message quotes it
// in its block, failures included.
func TestReportsInReadinessAndMessage(t *testing.T) {
	c := reportCase()
	if !slices.Contains(c.Readiness().Missing, NeedAuthentication) {
		t.Fatalf("a case without checks or reports does not miss authentication: %+v", c.Readiness())
	}
	c.AddReports(receiversReports(t, c), "reports/", t0)
	if slices.Contains(c.Readiness().Missing, NeedAuthentication) {
		t.Errorf("DMARC aggregate reports do not count as authentication evidence: %+v", c.Readiness())
	}
	if !c.HasReportedAuthentication() {
		t.Error("HasReportedAuthentication is false")
	}
	m, err := Render(c, "postmaster", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Receivers' reports: DMARC aggregate reports from 4 receivers, 24–27 Nov 2026: 2,778 messages from 203.0.113.25",
		"4 (0.1%) failed DMARC (4 quarantined)", "SNDS for 203.0.113.25, 1–30 Nov 2026: green on 28 of 30 days"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("message lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "TLS") {
		t.Errorf("message quotes TLS-RPT:\n%s", m.Text)
	}
	// Without reports, no word of them.
	bare, err := Render(reportCase(), "postmaster", RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(bare.Text, "reports") || strings.Contains(bare.Text, "SNDS") {
		t.Errorf("a case without reports mentions them:\n%s", bare.Text)
	}
}

func TestDayRange(t *testing.T) {
	d := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	for _, c := range []struct{ first, last, want string }{
		{"2026-11-24T00:00:00Z", "2026-11-30T23:59:59Z", "24–30 Nov 2026"},
		{"2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z", "24 Nov 2026"},
		{"2026-10-28T00:00:00Z", "2026-11-03T23:59:59Z", "28 Oct – 3 Nov 2026"},
		{"2026-12-30T00:00:00Z", "2027-01-02T00:00:00Z", "30 Dec 2026 – 1 Jan 2027"},
	} {
		if got := dayRange(d(c.first), d(c.last)); got != c.want {
			t.Errorf("dayRange(%s, %s) = %q, want %q", c.first, c.last, got, c.want)
		}
	}
}

// A case that names no IP keeps the busiest few of its domain's, not every forwarder.
func TestReportsForCaseWithoutIPs(t *testing.T) {
	c := reportCase()
	c.Identifiers.IPs = nil
	sum := &reports.Summary{}
	for i := range 40 {
		sum.DMARC = append(sum.DMARC, &reports.IPReport{IP: fmt.Sprintf("198.51.100.%d", i+1),
			Total: reports.Counts{Messages: int64(1000 - i), DMARCPass: int64(1000 - i), DKIMAligned: int64(1000 - i), Reports: 1}})
	}
	if n := c.AddReports(sum, "reports/", t0); n != maxUnnamedIPs {
		t.Errorf("kept %d summaries, want %d", n, maxUnnamedIPs)
	}
	ev := c.ReportEvidence()
	if len(ev) != maxUnnamedIPs || !strings.Contains(ev[0]+ev[1]+ev[2]+ev[3]+ev[4], "from 198.51.100.1,") {
		t.Errorf("evidence %v", ev)
	}
}
