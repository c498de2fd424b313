package message

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/unblock-mail/unblock/checks"
)

const plainHead = "From: Alice <alice@example.com>\r\nTo: bob@recipient.test\r\nSubject: Hello\r\nDate: Sun, 22 Nov 2026 11:57:00 +0000\r\nMessage-ID: <m1@example.com>\r\n"

func TestDecodeURLDefense(t *testing.T) {
	cases := []struct{ in, want string }{
		// v3: '*' stands for the next character of the base64url tail ("Kw" is "+").
		{"https://urldefense.com/v3/__https://google.com:443/search?q=a*test&gs=ps__;Kw!-612Flbf0JvQ3kNJkRi5Jg!Ue6tQudNKaShHg93trcdjqDP8se2ySE65jyCIe2K1D_uNjZ1Lnf6YLQERujngZv9UWf66ujQIQ$",
			"https://google.com:443/search?q=a+test&gs=ps"},
		// v3 run: "**A" stands for the next 2 characters ("YWI" is "ab").
		{"https://urldefense.com/v3/__https://ex.example/**Ax__;YWI!!abc$", "https://ex.example/abx"},
		// v2: '-' is '%', '_' is '/'.
		{"https://urldefense.proofpoint.com/v2/url?u=http-3A__links.mkt3337.com_ctt-3Fkn-3D3-26ms-3DMzQ3OTg3MDQS1-26r-3DMzkxNzk3NDkwMDA0S0-26b-3D0&d=DwMFaQ&c=abc&r=def&m=ghi&s=jkl&e=",
			"http://links.mkt3337.com/ctt?kn=3&ms=MzQ3OTg3MDQS1&r=MzkxNzk3NDkwMDA0S0&b=0"},
		// v1: u= is plain URL encoding.
		{"https://urldefense.proofpoint.com/v1/url?u=http://www.example.com/a%20b&k=abc", "http://www.example.com/a b"},
	}
	for _, c := range cases {
		got, ok := DecodeURLDefense(c.in)
		if !ok || got != c.want {
			t.Errorf("DecodeURLDefense(%s) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	if _, ok := DecodeURLDefense("https://www.example.com/v3/__x__;Kw!!"); ok {
		t.Error("a URL that is not URL Defense was decoded")
	}
	if _, ok := DecodeURLDefense("https://urldefense.com/v3/__https://x.example/***__;Kw!!a$"); ok {
		t.Error("a v3 link with more placeholders than replacement characters was decoded")
	}
}

func TestURLDefenseInMessageAndMismatch(t *testing.T) {
	msg := plainHead + "Content-Type: text/html\r\n\r\n" +
		`<p>Pay at <a href="https://urldefense.com/v3/__https://pay.evil.example/login__;!!abc$">https://www.bank.example/</a> or ` +
		`<a href="https://urldefense.proofpoint.com/v2/url?u=https-3A__www.bank.example_help&d=x&c=y">help</a></p>` + "\r\n"
	m := Parse([]byte(msg), Options{Now: testNow})
	if ls := m.Links(); len(ls) != 2 || ls[1].Target != "https://www.bank.example/help" || ls[1].Host != "www.bank.example" {
		t.Errorf("links = %+v", ls)
	}
	if ps := m.Parts(); len(ps) != 1 || ps[0].Type != "text/html" {
		t.Errorf("parts = %+v", ps)
	}
	got := byID(m.Test())
	if r := got["message/urldefense"]; r.Status != checks.Pass || !strings.Contains(r.Summary, "2 Proofpoint URL Defense links decoded, the first to https://pay.evil.example/login") {
		t.Errorf("urldefense = %s %q", r.Status, r.Summary)
	}
	// The decoded target, not the rewriter's domain, is compared with the text shown.
	if r := got["message/link-mismatch"]; r.Status != checks.Fail || !strings.Contains(r.Summary, "text shows www.bank.example, link goes to pay.evil.example") {
		t.Errorf("link-mismatch = %s %q", r.Status, r.Summary)
	}
}

func TestProofpointSpamDetails(t *testing.T) {
	hop := "Received: from pps.filterd (m0246632.ppops.net [127.0.0.1])\r\n\tby mx0b-00069f02.pphosted.com (8.17.1.19/8.17.1.19) with ESMTP id 4AM9xQ0Z012345; Sun, 22 Nov 2026 11:58:00 +0000\r\n"
	cases := []struct {
		name, details string
		st            checks.Status
		substr        string
	}{
		{"clean", "rule=notspam policy=default score=0 spamscore=0 suspectscore=0 malwarescore=0 phishscore=0 adultscore=0 bulkscore=0 clxscore=1011 lowpriorityscore=0 impostorscore=0 priorityscore=1501 mlxlogscore=999 mlxscore=0 classifier=spam adjust=0 reason=mlx scancount=1 engine=8.12.0-2009150000 definitions=main-2011030093",
			checks.Pass, "not spam (rule=notspam policy=default, spamscore 0)"},
		{"phish", "rule=inbound_spam policy=inbound score=100 spamscore=40 phishscore=98 impostorscore=71 bulkscore=0 mlxlogscore=999",
			checks.Fail, "deciding scores: phishing 98, impostor (business email compromise) 71"},
		{"passed but close", "rule=notspam policy=default score=0 spamscore=0 bulkscore=85",
			checks.Warn, "bulk mail 85"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := hop + "X-Proofpoint-Spam-Details: " + c.details + "\r\nX-Proofpoint-GUID: fiybgv3DewxSx\r\n" + plainHead + "\r\nhi\r\n"
			r := byID(Test([]byte(msg), Options{Now: testNow}))["message/proofpoint-spam-details"]
			if r.Status != c.st || !strings.Contains(r.Summary, c.substr) {
				t.Errorf("= %s %q; want %s with %q", r.Status, r.Summary, c.st, c.substr)
			}
			if r.Details["queue_id"] != "4AM9xQ0Z012345" || r.Details["guid"] != "fiybgv3DewxSx" {
				t.Errorf("queue ID and GUID not kept for the report: %v", r.Details)
			}
			if c.st == checks.Fail && !strings.Contains(r.Fix, "4AM9xQ0Z012345") {
				t.Errorf("fix does not name the queue ID: %q", r.Fix)
			}
		})
	}
}

func TestOtherFiltersVerdicts(t *testing.T) {
	ms := "X-Forefront-Antispam-Report: CIP:198.51.100.7;CTRY:US;LANG:en;SCL:5;SRV:;IPV:NLI;SFV:SPM;H:mail.example.com;PTR:mail.example.com;CAT:PHSH;SFS:(13230040);DIR:INB;\r\nX-Microsoft-Antispam: BCL:0;\r\n"
	r := byID(Test([]byte(ms+plainHead+"\r\nhi\r\n"), Options{Now: testNow}))["message/microsoft-antispam"]
	if r.Status != checks.Fail || !strings.Contains(r.Summary, "SCL 5, SFV SPM (spam), CAT PHSH (phishing)") {
		t.Errorf("microsoft-antispam = %s %q", r.Status, r.Summary)
	}
	sa := "X-Spam-Status: Yes, score=7.3 required=5.0 tests=BAYES_99,HTML_MESSAGE,URIBL_BLACK\r\n\tautolearn=no version=3.4.6\r\n"
	r = byID(Test([]byte(sa+plainHead+"\r\nhi\r\n"), Options{Now: testNow}))["message/spamassassin"]
	if r.Status != checks.Fail || !strings.Contains(r.Summary, "score 7.3 (threshold 5.0)") {
		t.Errorf("spamassassin = %s %q", r.Status, r.Summary)
	}
	if tests, _ := r.Details["tests"].([]string); len(tests) != 3 || tests[2] != "URIBL_BLACK" {
		t.Errorf("spamassassin tests = %v", r.Details["tests"])
	}
}

func TestBulkSenderRules(t *testing.T) {
	esp := "Return-Path: <bounces+123@em.sendgrid.net>\r\n"
	// Transactional mail through an ESP owes no unsubscribe link; marketing does.
	receipt := esp + plainHead + "\r\nYour receipt.\r\n"
	if r := byID(Test([]byte(receipt), Options{Now: testNow}))["message/list-unsubscribe"]; r.Status != checks.Pass {
		t.Errorf("receipt: list-unsubscribe = %s %q", r.Status, r.Summary)
	}
	bare := esp + plainHead + "\r\nNews of the week. To stop these: https://example.com/unsubscribe?u=1\r\n"
	got := byID(Test([]byte(bare), Options{Now: testNow}))
	if r := got["message/list-unsubscribe"]; r.Status != checks.Fail || !strings.Contains(r.Summary, "unsubscribe link") {
		t.Errorf("list-unsubscribe = %s %q", r.Status, r.Summary)
	}
	if r := got["message/one-click-unsubscribe"]; r.Status != checks.Fail {
		t.Errorf("one-click-unsubscribe = %s %q", r.Status, r.Summary)
	}
	if r := got["message/feedback-id"]; r.Status != checks.Warn {
		t.Errorf("feedback-id = %s %q", r.Status, r.Summary)
	}

	mailtoOnly := esp + "List-Unsubscribe: <mailto:u@example.com>\r\n" + plainHead + "\r\nx\r\n"
	if r := byID(Test([]byte(mailtoOnly), Options{Now: testNow}))["message/list-unsubscribe"]; r.Status != checks.Fail || !strings.Contains(r.Summary, "no https URI") {
		t.Errorf("mailto only: %s %q", r.Status, r.Summary)
	}

	// One-click present but not covered by a DKIM signature (RFC 8058 §4).
	unsigned := esp + "List-Unsubscribe: <https://example.com/u?i=1>, <mailto:u@example.com>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nFeedback-ID: c1:cust:news:esp42\r\n" +
		"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to:subject; bh=x; b=y\r\n" + plainHead + "\r\nx\r\n"
	got = byID(Test([]byte(unsigned), Options{Now: testNow}))
	if r := got["message/one-click-unsubscribe"]; r.Status != checks.Fail || !strings.Contains(r.Summary, "no DKIM signature covers") {
		t.Errorf("one-click unsigned = %s %q", r.Status, r.Summary)
	}
	if r := got["message/list-unsubscribe"]; r.Status != checks.Pass {
		t.Errorf("list-unsubscribe = %s %q", r.Status, r.Summary)
	}
	if r := got["message/feedback-id"]; r.Status != checks.Pass {
		t.Errorf("feedback-id = %s %q", r.Status, r.Summary)
	}
	signed := strings.Replace(unsigned, "h=from:to:subject", "h=from:from:to:subject:date:message-id:list-unsubscribe:list-unsubscribe-post", 1)
	got = byID(Test([]byte(signed), Options{Now: testNow}))
	if r := got["message/one-click-unsubscribe"]; r.Status != checks.Pass {
		t.Errorf("one-click signed = %s %q", r.Status, r.Summary)
	}
	if r := got["message/dkim-signed-headers"]; r.Status != checks.Pass {
		t.Errorf("dkim-signed-headers = %s %q", r.Status, r.Summary)
	}
}

func TestTransportHops(t *testing.T) {
	hops := "Received-SPF: pass (mx.recipient.test: domain of a@example.com designates 198.51.100.20 as permitted sender) client-ip=198.51.100.20;\r\n" +
		"Received: from filter.recipient.test (filter.recipient.test [10.0.0.5]) by mx.recipient.test with ESMTPS id A1; Sun, 22 Nov 2026 11:58:00 +0000\r\n" +
		"Received: from out.example.com (out.example.com [198.51.100.20]) by filter.recipient.test with ESMTP id B2; Sun, 22 Nov 2026 11:57:30 +0000\r\n" +
		"Received: from relay.example.com (unknown [198.51.100.9]) by out.example.com (Postfix) with ESMTPS id C3 (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384); Sun, 22 Nov 2026 10:57:00 +0000\r\n" +
		"Received: from [192.168.1.20] (helo=laptop) by relay.example.com with ESMTPSA id D4; Sun, 22 Nov 2026 10:56:50 +0000\r\n"
	m := Parse([]byte(hops+plainHead+"\r\nhi\r\n"), Options{Now: testNow})
	if m.Sending != 1 || m.Hops[1].IP.String() != "198.51.100.20" || m.Hops[1].HELO != "out.example.com" || m.Hops[1].RDNS != "out.example.com" {
		t.Fatalf("sending hop %d: %+v", m.Sending, m.Hops)
	}
	if m.Hops[2].TLS == "" || m.Hops[2].RDNS != "unknown" && m.Hops[2].RDNS != "" {
		t.Errorf("hop 3: %+v", m.Hops[2])
	}
	if m.Hops[3].HELO != "laptop" || m.Hops[3].IP.String() != "192.168.1.20" {
		t.Errorf("hop 4 (Exim form): %+v", m.Hops[3])
	}
	got := byID(m.Test())
	if r := got["message/tls-hops"]; r.Status != checks.Fail || !strings.Contains(r.Summary, "hop 2 out.example.com → filter.recipient.test with ESMTP") {
		t.Errorf("tls-hops = %s %q", r.Status, r.Summary)
	}
	if r := got["message/hop-delay"]; r.Status != checks.Warn || !strings.Contains(r.Summary, "1 hour at out.example.com before filter.recipient.test took it") {
		t.Errorf("hop-delay = %s %q", r.Status, r.Summary)
	}
	if r := got["message/helo-rdns"]; r.Status != checks.Warn || !strings.Contains(r.Summary, "198.51.100.9 has no reverse DNS") {
		t.Errorf("helo-rdns = %s %q", r.Status, r.Summary)
	}
	if r := got["message/sending-hop"]; r.Status != checks.Pass || !strings.Contains(r.Summary, "sent from 198.51.100.20 (HELO out.example.com)") {
		t.Errorf("sending-hop = %s %q", r.Status, r.Summary)
	}
}

// The ARC conformance suite: the structural test never fails a chain the suite says
// passes, never passes one it says fails for a reason of structure, and reports no ARC
// for messages without it.
func TestARCStructureAgainstSuite(t *testing.T) {
	f, err := os.ReadFile("testdata/arc/arc-draft-validation-tests.yml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(f))
	total, caught, fails := 0, 0, 0
	for {
		var doc struct {
			Tests map[string]struct {
				Message string `yaml:"message"`
				CV      string `yaml:"cv"`
			} `yaml:"tests"`
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		for name, tc := range doc.Tests {
			cv := strings.TrimSpace(tc.CV)
			if cv == "" || tc.Message == "" {
				continue
			}
			total++
			r := byID(Test([]byte(tc.Message), Options{Now: testNow}))["message/arc"]
			switch {
			case strings.EqualFold(cv, "pass") && r.Status != checks.Pass:
				t.Errorf("%s: suite says pass, we say %s %q", name, r.Status, r.Summary)
			case strings.EqualFold(cv, "none") && r.Status != checks.Skip:
				t.Errorf("%s: suite says no chain, we say %s %q", name, r.Status, r.Summary)
			case r.Status == checks.Fail && !strings.EqualFold(cv, "fail"):
				t.Errorf("%s: we fail a chain the suite says %s: %q", name, cv, r.Summary)
			}
			if strings.EqualFold(cv, "fail") {
				fails++
				if r.Status == checks.Fail {
					caught++
				}
			}
		}
	}
	if total < 50 {
		t.Fatalf("read only %d suite tests", total)
	}
	// The structural failures (missing or duplicated sets, wrong cv=) are caught; the
	// others need signature verification.
	if caught < 10 {
		t.Errorf("caught %d of %d failing chains by structure", caught, fails)
	}
	t.Logf("ARC suite: %d tests; %d of %d failing chains caught by structure alone", total, caught, fails)
}

// The ARC suite with its keys on loopback DNS: the signatures are verified, and our
// verdict is the suite's on every test whose expected result is pass, fail or none.
func TestARCSuiteVerified(t *testing.T) {
	f, err := os.ReadFile("testdata/arc/arc-draft-validation-tests.yml")
	if err != nil {
		t.Fatal(err)
	}
	type suiteTest struct {
		Message string `yaml:"message"`
		CV      string `yaml:"cv"`
	}
	var docs []map[string]suiteTest
	var zone strings.Builder
	dec := yaml.NewDecoder(bytes.NewReader(f))
	for {
		var doc struct {
			Tests map[string]suiteTest `yaml:"tests"`
			TXT   map[string]string    `yaml:"txt-records"`
		}
		if err := dec.Decode(&doc); err != nil {
			break
		}
		docs = append(docs, doc.Tests)
		for name, txt := range doc.TXT {
			zone.WriteString(keyTXT(name+".", txt))
		}
	}
	env := testEnv(t, zone.String(), testNow)
	agree, total := 0, 0
	var disagree []string
	for _, tests := range docs {
		for name, tc := range tests {
			cv := strings.ToLower(strings.TrimSpace(tc.CV))
			if cv == "" || tc.Message == "" {
				continue
			}
			total++
			var r checks.Result
			if Parse([]byte(tc.Message), Options{}).NotAMessage() != nil {
				// An empty message or one without header fields carries no chain.
				r = checks.Result{Status: checks.Skip, Summary: "not a message"}
			} else {
				_, rs := runCheck(t, env, []byte(tc.Message))
				r = rs["message/arc"]
			}
			got := map[checks.Status]string{checks.Pass: "pass", checks.Fail: "fail", checks.Skip: "none"}[r.Status]
			if got == cv {
				agree++
			} else {
				disagree = append(disagree, fmt.Sprintf("%s: suite %s, we %s %q", name, cv, r.Status, r.Summary))
			}
		}
	}
	for _, d := range disagree {
		t.Log(d)
	}
	t.Logf("ARC suite verified: %d of %d agree", agree, total)
	if agree != total || total < 100 {
		t.Errorf("%d of %d ARC suite verdicts agree", agree, total)
	}
}

// keyTXT writes a TXT record in master-file form, split into 200-byte strings.
func keyTXT(name, v string) string {
	v = strings.Join(strings.Fields(v), " ")
	var parts []string
	for len(v) > 200 {
		parts = append(parts, `"`+v[:200]+`"`)
		v = v[200:]
	}
	parts = append(parts, `"`+v+`"`)
	return name + " TXT " + strings.Join(parts, " ") + "\n"
}

// Received fields as different MTAs write them.
func TestReceivedDialects(t *testing.T) {
	cases := []struct {
		field, helo, rdns, ip string
		tls                   bool
	}{
		{"from mail.example.com (mail.example.com [192.0.2.1]) by mx.example.net (Postfix) with ESMTPS id 4A (using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384); Sun, 22 Nov 2026 11:00:00 +0000", "mail.example.com", "mail.example.com", "192.0.2.1", true},
		{"from out.example.com ([192.0.2.2] helo=smtp.example.com) by mx.example.net with esmtps (TLS1.3) (Exim 4.96) id 1tX; Sun, 22 Nov 2026 11:00:00 +0000", "smtp.example.com", "out.example.com", "192.0.2.2", true},
		{"from r4.example.com (HELO r9.example.com) (192.0.2.3) by mx.example.net with DHE-RSA-AES256-SHA encrypted SMTP; 29 Apr 2015 23:34:45 -0000", "r9.example.com", "r4.example.com", "192.0.2.3", true},
		{"from EUR05-VI1-obe.outbound.protection.outlook.com (2a01:111:f400:7d00::100) by mx.example.net with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20; Sun, 22 Nov 2026 11:00:00 +0000", "eur05-vi1-obe.outbound.protection.outlook.com", "", "2a01:111:f400:7d00::100", true},
		{"from unknown (unknown [192.0.2.5]) by mx.example.net (Postfix) with ESMTP id 9Z; Sun, 22 Nov 2026 11:00:00 +0000", "unknown", "unknown", "192.0.2.5", false},
		{"from [192.0.2.6] (port=4242 helo=laptop) by mx.example.net with esmtpsa (TLS1.2) id 1; Sun, 22 Nov 2026 11:00:00 +0000", "laptop", "", "192.0.2.6", true},
	}
	for _, c := range cases {
		h := parseReceived(c.field)
		if h.HELO != c.helo || h.RDNS != c.rdns || h.IP.String() != c.ip || h.Encrypted() != c.tls || h.Time.IsZero() {
			t.Errorf("%s\n  = HELO %q rDNS %q IP %s TLS %v time %v", c.field, h.HELO, h.RDNS, h.IP, h.Encrypted(), h.Time)
		}
	}
}
