package message

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/sanitize"
)

// Part is one MIME part as the walk found it.
type Part struct {
	Path        string `json:"path"` // "1.2": second part of the first part; "" for the whole message
	Depth       int    `json:"depth"`
	Type        string `json:"type"`
	Charset     string `json:"charset,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Disposition string `json:"disposition,omitempty"`
	Filename    string `json:"filename,omitempty"`
	Size        int64  `json:"size"` // decoded bytes
}

// structure is what one walk of the MIME tree found; every MIME test reads it.
type structure struct {
	parts        []Part
	problems     []string // boundaries, nesting
	unclosed     []string // multiparts whose closing boundary is missing (often truncation)
	typeProblems []string // Content-Type syntax
	charsets     []string // charsets no decoder knows
	encProblems  []string // transfer encodings
	depthCapped  bool
	partsCapped  bool
	arena        []byte   // decoded text of all text parts, at most MaxTextScan
	texts        [][]byte // text/plain parts, slices of arena
	htmls        [][]byte // text/html parts, slices of arena
	parsed       []htmlDoc
	textCapped   bool
	maxDepth     int
	bodyLen      int // the raw body's length: decoded text is never longer
}

var knownEncodings = map[string]bool{"7bit": true, "8bit": true, "binary": true, "quoted-printable": true, "base64": true}

// walkMIME reads the body once, bounded by MaxMIMEDepth, MaxParts and MaxTextScan.
func (m *Message) walkMIME() *structure {
	s := &structure{bodyLen: len(m.body)}
	h := message.Header{Header: m.header}
	e, err := message.New(h, bytes.NewReader(m.body))
	if e == nil {
		s.problems = append(s.problems, "body cannot be read: "+errText(err))
		return s
	}
	s.walk(e, err, 0, "")
	return s
}

func (s *structure) walk(e *message.Entity, entErr error, depth int, p string) {
	if len(s.parts) >= MaxParts {
		s.partsCapped = true
		return
	}
	if depth > s.maxDepth {
		s.maxDepth = depth
	}
	where := "the message"
	if p != "" {
		where = "part " + p
	}
	part := Part{Path: p, Depth: depth}
	mt, params, err := e.Header.ContentType()
	if err != nil && e.Header.Get("Content-Type") != "" {
		s.typeProblems = append(s.typeProblems, fmt.Sprintf("%s: Content-Type %q unreadable", where, sanitize.Line(clip(e.Header.Get("Content-Type"), 60))))
	}
	if mt == "" {
		mt = "text/plain"
	}
	part.Type = sanitize.Line(mt)
	part.Charset = sanitize.Line(strings.ToLower(params["charset"]))
	cte := strings.ToLower(strings.TrimSpace(e.Header.Get("Content-Transfer-Encoding")))
	part.Encoding = sanitize.Line(cte)
	if cte != "" && !knownEncodings[cte] {
		s.encProblems = append(s.encProblems, fmt.Sprintf("%s: unknown Content-Transfer-Encoding %q", where, part.Encoding))
	}
	if entErr != nil {
		switch {
		case message.IsUnknownCharset(entErr):
			s.charsets = append(s.charsets, fmt.Sprintf("%s: unknown charset %q", where, part.Charset))
		case message.IsUnknownEncoding(entErr):
			// reported above from the header
		default:
			s.problems = append(s.problems, fmt.Sprintf("%s: %s", where, errText(entErr)))
		}
	}
	if disp, dp, err := e.Header.ContentDisposition(); err == nil {
		part.Disposition = sanitize.Line(strings.ToLower(disp))
		_ = dp
	}
	ah := gomail.AttachmentHeader{Header: e.Header}
	if fn, err := ah.Filename(); err == nil && fn != "" {
		part.Filename = sanitize.Line(fn)
	} else if n := params["name"]; n != "" {
		if dn, err := wordDecoder.DecodeHeader(n); err == nil {
			n = dn
		}
		part.Filename = sanitize.Line(n)
	}
	s.parts = append(s.parts, part)
	idx := len(s.parts) - 1

	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if cte != "" && cte != "7bit" && cte != "8bit" && cte != "binary" {
			s.encProblems = append(s.encProblems, fmt.Sprintf("%s: multipart with Content-Transfer-Encoding %s (RFC 2045 §6.4 allows only 7bit, 8bit, binary)", where, part.Encoding))
		}
		if params["boundary"] == "" {
			s.problems = append(s.problems, fmt.Sprintf("%s: %s without a boundary parameter", where, part.Type))
			s.parts[idx].Size = drain(e.Body)
			return
		}
		if depth >= MaxMIMEDepth {
			s.depthCapped = true
			s.parts[idx].Size = drain(e.Body)
			return
		}
		mr := e.MultipartReader()
		n := 0
		for {
			child, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil && child == nil {
				if strings.Contains(err.Error(), "EOF") {
					s.unclosed = append(s.unclosed, fmt.Sprintf("%s: closing boundary --%s-- missing", where, sanitize.Line(clip(params["boundary"], 40))))
					break
				}
				s.problems = append(s.problems, fmt.Sprintf("%s: %s", where, errText(err)))
				break
			}
			n++
			cp := strconv.Itoa(n)
			if p != "" {
				cp = p + "." + cp
			}
			s.walk(child, err, depth+1, cp)
			if s.partsCapped {
				break
			}
		}
		if n == 0 && !s.partsCapped {
			s.problems = append(s.problems, fmt.Sprintf("%s: %s with no parts (boundary %q never appears)", where, part.Type, sanitize.Line(clip(params["boundary"], 40))))
		}
	case mt == "message/rfc822" || mt == "message/global":
		if depth >= MaxMIMEDepth {
			s.depthCapped = true
			s.parts[idx].Size = drain(e.Body)
			return
		}
		inner, err := message.Read(e.Body)
		if inner == nil {
			s.problems = append(s.problems, fmt.Sprintf("%s: attached message unreadable: %s", where, errText(err)))
			return
		}
		cp := "1"
		if p != "" {
			cp = p + ".1"
		}
		s.walk(inner, err, depth+1, cp)
	case (mt == "text/plain" || mt == "text/html") && part.Disposition != "attachment":
		n, err := s.readText(mt == "text/html", e.Body)
		s.parts[idx].Size = n
		if err != nil && !truncated(err, cte) {
			s.encProblems = append(s.encProblems, fmt.Sprintf("%s: %s body does not decode: %s", where, orDefault(part.Encoding, "7bit"), errText(err)))
		}
	default:
		n, err := io.Copy(io.Discard, e.Body)
		s.parts[idx].Size = n
		if err != nil && !truncated(err, cte) {
			s.encProblems = append(s.encProblems, fmt.Sprintf("%s: %s body does not decode: %s", where, orDefault(part.Encoding, "7bit"), errText(err)))
		}
	}
}

// truncated reports a read that ran into the end of an unclosed multipart: reported as
// structure, not as a broken encoding.
func truncated(err error, cte string) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) && cte != "base64" && cte != "quoted-printable"
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// readText reads a text part into the arena, which is allocated once at the size of the
// raw body (decoded text is rarely longer) or MaxTextScan, whichever is smaller: what
// does not fit is counted, not kept.
func (s *structure) readText(html bool, r io.Reader) (int64, error) {
	if s.arena == nil {
		s.arena = make([]byte, 0, min(MaxTextScan, s.bodyLen+1))
	}
	var total int64
	if free := cap(s.arena) - len(s.arena); free > 0 {
		start := len(s.arena)
		n, err := io.ReadFull(r, s.arena[start:start+free])
		s.arena = s.arena[:start+n]
		total += int64(n)
		if n > 0 {
			span := s.arena[start : start+n : start+n]
			if html {
				s.htmls = append(s.htmls, span)
			} else {
				s.texts = append(s.texts, span)
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	n, err := io.Copy(io.Discard, r)
	if n > 0 {
		s.textCapped = true
	}
	return total + n, err
}

func drain(r io.Reader) int64 {
	n, _ := io.Copy(io.Discard, r)
	return n
}

func (m *Message) mime() *structure {
	if m.structure == nil {
		m.structure = m.walkMIME()
	}
	return m.structure
}

func init() {
	pureTests = append(pureTests,
		test{"mime-version", testMIMEVersion},
		test{"mime-structure", testMIMEStructure},
		test{"content-type", testContentType},
		test{"transfer-encoding", testTransferEncoding},
		test{"body", testBody},
		test{"plain-text-part", testPlainTextPart},
		test{"image-only", testImageOnly},
		test{"attachments", testAttachments},
		test{"attachment-names", testAttachmentNames},
	)
}

func testMIMEVersion(m *Message) checks.Result {
	v, ok := m.first("Mime-Version")
	_, hasCT := m.first("Content-Type")
	_, hasCTE := m.first("Content-Transfer-Encoding")
	if !ok {
		if hasCT || hasCTE {
			return result(checks.Warn, "Content-Type without MIME-Version: 1.0 (RFC 2045 §4): receivers may read the body as plain text and filters score it",
				"have the sending software add MIME-Version: 1.0")
		}
		return pass("plain RFC 5322 message without MIME")
	}
	if f := strings.Fields(strings.SplitN(v, "(", 2)[0]); len(f) == 0 || f[0] != "1.0" {
		return result(checks.Fail, fmt.Sprintf("MIME-Version %q: the only version is 1.0", sanitize.Line(clip(v, 40))),
			"write MIME-Version: 1.0")
	}
	return pass("MIME-Version: 1.0")
}

func testMIMEStructure(m *Message) checks.Result {
	s := m.mime()
	d := map[string]any{"parts": len(s.parts), "depth": s.maxDepth}
	if s.depthCapped {
		r := result(checks.Fail, fmt.Sprintf("multiparts nested deeper than %d levels: read stopped there; receivers quarantine MIME nesting like this (a MIME bomb)", MaxMIMEDepth),
			"send a flat structure: multipart/mixed holding multipart/alternative and the attachments")
		r.Details = d
		return r
	}
	if s.partsCapped {
		r := result(checks.Fail, fmt.Sprintf("more than %d MIME parts: read stopped there; receivers refuse or quarantine such mail", MaxParts),
			"send fewer parts: zip many files into one attachment or link to them")
		r.Details = d
		return r
	}
	if len(s.problems) > 0 {
		d["problems"] = append(s.problems, s.unclosed...)
		r := result(checks.Fail, "MIME structure is broken: "+strings.Join(first(s.problems, 3), "; "),
			"fix the software that builds the message: every multipart needs a boundary that opens each part and closes with --boundary--")
		r.Details = d
		return r
	}
	if len(s.unclosed) > 0 {
		d["problems"] = s.unclosed
		r := result(checks.Warn, "MIME structure not closed: "+strings.Join(first(s.unclosed, 2), "; ")+" (the copy may be truncated; filters flag unclosed multiparts)",
			"end every multipart with --boundary--, and test a complete copy of the message")
		r.Details = d
		return r
	}
	r := pass(fmt.Sprintf("MIME structure well-formed: %d parts, nested %d deep", len(s.parts), s.maxDepth))
	r.Details = d
	return r
}

func first(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(list[:n:n], fmt.Sprintf("and %d more", len(list)-n))
}

func testContentType(m *Message) checks.Result {
	s := m.mime()
	if len(s.typeProblems) > 0 {
		r := result(checks.Fail, "content types unreadable: "+strings.Join(first(s.typeProblems, 3), "; "),
			"declare each part as type/subtype with a registered charset (UTF-8)")
		r.Details = map[string]any{"problems": s.typeProblems}
		return r
	}
	if len(s.charsets) > 0 {
		r := result(checks.Warn, "text in charsets receivers may not decode: "+strings.Join(first(s.charsets, 3), "; "),
			"send text as UTF-8")
		r.Details = map[string]any{"charsets": s.charsets}
		return r
	}
	var types []string
	for _, p := range s.parts {
		if !contains(types, p.Type) {
			types = append(types, p.Type)
		}
	}
	return pass("content types readable: " + strings.Join(first(types, 6), ", "))
}

func testTransferEncoding(m *Message) checks.Result {
	s := m.mime()
	if len(s.encProblems) > 0 {
		r := result(checks.Fail, "transfer encoding broken: "+strings.Join(first(s.encProblems, 3), "; "),
			"encode parts as base64 or quoted-printable with a library, and declare what you used")
		r.Details = map[string]any{"problems": s.encProblems}
		return r
	}
	return pass("every part's transfer encoding is known and decodes")
}

func testBody(m *Message) checks.Result {
	s := m.mime()
	if len(bytes.TrimSpace(m.body)) == 0 {
		return result(checks.Warn, "the body is empty: filters score empty mail as spam or probes",
			"send a body that says what the message is")
	}
	var size int64
	for _, p := range s.parts {
		if !strings.HasPrefix(p.Type, "multipart/") {
			size += p.Size
		}
	}
	note := ""
	if s.textCapped {
		note = fmt.Sprintf(" (text scanned for links: the first %d MB)", MaxTextScan>>20)
	}
	r := pass(fmt.Sprintf("body has %d bytes of content%s", size, note))
	r.Details = map[string]any{"decoded_bytes": size, "text_scan_capped": s.textCapped}
	return r
}

func testPlainTextPart(m *Message) checks.Result {
	var plain, html bool
	for _, p := range m.mime().parts {
		if p.Disposition == "attachment" {
			continue
		}
		plain = plain || p.Type == "text/plain"
		html = html || p.Type == "text/html"
	}
	switch {
	case html && !plain:
		return result(checks.Warn, "HTML without a plain-text alternative: filters (SpamAssassin MIME_HTML_ONLY, Proofpoint) score HTML-only mail",
			"send multipart/alternative with a text/plain part beside the HTML")
	case html:
		return pass("HTML with a plain-text alternative")
	}
	return pass("plain text")
}

func testImageOnly(m *Message) checks.Result {
	s := m.mime()
	if len(s.htmls) == 0 {
		return skip("no HTML part")
	}
	imgs, words := 0, 0
	for _, doc := range s.docs() {
		imgs += doc.images
		words += doc.words
	}
	for _, p := range s.parts {
		if strings.HasPrefix(p.Type, "image/") {
			imgs++
		}
	}
	d := map[string]any{"images": imgs, "words": words}
	if imgs > 0 && words < 25 {
		r := result(checks.Warn, fmt.Sprintf("%d images and %d words of text: image-only mail is a classic way to hide spam text, and filters score it", imgs, words),
			"put the message in text, with images as decoration")
		r.Details = d
		return r
	}
	r := pass(fmt.Sprintf("%d words of text beside %d images", words, imgs))
	r.Details = d
	return r
}

// Attachment types receivers block or quarantine. Executables and scripts are refused by
// Gmail and Microsoft 365's common attachment filter outright.
var (
	blockedExt = map[string]bool{
		".exe": true, ".scr": true, ".com": true, ".pif": true, ".bat": true, ".cmd": true, ".js": true,
		".jse": true, ".vbs": true, ".vbe": true, ".wsf": true, ".wsh": true, ".msi": true, ".msp": true,
		".jar": true, ".ps1": true, ".hta": true, ".lnk": true, ".cpl": true, ".dll": true, ".reg": true,
		".iso": true, ".img": true, ".vhd": true, ".vhdx": true, ".application": true, ".appx": true,
		".msix": true, ".gadget": true, ".inf": true, ".sys": true, ".chm": true, ".xll": true, ".one": true,
	}
	riskyExt = map[string]bool{
		".docm": true, ".xlsm": true, ".pptm": true, ".dotm": true, ".xlam": true, ".xls": true, ".doc": true,
		".html": true, ".htm": true, ".shtml": true, ".svg": true, ".zip": true, ".rar": true, ".7z": true,
		".gz": true, ".tgz": true, ".ace": true, ".arj": true, ".cab": true, ".rtf": true,
	}
	blockedTypes = map[string]bool{
		"application/x-msdownload": true, "application/x-msdos-program": true, "application/x-dosexec": true,
		"application/javascript": true, "application/x-javascript": true, "application/hta": true,
		"application/x-ms-installer": true, "application/x-iso9660-image": true, "application/java-archive": true,
	}
)

func ext(name string) string { return strings.ToLower(path.Ext(strings.TrimSpace(name))) }

func attachments(s *structure) []Part {
	var out []Part
	for _, p := range s.parts {
		if strings.HasPrefix(p.Type, "multipart/") {
			continue
		}
		if p.Disposition == "attachment" || p.Filename != "" {
			out = append(out, p)
		}
	}
	return out
}

func testAttachments(m *Message) checks.Result {
	as := attachments(m.mime())
	if len(as) == 0 {
		return pass("no attachments")
	}
	var blocked, risky, all []string
	for _, a := range as {
		desc := fmt.Sprintf("%s (%s, %d KB)", orDefault(a.Filename, "unnamed"), a.Type, (a.Size+1023)/1024)
		all = append(all, desc)
		switch e := ext(a.Filename); {
		case blockedExt[e] || blockedTypes[a.Type]:
			blocked = append(blocked, desc)
		case riskyExt[e]:
			risky = append(risky, desc)
		}
	}
	d := map[string]any{"attachments": all}
	switch {
	case len(blocked) > 0:
		r := result(checks.Fail, "attachments that Gmail and Microsoft 365 block outright: "+strings.Join(first(blocked, 3), "; "),
			"do not send executables, scripts or disk images by mail; share them by link")
		r.Details = d
		return r
	case len(risky) > 0:
		r := result(checks.Warn, "attachments that filters sandbox or quarantine (macros, HTML, archives): "+strings.Join(first(risky, 3), "; "),
			"send PDF or macro-free Office files; link to archives instead of attaching them")
		r.Details = d
		return r
	}
	r := pass(fmt.Sprintf("%d attachments of ordinary types: %s", len(as), strings.Join(first(all, 3), "; ")))
	r.Details = d
	return r
}

// typeForExt is what a few common extensions should be declared as.
var typeForExt = map[string]string{
	".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".gif": "image/gif", ".zip": "application/zip", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".txt": "text/plain", ".csv": "text/csv",
}

func testAttachmentNames(m *Message) checks.Result {
	as := attachments(m.mime())
	if len(as) == 0 {
		return skip("no attachments")
	}
	var bad []string
	for _, a := range as {
		name := a.Filename
		base := strings.ToLower(name)
		switch {
		case strings.Contains(name, "<U+202E>") || strings.Contains(name, "<U+202D>"):
			bad = append(bad, fmt.Sprintf("%s hides its real extension with a right-to-left override", name))
		case strings.Count(base, ".") >= 2 && blockedExt[ext(base)] && typeForExt[ext(strings.TrimSuffix(base, ext(base)))] != "":
			bad = append(bad, fmt.Sprintf("%s has a double extension", name))
		case blockedTypes[a.Type] && !blockedExt[ext(base)]:
			bad = append(bad, fmt.Sprintf("%s is an executable (%s) under a harmless name", name, a.Type))
		case blockedExt[ext(base)] && (typeForExt[ext(base)] == "" && (a.Type == "application/pdf" || strings.HasPrefix(a.Type, "image/") || strings.HasPrefix(a.Type, "text/"))):
			bad = append(bad, fmt.Sprintf("%s is declared %s", name, a.Type))
		}
	}
	if len(bad) > 0 {
		return result(checks.Fail, "attachment names disguise their type: "+strings.Join(first(bad, 3), "; "),
			"name attachments with their one real extension and declare the matching Content-Type")
	}
	return pass("attachment names match their declared types")
}

// Parts returns the MIME parts as the walk found them (bounded by MaxMIMEDepth and
// MaxParts), the whole message first.
func (m *Message) Parts() []Part { return m.mime().parts }
