package message

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// benchMessage builds a realistic marketing message of about 100 KB: a relay chain, a
// DKIM signature, ARC, Authentication-Results, Proofpoint's verdict, a text and an HTML
// part with links (some rewritten by URL Defense) and a PDF attachment.
func benchMessage() []byte {
	var b strings.Builder
	b.WriteString("Return-Path: <bounces+42@em.example.com>\r\n")
	b.WriteString("X-Proofpoint-Spam-Details: rule=notspam policy=default score=0 spamscore=0 suspectscore=0 malwarescore=0 phishscore=0 adultscore=0 bulkscore=12 clxscore=1011 lowpriorityscore=0 impostorscore=0 priorityscore=1501 mlxlogscore=999 mlxscore=0 classifier=spam adjust=0 reason=mlx scancount=1\r\n")
	b.WriteString("Received: from pps.filterd (m0246632.ppops.net [127.0.0.1]) by mx0b-00069f02.pphosted.com with ESMTP id 4AM9xQ0Z012345; Sun, 22 Nov 2026 11:58:10 +0000\r\n")
	b.WriteString("Authentication-Results: mx0b-00069f02.pphosted.com; spf=pass smtp.mailfrom=bounces+42@em.example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com\r\n")
	b.WriteString("ARC-Seal: i=1; a=rsa-sha256; t=1795000000; cv=none; d=example.net; s=arc; b=AAAA\r\n")
	b.WriteString("ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=example.net; s=arc; h=from:to:subject; bh=AAAA; b=AAAA\r\n")
	b.WriteString("ARC-Authentication-Results: i=1; example.net; spf=pass smtp.mailfrom=example.com\r\n")
	b.WriteString("Received: from o1.em.example.com (o1.em.example.com [198.51.100.20]) by mx0b-00069f02.pphosted.com with ESMTPS id 4AM9xQ0Y; Sun, 22 Nov 2026 11:58:00 +0000\r\n")
	b.WriteString("Received: by filter0042.em.example.com with SMTP id abc; Sun, 22 Nov 2026 11:57:58 +0000\r\n")
	b.WriteString("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=s1; h=from:from:to:subject:date:message-id:list-unsubscribe:list-unsubscribe-post; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=" + strings.Repeat("A", 344) + "\r\n")
	b.WriteString("From: Example News <news@example.com>\r\nTo: reader@recipient.test\r\nSubject: =?UTF-8?Q?Your_weekly_digest_=E2=80=94_November?=\r\n")
	b.WriteString("Date: Sun, 22 Nov 2026 11:57:55 +0000\r\nMessage-ID: <digest.20261122@example.com>\r\n")
	b.WriteString("List-Unsubscribe: <https://example.com/u?id=42>, <mailto:unsub@example.com>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nFeedback-ID: w47:cust1:digest:example\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n")
	b.WriteString("--outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n")
	b.WriteString("--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	for i := 0; b.Len() < 25_000; i++ {
		fmt.Fprintf(&b, "Story %d: read more at https://example.com/story/%d?utm_source=digest =E2=80=94 the week in review.\r\n", i, i)
	}
	b.WriteString("--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>\r\n")
	for i := 0; b.Len() < 55_000; i++ {
		if i%3 == 0 {
			fmt.Fprintf(&b, "<p>Story %d <a href=\"https://urldefense.com/v3/__https://example.com/story/%d__;!!abc$\">read more</a> <img src=\"https://cdn.example.com/%d.png\"></p>\r\n", i, i, i)
		} else {
			fmt.Fprintf(&b, "<p>Story %d: <a href=\"https://example.com/story/%d\">https://example.com/story/%d</a> with some words of text about it.</p>\r\n", i, i, i)
		}
	}
	b.WriteString("</body></html>\r\n--alt--\r\n")
	b.WriteString("--outer\r\nContent-Type: application/pdf; name=\"digest.pdf\"\r\nContent-Disposition: attachment; filename=\"digest.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	pdf := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("%PDF-1.7 binary stream data ", 1600)))
	for len(pdf) > 76 && b.Len() < 100_000 {
		b.WriteString(pdf[:76] + "\r\n")
		pdf = pdf[76:]
	}
	b.WriteString("--outer--\r\n")
	return []byte(b.String())
}

// BenchmarkTest100KB measures the message-only tests (no network) on a 100 KB message.
func BenchmarkTest100KB(b *testing.B) {
	raw := benchMessage()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		Test(raw, Options{Now: testNow})
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/msg")
	if c := cpuTime() - cpu; c > 0 {
		// CPU time includes the garbage collector's work on the other core.
		b.ReportMetric(float64(c.Microseconds())/1000/float64(b.N), "cpu-ms/msg")
	}
}

func TestBenchMessageIsRealistic(t *testing.T) {
	raw := benchMessage()
	if len(raw) < 95_000 || len(raw) > 110_000 {
		t.Fatalf("bench message is %d bytes, want about 100 KB", len(raw))
	}
	got := byID(Test(raw, Options{Now: testNow}))
	for _, id := range []string{"message/mime-structure", "message/list-unsubscribe", "message/one-click-unsubscribe", "message/urldefense", "message/arc", "message/proofpoint-spam-details"} {
		if got[id].Status != "pass" {
			t.Errorf("%s = %s %q", id, got[id].Status, got[id].Summary)
		}
	}
}
