// Package reportstest writes DMARC aggregate reports for tests and benchmarks: many,
// of known content, in the shapes receivers send (plain, gzip, zip).
package reportstest

import (
	"archive/zip"
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// Row is one <record>.
type Row struct {
	IP          string
	Count       int64
	DKIMAligned bool
	SPFAligned  bool
	Disposition string // none, quarantine, reject
	HeaderFrom  string
}

// Report is one aggregate report.
type Report struct {
	Org, ID, Domain string
	Begin           time.Time
	// Namespace, when set, is written as the default namespace (RFC 9990's
	// urn:ietf:params:xml:ns:dmarc-2.0).
	Namespace string
	Rows      []Row
}

// Write writes r as XML.
func Write(w io.Writer, r *Report) error {
	bw := bufio.NewWriter(w)
	ns := ""
	if r.Namespace != "" {
		ns = fmt.Sprintf(` xmlns="%s"`, r.Namespace)
	}
	fmt.Fprintf(bw, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback%s>\n  <version>1.0</version>\n  <report_metadata>\n"+
		"    <org_name>%s</org_name>\n    <email>dmarc@%s</email>\n    <report_id>%s</report_id>\n"+
		"    <date_range>\n      <begin>%d</begin>\n      <end>%d</end>\n    </date_range>\n  </report_metadata>\n"+
		"  <policy_published>\n    <domain>%s</domain>\n    <adkim>r</adkim>\n    <aspf>r</aspf>\n    <p>quarantine</p>\n    <sp>quarantine</sp>\n    <pct>100</pct>\n  </policy_published>\n",
		ns, r.Org, r.Org, r.ID, r.Begin.Unix(), r.Begin.Add(24*time.Hour-time.Second).Unix(), r.Domain)
	for _, x := range r.Rows {
		result := func(b bool) string {
			if b {
				return "pass"
			}
			return "fail"
		}
		fmt.Fprintf(bw, "  <record>\n    <row>\n      <source_ip>%s</source_ip>\n      <count>%d</count>\n      <policy_evaluated>\n"+
			"        <disposition>%s</disposition>\n        <dkim>%s</dkim>\n        <spf>%s</spf>\n      </policy_evaluated>\n    </row>\n"+
			"    <identifiers>\n      <envelope_from>bounce.%s</envelope_from>\n      <header_from>%s</header_from>\n    </identifiers>\n"+
			"    <auth_results>\n      <dkim>\n        <domain>%s</domain>\n        <selector>s1</selector>\n        <result>%s</result>\n      </dkim>\n"+
			"      <spf>\n        <domain>bounce.%s</domain>\n        <scope>mfrom</scope>\n        <result>%s</result>\n      </spf>\n    </auth_results>\n  </record>\n",
			x.IP, x.Count, x.Disposition, result(x.DKIMAligned), result(x.SPFAligned), x.HeaderFrom, x.HeaderFrom,
			x.HeaderFrom, result(x.DKIMAligned), x.HeaderFrom, result(x.SPFAligned))
	}
	bw.WriteString("</feedback>\n")
	return bw.Flush()
}

// Totals are what a set of generated reports holds, summed as a reader should.
type Totals struct {
	Messages, DKIMAligned, SPFAligned, DMARCPass, Quarantine, Reject int64
	Reports                                                          int
}

// Add sums a report's rows for ip.
func (t *Totals) Add(r *Report, ip string) {
	seen := false
	for _, x := range r.Rows {
		if x.IP != ip {
			continue
		}
		seen = true
		t.Messages += x.Count
		if x.DKIMAligned {
			t.DKIMAligned += x.Count
		}
		if x.SPFAligned {
			t.SPFAligned += x.Count
		}
		if x.DKIMAligned || x.SPFAligned {
			t.DMARCPass += x.Count
		}
		switch x.Disposition {
		case "quarantine":
			t.Quarantine += x.Count
		case "reject":
			t.Reject += x.Count
		}
	}
	if seen {
		t.Reports++
	}
}

// Receivers are the reporting organisations a store is made of.
var Receivers = []string{"google.com", "Enterprise Outlook", "Yahoo", "Mimecast", "comcast.net",
	"Fastmail Pty Ltd", "web.de", "Proofpoint", "mail.ru", "AMAZON-SES"}

// Random makes report i of a store: rows from the given IPs and a few others, records
// records in all, counts from the seeded source.
func Random(rng *rand.Rand, i, records int, ips []string) *Report {
	r := &Report{
		Org:    Receivers[i%len(Receivers)],
		ID:     fmt.Sprintf("r%08d", i),
		Domain: "example.com",
		Begin:  time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i%30) * 24 * time.Hour),
	}
	if i%7 == 3 {
		r.Namespace = "urn:ietf:params:xml:ns:dmarc-2.0"
	}
	for j := range records {
		ip := ips[j%len(ips)]
		if j >= len(ips) {
			// Forwarders and spoofers: a pool of 2,048, as a sender's reports name.
			ip = fmt.Sprintf("198.51.%d.%d", 96+rng.IntN(8), rng.IntN(256))
		}
		x := Row{IP: ip, Count: 1 + rng.Int64N(500), DKIMAligned: rng.IntN(50) != 0, SPFAligned: rng.IntN(20) != 0,
			Disposition: "none", HeaderFrom: "example.com"}
		if !x.DKIMAligned && !x.SPFAligned {
			x.Disposition = []string{"quarantine", "reject", "none"}[rng.IntN(3)]
		}
		r.Rows = append(r.Rows, x)
	}
	return r
}

// Save writes r to dir in the form i picks: .xml, .xml.gz or .zip, named as RFC 7489
// §7.2.1.1 names them (receiver!domain!begin!end!unique-id).
func Save(dir string, i int, r *Report) (string, error) {
	base := fmt.Sprintf("%s!%s!%d!%d", safe(r.Org), r.Domain, r.Begin.Unix(), r.Begin.Add(24*time.Hour-time.Second).Unix())
	var name string
	switch i % 3 {
	case 0:
		name = base + "!" + r.ID + ".xml"
	case 1:
		name = base + "!" + r.ID + ".xml.gz"
	default:
		name = base + "!" + r.ID + ".zip"
	}
	name = filepath.Join(dir, name)
	f, err := os.Create(name)
	if err != nil {
		return "", err
	}
	switch i % 3 {
	case 0:
		err = Write(f, r)
	case 1:
		zw := gzip.NewWriter(f)
		if err = Write(zw, r); err == nil {
			err = zw.Close()
		}
	default:
		zw := zip.NewWriter(f)
		var w io.Writer
		if w, err = zw.Create(base + ".xml"); err == nil {
			if err = Write(w, r); err == nil {
				err = zw.Close()
			}
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return name, err
}

func safe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == ' ' || c == '/' {
			b[i] = '_'
		}
	}
	return string(b)
}
