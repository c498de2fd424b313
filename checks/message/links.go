package message

import (
	"bytes"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/sanitize"
)

// maxLinks bounds the links kept from one message.
const maxLinks = 2000

// Link is one link in the message's text.
type Link struct {
	URL     string `json:"url"`               // as written (sanitized)
	Target  string `json:"target,omitempty"`  // the original URL when URL was a rewriting (Proofpoint URL Defense)
	Host    string `json:"host"`              // host of the effective URL, lower case
	Text    string `json:"text,omitempty"`    // the anchor's visible text (HTML)
	Rewrite string `json:"rewrite,omitempty"` // "urldefense-v1/v2/v3" when decoded
}

// effective is the URL a click finally reaches, as far as the message shows.
func (l Link) effective() string {
	if l.Target != "" {
		return l.Target
	}
	return l.URL
}

// findURLs returns the http and https URLs in plain text, at most max. A scan for the
// scheme is several times faster than a case-insensitive regular expression on the
// megabytes a newsletter carries.
func findURLs(text []byte, max int) []string {
	var out []string
	for i := 0; i < len(text) && len(out) < max; {
		j := bytes.IndexAny(text[i:], "hH")
		if j < 0 {
			break
		}
		i += j
		rest := text[i:]
		n := 0
		switch {
		case len(rest) >= 8 && bytes.EqualFold(rest[:8], []byte("https://")):
			n = 8
		case len(rest) >= 7 && bytes.EqualFold(rest[:7], []byte("http://")):
			n = 7
		}
		if n == 0 || (i > 0 && isWordByte(text[i-1])) {
			i++
			continue
		}
		end := n
		for end < len(rest) && !urlStop(rest[end]) {
			end++
		}
		if end > n {
			out = append(out, string(rest[:end]))
		}
		i += end
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// urlStop ends a URL in running text.
func urlStop(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '<', '>', '"', '\'', '(', ')', '[', ']', '{', '}':
		return true
	}
	return c < 0x20
}

// htmlDoc is what the links and image tests need from the HTML part.
type htmlDoc struct {
	words   int
	images  int
	anchors []Link
}

func countWords(b []byte) int {
	n, in := 0, false
	for _, c := range b {
		sp := c == ' ' || c == '\t' || c == '\n' || c == '\r'
		if !sp && !in {
			n++
		}
		in = !sp
	}
	return n
}

// docs parses each HTML part once.
func (s *structure) docs() []htmlDoc {
	if s.parsed == nil {
		s.parsed = make([]htmlDoc, 0, len(s.htmls))
		for _, h := range s.htmls {
			s.parsed = append(s.parsed, parseHTML(h))
		}
	}
	return s.parsed
}

func parseHTML(b []byte) htmlDoc {
	var d htmlDoc
	z := html.NewTokenizer(bytes.NewReader(b))
	var inA *Link
	var aText strings.Builder
	skipDepth := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return d
		case html.TextToken:
			if skipDepth > 0 {
				continue
			}
			t := z.Raw()
			d.words += countWords(t)
			if inA != nil && aText.Len() < 300 {
				t = z.Text()
				aText.Write(t)
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style:
				if tt == html.StartTagToken {
					skipDepth++
				}
			case atom.Img:
				d.images++
			case atom.A:
				var href string
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "href" {
						href = string(v)
					}
				}
				if href != "" && len(d.anchors) < maxLinks {
					d.anchors = append(d.anchors, Link{URL: href})
					inA = &d.anchors[len(d.anchors)-1]
					aText.Reset()
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch atom.Lookup(name) {
			case atom.Script, atom.Style:
				if skipDepth > 0 {
					skipDepth--
				}
			case atom.A:
				if inA != nil {
					inA.Text = strings.Join(strings.Fields(aText.String()), " ")
					inA = nil
				}
			}
		}
	}
}

// links returns every http(s) link of the text and HTML parts, with URL Defense
// rewritings decoded, in order of appearance, at most maxLinks.
func (m *Message) links() []Link {
	if m.linkList != nil {
		return m.linkList
	}
	s := m.mime()
	out := []Link{}
	for _, d := range s.docs() {
		out = append(out, d.anchors...)
	}
	for _, t := range s.texts {
		for _, u := range findURLs(t, maxLinks) {
			out = append(out, Link{URL: u})
		}
	}
	if len(out) > maxLinks {
		out = out[:maxLinks]
	}
	for i := range out {
		l := &out[i]
		raw := strings.TrimRight(l.URL, ".,;:!?")
		if t, kind := decodeURLDefense(raw); kind != "" {
			l.Target = sanitize.Line(t)
			l.Rewrite = kind
		}
		l.URL = sanitize.Line(raw)
		l.Text = sanitize.Line(l.Text)
		l.Host = hostOf(l.effective())
	}
	m.linkList = out
	return out
}

// hostOf returns the lower-case host of an http(s) URL, or "". It reads only the
// authority, which is all the link tests need, without building a url.URL per link.
func hostOf(s string) string {
	s = strings.TrimSpace(s)
	var rest string
	switch {
	case len(s) > 8 && strings.EqualFold(s[:8], "https://"):
		rest = s[8:]
	case len(s) > 7 && strings.EqualFold(s[:7], "http://"):
		rest = s[7:]
	default:
		return ""
	}
	if i := strings.IndexAny(rest, "/?#\\"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i >= 0 {
			return strings.ToLower(rest[:i+1])
		}
		return ""
	}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return strings.ToLower(strings.TrimSuffix(rest, "."))
}

func init() {
	pureTests = append(pureTests,
		test{"link-mismatch", testLinkMismatch},
		test{"url-shorteners", testURLShorteners},
		test{"ip-links", testIPLinks},
	)
}

// linkHosts returns the distinct hosts of web links.
func linkHosts(ls []Link) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range ls {
		if l.Host != "" && !seen[l.Host] {
			seen[l.Host] = true
			out = append(out, l.Host)
		}
	}
	sort.Strings(out)
	return out
}

func testLinkMismatch(m *Message) checks.Result {
	ls := m.links()
	if len(ls) == 0 {
		return skip("no links")
	}
	var bad []string
	for _, l := range ls {
		if l.Text == "" || l.Host == "" {
			continue
		}
		shown := ""
		for _, w := range strings.Fields(l.Text) {
			w = strings.Trim(w, "<>()[]\"'.,")
			if h := hostOf(w); h != "" {
				shown = h
			} else if looksLikeDomain(w) && !strings.Contains(w, "@") {
				shown = strings.ToLower(w)
			}
			if shown != "" {
				break
			}
		}
		if shown != "" && orgDomain(shown) != orgDomain(l.Host) {
			bad = append(bad, fmt.Sprintf("text shows %s, link goes to %s", shown, l.Host))
		}
	}
	if len(bad) > 0 {
		r := result(checks.Fail, fmt.Sprintf("%d links show one domain and go to another (%s): the mark of phishing to every filter", len(bad), bad[0]),
			"make each link's visible text match where it goes, or show words instead of an address")
		r.Details = map[string]any{"mismatches": first(bad, 10)}
		return r
	}
	return pass(fmt.Sprintf("%d links; none shows a domain other than where it goes", len(ls)))
}

// shorteners are public URL shorteners: spammers hide destinations behind them, so
// filters score them and blocklists list them.
var shorteners = map[string]bool{
	"bit.ly": true, "tinyurl.com": true, "t.co": true, "goo.gl": true, "ow.ly": true, "is.gd": true,
	"buff.ly": true, "rebrand.ly": true, "cutt.ly": true, "shorturl.at": true, "rb.gy": true, "t.ly": true,
	"tiny.cc": true, "s.id": true, "bit.do": true, "v.gd": true, "shorte.st": true, "adf.ly": true,
	"lnkd.in": true, "qrco.de": true, "tiny.one": true, "bl.ink": true,
}

func testURLShorteners(m *Message) checks.Result {
	var found []string
	for _, h := range linkHosts(m.links()) {
		if shorteners[h] || shorteners[strings.TrimPrefix(h, "www.")] {
			found = append(found, h)
		}
	}
	if len(found) > 0 {
		return result(checks.Warn, "links through public URL shorteners ("+strings.Join(found, ", ")+"): filters score them because spam hides its destination there",
			"link to your own domain directly, or use a branded short domain of your own")
	}
	return pass("no public URL shorteners")
}

func testIPLinks(m *Message) checks.Result {
	var found []string
	for _, h := range linkHosts(m.links()) {
		if h == "" || !(h[0] == '[' || h[0] >= '0' && h[0] <= '9') {
			continue
		}
		if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			found = append(found, h)
		}
	}
	if len(found) > 0 {
		return result(checks.Fail, "links to bare IP addresses ("+strings.Join(first(found, 3), ", ")+"): filters treat numeric links as phishing",
			"link to a host name in your own domain")
	}
	return pass("no links to bare IP addresses")
}

// Links returns the message's web links (text and HTML), URL Defense rewritings decoded,
// sanitized, at most maxLinks.
func (m *Message) Links() []Link { return m.links() }
