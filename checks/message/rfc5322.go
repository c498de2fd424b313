package message

import (
	"bytes"
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // RFC 2047 words in the charsets mail uses
	gomail "github.com/emersion/go-message/mail"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/sanitize"
)

// Size limits the big receivers publish; the smallest common one decides.
const (
	sizeWarn = 10 << 20 // many corporate gateways stop at 10 MB
	sizeFail = 25 << 20 // Gmail and Yahoo refuse more than 25 MB
	// maxLine is RFC 5322 §2.1.1's limit on a line, without CRLF.
	maxLine = 998
	// headerSizeLimit is Postfix's default header_size_limit: beyond it the rest of the
	// header is dropped.
	headerSizeLimit  = 102400
	headerFieldsWarn = 500
)

func init() {
	pureTests = append(pureTests,
		test{"size", testSize},
		test{"bare-lf", testBareLF},
		test{"line-length", testLineLength},
		test{"header-syntax", testHeaderSyntax},
		test{"header-size", testHeaderSize},
		test{"header-encoding", testHeaderEncoding},
		test{"from", testFrom},
		test{"from-display-name", testFromDisplayName},
		test{"date", testDate},
		test{"message-id", testMessageID},
		test{"duplicate-headers", testDuplicateHeaders},
		test{"recipients", testRecipients},
		test{"subject", testSubject},
		test{"reply-to", testReplyTo},
		test{"return-path", testReturnPath},
	)
}

func mb(n int) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }

func testSize(m *Message) checks.Result {
	n := len(m.raw)
	d := map[string]any{"bytes": n}
	switch {
	case n > sizeFail:
		r := result(checks.Fail, fmt.Sprintf("message is %s: Gmail and Yahoo refuse more than 25 MB", mb(n)),
			"send large files as a link, not an attachment")
		r.Details = d
		return r
	case n > sizeWarn:
		r := result(checks.Warn, fmt.Sprintf("message is %s: many corporate gateways stop at 10 MB", mb(n)),
			"keep mail under 10 MB; link to large files")
		r.Details = d
		return r
	}
	r := pass(fmt.Sprintf("message is %d KB, within every receiver's limit", (n+1023)/1024))
	r.Details = d
	return r
}

func testBareLF(m *Message) checks.Result {
	var crlf, bareLF, bareCR int
	raw := m.raw
	for i := 0; i < len(raw); {
		j := bytes.IndexAny(raw[i:], "\r\n")
		if j < 0 {
			break
		}
		i += j
		if raw[i] == '\r' {
			if i+1 < len(raw) && raw[i+1] == '\n' {
				crlf++
				i += 2
				continue
			}
			bareCR++
			i++
			continue
		}
		bareLF++
		i++
	}
	d := map[string]any{"crlf": crlf, "bare_lf": bareLF, "bare_cr": bareCR}
	var r checks.Result
	switch {
	case crlf == 0 && bareCR == 0:
		// A file saved by a Unix tool has LF line ends throughout: the wire form is not known.
		r = pass("line ends are LF throughout (the file was saved by a Unix tool): bare LF can only be judged in a CRLF copy")
	case bareLF > 0 || bareCR > 0:
		r = result(checks.Fail, fmt.Sprintf("%d bare LF and %d bare CR among %d CRLF line ends: receivers that guard against SMTP smuggling reject this", bareLF, bareCR, crlf),
			"have the sending software end every line with CRLF (RFC 5321 §2.3.8)")
	default:
		r = pass(fmt.Sprintf("every one of %d line ends is CRLF", crlf))
	}
	r.Details = d
	return r
}

func testLineLength(m *Message) checks.Result {
	longest, over, lineNo, firstOver := 0, 0, 0, 0
	raw := m.raw
	for len(raw) > 0 {
		lineNo++
		i := bytes.IndexByte(raw, '\n')
		var line []byte
		if i < 0 {
			line, raw = raw, nil
		} else {
			line, raw = raw[:i], raw[i+1:]
		}
		n := len(bytes.TrimSuffix(line, []byte("\r")))
		if n > longest {
			longest = n
		}
		if n > maxLine {
			over++
			if firstOver == 0 {
				firstOver = lineNo
			}
		}
	}
	d := map[string]any{"longest": longest, "over_998": over}
	if over > 0 {
		r := result(checks.Fail, fmt.Sprintf("%d lines longer than 998 octets (the first is line %d, the longest %d): receivers reject or rewrap them, which breaks DKIM", over, firstOver, longest),
			"encode long lines (quoted-printable or base64) in the sending software")
		d["first_line"] = firstOver
		r.Details = d
		return r
	}
	r := pass(fmt.Sprintf("no line over 998 octets (longest %d)", longest))
	r.Details = d
	return r
}

func testHeaderSyntax(m *Message) checks.Result {
	var problems []string
	if m.headerErr != nil {
		problems = append(problems, sanitize.Line(clip(m.headerErr.Error(), 160)))
	}
	for _, f := range m.Fields {
		if f.Name == "" {
			continue
		}
		if strings.TrimSpace(f.raw) == "" && (f.Name == "From" || f.Name == "Date" || f.Name == "To" || f.Name == "Message-Id") {
			problems = append(problems, f.Name+" is empty")
		}
	}
	if len(problems) > 0 {
		r := result(checks.Fail, fmt.Sprintf("header is malformed: %s", strings.Join(problems, "; ")),
			"fix the sending software so every header line is \"Name: value\" and folded lines start with a space")
		r.Details = map[string]any{"problems": problems, "fields_read": len(m.Fields)}
		return r
	}
	return pass(fmt.Sprintf("%d header fields, all well-formed", len(m.Fields)))
}

func testHeaderSize(m *Message) checks.Result {
	n := len(m.Fields)
	d := map[string]any{"fields": n, "bytes": m.headerLen}
	var r checks.Result
	switch {
	case m.headerLen >= MaxHeaderBytes || (m.headerErr != nil && strings.Contains(m.headerErr.Error(), "larger than")):
		r = result(checks.Fail, fmt.Sprintf("header section is over %d KB: read stopped there; receivers drop or refuse it (Postfix keeps 100 KB)", MaxHeaderBytes>>10),
			"find what adds header fields in a loop (a forwarding rule, a gateway) and stop it")
	case m.headerLen > headerSizeLimit:
		r = result(checks.Fail, fmt.Sprintf("header section is %d KB with %d fields: Postfix drops everything after 100 KB", m.headerLen>>10, n),
			"find what adds header fields in a loop (a forwarding rule, a gateway) and stop it")
	case n > headerFieldsWarn:
		r = result(checks.Warn, fmt.Sprintf("%d header fields: far more than normal mail carries (a mail loop or a tracking gateway)", n),
			"find what adds the repeated fields and stop it")
	default:
		r = pass(fmt.Sprintf("header section is %d fields, %d bytes", n, m.headerLen))
	}
	r.Details = d
	return r
}

var wordDecoder = &mime.WordDecoder{CharsetReader: message.CharsetReader}

func testHeaderEncoding(m *Message) checks.Result {
	var raw8, badWords []string
	for _, f := range m.Fields {
		if hasHigh(f.raw) {
			if !contains(raw8, f.Name) {
				raw8 = append(raw8, f.Name)
			}
		}
		if strings.Contains(f.raw, "=?") {
			if _, err := wordDecoder.DecodeHeader(f.raw); err != nil {
				badWords = append(badWords, fmt.Sprintf("%s (%s)", f.Name, sanitize.Line(clip(err.Error(), 80))))
			} else if strings.Contains(f.raw, "\"=?") && isAddressField(f.Name) {
				badWords = append(badWords, f.Name+" (encoded word inside a quoted string: RFC 2047 §5 forbids it)")
			}
		}
	}
	d := map[string]any{}
	if len(raw8) > 0 {
		d["unencoded_8bit"] = raw8
	}
	if len(badWords) > 0 {
		d["bad_encoded_words"] = badWords
		r := result(checks.Fail, "header text cannot be decoded: "+strings.Join(badWords, "; "),
			"encode non-ASCII header text as RFC 2047 encoded words with a registered charset (UTF-8)")
		r.Details = d
		return r
	}
	if len(raw8) > 0 {
		r := result(checks.Warn, "raw 8-bit text in "+strings.Join(raw8, ", ")+": only valid when every hop speaks SMTPUTF8 (RFC 6532); others garble or refuse it",
			"encode non-ASCII header text as RFC 2047 encoded words (=?UTF-8?B?…?=)")
		r.Details = d
		return r
	}
	return pass("header text is ASCII with valid RFC 2047 encoded words")
}

func isAddressField(name string) bool {
	switch name {
	case "From", "To", "Cc", "Bcc", "Reply-To", "Sender":
		return true
	}
	return false
}

func hasHigh(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

func testFrom(m *Message) checks.Result {
	froms := m.values("From")
	switch len(froms) {
	case 0:
		return result(checks.Fail, "no From field: receivers reject it (RFC 5322 §3.6 requires exactly one) and DMARC cannot apply",
			"set a From address in the sending software")
	case 1:
	default:
		return result(checks.Fail, fmt.Sprintf("%d From fields: RFC 5322 allows one; Gmail and Microsoft reject such mail (DMARC cannot pick a domain)", len(froms)),
			"send with exactly one From field")
	}
	as, err := gomail.ParseAddressList(froms[0])
	if err != nil || len(as) == 0 {
		return result(checks.Fail, fmt.Sprintf("From %q is not a valid address: %s", sanitize.Line(clip(froms[0], 80)), errText(err)),
			"use a From of the form Name <user@example.com>")
	}
	addrs := make([]string, len(as))
	for i, a := range as {
		addrs[i] = sanitize.Line(a.Address)
	}
	d := map[string]any{"addresses": addrs}
	if len(as) > 1 {
		if _, ok := m.first("Sender"); !ok {
			r := result(checks.Fail, fmt.Sprintf("From has %d mailboxes and no Sender field (RFC 5322 §3.6.2); DMARC receivers reject several From domains", len(as)),
				"send with one mailbox in From")
			r.Details = d
			return r
		}
	}
	if domainOf(as[0].Address) == "" || !strings.Contains(domainOf(as[0].Address), ".") {
		r := result(checks.Fail, fmt.Sprintf("From address %s has no fully qualified domain", addrs[0]),
			"use a From address in a real domain you publish SPF, DKIM and DMARC for")
		r.Details = d
		return r
	}
	r := pass("one From: " + addrs[0])
	r.Details = d
	return r
}

func errText(err error) string {
	if err == nil {
		return "empty"
	}
	return sanitize.Line(clip(err.Error(), 80))
}

func testFromDisplayName(m *Message) checks.Result {
	v, ok := m.first("From")
	if !ok {
		return skip("no From field (see message/from)")
	}
	a, err := gomail.ParseAddress(v)
	if err != nil {
		return skip("From is not one readable address (see message/from)")
	}
	name := sanitize.Line(a.Name)
	if name == "" {
		return pass("From has no display name")
	}
	fromOrg := orgDomain(domainOf(a.Address))
	for _, w := range strings.FieldsFunc(name, func(r rune) bool {
		return r == ' ' || r == '<' || r == '>' || r == '(' || r == ')' || r == '"' || r == '\'' || r == ','
	}) {
		var d string
		if strings.Contains(w, "@") {
			d = domainOf(w)
		} else if strings.Count(w, ".") >= 1 && looksLikeDomain(w) {
			d = strings.ToLower(strings.TrimSuffix(w, "."))
		}
		if d != "" && orgDomain(d) != fromOrg {
			r := result(checks.Warn, fmt.Sprintf("display name %q names %s but the address is in %s: filters (Proofpoint impostor, Microsoft spoof intelligence) treat this as impersonation", name, d, fromOrg),
				"use a display name without an address or a domain other than the From domain")
			r.Details = map[string]any{"display_name": name, "named_domain": d}
			return r
		}
	}
	return pass(fmt.Sprintf("display name %q names no other domain", name))
}

// looksLikeDomain reports a word shaped like a host name with a known public suffix.
func looksLikeDomain(w string) bool {
	w = strings.ToLower(strings.TrimSuffix(w, "."))
	if strings.ContainsAny(w, "/:") || !utf8.ValidString(w) {
		return false
	}
	labels := strings.Split(w, ".")
	tld := labels[len(labels)-1]
	if len(tld) < 2 || len(labels) < 2 {
		return false
	}
	for _, c := range tld {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return orgDomain(w) != w || len(labels) == 2
}

// Date limits: a receiver compares Date with the time it received the message.
const (
	dateFuture = 15 * time.Minute
	dateOld    = 3 * 24 * time.Hour
)

func testDate(m *Message) checks.Result {
	vs := m.values("Date")
	if len(vs) == 0 {
		return result(checks.Fail, "no Date field: RFC 5322 §3.6 requires one; spam filters score its absence",
			"have the sending software add a Date field")
	}
	t, err := mail.ParseDate(strings.TrimSpace(vs[0]))
	if err != nil {
		return result(checks.Fail, fmt.Sprintf("Date %q is not an RFC 5322 date", sanitize.Line(clip(vs[0], 60))),
			"write Date as e.g. \"Mon, 2 Jan 2006 15:04:05 -0700\"")
	}
	t = t.UTC()
	ref, refName := m.opts.Now.UTC(), "now"
	if m.Sending >= 0 && !m.Hops[m.Sending].Time.IsZero() {
		ref, refName = m.Hops[m.Sending].Time, "when it was received"
	} else if len(m.Hops) > 0 && !m.Hops[0].Time.IsZero() {
		ref, refName = m.Hops[0].Time, "when it was received"
	}
	d := map[string]any{"date": t.Format(time.RFC3339), "reference": ref.Format(time.RFC3339)}
	var r checks.Result
	switch {
	case t.Sub(m.opts.Now) > dateFuture:
		r = result(checks.Fail, fmt.Sprintf("Date %s is %s in the future: filters score future dates as spam", t.Format(time.RFC3339), roundDur(t.Sub(m.opts.Now))),
			"fix the sending host's clock and time zone (run NTP)")
	case t.Sub(ref) > dateFuture:
		r = result(checks.Fail, fmt.Sprintf("Date %s is %s ahead of %s: filters score future dates as spam", t.Format(time.RFC3339), roundDur(t.Sub(ref)), refName),
			"fix the sending host's clock and time zone (run NTP)")
	case ref.Sub(t) > dateOld:
		r = result(checks.Warn, fmt.Sprintf("Date %s is %s before %s: a stale date looks like replayed or queued mail", t.Format(time.RFC3339), roundDur(ref.Sub(t)), refName),
			"fix the sending host's clock, or find where the message sat queued")
	default:
		r = pass(fmt.Sprintf("Date %s is sane (%s)", t.Format(time.RFC3339), refName))
	}
	r.Details = d
	return r
}

func roundDur(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%.0f hours", d.Hours())
	case d >= time.Hour:
		return "1 hour"
	}
	return fmt.Sprintf("%.0f minutes", d.Minutes())
}

func testMessageID(m *Message) checks.Result {
	vs := m.values("Message-Id")
	if len(vs) == 0 {
		return result(checks.Fail, "no Message-ID: Gmail rejects or junks mail without one, and support cannot trace it",
			"have the sending software add Message-ID: <unique@your-domain>")
	}
	h := gomail.Header{}
	h.Set("Message-Id", vs[0])
	id, err := h.MessageID()
	shown := sanitize.Line(clip(strings.TrimSpace(vs[0]), 100))
	if err != nil || id == "" {
		return result(checks.Fail, fmt.Sprintf("Message-ID %s is not <left@domain> (RFC 5322 §3.6.4)", shown),
			"generate Message-ID as <unique@your-domain>")
	}
	_, dom, _ := strings.Cut(id, "@")
	d := map[string]any{"message_id": sanitize.Line(id)}
	var r checks.Result
	switch {
	case !strings.Contains(id, "@"):
		r = result(checks.Fail, fmt.Sprintf("Message-ID %s has no @domain part", shown), "generate Message-ID as <unique@your-domain>")
	case !strings.Contains(dom, ".") || strings.EqualFold(dom, "localhost") || strings.HasPrefix(dom, "["):
		r = result(checks.Warn, fmt.Sprintf("Message-ID %s has no fully qualified domain: filters score it as forged", shown),
			"use your own domain on the right of @ in Message-ID")
	default:
		r = pass("Message-ID " + shown)
	}
	r.Details = d
	return r
}

// onceFields may appear at most once (RFC 5322 §3.6); From has its own test.
var onceFields = []string{"Date", "Sender", "Reply-To", "To", "Cc", "Bcc", "Message-Id", "In-Reply-To", "References", "Subject"}

func testDuplicateHeaders(m *Message) checks.Result {
	count := map[string]int{}
	for _, f := range m.Fields {
		count[f.Name]++
	}
	var dups []string
	for _, n := range onceFields {
		if count[n] > 1 {
			dups = append(dups, fmt.Sprintf("%s ×%d", n, count[n]))
		}
	}
	if len(dups) > 0 {
		r := result(checks.Fail, "fields RFC 5322 allows once appear more often: "+strings.Join(dups, ", ")+" (a sign of header injection; receivers reject it)",
			"send each of these fields once")
		r.Details = map[string]any{"duplicates": dups}
		return r
	}
	return pass("no field that RFC 5322 allows once appears twice")
}

func testRecipients(m *Message) checks.Result {
	var n int
	for _, name := range []string{"To", "Cc"} {
		for _, v := range m.values(name) {
			as, err := gomail.ParseAddressList(v)
			if err != nil && strings.TrimSpace(v) != "" && !strings.HasSuffix(strings.TrimSpace(v), ":;") {
				return result(checks.Fail, fmt.Sprintf("%s %q is not a valid address list: %s", name, sanitize.Line(clip(v, 80)), errText(err)),
					"fix the recipient addresses the sending software writes")
			}
			n += len(as)
		}
	}
	if n == 0 {
		return result(checks.Warn, "no To or Cc recipient: filters score mail with only hidden recipients as spam",
			"address the message To its recipient, or To a list address")
	}
	if n > 50 {
		return result(checks.Warn, fmt.Sprintf("%d visible recipients: filters score long recipient lists as bulk", n),
			"send one message per recipient, or use Bcc / a list")
	}
	return pass(fmt.Sprintf("%d visible recipient(s)", n))
}

func testSubject(m *Message) checks.Result {
	v, ok := m.first("Subject")
	if !ok || strings.TrimSpace(v) == "" {
		return result(checks.Warn, "no Subject: filters score a missing or empty subject as spam",
			"give the message a subject")
	}
	s, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		s = v
	}
	s = sanitize.Line(s)
	letters, upper := 0, 0
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			upper++
			letters++
		} else if r >= 'a' && r <= 'z' {
			letters++
		}
	}
	if letters >= 10 && upper*10 >= letters*9 {
		return result(checks.Warn, fmt.Sprintf("Subject %q is in capitals: a classic spam signal", clip(s, 80)),
			"write the subject in sentence case")
	}
	return pass(fmt.Sprintf("Subject %q", clip(s, 80)))
}

// freemail are mailbox providers anyone can sign up at: a reply address there on mail
// from a company domain is the shape of business email compromise.
var freemail = map[string]bool{
	"gmail.com": true, "googlemail.com": true, "outlook.com": true, "hotmail.com": true, "live.com": true,
	"yahoo.com": true, "aol.com": true, "icloud.com": true, "me.com": true, "gmx.com": true, "gmx.de": true,
	"mail.ru": true, "yandex.ru": true, "proton.me": true, "protonmail.com": true, "zoho.com": true, "qq.com": true,
}

func testReplyTo(m *Message) checks.Result {
	v, ok := m.first("Reply-To")
	if !ok {
		return pass("no Reply-To: replies go to From")
	}
	as, err := gomail.ParseAddressList(v)
	if err != nil || len(as) == 0 {
		return result(checks.Fail, fmt.Sprintf("Reply-To %q is not a valid address: %s", sanitize.Line(clip(v, 80)), errText(err)),
			"fix the Reply-To address")
	}
	rd := domainOf(as[0].Address)
	fd := m.FromDomain()
	if fd != "" && orgDomain(rd) != orgDomain(fd) && freemail[orgDomain(rd)] && !freemail[orgDomain(fd)] {
		return result(checks.Warn, fmt.Sprintf("Reply-To is at the free mailbox provider %s while From is %s: filters treat this as business email compromise", rd, fd),
			"reply to an address in your own domain")
	}
	return pass("Reply-To " + sanitize.Line(as[0].Address))
}

func testReturnPath(m *Message) checks.Result {
	vs := m.values("Return-Path")
	switch {
	case len(vs) == 0:
		return skip("no Return-Path: the copy was saved before final delivery, so the envelope sender is not recorded")
	case len(vs) > 1:
		return result(checks.Warn, fmt.Sprintf("%d Return-Path fields: only the final delivery should add one; the topmost is used", len(vs)),
			"use the copy as delivered to the mailbox")
	}
	v := strings.TrimSpace(vs[0])
	if v == "<>" || strings.EqualFold(v, "<MAILER-DAEMON>") {
		return pass("null envelope sender <>: a bounce or auto-reply; SPF is checked for the HELO name")
	}
	if m.EnvelopeSender() == "" {
		return result(checks.Fail, fmt.Sprintf("Return-Path %q is not an address", sanitize.Line(clip(v, 80))),
			"set a valid envelope sender (MAIL FROM) in the sending software")
	}
	return pass("envelope sender " + m.EnvelopeSender())
}
