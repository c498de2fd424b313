package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// The receivers' fixtures in their containers (gzip, zip, a mail, an mbox) through the
// command: JSON that decodes to the sums, the mail without a report named on stderr.
func TestReportsJSONOfReceivers(t *testing.T) {
	var out, errb bytes.Buffer
	t.Setenv("NO_COLOR", "1")
	code := run(context.Background(), []string{"reports", "--json", "../../casefile/reports/testdata/reports"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := strings.TrimSpace(errb.String()); !strings.HasSuffix(got, "rua.mbox: mail 1: a mail with no report attached") || strings.Count(got, "\n") != 0 {
		t.Errorf("stderr: %q", got)
	}
	var s struct {
		DMARC []struct {
			IP    string `json:"ip"`
			Total struct {
				Messages    int64            `json:"messages"`
				DKIMAligned int64            `json:"dkim_aligned"`
				Disposition map[string]int64 `json:"disposition"`
				First       string           `json:"first"`
				Last        string           `json:"last"`
			} `json:"total"`
			Receivers []struct {
				Name string `json:"receiver"`
			} `json:"receivers"`
		} `json:"dmarc"`
		TLS []struct {
			Domain string `json:"domain"`
		} `json:"tls_rpt"`
		SNDS []struct {
			IP   string `json:"ip"`
			Days []struct {
				Filter string `json:"filter"`
			} `json:"days"`
		} `json:"snds"`
		Reports int `json:"reports"`
	}
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if s.Reports != 7 || len(s.DMARC) != 3 || len(s.TLS) != 1 || len(s.SNDS) != 3 {
		t.Fatalf("reports %d, DMARC %d, TLS %d, SNDS %d", s.Reports, len(s.DMARC), len(s.TLS), len(s.SNDS))
	}
	top := s.DMARC[0]
	if top.IP != "203.0.113.25" || top.Total.Messages != 2778 || top.Total.DKIMAligned != 2751 || top.Total.Disposition["quarantine"] != 4 ||
		top.Total.First != "2026-11-24T00:00:00Z" || len(top.Receivers) != 4 {
		t.Errorf("203.0.113.25: %+v", top)
	}
}
