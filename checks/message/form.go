package message

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/textproto"
	"regexp"
	"strings"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dmarc"
	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/sanitize"
)

func init() {
	pureTests = append(pureTests,
		test{"qp-line-length", testQPLineLength},
		test{"nul", testNUL},
		test{"from-encoding", testFromEncoding},
	)
	netTests = append(netTests, netTest{"bimi", testBIMI})
}

// maxQPLine is the longest encoded line quoted-printable allows, the CRLF not counted
// (RFC 2045 §6.7 rule 5).
const maxQPLine = 76

// qpLong is one quoted-printable part with lines over maxQPLine.
type qpLong struct {
	part    string
	lines   int
	longest int
}

// qpLongLines walks the raw MIME tree (the decoded walk no longer has the encoded
// lines) and measures the lines of every quoted-printable part.
func qpLongLines(contentType, cte string, body []byte, path string, depth int, out *[]qpLong) {
	if depth > MaxMIMEDepth || len(*out) > MaxParts {
		return
	}
	mt, params, _ := mime.ParseMediaType(contentType)
	switch {
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		delim := []byte("--" + params["boundary"])
		n := 0
		for _, chunk := range bytes.Split(body, delim)[1:] {
			if bytes.HasPrefix(chunk, []byte("--")) {
				break // the closing delimiter
			}
			// The part starts after the rest of the delimiter line.
			if i := bytes.IndexByte(chunk, '\n'); i >= 0 {
				chunk = chunk[i+1:]
			} else {
				continue
			}
			n++
			cp := fmt.Sprint(n)
			if path != "" {
				cp = path + "." + cp
			}
			tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(chunk)))
			h, err := tr.ReadMIMEHeader()
			if err != nil && len(h) == 0 {
				continue
			}
			rest, _ := readAll(tr.R)
			qpLongLines(orDefault(h.Get("Content-Type"), "text/plain"), h.Get("Content-Transfer-Encoding"), rest, cp, depth+1, out)
		}
	case strings.EqualFold(strings.TrimSpace(cte), "quoted-printable"):
		q := qpLong{part: orDefault(path, "the body")}
		for _, line := range bytes.Split(body, []byte("\n")) {
			n := len(bytes.TrimSuffix(line, []byte("\r")))
			if n > maxQPLine {
				q.lines++
				q.longest = max(q.longest, n)
			}
		}
		if q.lines > 0 {
			*out = append(*out, q)
		}
	}
}

func readAll(r *bufio.Reader) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

func testQPLineLength(m *Message) checks.Result {
	var long []qpLong
	ct, _ := m.first("Content-Type")
	cte, _ := m.first("Content-Transfer-Encoding")
	qpLongLines(orDefault(ct, "text/plain"), cte, m.body, "", 0, &long)
	if len(long) == 0 {
		return pass(fmt.Sprintf("no quoted-printable line over %d characters", maxQPLine))
	}
	var parts []string
	total := 0
	for _, q := range long {
		total += q.lines
		where := q.part
		if where != "the body" {
			where = "part " + where
		}
		parts = append(parts, fmt.Sprintf("%s: %d lines, the longest %d", where, q.lines, q.longest))
	}
	r := result(checks.Warn, fmt.Sprintf("%d quoted-printable lines longer than the %d characters RFC 2045 §6.7 allows (%s): strict gateways rewrap or reject them, which breaks DKIM",
		total, maxQPLine, strings.Join(first(parts, 3), "; ")),
		fmt.Sprintf("encode with a quoted-printable encoder that breaks lines at %d characters with soft line breaks (=)", maxQPLine))
	r.Details = map[string]any{"limit": maxQPLine, "parts": parts}
	return r
}

// testNUL finds NUL bytes in the body: RFC 5322 §3.5 and §4.1 and RFC 2045 §2.7/§2.8 keep
// NUL out of a message, and many receivers (Exchange, qmail) reject or cut it there.
func testNUL(m *Message) checks.Result {
	n := bytes.Count(m.body, []byte{0})
	if n == 0 {
		return pass("no NUL bytes in the body")
	}
	at := bytes.IndexByte(m.body, 0)
	r := result(checks.Fail, fmt.Sprintf("%d NUL bytes in the body (the first at byte %d of the body): RFC 5322 and RFC 2045 forbid NUL in mail, and receivers reject the message or cut it at the NUL", n, at),
		"encode binary content (base64) and strip NUL from text before sending")
	r.Details = map[string]any{"nul_bytes": n, "first_offset": at}
	return r
}

// encodedWord is an RFC 2047 encoded-word.
var encodedWord = regexp.MustCompile(`=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=`)

// testFromEncoding finds a From display name encoded (RFC 2047) though it is plain ASCII
// that needs no encoding: SpamAssassin scores it (FROM_EXCESS_BASE64, FROM_EXCESS_QP), as
// spamware writes it to slip past filters that read the raw field.
func testFromEncoding(m *Message) checks.Result {
	v, ok := m.first("From")
	if !ok {
		return skip("no From field (see message/from)")
	}
	words := encodedWord.FindAllString(v, -1)
	if len(words) == 0 {
		return pass("From's display name is not encoded")
	}
	var needless []string
	for _, w := range words {
		dec, err := wordDecoder.DecodeHeader(w)
		if err != nil {
			continue
		}
		if plainASCII(dec) {
			needless = append(needless, fmt.Sprintf("%s (%q)", sanitize.Line(clip(w, 60)), sanitize.Line(dec)))
		}
	}
	if len(needless) == 0 {
		return pass("From's display name is encoded because it needs to be (non-ASCII text)")
	}
	r := result(checks.Warn, "From's display name is encoded though it is plain ASCII: "+strings.Join(first(needless, 2), ", ")+"; spam filters score needless encoding (SpamAssassin FROM_EXCESS_BASE64 / FROM_EXCESS_QP)",
		"write an ASCII display name as it is (quoted if it has punctuation); encode only names with non-ASCII characters")
	r.Details = map[string]any{"encoded_words": needless}
	return r
}

// plainASCII reports text made only of printable ASCII: it can stand in a header as it is.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// testBIMI reads the BIMI record of the From domain (draft-brand-indicators-for-message-
// identification §4: <selector>._bimi.<domain>, then the organizational domain): where the
// logo (l=) is and whether an evidence document (a=, a VMC or CMC) is named. The logo and
// the certificate are not fetched or validated.
func testBIMI(ctx context.Context, m *Message, env *checks.Env) checks.Result {
	dom := m.FromDomain()
	if dom == "" {
		return skip("no readable From domain (see message/from)")
	}
	selector := "default"
	if v, ok := m.first("Bimi-Selector"); ok {
		if tags, _ := tagList(v); tags["s"] != "" {
			selector = strings.ToLower(tags["s"])
		}
	}
	names := []string{selector + "._bimi." + dom}
	if org, err := dmarc.OrgDomain(ctx, env.Resolver, dom); err == nil && org != "" && org != dom {
		names = append(names, selector+"._bimi."+org)
	}
	for _, name := range names {
		txts, err := env.Resolver.TXT(ctx, name)
		if err != nil && !resolver.IsNotFound(err) {
			return result(checks.Error, "the BIMI record at "+name+" could not be read: "+errText(err), "")
		}
		var recs []string
		for _, t := range txts {
			if strings.HasPrefix(t, "v=BIMI1") {
				recs = append(recs, t)
			}
		}
		if len(recs) == 0 {
			continue
		}
		d := map[string]any{"name": name, "record": sanitize.Line(clip(recs[0], 300))}
		if len(recs) > 1 {
			r := result(checks.Warn, fmt.Sprintf("%d BIMI records at %s: receivers use none", len(recs), name), "keep one BIMI record at "+name)
			r.Details = d
			return r
		}
		tags, _ := tagList(recs[0])
		logo, evidence := tags["l"], tags["a"]
		d["logo"], d["evidence"] = logo, evidence
		var r checks.Result
		switch {
		case logo == "" && evidence == "":
			r = pass("BIMI record at " + name + " declines to show a logo (empty l= and a=)")
		case evidence == "":
			r = result(checks.Warn, fmt.Sprintf("BIMI record at %s names a logo (%s) but no evidence document (a=): Gmail and Apple Mail show a logo only with a VMC or CMC", name, sanitize.Line(clip(logo, 80))),
				"obtain a Verified or Common Mark Certificate and add a=<its https URL> to "+name)
		default:
			r = pass(fmt.Sprintf("BIMI record at %s: logo %s, evidence document %s (named, not fetched or validated here)", name, sanitize.Line(clip(logo, 80)), sanitize.Line(clip(evidence, 80))))
		}
		r.Details = d
		return r
	}
	r := pass(fmt.Sprintf("no BIMI record at %s (optional: it shows a brand logo where receivers support it, and needs DMARC at quarantine or reject)", strings.Join(names, " or ")))
	r.Details = map[string]any{"names": names}
	return r
}
