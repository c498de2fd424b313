package reports

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/reports/reportstest"
)

func read(t *testing.T, o Options, paths ...string) *Summary {
	t.Helper()
	r := NewReader(o)
	if err := r.ReadPaths(context.Background(), paths); err != nil {
		t.Fatal(err)
	}
	return r.Summary()
}

func findIP(s *Summary, ip string) *IPReport {
	for _, x := range s.DMARC {
		if x.IP == ip {
			return x
		}
	}
	return nil
}

func findReceiver(ip *IPReport, name string) *Receiver {
	for _, rv := range ip.Receivers {
		if rv.Name == name {
			return rv
		}
	}
	return nil
}

// The fixtures are four receivers' reports in the shapes they send: Google (.xml.gz,
// no envelope fields, a forwarded override), Microsoft (gzip in a mail, envelope_to,
// fo), Yahoo (.zip, no scope or selector, a quarantine), Mimecast (RFC 9990 namespace,
// np, discovery_method, human_result; a zip in a mail in an mbox, beside a mail that
// carries no report), with a TLS-RPT report and two SNDS exports.
func TestReceiversReports(t *testing.T) {
	s := read(t, Options{}, "testdata/reports")
	if s.Files != 7 || s.Reports != 7 {
		t.Errorf("files %d reports %d, want 7 and 7", s.Files, s.Reports)
	}
	if len(s.Problems) != 1 || !strings.Contains(s.Problems[0].String(), "rua.mbox: mail 1: a mail with no report attached") {
		t.Errorf("problems %v, want the mbox's mail without a report", s.Problems)
	}
	ip := findIP(s, "203.0.113.25")
	if ip == nil {
		t.Fatalf("no 203.0.113.25 in %+v", s.DMARC)
	}
	if s.DMARC[0] != ip {
		t.Errorf("the IP with most messages is not first: %s", s.DMARC[0].IP)
	}
	tot := ip.Total
	// Sums of the fixtures' records for 203.0.113.25.
	want := map[string]int64{
		"messages":     812 + 6 + 1204 + 17 + 640 + 4 + 95,
		"dkim aligned": 812 + 1204 + 640 + 95,
		"spf aligned":  812 + 6 + 1204 + 17 + 640 + 95,
		"dmarc pass":   812 + 6 + 1204 + 17 + 640 + 95,
		"quarantine":   4,
		"dkim pass":    812 + 6 + 1204 + 640 + 95, // 6 passed unaligned (an ESP's signature)
		"dkim fail":    17,
		"permerror":    4,
		"spf softfail": 4,
	}
	got := map[string]int64{"messages": tot.Messages, "dkim aligned": tot.DKIMAligned, "spf aligned": tot.SPFAligned,
		"dmarc pass": tot.DMARCPass, "quarantine": tot.Disposition.Get("quarantine"), "dkim pass": tot.DKIM.Get("pass"),
		"dkim fail": tot.DKIM.Get("fail"), "permerror": tot.DKIM.Get("permerror"), "spf softfail": tot.SPF.Get("softfail")}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d, want %d", k, got[k], v)
		}
	}
	if tot.Reports != 4 || len(ip.Receivers) != 4 {
		t.Errorf("reports %d receivers %d, want 4 and 4", tot.Reports, len(ip.Receivers))
	}
	if f, l := tot.First.Format(time.DateOnly), tot.Last.Format(time.DateOnly); f != "2026-11-24" || l != "2026-11-27" {
		t.Errorf("dates %s … %s", f, l)
	}
	if ms := findReceiver(ip, "Enterprise Outlook"); ms == nil || ms.Messages != 1221 || ms.DKIMAligned != 1204 {
		t.Errorf("Microsoft: %+v", ms)
	}
	if y := findReceiver(ip, "Yahoo"); y == nil || y.Disposition.Get("quarantine") != 4 || y.DMARCFail() != 4 {
		t.Errorf("Yahoo: %+v", y)
	}
	if got := strings.Join(ip.Domains, ","); got != "example.com,news.example.com" {
		t.Errorf("domains %s", got)
	}
	fwd := findIP(s, "209.85.220.41")
	if fwd == nil || fwd.Total.Overrides["forwarded"] != 3 || fwd.Total.SPFAligned != 0 || fwd.Total.SPF.Get("pass") != 3 {
		t.Errorf("forwarded row: %+v", fwd)
	}
	v6 := findIP(s, "2001:db8::25")
	if v6 == nil || v6.Total.Disposition.Get("reject") != 2 || v6.Total.DKIM.Get("none") != 2 || v6.Total.SPF.Get("fail") != 2 {
		t.Errorf("RFC 9990 IPv6 row: %+v", v6)
	}

	if len(s.TLS) != 1 || s.TLS[0].Domain != "example.com" {
		t.Fatalf("TLS-RPT: %+v", s.TLS)
	}
	tls := s.TLS[0].Total
	if tls.Successful != 5326 || tls.Failed != 14 || tls.Failures["certificate-expired"] != 12 || tls.Failures["starttls-not-supported"] != 2 || tls.Policies["sts"] != 5340 {
		t.Errorf("TLS-RPT counts: %+v", tls)
	}

	var snds *SNDSIP
	for _, x := range s.SNDS {
		if x.IP == "203.0.113.25" {
			snds = x
		}
	}
	if snds == nil || len(snds.Days) != 30 {
		t.Fatalf("SNDS: %+v", s.SNDS)
	}
	green, traps := 0, int64(0)
	for _, d := range snds.Days {
		if d.Filter == "green" {
			green++
		}
		traps += d.TrapHits
	}
	if green != 28 || traps != 2 || snds.Days[9].ComplaintRate != "0.3%" || snds.Days[0].Date != "2026-11-01" {
		t.Errorf("SNDS days: green %d traps %d day 10 %+v", green, traps, snds.Days[9])
	}
	if pct, below, ok := snds.Days[0].ComplaintPercent(); !ok || !below || pct != 0.1 {
		t.Errorf("complaint rate %q read as %v %v %v", snds.Days[0].ComplaintRate, pct, below, ok)
	}
	blocked := false
	for _, x := range s.SNDS {
		for _, st := range x.Status {
			if st.First == "198.51.100.9" && st.Blocked && strings.Contains(st.Reason, "complaints") {
				blocked = true
			}
		}
	}
	if !blocked {
		t.Errorf("SNDS status: the blocked IP is missing: %+v", s.SNDS)
	}
}

// The case keeps only its own IPs and domain.
func TestFilter(t *testing.T) {
	s := read(t, Options{IPs: []string{"203.0.113.25"}, Domain: "example.com"}, "testdata/reports")
	if len(s.DMARC) != 1 || s.DMARC[0].IP != "203.0.113.25" {
		t.Errorf("DMARC IPs: %+v", s.DMARC)
	}
	if len(s.SNDS) != 1 || s.SNDS[0].IP != "203.0.113.25" || len(s.SNDS[0].Status) != 1 || s.SNDS[0].Status[0].First != "203.0.113.24" {
		t.Errorf("SNDS for the case's IP (the status range covers it): %+v", s.SNDS)
	}
	other := read(t, Options{Domain: "example.org"}, "testdata/reports")
	if len(other.DMARC) != 0 || len(other.TLS) != 0 || other.Reports != 7 {
		t.Errorf("another domain kept %d DMARC IPs, %d TLS domains; read %d reports", len(other.DMARC), len(other.TLS), other.Reports)
	}
}

// A report given twice (the mail and its attachment saved beside it) counts once; a
// Maildir folder is read like any folder.
func TestDuplicatesAndMaildir(t *testing.T) {
	dir := t.TempDir()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mail, err := os.ReadFile("testdata/reports/microsoft-report.eml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cur", "1795600000.M1P2.host:2,S"), mail, 0o600); err != nil {
		t.Fatal(err)
	}
	xml, _ := os.ReadFile("testdata/src/microsoft.xml")
	if err := os.WriteFile(filepath.Join(dir, "new", "saved-attachment.xml"), xml, 0o600); err != nil {
		t.Fatal(err)
	}
	s := read(t, Options{}, dir)
	if s.Reports != 1 || s.Duplicates != 1 || len(s.Problems) != 0 {
		t.Errorf("reports %d duplicates %d problems %v", s.Reports, s.Duplicates, s.Problems)
	}
	if ip := findIP(s, "203.0.113.25"); ip == nil || ip.Total.Messages != 1221 {
		t.Errorf("counted %+v", ip)
	}
}

// Small differences between reporters' XML.
func TestXMLVariants(t *testing.T) {
	const rec = `<record><row><source_ip>::ffff:192.0.2.10</source_ip><count>5</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>Example.COM</header_from></identifiers><auth_results><dkim><domain>example.com</domain><result>pass</result></dkim><dkim><domain>esp.example</domain><result>fail</result></dkim><spf><domain>helo.example</domain><scope>helo</scope><result>pass</result></spf><spf><domain>example.com</domain><scope>mfrom</scope><result>softfail</result></spf></auth_results></record>`
	cases := map[string]string{
		"prefixed RFC 9990 namespace": `<?xml version="1.0"?><dmarc:feedback xmlns:dmarc="urn:ietf:params:xml:ns:dmarc-2.0"><dmarc:report_metadata><dmarc:org_name>Prefixed</dmarc:org_name><dmarc:report_id>p1</dmarc:report_id><dmarc:date_range><dmarc:begin>1795478400</dmarc:begin><dmarc:end>1795564799</dmarc:end></dmarc:date_range></dmarc:report_metadata><dmarc:policy_published><dmarc:domain>example.com</dmarc:domain></dmarc:policy_published>` +
			strings.ReplaceAll(strings.ReplaceAll(rec, "<", "<dmarc:"), "<dmarc:/", "</dmarc:") + `</dmarc:feedback>`,
		"windows-1252, a BOM, a comment": "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"windows-1252\"?>\n<!-- generated -->\n<feedback><report_metadata><org_name>Soci\xe9t\xe9</org_name><report_id>w1</report_id></report_metadata><policy_published><domain>example.com</domain></policy_published>" + rec + `</feedback>`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			r := NewReader(Options{})
			in := &input{r: r, name: name}
			in.sniff(strings.NewReader(doc), nil, -1, 0)
			r.finish(in)
			s := r.Summary()
			if len(s.Problems) > 0 || len(s.DMARC) != 1 {
				t.Fatalf("problems %v, DMARC %+v", s.Problems, s.DMARC)
			}
			ip := s.DMARC[0]
			c := ip.Total
			if ip.IP != "192.0.2.10" || c.Messages != 5 || c.DKIMAligned != 5 || c.SPFAligned != 0 || c.DKIM.Get("pass") != 5 || c.SPF.Get("softfail") != 5 || ip.Domains[0] != "example.com" {
				t.Errorf("read %s %+v domains %v", ip.IP, c, ip.Domains)
			}
			if strings.HasPrefix(name, "windows") && ip.Receivers[0].Name != "Société" {
				t.Errorf("receiver %q", ip.Receivers[0].Name)
			}
		})
	}
}

// Text from a report reaches no terminal raw.
func TestReportTextIsSanitized(t *testing.T) {
	// XML refuses C0 controls even as references; C1 controls (U+009B is a one-byte CSI)
	// and direction overrides it allows.
	doc := "<feedback><report_metadata><org_name>evil&#155;2J \u202eorg</org_name><report_id>x</report_id></report_metadata>" +
		"<record><row><source_ip>192.0.2.1</source_ip><count>1</count></row></record></feedback>"
	r := NewReader(Options{})
	in := &input{r: r, name: "evil.xml"}
	in.sniff(strings.NewReader(doc), nil, -1, 0)
	r.finish(in)
	s := r.Summary()
	if len(s.DMARC) != 1 {
		t.Fatalf("%+v %v", s.DMARC, s.Problems)
	}
	name := s.DMARC[0].Receivers[0].Name
	if strings.ContainsAny(name, "\u009b\u202e") || !strings.Contains(name, "<U+009B>") {
		t.Errorf("receiver name not sanitized: %q", name)
	}
}

// readBytes reads one in-memory input and returns the summary.
func readBytes(name string, data []byte, o Options) *Summary {
	r := NewReader(o)
	in := &input{r: r, name: name}
	in.sniff(bytes.NewReader(data), bytes.NewReader(data), int64(len(data)), 0)
	r.finish(in)
	return r.Summary()
}

func gz(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return b.Bytes()
}

func zipOf(t testing.TB, name string, data []byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	f, err := w.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(data)
	w.Close()
	return b.Bytes()
}

// nestedMail is a mail carrying a mail carrying … n deep, as .eml attachments named
// like reports.
func nestedMail(n int) []byte {
	m := "<feedback><record><row><source_ip>192.0.2.1</source_ip></row></record></feedback>"
	for i := range n {
		b := fmt.Sprintf("b%d", i) // each level its own boundary
		m = "From: a@example.com\r\nSubject: r\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"" + b + "\"\r\n\r\n--" + b + "\r\n" +
			"Content-Type: application/octet-stream; name=\"report.xml\"\r\n\r\n" + m + "\r\n--" + b + "--\r\n"
	}
	return []byte(m)
}

// Each hostile form is refused with a reason naming it, or read with bounded memory.
func TestHostileInputs(t *testing.T) {
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><feedback><report_metadata><org_name>&lol3;</org_name></report_metadata></feedback>`
	xxe := `<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><feedback><report_metadata><org_name>&xxe;</org_name></report_metadata></feedback>`
	// 40 MiB of markup compresses a thousand times; a reader that trusted the archive
	// would decompress all of it.
	bomb := append([]byte("<feedback>"), bytes.Repeat([]byte("<a></a>\n"), (40<<20-10)/8)...)
	bomb = append(bomb, bytes.Repeat([]byte(" "), 40<<20-len(bomb))...)
	bombXML := append([]byte("<feedback><report_metadata><org_name>"), bytes.Repeat([]byte("A"), 4<<20)...)
	nested := []byte(`<feedback><record><row><source_ip>192.0.2.1</source_ip></row></record></feedback>`)
	for range 6 {
		nested = zipOf(t, "inner.zip", nested)
	}
	deep := "<feedback>" + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + "</feedback>"
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"billion laughs", []byte(laughs), "refused: XML with a DOCTYPE or entity declaration (<!DOCTYPE)"},
		{"external entity", []byte(xxe), "refused: XML with a DOCTYPE"},
		{"undeclared entity", []byte(`<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>`), "XML error"},
		{"gzip bomb", gz(t, bomb), "refused: decompressed to larger than"},
		{"zip bomb", zipOf(t, "report.xml", bomb), "refused: says it decompresses to 40 MiB"},
		{"a text node of 4 MB in gzip", gz(t, bombXML), "refused: an XML text or tag longer than 1 MiB"},
		{"archives nested 7 deep", nested, "refused: an archive inside an archive"},
		{"gzip inside gzip", gz(t, gz(t, bomb)), "refused: an archive inside an archive"},
		{"mails nested 6 deep", nestedMail(6), "refused: archives nested more than 4 deep"},
		{"XML nested 100 deep", []byte(deep), "refused: XML nested more than 16 deep"},
		{"a picture", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "not a report: neither XML, JSON"},
		{"other XML", []byte(`<?xml version="1.0"?><rss version="2.0"><channel/></rss>`), "not a DMARC aggregate report: its root element is <rss>"},
		{"other JSON", []byte(`{"name": "package.json"}`), "not a TLS-RPT report"},
		{"truncated XML", []byte(`<feedback><report_metadata><org_name>x</org_name>`), "XML error"},
		{"a bad count", []byte(`<feedback><record><row><source_ip>192.0.2.1</source_ip><count>-5</count></row></record></feedback>`), `record count "-5" is not a count`},
		{"a huge JSON", append([]byte(`{"organization-name": "`), bytes.Repeat([]byte("x"), 20<<20)...), "refused: a TLS-RPT report larger than 16 MiB"},
		{"an SNDS line of 2 MB", append([]byte("192.0.2.1,11/1/2026 1:00 AM,"), bytes.Repeat([]byte("9"), 2<<20)...), "refused: a CSV line longer than 1 MiB"},
		{"empty", nil, "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := readBytes(c.name, c.data, Options{})
			if !s.Empty() {
				t.Errorf("read %d reports from it", s.Reports)
			}
			if len(s.Problems) == 0 || !strings.Contains(s.Problems[0].Reason, c.want) {
				t.Errorf("problems %v, want one saying %q", s.Problems, c.want)
			}
		})
	}
}

// hugeReport streams a valid aggregate report of n records without holding it.
type hugeReport struct {
	n, i int
	buf  bytes.Buffer
}

func (h *hugeReport) Read(p []byte) (int, error) {
	for h.buf.Len() < len(p) {
		switch {
		case h.i == 0:
			h.buf.WriteString(`<?xml version="1.0"?><feedback><report_metadata><org_name>big</org_name><report_id>1</report_id></report_metadata><policy_published><domain>example.com</domain></policy_published>`)
		case h.i <= h.n:
			fmt.Fprintf(&h.buf, "<record><row><source_ip>10.%d.%d.%d</source_ip><count>2</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers><auth_results><dkim><domain>example.com</domain><result>pass</result></dkim><spf><domain>example.com</domain><result>pass</result></spf></auth_results></record>\n",
				h.i>>16&255, h.i>>8&255, h.i&255)
		case h.i == h.n+1:
			h.buf.WriteString("</feedback>\n")
		default:
			if h.buf.Len() == 0 {
				return 0, io.EOF
			}
			return h.buf.Read(p)
		}
		h.i++
	}
	return h.buf.Read(p)
}

// A report of 100 MB is streamed: memory stays bounded by the distinct IPs kept, not by
// the size of the file.
func TestHugeReportStreams(t *testing.T) {
	records := 250_000 // about 100 MB of XML
	if raceEnabled {
		records = 25_000
	}
	runtime.GC() // the garbage of earlier tests is not this test's
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	r := NewReader(Options{MaxIPs: 1000})
	in := &input{r: r, name: "huge.xml"}
	src := &hugeReport{n: records}
	in.sniff(src, nil, -1, 0)
	r.finish(in)
	close(stop)
	wg.Wait()
	s := r.Summary()
	if s.Reports != 1 || len(s.DMARC) != 1000 || s.OmittedMessages != int64(2*(records-1000)) {
		t.Errorf("reports %d IPs %d omitted %d", s.Reports, len(s.DMARC), s.OmittedMessages)
	}
	if p := peak.Load(); p > 64<<20 {
		t.Errorf("peak heap %d MB reading a 100 MB report", p>>20)
	}
	t.Logf("peak heap %d MB", peak.Load()>>20)
}

// A store of 10,000 report files, in the three forms, with some saved twice: every
// report counts once and every count adds up.
func TestStoreOf10000(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	ips := []string{"203.0.113.25", "203.0.113.26"}
	var want [2]reportstest.Totals
	n := 10_000
	if raceEnabled {
		n = 1_000
	}
	for i := range n {
		rep := reportstest.Random(rng, i, 4, ips)
		for k, ip := range ips {
			want[k].Add(rep, ip)
		}
		if _, err := reportstest.Save(dir, i, rep); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 { // the same report again, in another form
			if _, err := reportstest.Save(filepath.Join(dir), i+1, rep); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := time.Now()
	s := read(t, Options{}, dir)
	t.Logf("%d reports in %v", n, time.Since(start))
	if s.Reports != n || s.Duplicates != n/1000 || len(s.Problems) != 0 {
		t.Errorf("reports %d duplicates %d problems %v", s.Reports, s.Duplicates, s.Problems[:min(3, len(s.Problems))])
	}
	for k, ip := range ips {
		got := findIP(s, ip)
		if got == nil {
			t.Fatalf("%s missing", ip)
		}
		c, w := got.Total, want[k]
		if c.Messages != w.Messages || c.DKIMAligned != w.DKIMAligned || c.SPFAligned != w.SPFAligned || c.DMARCPass != w.DMARCPass ||
			c.Disposition.Get("quarantine") != w.Quarantine || c.Disposition.Get("reject") != w.Reject || c.Reports != w.Reports {
			t.Errorf("%s: got %+v, want %+v", ip, c, w)
		}
		if len(got.Receivers) != len(reportstest.Receivers) {
			t.Errorf("%s: %d receivers", ip, len(got.Receivers))
		}
	}
}

func BenchmarkAggregate(b *testing.B) {
	var doc bytes.Buffer
	rep := reportstest.Random(rand.New(rand.NewPCG(3, 4)), 1, 300, []string{"203.0.113.25"})
	if err := reportstest.Write(&doc, rep); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(doc.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(Options{})
		if _, err := r.parseAggregate(bytes.NewReader(doc.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzAggregate(f *testing.F) {
	for _, name := range []string{"google.xml", "microsoft.xml", "yahoo.xml", "mimecast.xml", "tlsrpt-google.json", "snds-data-2026-11.csv"} {
		data, err := os.ReadFile("testdata/src/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := readBytes("fuzz", data, Options{MaxReportBytes: 1 << 20})
		if s.Empty() && len(s.Problems) == 0 {
			t.Errorf("nothing read and no reason given")
		}
	})
}

// The run guard counts runs across reads, whatever the read sizes.
func TestRunGuard(t *testing.T) {
	for _, chunk := range []int{1, 7, 4096, 3 << 20} {
		for _, c := range []struct {
			run  int
			fail bool
		}{{maxRun, false}, {maxRun + 1, true}} {
			data := "<a>" + strings.Repeat("x", c.run) + "</a>" + strings.Repeat("<b/>", 100)
			g := &runGuard{r: strings.NewReader(data), delims: "<>", what: "a run"}
			buf := make([]byte, chunk)
			var err error
			for err == nil {
				_, err = g.Read(buf)
			}
			if failed := err != io.EOF; failed != c.fail {
				t.Errorf("reads of %d, run of %d: %v", chunk, c.run, err)
			}
		}
	}
}

// A TLS-RPT report as RFC 8460 §5.3 mails it: multipart/report with an
// application/tlsrpt+gzip part, base64.
func TestTLSRPTMail(t *testing.T) {
	json, err := os.ReadFile("testdata/src/tlsrpt-google.json")
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(gz(t, json))
	var lines []string
	for len(b64) > 76 {
		lines, b64 = append(lines, b64[:76]), b64[76:]
	}
	lines = append(lines, b64)
	mail := "From: tls-reporting@google.com\r\nTo: tlsrpt@example.com\r\nSubject: Report Domain: example.com Submitter: google.com Report-ID: <2026.11.28T00.00.00Z+example.com@google.com>\r\n" +
		"TLS-Report-Domain: example.com\r\nTLS-Report-Submitter: google.com\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=\"tlsrpt\"; boundary=\"R\"\r\n\r\n--R\r\nContent-Type: text/plain\r\n\r\nThis is an aggregate TLS report from google.com\r\n" +
		"--R\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Disposition: attachment; filename=\"google.com!example.com!1795824000!1795910399!001.json.gz\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		strings.Join(lines, "\r\n") + "\r\n--R--\r\n"
	s := readBytes("tlsrpt.eml", []byte(mail), Options{})
	if s.Reports != 1 || len(s.TLS) != 1 || s.TLS[0].Total.Failed != 14 || s.TLS[0].Reporters[0].Name != "Google Inc." || len(s.Problems) != 0 {
		t.Errorf("read %+v, problems %v", s.TLS, s.Problems)
	}
}
