package triage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/mail"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode every charset bounces come in

	"github.com/unblock-mail/unblock/casefile/triage/maillog"
	"github.com/unblock-mail/unblock/sanitize"
)

// maxPart bounds one decoded part of a message: bounces are small; the attached original
// may be large but only its headers matter.
const maxPart = 4 << 20

// maxPlain bounds the human-readable text kept of a bounce: its reports are at the top.
const maxPlain = 256 << 10

// hint is what the evidence around a reply says: the sending IP, the DSN's Status and
// Action, the Remote-MTA.
type hint struct {
	sendingIP string
	status    EnhancedStatus
	action    string
	remote    string
	recipient string
	stage     string
	senders   []string // the original's sender addresses: a reply naming one of them, and not the recipient, is about the sender
}

// classifyHint is classify with what a DSN or bounce knows besides the reply.
func classifyHint(text string, h hint) Finding {
	var p parsedReply
	p.parse(text)
	// The Status field stands in for a diagnostic without an enhanced code, unless it
	// disagrees with the reply code (Postfix writes 4.0.0 for a 554 banner it retries).
	if !p.status.valid && h.status.valid && (p.code == 0 || p.code/100 == h.status.class) {
		p.status = h.status
		p.statusHinted = true
	}
	if p.host == "" && h.remote != "" {
		p.host = h.remote
		if f, ok := FilterForHost(h.remote); ok {
			p.receiverProvider = f.Provider
		}
	}
	if _, d, ok := strings.Cut(h.recipient, "@"); ok {
		p.rcptDomain = d
	}
	if p.stage == "" {
		p.stage = h.stage
	}
	p.aboutSender = namesOnly(p.focus, h.senders, h.recipient)
	p.gaveUp = h.action == "failed" && (p.code >= 400 && p.code < 500 || p.code == 0 && p.status.valid && p.status.class == 4)
	f := p.finding(h.sendingIP)
	switch {
	case h.action == "delayed" && f.Mode != Delivered:
		// RFC 3464: the MTA keeps trying, whatever the last reply said.
		f.Mode = Deferral
	case f.Mode == HardBlock && h.status.valid && h.status.class == 4 &&
		(p.status.valid && p.status.class == 4 || !p.status.valid && h.action != "failed"):
		// The failure is transient (RFC 3463 class 4): the reply's own enhanced code says
		// so (a message that expired after retries, 4.4.7), or, without one, the reporting
		// MTA still retries it. A bare 554 with Action: failed is a block however the DSN's
		// Status reads: Postfix writes 4.0.0 for a 554 banner (PROVIDERS.md, DSN).
		f.Mode = Deferral
	case f.Mode != UnknownMode && !(f.Mode == Delivered && h.action == "failed"):
	case h.action == "failed":
		f.Mode = HardBlock
	case h.action == "delayed":
		f.Mode = Deferral
	case h.action == "delivered", h.action == "relayed", h.action == "expanded":
		f.Mode = Delivered
	}
	f.Action = h.action
	if p.gaveUp && f.Mode == Deferral {
		f.Notes = append(f.Notes, "the sending server gave up retrying (Action: failed): the message was not delivered")
	}
	if f.Mode == UnknownMode && f.Cause != UnknownCause {
		f.Mode = HardBlock // a bounce is a failure even when its text names no code
	}
	if f.Route.Kind == "none" && f.Mode == Deferral && f.Cause == UnknownCause {
		f.Route = RouteFor("wait", "")
	}
	return f
}

// namesOnly reports whether lowered reply text is about one of senders and not recipient:
// a sender's address is what the reply's code stands before, as MTAs write the address a
// verdict is about ("550 5.1.0 <ann@sender.example>: …"), and the recipient is not named.
func namesOnly(lower string, senders []string, recipient string) bool {
	if len(senders) == 0 || strings.IndexByte(lower, '@') < 0 {
		return false
	}
	subject := false
	for _, a := range addressesIn(lower) {
		if a == recipient {
			return false
		}
		if containsString(senders, a) {
			subject = subject || afterCode(lower[:strings.Index(lower, a)])
		}
	}
	return subject
}

// afterCode reports whether the text before an address ends with a reply or status code
// (quotes and brackets aside).
func afterCode(before string) bool {
	before = strings.TrimRight(before, " <'\"([")
	i := len(before)
	for i > 0 && (isDigit(before[i-1]) || before[i-1] == '.') {
		i--
	}
	tok := before[i:]
	return isReplyCode(tok) || looksStatus(tok)
}

// senders lists the addresses that sent the original: the bounce's addressee, the
// original's envelope sender and author.
func (m *msgReader) senders() []string {
	out := append([]string{m.orig.sender}, m.exclude...)
	if o := m.orig.ids; o != nil {
		out = append(out, o.ReturnPath, o.From)
	}
	return slices.DeleteFunc(out, func(a string) bool { return a == "" })
}

// original is what the bounced message's own headers say.
type original struct {
	sender    string
	messageID string
	hosts     []string // envelope and DKIM domains, Received names: for ESP pools
	hops      []Hop    // the original's Received chain, newest first
	ids       *Original
	reported  string // the recipient a provider's complaint report names (X-HmXmrOriginalRecipient)
}

// readMessage reads one message: a DSN or plain-text bounce, an ARF report, an
// auto-reply, or the headers of a delivered message.
func (rd *Reader) readMessage(name string, data []byte, n int) error {
	source := name
	if n > 0 {
		source = fmt.Sprintf("%s msg %d", name, n)
	}
	ent, err := message.Read(bytes.NewReader(data))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return &InputError{Name: source, Reason: "not a mail message: " + oneLineErr(err)}
	}
	m := &msgReader{rd: rd, source: source}
	m.walk(ent, 0)
	if len(m.recipients) == 0 && m.arf == nil {
		if strings.TrimSpace(m.plain.String()) == "" {
			// A broken MIME structure (a boundary that never comes): read the raw body.
			m.rawBody(data)
		} else {
			// Delivery-status fields written into the text part (Amazon WorkMail).
			m.inlineStatus([]byte(m.plain.String()))
		}
	}
	top := ent.Header
	m.date = parseDate(headerText(top, "Date"))
	from := strings.ToLower(headerText(top, "From"))
	subject := headerText(top, "Subject")
	m.subject = subject
	m.exclude = addressesIn(strings.ToLower(headerText(top, "To")))
	if a := addressOf(from); a != "" {
		// Whoever sent the bounce, or forwarded it, is no failed recipient.
		m.exclude = append(m.exclude, a)
	}
	m.failed = addressesIn(strings.ToLower(strings.Join(top.Values("X-Failed-Recipients"), ",")))
	switch {
	case m.arf != nil:
		m.complaint()
	case len(m.recipients) > 0:
		m.dsnFindings()
	case m.sesNotification():
	case m.complaintReport(from, subject):
		m.complaint()
	case len(m.failed) > 0 || isBounce(from, subject, m.plain.String(), m.attached):
		m.plainFindings()
	case autoReply(top, subject):
		f := Finding{Source: source, Mode: AutoReply, Cause: Other, Provider: "unknown", At: m.date,
			Text: sanitize.Line(subject), Route: RouteFor("none", ""), Meaning: "an automatic reply (vacation, out of office): the message was delivered"}
		f.Sender = addressOf(from)
		rd.add(f)
	default:
		return rd.readHeaders(source, data)
	}
	return nil
}

// msgReader collects the parts of one message.
type msgReader struct {
	rd         *Reader
	source     string
	date       time.Time
	subject    string
	recipients []textproto.MIMEHeader // DSN per-recipient blocks
	perMessage textproto.MIMEHeader
	arf        textproto.MIMEHeader
	plain      strings.Builder // human-readable text of the bounce
	orig       original
	exclude    []string
	failed     []string // X-Failed-Recipients
	attached   bool     // the original message is attached
	nested     string   // text of an attached message: sometimes the bounce itself
}

func (m *msgReader) walk(e *message.Entity, depth int) {
	if depth > 8 {
		return
	}
	ct, params, _ := e.Header.ContentType()
	ct = strings.ToLower(ct)
	if mr := e.MultipartReader(); mr != nil {
		for range 64 {
			part, err := mr.NextPart()
			if err != nil && part == nil {
				return
			}
			m.walk(part, depth+1)
		}
		return
	}
	_ = params
	body, _ := io.ReadAll(io.LimitReader(e.Body, maxPart))
	switch {
	case ct == "message/delivery-status" || ct == "message/global-delivery-status":
		m.deliveryStatus(body)
	case ct == "message/feedback-report":
		h, _ := readBlock(bufio.NewReader(strings.NewReader(sanitize.Text(string(body)))))
		if h != nil {
			m.arf = h
		}
	case ct == "message/rfc822" || ct == "message/global" || ct == "text/rfc822-headers" || ct == "message/rfc822-headers" || ct == "message/global-headers":
		m.attached = true
		m.originalHeaders(body)
		if nested, err := message.Read(bytes.NewReader(body)); nested != nil && err == nil {
			if nct, _, _ := nested.Header.ContentType(); strings.EqualFold(nct, "multipart/report") && len(m.recipients) == 0 {
				// A bounce forwarded inside another: its report is the one to read.
				m.walk(nested, depth+1)
				return
			}
		}
		if ct != "text/rfc822-headers" && len(m.nested) < 16<<10 {
			if i := bytes.Index(body, []byte("\n\n")); i >= 0 {
				m.nested += string(body[i+2 : min(len(body), i+2+16<<10)])
			}
		}
	case ct == "" || strings.HasPrefix(ct, "text/"):
		if ct == "text/html" && m.plain.Len() > 0 {
			return
		}
		text := string(body)
		if ct == "text/html" {
			text = stripTags(text)
		}
		if depth == 0 {
			text = m.splitInlineOriginal(text)
		}
		if room := maxPlain - m.plain.Len(); room > 0 {
			m.plain.WriteString(text[:min(len(text), room)])
			m.plain.WriteString("\n")
		}
	}
}

// rawBody reads a message body as text, with any delivery-status fields in it.
func (m *msgReader) rawBody(data []byte) {
	i := bytes.Index(data, []byte("\n\n"))
	if i < 0 {
		return
	}
	body := data[i+2:]
	if len(body) > maxPart {
		body = body[:maxPart]
	}
	m.inlineStatus(body)
	text := m.splitInlineOriginal(string(body))
	m.plain.WriteString(text[:min(len(text), maxPlain)])
}

// inlineStatus reads delivery-status fields (RFC 3464) found at the start of a line in
// text that is not a message/delivery-status part.
func (m *msgReader) inlineStatus(text []byte) {
	for _, k := range []string{"\nReporting-MTA:", "\nFinal-Recipient:"} {
		if j := bytes.Index(text, []byte(k)); j >= 0 {
			m.deliveryStatus(text[j+1:])
			return
		}
	}
}

// readBlock reads one header block of a delivery-status or feedback-report part.
func readBlock(br *bufio.Reader) (textproto.MIMEHeader, error) {
	// Blank lines between blocks, sometimes several.
	for {
		b, err := br.Peek(1)
		if err != nil {
			return nil, err
		}
		if b[0] != '\n' && b[0] != '\r' && b[0] != ' ' && b[0] != '\t' {
			break
		}
		if _, err := br.ReadString('\n'); err != nil {
			return nil, err
		}
	}
	h, err := textproto.NewReader(br).ReadMIMEHeader()
	if len(h) == 0 {
		return nil, err
	}
	return h, nil
}

func (m *msgReader) deliveryStatus(body []byte) {
	// Control characters are made visible where the fields enter: a header reader refuses
	// a field with one, and the report would be lost for a stray byte.
	body = []byte(sanitize.Text(string(body)))
	br := bufio.NewReader(bytes.NewReader(body))
	first := true
	for range 1000 {
		h, err := readBlock(br)
		if h != nil {
			if first && h.Get("Final-Recipient") == "" && h.Get("Original-Recipient") == "" {
				m.perMessage = h
			} else if h.Get("Final-Recipient") != "" || h.Get("Original-Recipient") != "" || h.Get("Diagnostic-Code") != "" || h.Get("Status") != "" {
				m.recipients = append(m.recipients, splitRecipients(h)...)
			}
			first = false
		}
		if err != nil {
			return
		}
	}
}

// splitRecipients separates recipient blocks written without the blank line between
// them: the fields then repeat, one value per recipient.
func splitRecipients(h textproto.MIMEHeader) []textproto.MIMEHeader {
	n := len(h.Values("Final-Recipient"))
	if n <= 1 {
		return []textproto.MIMEHeader{h}
	}
	out := make([]textproto.MIMEHeader, n)
	for i := range out {
		out[i] = textproto.MIMEHeader{}
		for k, vs := range h {
			switch {
			case len(vs) == n:
				out[i][k] = []string{vs[i]}
			case len(vs) == 1:
				out[i][k] = vs
			}
		}
	}
	return out
}

// originalHeaders reads the bounced message's headers: sender, Message-ID, hosts.
func (m *msgReader) originalHeaders(body []byte) {
	if !bytes.Contains(body, []byte("\n\n")) {
		// Headers alone (text/rfc822-headers): end the block so it parses.
		body = append(bytes.TrimRight(body, "\r\n"), "\n\n"...)
	}
	ent, err := message.Read(bytes.NewReader(body))
	if ent == nil {
		_ = err
		return
	}
	h := ent.Header
	if m.orig.ids == nil {
		m.orig.ids = originalOf(h)
	}
	if m.orig.sender == "" {
		m.orig.sender = addressOf(strings.ToLower(headerText(h, "Return-Path")))
		if m.orig.sender == "" {
			m.orig.sender = addressOf(strings.ToLower(headerText(h, "From")))
		}
	}
	if m.orig.messageID == "" {
		m.orig.messageID = sanitize.Line(strings.TrimSpace(headerText(h, "Message-Id")))
	}
	if m.orig.reported == "" {
		m.orig.reported = addressOf(strings.ToLower(headerText(h, "X-HmXmrOriginalRecipient")))
	}
	if _, d, ok := strings.Cut(m.orig.sender, "@"); ok {
		m.orig.hosts = append(m.orig.hosts, d)
	}
	for _, sig := range h.Values("DKIM-Signature") {
		if d := tagValue(sig, "d"); d != "" {
			m.orig.hosts = append(m.orig.hosts, strings.ToLower(d))
		}
	}
	for _, rcv := range h.Values("Received") {
		m.orig.hops = append(m.orig.hops, parseReceived(rcv))
		for _, w := range []string{"by ", "from "} {
			lrcv := lowerASCII(rcv)
			if i := strings.Index(lrcv, w); i >= 0 {
				if host := hostAfter(lrcv[i:], w); host != "" {
					m.orig.hosts = append(m.orig.hosts, host)
				}
			}
		}
	}
}

// clientOf is the IP the receiving host saw the original come from, when the original's
// Received chain has that host's own hop (a bounce written after DATA by the receiver):
// the sending IP, against which the IP a reply names is compared.
func (o *original) clientOf(remote string) string {
	remote = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(remote), "."))
	if remote == "" {
		return ""
	}
	if hop, ok := o.hopBy(remote); ok {
		return hop.IP
	}
	return ""
}

// hopBy is the hop the receiving host added to the original's Received chain, with a
// public client address.
func (o *original) hopBy(remote string) (Hop, bool) {
	for _, hop := range o.hops {
		if strings.EqualFold(hop.By, remote) && hop.IP != "" && !privateIP(hop.IP) {
			return hop, true
		}
	}
	return Hop{}, false
}

// originalMarkers start the copy of the original message in plain-text bounces.
var originalMarkers = []string{
	"------ this is a copy of the message", "--- below this line is a copy", "----- original message -----",
	"original message follows", "message contents follow", "unsent message below", "message headers follow", "headers of the original message", "------ original message ------",
	"----- the following is a copy", "-- the header and top 20 lines", "--- the header of the original message",
	"------ the header of the original message", "content-type: message/rfc822", "content-type: text/rfc822-headers",
}

// splitInlineOriginal cuts the copy of the original message from a plain-text bounce
// and reads its headers.
func (m *msgReader) splitInlineOriginal(text string) string {
	lower := lowerASCII(text)
	cut := -1
	for _, mk := range originalMarkers {
		if i := strings.Index(lower, mk); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut < 0 {
		cut = inlineHeaderBlock(text)
	}
	if cut < 0 {
		return text
	}
	m.attached = true
	rest := text[cut:]
	if i := strings.Index(rest, "\n"); i >= 0 {
		rest = strings.TrimLeft(rest[i+1:], "\r\n")
		m.originalHeaders([]byte(rest))
	}
	return text[:cut]
}

// dsnFindings makes one finding per recipient block of a DSN.
func (m *msgReader) dsnFindings() {
	reporting := ""
	if m.perMessage != nil {
		reporting = fieldValue(m.perMessage.Get("Reporting-MTA"))
	}
	var later []Finding
	for _, r := range m.recipients {
		diag := unfold(fieldValue(r.Get("Diagnostic-Code")))
		status, _ := scanStatus(strings.TrimSpace(r.Get("Status")), 0)
		h := hint{sendingIP: cmpOr(m.rd.opts.IP, m.orig.clientOf(fieldValue(r.Get("Remote-MTA")))), status: status, action: strings.ToLower(strings.TrimSpace(r.Get("Action"))),
			remote: strings.ToLower(fieldValue(r.Get("Remote-MTA"))), senders: m.senders()}
		if _, err := parseIPHost(h.remote); err == nil {
			h.remote = ""
		}
		text := diag
		rcpt := strings.ToLower(addressOf(fieldValue(cmpOr(r.Get("Final-Recipient"), r.Get("Original-Recipient")))))
		h.recipient = rcpt
		// The human-readable part often names the SMTP stage the diagnostic leaves out.
		h.stage = stageOf(lowerASCII(joinReply(recipientChunk(m.plain.String(), rcpt, m.rcptList()))))
		if text == "" || weak(classifyHint(text, h)) {
			// The human-readable part often says more than a bare Status.
			if chunk := recipientChunk(m.plain.String(), rcpt, m.rcptList()); chunk != "" {
				if alt := classifyHint(chunk, h); !weak(alt) || text == "" {
					text = chunk
				}
			}
		}
		f := classifyHint(text, h)
		if diag != "" && text != diag {
			f.Text = sanitize.Line(joinReply(diag))
		}
		f.Recipient = sanitize.Line(rcpt)
		m.finish(&f, r, reporting)
		if f.Mode == Delivered {
			later = append(later, f)
			continue
		}
		m.rd.add(f)
	}
	// The failed recipients first, in report order; then those delivered, relayed or
	// expanded (RFC 3464 2.3.3), which are no failure.
	for _, f := range later {
		m.rd.add(f)
	}
}

// rcptList lists the DSN's recipients.
func (m *msgReader) rcptList() []string {
	var out []string
	for _, r := range m.recipients {
		out = append(out, strings.ToLower(addressOf(fieldValue(cmpOr(r.Get("Final-Recipient"), r.Get("Original-Recipient"))))))
	}
	return out
}

// weak reports a finding that says little: no cause, or only a code's vague meaning.
func weak(f Finding) bool {
	return f.Cause == UnknownCause || (f.Control == "" && f.Cause == Other)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// finish fills what the message knows into a finding.
func (m *msgReader) finish(f *Finding, r textproto.MIMEHeader, reporting string) {
	f.Source = m.source
	if _, d, ok := strings.Cut(f.Recipient, "@"); ok {
		f.RecipientDomain = d
	}
	f.Sender = sanitize.Line(m.orig.sender)
	f.MessageID = m.orig.messageID
	if m.orig.ids != nil {
		o := *m.orig.ids
		if r != nil {
			// The receiver's own hop in the returned copy records our sending host.
			remote := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(fieldValue(r.Get("Remote-MTA"))), "."))
			if hop, ok := m.orig.hopBy(remote); ok && remote != "" {
				o.withHop(hop)
			}
		}
		f.Original = &o
	}
	at := time.Time{}
	if r != nil {
		at = parseDate(r.Get("Last-Attempt-Date"))
	}
	// Without the attempt's own time, the report's Date (written when the MTA gave up or
	// warned) is nearer the failure than Arrival-Date, when the message first arrived.
	if at.IsZero() {
		at = m.date
	}
	if at.IsZero() && m.perMessage != nil {
		at = parseDate(m.perMessage.Get("Arrival-Date"))
	}
	f.At = at
	hosts := append([]string{reporting}, m.orig.hosts...)
	applyESP(f, hosts)
}

// applyESP routes a reputation case to the ESP whose pool the mail left from.
func applyESP(f *Finding, hosts []string) {
	if f.Cause != IPReputation && f.Cause != Blocklist && f.Cause != DomainReputation {
		return
	}
	for _, h := range hosts {
		if esp, ok := ESPForHost(h); ok {
			f.Route = ESPRoute(esp)
			f.Notes = append(f.Notes, "sent from "+esp.Product+"'s pool ("+sanitize.Line(h)+"): its support takes the case to the receiver")
			return
		}
	}
}

// maxRecipients bounds the recipients a plain-text bounce is read for: the first ones are
// the failed ones (report order); a bounce naming thousands is not read for each.
const maxRecipients = 16

// plainFindings reads a plain-text bounce: one finding per failed recipient it names.
func (m *msgReader) plainFindings() {
	body := m.plain.String()
	lower := lowerASCII(body)
	senders := map[string]bool{m.orig.sender: true}
	for _, a := range append(sendersIn(lower), m.exclude...) {
		senders[a] = true
	}
	var keep []string
	for _, a := range addressesIn(lower) {
		local, _, _ := strings.Cut(a, "@")
		if senders[a] || local == "postmaster" || local == "mailer-daemon" || local == "abuse" {
			continue
		}
		keep = append(keep, a)
		if len(keep) == maxRecipients {
			break
		}
	}
	if len(m.failed) > 0 {
		keep = m.failed[:min(len(m.failed), maxRecipients)]
	}
	h := hint{sendingIP: m.rd.opts.IP, action: "failed", senders: m.senders()}
	if delayNotice(m.subject + "\n" + body) {
		h.action = "delayed"
	}
	if len(keep) == 0 {
		f := classifyHint(body, h)
		m.finish(&f, nil, "")
		m.rd.add(f)
		return
	}
	for _, a := range keep {
		h.recipient = a
		chunk := recipientChunk(body, a, keep)
		f := classifyHint(chunk, h)
		if weak(f) && f.ReplyCode >= 400 {
			// The recipient's line holds a vague verdict ("Remote protocol error"): the
			// session it ends (Sendmail's "While talking to …" block above) says more.
			if above := sessionAbove(body, a, keep); above != "" {
				if alt := classifyHint(above+"\n"+chunk, h); !weak(alt) {
					f = alt
				}
			}
		}
		if weak(f) && f.ReplyCode < 400 && f.EnhancedCode == "" {
			// The recipient's own lines hold no failed reply: the bounce's text says it elsewhere.
			if alt := classifyHint(body, h); !weak(alt) {
				f = alt
			} else if m.nested != "" {
				// A bounce forwarded inside another: its text is in the attachment.
				if alt := classifyHint(recipientChunk(m.nested, a, keep), h); !weak(alt) {
					f = alt
				}
			}
		}
		f.Recipient = sanitize.Line(a)
		m.finish(&f, nil, "")
		m.rd.add(f)
	}
}

// sendersIn lists the addresses a text names as senders ("MAIL FROM:<a>", "From: a",
// "Return-Path: <a>" in a transcript or a quoted header), and the addressee of a bounce
// forwarded inline (the "To:" under a mail system's "From:"): never a failed recipient.
func sendersIn(lower string) []string {
	var out []string
	for i := 0; ; {
		j := strings.Index(lower[i:], "\nfrom:")
		if j < 0 {
			break
		}
		i += j + 1
		line, _, _ := strings.Cut(lower[i:], "\n")
		if !strings.Contains(line, "mailer-daemon") && !strings.Contains(line, "postmaster") && !strings.Contains(line, "mail delivery") {
			continue
		}
		// The forwarded bounce's header block, to its blank line.
		block := lower[i:min(len(lower), i+1024)]
		if k := strings.Index(block, "\n\n"); k >= 0 {
			block = block[:k]
		}
		for _, l := range strings.Split(block, "\n") {
			if strings.HasPrefix(l, "to:") {
				out = append(out, addressesIn(l)...)
			}
		}
	}
	for _, k := range []string{"from:", "return-path:", "sender:"} {
		for i := 0; ; {
			j := strings.Index(lower[i:], k)
			if j < 0 {
				break
			}
			i += j + len(k)
			rest := strings.TrimLeft(lower[i:min(len(lower), i+320)], " \t\n<\"")
			if line, _, _ := strings.Cut(rest, "\n"); strings.IndexByte(line, '@') >= 0 {
				if a := addressesIn(line); len(a) > 0 && strings.HasPrefix(rest, strings.SplitN(a[0], "@", 2)[0]) {
					out = append(out, a[0])
				}
			}
		}
	}
	return out
}

// delayWords say that the MTA keeps trying: a delay notice (RFC 3464's "delayed"), not
// a bounce, whatever alarming words ("could not be delivered", "fails permanently")
// it also holds. givenUpWords say it stopped.
var delayWords = []string{
	"will keep trying", "will keep on trying", "will keep retrying", "will continue trying", "will continue to try",
	"continue to be attempted", "will be retried", "will retry", "will try again", "will try to deliver", "will try delivering",
	"will be attempted", "attempts will continue", "still trying", "still being retried", "still undelivered",
	"still not delivered", "not yet been delivered", "hasn't been delivered yet", "has not been delivered yet", "not delivered yet",
	"not been delivered yet", "warning only", "warning message only", "do not need to resend", "don't need to resend",
	"no need to resend", "no action is required", "delivery is delayed", "delivery has been delayed", "delivery delayed",
	"delayed delivery", "is being delayed", "has been delayed", "message delayed", "delivery status notification (delay)",
	"we'll continue to try", "we will continue to try", "will continue attempting", "retry for",
}

var givenUpWords = []string{"given up", "gave up", "not going to try", "will not be retried", "stopped trying",
	"no further attempts", "will not retry", "won't retry", "not be retried", "delivery has failed", "failed permanently"}

// delayNotice reports a plain-text notice that delivery is delayed and still tried.
func delayNotice(text string) bool {
	lower := lowerASCII(text)
	delayed := false
	for _, w := range delayWords {
		if strings.Contains(lower, w) {
			delayed = true
			break
		}
	}
	if !delayed {
		return false
	}
	for _, w := range givenUpWords {
		if strings.Contains(lower, w) {
			return false
		}
	}
	return true
}

// recipientChunk is the part of a bounce's text about one recipient: from where it is
// first named to where another recipient is.
func recipientChunk(body, rcpt string, others []string) string {
	lower := lowerASCII(body)
	if rcpt == "" {
		return body
	}
	i := strings.Index(lower, rcpt)
	if i < 0 {
		return body
	}
	// A report that lists its recipients first and gives their replies further down
	// (Exchange's "Diagnostic information for administrators") names each twice: the
	// account is the one that holds a reply.
	first := ""
	for range 8 {
		chunk := chunkAt(body, lower, i, rcpt, others)
		if c, st, _ := replyCodes(lowerASCII(joinReply(chunk))); c >= 400 || (st.valid && st.class != 2) {
			return chunk
		}
		if first == "" {
			first = chunk
		}
		next := strings.Index(lower[i+len(rcpt):], rcpt)
		if next < 0 {
			break
		}
		i += len(rcpt) + next
	}
	return first
}

// chunkAt is the account of rcpt named at lower[i:].
func chunkAt(body, lower string, i int, rcpt string, others []string) string {
	// Start at the line naming the recipient.
	if j := strings.LastIndexByte(lower[:i], '\n'); j >= 0 {
		i = j + 1
	} else {
		i = 0
	}
	end := len(body)
	// The recipient's paragraph ends at the first blank line after its reply. When the
	// line naming the recipient holds its reply (Sendmail's "554 <a>... Host unknown"),
	// the next line that neither is indented nor continues that reply starts another
	// recipient's, host's or session's account.
	seen, lines, ownCode := false, 0, ""
	for j := i; j < len(body); {
		k := strings.IndexByte(body[j:], '\n')
		if k < 0 {
			break
		}
		raw := body[j : j+k]
		line := strings.TrimSpace(raw)
		lines++
		if line == "" && seen || lines > 40 {
			end = j
			break
		}
		if ownCode != "" && raw[0] != ' ' && raw[0] != '\t' && !strings.HasPrefix(line, ownCode) {
			end = j
			break
		}
		if c, st, _ := replyCodes(lowerASCII(line)); c != 0 || st.valid {
			seen = true
			if lines == 1 && c != 0 {
				ownCode = strconv.Itoa(c)
			}
		}
		j += k + 1
	}
	for _, a := range addressesIn(lower[i+len(rcpt) : end]) {
		if a == rcpt || !containsString(others, a) {
			continue
		}
		if k := strings.Index(lower[i+len(rcpt):], a); k >= 0 {
			// The other recipient's line ends this one's chunk, unless the reply itself
			// names it within a few lines.
			pos := i + len(rcpt) + k
			if j := strings.LastIndexByte(lower[:pos], '\n'); j > i {
				end = j
			}
			break
		}
	}
	chunk := body[i:end]
	if len(chunk) > 4096 {
		chunk = chunk[:4096]
	}
	return chunk
}

// sessionAbove is the account of an SMTP session just above the line naming rcpt: the
// lines up to a blank line, a heading or a line naming another recipient.
func sessionAbove(body, rcpt string, others []string) string {
	lower := lowerASCII(body)
	i := strings.Index(lower, rcpt)
	if i < 0 {
		return ""
	}
	start := strings.LastIndexByte(lower[:i], '\n')
	if start < 0 {
		return ""
	}
	top := start // the session's first line starts after top
	for range 12 {
		j := strings.LastIndexByte(lower[:top], '\n') // -1: the text's first line
		line := strings.TrimSpace(lower[j+1 : top])
		if line == "" || strings.HasPrefix(line, "---") || namesOther(line, rcpt, others) {
			break
		}
		top = j
		if j < 0 {
			break
		}
	}
	return body[top+1 : max(start, top+1)]
}

func namesOther(line, rcpt string, others []string) bool {
	for _, a := range addressesIn(line) {
		if a != rcpt && containsString(others, a) {
			return true
		}
	}
	return false
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// addressesIn lists the distinct mail addresses in lowered text, in order.
func addressesIn(lower string) []string {
	var out []string
	seen := map[string]bool{}
	for i := 0; i < len(lower); i++ {
		if lower[i] != '@' {
			continue
		}
		s := i
		for s > 0 && isAddrChar(lower[s-1]) {
			s--
		}
		e := i + 1
		for e < len(lower) && (isAlnum(lower[e]) || lower[e] == '.' || lower[e] == '-') {
			e++
		}
		local, domain := strings.Trim(lower[s:i], "."), strings.Trim(lower[i+1:e], ".-")
		if local == "" || !strings.Contains(domain, ".") {
			continue
		}
		a := local + "@" + domain
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
		i = e
	}
	return out
}

func isAddrChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte(".!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// addressOf takes the address out of "Name <addr>", "rfc822; addr" or a bare address.
func addressOf(s string) string {
	if a := addressesIn(strings.ToLower(s)); len(a) > 0 {
		return a[0]
	}
	return ""
}

// fieldValue drops the type of a DSN field ("rfc822; addr", "smtp; 550 …", "dns; host").
func fieldValue(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, ';'); i > 0 && i < 16 && !strings.ContainsAny(v[:i], " <@") {
		v = strings.TrimSpace(v[i+1:])
	}
	return v
}

func unfold(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func parseIPHost(s string) (string, error) {
	ip, ok := parseIP(strings.Trim(s, "[]"))
	if !ok {
		return "", fmt.Errorf("not an IP")
	}
	return ip, nil
}

// complaintReport recognises a complaint report in a provider's own format rather than
// ARF (Microsoft's JMRP "complaint about message from IP", a spam report): the reported
// message attached, a subject that calls it a complaint and not a delivery failure, or
// JMRP's mark on the attached copy. It is read as the ARF fields it states.
func (m *msgReader) complaintReport(from, subject string) bool {
	if !m.attached || strings.Contains(from, "mailer-daemon") {
		return false
	}
	s := lowerASCII(subject)
	said := m.orig.reported != ""
	for _, w := range []string{"complaint", "abuse report", "spam report", "reported as spam", "marked as spam", "junk mail report", "feedback loop"} {
		said = said || strings.Contains(s, w)
	}
	for _, w := range []string{"undeliver", "delivery", "returned", "failure", "failed", "rejected", "bounce", "delayed"} {
		if strings.Contains(s, w) {
			return false
		}
	}
	if !said {
		return false
	}
	h := textproto.MIMEHeader{"Feedback-Type": {"abuse"}}
	if ip := blockedIP(s); ip != "" {
		h.Set("Source-Ip", ip)
	}
	rcpts := []string{m.orig.reported}
	if m.orig.reported == "" && m.orig.ids != nil {
		rcpts = m.orig.ids.To
	}
	for _, r := range rcpts {
		h.Add("Original-Rcpt-To", r)
	}
	h.Set("Reporting-Mta", from)
	m.arf = h
	return true
}

// sesNotification reads an Amazon SES notification mailed as a message's text (an SNS
// email subscription) as the SES events it holds. It reports whether any was a failure.
func (m *msgReader) sesNotification() bool {
	text := m.plain.String()
	i := strings.Index(text, `"notificationType"`)
	if i < 0 {
		return false
	}
	start, end := strings.LastIndexByte(text[:i], '{'), strings.LastIndexByte(text, '}')
	if start < 0 || end < i {
		return false
	}
	// Sendmail breaks lines longer than 990 characters with "!", a line break and a space;
	// JSON has neither a bare "!" nor a line break inside a string, so they are its.
	obj := strings.NewReplacer("!\n ", "", "!\n", "").Replace(text[start : end+1])
	lr := NewLogReader()
	if _, err := lr.Read(strings.NewReader(obj), maillog.JSON, maillog.Options{Name: m.source, SendingIP: m.rd.opts.IP}); err != nil {
		return false
	}
	fs := lr.Report().Findings
	for _, f := range fs {
		f.Source = m.source
		if f.At.IsZero() {
			f.At = m.date
		}
		m.rd.add(f)
	}
	return len(fs) > 0
}

// maxReported bounds the complaints one report yields: a provider reports one recipient
// or a few; thousands are not a report any more.
const maxReported = 100

// complaint reads an ARF feedback report.
func (m *msgReader) complaint() {
	h := m.arf
	typ := strings.ToLower(strings.TrimSpace(h.Get("Feedback-Type")))
	ip, _ := parseIPHost(strings.TrimSpace(h.Get("Source-Ip")))
	f := Finding{Source: m.source, Mode: Complaint, Cause: Other, Provider: "unknown", IP: ip,
		Control: "feedback-loop", Route: RouteFor("none", ""),
		Meaning: "a recipient reported the message (" + sanitize.Line(cmpOr(typ, "abuse")) + "): complaints above 0.3% hurt the sender's reputation"}
	agent := strings.ToLower(h.Get("User-Agent"))
	for _, host := range append([]string{agent, strings.ToLower(h.Get("Reporting-Mta"))}, m.exclude...) {
		if fl, ok := FilterForHost(fieldValue(host)); ok {
			f.ReceiverProvider = fl.Provider
			break
		}
	}
	f.Text = sanitize.Line(unfold(m.plain.String()))
	if len(f.Text) > 500 {
		f.Text = f.Text[:500]
	}
	f.At = parseDate(h.Get("Arrival-Date"))
	if f.At.IsZero() {
		f.At = m.date
	}
	f.Sender = sanitize.Line(cmpOr(addressOf(h.Get("Original-Mail-From")), m.orig.sender))
	f.MessageID = m.orig.messageID
	f.SendingIP = m.rd.opts.IP
	// RFC 5965 §3.2: Original-Rcpt-To appears once per recipient the report is about;
	// each one is a complaint.
	rcpts := h.Values("Original-Rcpt-To")
	if len(rcpts) == 0 {
		rcpts = []string{""}
	}
	if len(rcpts) > maxReported {
		rcpts = rcpts[:maxReported]
	}
	for _, r := range rcpts {
		g := f
		g.Recipient = sanitize.Line(addressOf(r))
		if _, d, ok := strings.Cut(g.Recipient, "@"); ok {
			g.RecipientDomain = d
		}
		m.rd.add(g)
	}
}

// isBounce tells a non-delivery report from other mail by its sender, subject and text.
func isBounce(from, subject, body string, attached bool) bool {
	for _, w := range []string{"mailer-daemon", "postmaster", "mail delivery", "mail administrator", "mdaemon", "mail system"} {
		if strings.Contains(from, w) {
			return true
		}
	}
	s := strings.ToLower(subject)
	for _, w := range []string{"undeliver", "undelivered", "delivery status", "delivery fail", "failure notice", "returned mail",
		"delivery notification", "not delivered", "could not be delivered", "mail delivery", "non-delivery", "nondelivery",
		"rejected", "bounce", "could not send", "delayed", "delivery problem", "returned to sender", "failed"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	var p parsedReply
	p.parse(body)
	if p.code >= 400 || (p.status.valid && p.status.class != 2) {
		return true
	}
	// Without codes, the words of a non-delivery report, next to the returned message.
	lb := lowerASCII(body)
	for _, w := range []string{"could not be delivered", "couldn't be delivered", "undeliverable", "delivery has failed",
		"failed permanently", "unable to deliver", "not be delivered", "delivery to the following", "permanent error", "not a member"} {
		if strings.Contains(lb, w) {
			return true
		}
	}
	return attached && strings.Contains(lb, "deliver")
}

// autoReply recognises RFC 3834 automatic responses and the usual vacation markers.
func autoReply(h message.Header, subject string) bool {
	if v := strings.ToLower(strings.TrimSpace(headerText(h, "Auto-Submitted"))); v != "" && v != "no" {
		return true
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"} {
		if h.Get(k) != "" {
			return true
		}
	}
	if p := strings.ToLower(h.Get("Precedence")); p == "auto_reply" {
		return true
	}
	s := strings.ToLower(subject)
	// "Auto reply", "Auto-Reply", "AutoReply", "Automatic reply", "auto_response" …
	s = strings.NewReplacer("-", " ", "_", " ").Replace(s)
	for _, w := range []string{"auto:", "automatic reply", "autoreply", "auto reply", "auto response", "autoresponse", "automatic response",
		"out of office", "out of the office", "vacation", "away from", "abwesenheit", "absence",
		// Outlook's prefix in other languages
		"automatische antwort", "automatisch antwoord", "réponse automatique", "respuesta automática", "risposta automatica",
		"resposta automática", "automatiskt svar", "automatisk svar", "odpowiedź automatyczna", "automaattinen vastaus"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// readMbox splits an mbox file into messages.
func (rd *Reader) readMbox(ctx context.Context, name string, data []byte) (int, error) {
	n := 0
	var cur []byte
	flush := func() error {
		if len(bytes.TrimSpace(cur)) == 0 {
			return nil
		}
		n++
		return rd.readMessage(name, cur, n)
	}
	start := 0
	for i := 0; i <= len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		end := len(data)
		if j >= 0 {
			end = i + j + 1
		}
		line := data[i:end]
		if isMboxFromLine(line) && (i == 0 || (i >= 2 && data[i-2] == '\n') || (i >= 3 && data[i-3] == '\n' && data[i-2] == '\r')) {
			cur = data[start:i]
			if err := flush(); err != nil {
				return n, err
			}
			if err := ctx.Err(); err != nil {
				return n, err
			}
			start = end
		}
		if j < 0 {
			break
		}
		i = end
	}
	cur = data[start:]
	if err := flush(); err != nil {
		return n, err
	}
	if n == 0 {
		return 0, &InputError{Name: name, Reason: "mbox holds no messages"}
	}
	return n, nil
}

func headerText(h message.Header, k string) string {
	v, err := h.Text(k)
	if err != nil {
		return h.Get(k)
	}
	return v
}

func parseDate(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if i := strings.Index(s, " ("); i > 0 && strings.HasSuffix(s, ")") {
		// A trailing comment the parser may not take.
		if t, err := mail.ParseDate(s); err == nil {
			return t.UTC()
		}
		s = s[:i]
	}
	t, err := mail.ParseDate(s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func tagValue(sig, tag string) string {
	for _, part := range strings.Split(sig, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == tag {
			return strings.Join(strings.Fields(v), "")
		}
	}
	return ""
}

func oneLineErr(err error) string { return sanitize.Line(err.Error()) }

// stripTags makes HTML into text, crudely: tags become spaces.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// inlineHeaderBlock finds a copy of the original message's headers in the text: a blank
// line, then several header fields in a row.
func inlineHeaderBlock(text string) int {
	for i := 0; i < len(text); {
		j := strings.Index(text[i:], "\n\n")
		if j < 0 {
			return -1
		}
		start := i + j + 2
		fields, transport := 0, false
		for _, line := range strings.SplitN(text[start:], "\n", 6) {
			line = strings.TrimRight(line, "\r")
			if line != "" && (line[0] == ' ' || line[0] == '\t') {
				continue
			}
			k := strings.IndexByte(line, ':')
			if k <= 0 || strings.ContainsAny(line[:k], " \t") || !knownField(line[:k]) {
				break
			}
			fields++
			switch strings.ToLower(line[:k]) {
			case "received", "return-path", "message-id", "mime-version", "dkim-signature":
				transport = true
			}
		}
		if fields >= 2 && transport {
			return start
		}
		i = start
	}
	return -1
}

func knownField(k string) bool {
	switch strings.ToLower(k) {
	case "received", "return-path", "from", "to", "subject", "date", "message-id", "mime-version", "content-type",
		"cc", "reply-to", "sender", "delivered-to", "x-mailer", "dkim-signature", "content-transfer-encoding", "user-agent", "references", "in-reply-to":
		return true
	}
	return strings.HasPrefix(strings.ToLower(k), "x-")
}
