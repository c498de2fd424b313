package message

import (
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks"
)

func pureResult(t *testing.T, raw, id string) checks.Result {
	t.Helper()
	for _, r := range Parse([]byte(raw), Options{}).Test() {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no result %s", id)
	return checks.Result{}
}

const formHead = "From: Alice <alice@example.com>\r\nTo: bob@recipient.test\r\nSubject: s\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <a@example.com>\r\nMIME-Version: 1.0\r\n"

// TestQPLineLength (RFC 2045 §6.7 rule 5: encoded lines are at most 76 characters): long
// lines in a quoted-printable part are found, in a multipart too; soft line breaks, and
// long lines in parts that are not quoted-printable, are not.
func TestQPLineLength(t *testing.T) {
	long := strings.Repeat("a", 90)
	for _, c := range []struct {
		name, raw string
		st        checks.Status
		want      string
	}{
		{"top-level", formHead + "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + long + "\r\nok\r\n",
			checks.Warn, "1 quoted-printable lines longer than the 76 characters RFC 2045 §6.7 allows (the body: 1 lines, the longest 90)"},
		{"in a multipart", formHead + "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nplain " + long + "\r\n--b1\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\n<p>" + long + "</p>\r\n--b1--\r\n",
			checks.Warn, "part 2: 1 lines, the longest 97"},
		{"soft breaks", formHead + "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.Repeat("a", 75) + "=\r\n" + strings.Repeat("a", 15) + "\r\n",
			checks.Pass, "no quoted-printable line over 76"},
		{"exactly 76", formHead + "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + strings.Repeat("a", 76) + "\r\n",
			checks.Pass, "no quoted-printable line over 76"},
		{"8bit long line", formHead + "Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + long + "\r\n",
			checks.Pass, "no quoted-printable line"},
	} {
		r := pureResult(t, c.raw, "message/qp-line-length")
		if r.Status != c.st || !strings.Contains(r.Summary, c.want) {
			t.Errorf("%s: %s %q; want %s with %q", c.name, r.Status, r.Summary, c.st, c.want)
		}
	}
}

// TestNULInBody (RFC 5322 §3.5, §4.1; RFC 2045 §2.7, §2.8): a NUL byte in the body is
// named as such.
func TestNULInBody(t *testing.T) {
	r := pureResult(t, formHead+"Content-Type: text/plain\r\n\r\nhello\x00world\r\nand\x00again\r\n", "message/nul")
	if r.Status != checks.Fail || !strings.Contains(r.Summary, "2 NUL bytes in the body (the first at byte 5") {
		t.Errorf("NUL: %s %q", r.Status, r.Summary)
	}
	r = pureResult(t, formHead+"Content-Type: text/plain\r\n\r\nhello world\r\n", "message/nul")
	if r.Status != checks.Pass {
		t.Errorf("clean body: %s %q", r.Status, r.Summary)
	}
}

// TestFromNeedlesslyEncoded (RFC 2047 §5: encoded-words are for text that cannot be
// written in ASCII): a plain ASCII display name in base64 or Q encoding is found; a name
// that needs encoding is not.
func TestFromNeedlesslyEncoded(t *testing.T) {
	hdr := func(from string) string {
		return strings.Replace(formHead, "From: Alice <alice@example.com>", "From: "+from, 1) + "Content-Type: text/plain\r\n\r\nhi\r\n"
	}
	for from, st := range map[string]checks.Status{
		"=?UTF-8?B?QWxpY2UgU21pdGg=?= <alice@example.com>": checks.Warn,
		"=?utf-8?q?Alice_Smith?= <alice@example.com>":      checks.Warn,
		"=?UTF-8?Q?Ren=C3=A9_Smith?= <rene@example.com>":   checks.Pass,
		"Alice Smith <alice@example.com>":                  checks.Pass,
	} {
		r := pureResult(t, hdr(from), "message/from-encoding")
		if r.Status != st || st == checks.Warn && !strings.Contains(r.Summary, `"Alice Smith"`) {
			t.Errorf("%s: %s %q; want %s", from, r.Status, r.Summary, st)
		}
	}
}

// TestBIMIRecord (draft-brand-indicators-for-message-identification §4.4, §4.6): the
// record at <selector>._bimi.<From domain> (or the organizational domain's) is read, its
// logo named and its evidence document's presence said, without fetching either.
func TestBIMIRecord(t *testing.T) {
	key := loadKey(t)
	now := time.Now().UTC().Truncate(time.Second)
	env := testEnv(t, authZone(t, key)+`
default._bimi.example.com. TXT "v=BIMI1; l=https://example.com/logo.svg; a=https://example.com/vmc.pem"
brand._bimi.example.com.   TXT "v=BIMI1; l=https://example.com/brand.svg;"
`, now)
	_, rs := runCheck(t, env, signMsg(t, key, fixture(now, "alice@example.com", ""), "example.com", "sel", time.Time{}))
	want(t, rs, "message/bimi", checks.Pass, "evidence document https://example.com/vmc.pem")
	_, rs = runCheck(t, env, signMsg(t, key, fixture(now, "alice@example.com", "BIMI-Selector: v=BIMI1; s=brand\r\n"), "example.com", "sel", time.Time{}))
	want(t, rs, "message/bimi", checks.Warn, "no evidence document (a=)")
	_, rs = runCheck(t, env, signMsg(t, key, fixture(now, "alice@strict.test", ""), "strict.test", "sel", time.Time{}))
	want(t, rs, "message/bimi", checks.Pass, "no BIMI record at default._bimi.strict.test")
}
