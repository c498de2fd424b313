package triage

import (
	"cmp"
	"net/netip"
	"strconv"
	"strings"

	"github.com/unblock-mail/unblock/sanitize"
)

// maxReply bounds the text one reply is read from: real replies are a few hundred bytes,
// a pasted bounce a few kilobytes; beyond this it is not a reply any more.
const maxReply = 64 << 10

// EnhancedStatus is an RFC 3463 class.subject.detail code.
type EnhancedStatus struct {
	valid                  bool
	class, subject, detail int
}

func (s EnhancedStatus) String() string {
	if !s.valid {
		return ""
	}
	return strconv.Itoa(s.class) + "." + strconv.Itoa(s.subject) + "." + strconv.Itoa(s.detail)
}

// parsedReply is one reply taken apart: what the rules match on.
type parsedReply struct {
	joined           string   // the whole text on one line
	lower            string   // joined, lower-cased (ASCII)
	reply            string   // the reply itself, after any quoting prefix ("host X said:")
	text             string   // the reply with the words that quote it, without the prose before
	focus            string   // the reply, lowered: what the rules read
	seen             []uint64 // which of the tables' phrases occur in focus
	code             int      // SMTP reply code, 0 when none
	status           EnhancedStatus
	statusHinted     bool   // status came from a DSN's Status field, not the reply
	host             string // the host that answered, when the text names it
	receiverProvider string // the filter operating host
	ip               string // the IP the reply is about
	stage            string // SMTP stage: connect, helo, mail, rcpt, data; "" unknown
	rcptDomain       string // the recipient's domain, when the evidence names it
	aboutSender      bool   // the reply names the original's sender and not the recipient
	// gaveUp: the sending MTA stopped retrying a transient failure (a DSN's Action: failed
	// over a 4xx): the deferral did not clear by itself, so it is not one to wait out.
	gaveUp bool
}

// ClassifyReply reads one SMTP reply or diagnostic text — multi-line replies and replies
// quoted in other text ("host X said: …") included — and says what it means.
func ClassifyReply(text string) Finding {
	return classify(text, "")
}

// classify is ClassifyReply knowing the sending IP, when the evidence gave one.
func classify(text, sendingIP string) Finding {
	var p parsedReply
	p.parse(text)
	return p.finding(sendingIP)
}

func (p *parsedReply) parse(text string) {
	if len(text) > maxReply {
		text = text[:maxReply]
	}
	p.joined = joinReply(text)
	p.lower = lowerASCII(p.joined)
	var ends [64]int
	markers.firstEnds(p.lower, ends[:markers.size()])
	start, host := quotedStart(p.lower, ends[:markers.size()])
	p.reply = p.joined[start:]
	p.text = strings.TrimLeft(p.joined[quoteContext(p.lower, start):], " ")
	replyLower := p.lower[start:]
	var failAt int
	p.code, p.status, failAt = replyCodes(replyLower)
	if failAt > 0 {
		// A session transcript: the words of the replies that succeeded (a STARTTLS
		// offered, a recipient accepted) are not the failure's.
		replyLower = replyLower[failAt:]
		p.reply = p.reply[failAt:]
		p.text = p.joined[start+failAt:]
	}
	p.focus = replyLower
	p.seen = make([]uint64, (phrases.size()+63)/64)
	phrases.scan(p.focus, p.seen)
	if host == "" {
		// Microsoft 365's newer NDR names the answering host on a line of its own.
		if i := strings.Index(p.lower, "remote server: "); i >= 0 {
			host = hostAfter(p.lower[i:], "remote server: ")
		}
	}
	if host == "" {
		host = hostInText(p.lower)
	}
	if host != "" {
		p.host = host
		if f, ok := FilterForHost(host); ok {
			p.receiverProvider = f.Provider
		}
	}
	p.ip = blockedIP(replyLower)
	p.stage = stageFrom(ends[:markers.size()])
}

// stageMarkers tell at which SMTP stage a reply came, in the words MTAs quote it with.
var stageMarkers = []struct{ marker, stage string }{
	{"refused to talk to me", "connect"}, {"in reply to helo", "helo"}, {"in reply to ehlo", "helo"},
	{"after helo", "helo"}, {"after ehlo", "helo"}, {"after initial connection", "connect"},
	{"in reply to mail from", "mail"}, {"after mail from", "mail"}, {"did not like our mail from", "mail"},
	{"in reply to rcpt to", "rcpt"}, {"after rcpt to", "rcpt"}, {"did not like our rcpt to", "rcpt"},
	{"in reply to end of data", "data"}, {"after end of data", "data"}, {"in reply to data", "data"},
	{"after data", "data"}, {"did not like our data", "data"},
	{"sender was rejected", "mail"}, {"my name was rejected", "helo"}, {"greeting", "connect"},
}

// markers matches the quote and stage markers in one pass.
var markers = func() *phraseSet {
	var ps phraseSet
	for _, m := range quoteMarkers {
		ps.add(m)
	}
	for _, m := range stageMarkers {
		ps.add(m.marker)
	}
	ps.add(smtpErrorMarker)
	if ps.size() > 64 {
		panic("triage: more than 64 reply markers")
	}
	return &ps
}()

func stageOf(lower string) string {
	var ends [64]int
	markers.firstEnds(lower, ends[:markers.size()])
	return stageFrom(ends[:markers.size()])
}

func stageFrom(ends []int) string {
	for _, m := range stageMarkers {
		if ends[markers.ids[m.marker]] >= 0 {
			return m.stage
		}
	}
	return ""
}

func (p *parsedReply) finding(sendingIP string) Finding {
	f := Finding{
		Mode:      UnknownMode,
		Cause:     UnknownCause,
		Provider:  "unknown",
		Receiver:  p.host,
		IP:        p.ip,
		SendingIP: sendingIP,
		ReplyCode: p.code,
		Text:      sanitize.Line(p.text),
	}
	f.EnhancedCode = p.status.String()
	var rule, causeRule *Rule
	for i, r := range rules {
		if r.match(p) {
			rule, causeRule = r, r
			if r.Cause == "" && r.Registry == "" {
				// The provider is known, the cause not: the generic words say it.
				causeRule = nil
				for _, g := range rules[i+1:] {
					if g.table.Provider == "unknown" && g.match(p) {
						causeRule = g
						break
					}
				}
			}
			break
		}
	}
	switch {
	case p.code >= 400 && p.code < 500:
		f.Mode = Deferral
	case p.code >= 500:
		f.Mode = HardBlock
	case p.code >= 200 && p.code < 300:
		f.Mode = Delivered
	case p.status.valid && p.status.class == 4:
		f.Mode = Deferral
	case p.status.valid && p.status.class == 5:
		f.Mode = HardBlock
	case p.status.valid && p.status.class == 2:
		f.Mode = Delivered
	}
	receiverProvider := p.receiverProvider
	routeKind := ""
	if rule != nil {
		t := rule.table
		if rule.Mode != "" {
			f.Mode = rule.Mode
		}
		f.Control = rule.Control
		f.Meaning = rule.Meaning
		switch {
		case causeRule != nil && causeRule.Registry == "":
			f.Cause = causeRule.Cause
			f.Control = cmp.Or(f.Control, causeRule.Control)
			f.Meaning = cmp.Or(f.Meaning, causeRule.Meaning)
		default:
			if m, ok := registryMeaning(p.status); ok {
				f.Cause = m.Cause
				f.Meaning = cmp.Or(f.Meaning, m.Meaning)
			}
		}
		f.Advice = rule.Send
		if _, ok := rule.Routes[f.Cause]; rule.Cause == "" && len(rule.Routes) > 0 && !ok {
			// A provider's catch-all advises on the causes it routes, not on one the
			// codes gave (a 5.1.1 at Gmail is no reputation matter).
			f.Advice = ""
		}
		f.Provider = t.Provider
		if rule.Provider != "" {
			f.Provider = rule.Provider
		}
		if t.Answers && receiverProvider == "" {
			receiverProvider = t.Provider
		}
		routeKind = rule.Route
		if k, ok := rule.Routes[f.Cause]; ok {
			routeKind = k
		}
		if f.Mode == Deferral && rule.DeferralRoute != "" && !p.gaveUp {
			routeKind = rule.DeferralRoute
		}
	} else if m, ok := registryMeaning(p.status); ok {
		f.Cause, f.Meaning = m.Cause, m.Meaning
	}
	// The answering filter owns a control the generic words recognised, except a list
	// it merely consults.
	if f.Provider == "unknown" && receiverProvider != "" && f.Cause != Blocklist && f.Cause != UnknownCause {
		f.Provider = receiverProvider
	}
	f.ReceiverProvider = receiverProvider
	f.Stage = p.stage
	if f.Receiver == "" {
		f.Receiver = receiverProvider
	}
	if routeKind == "" {
		m := f.Mode
		if p.gaveUp {
			m = HardBlock // nothing retries it: where a block goes
		}
		routeKind = routeForCause(m, f.Cause)
	}
	f.Route = RouteFor(routeKind, f.IP)
	if f.Mode == UnknownMode && f.Cause == UnknownCause {
		f.Route = RouteFor("none", "")
	}
	if f.IP == "" && sendingIP != "" && (f.Cause == IPReputation || f.Cause == Blocklist || f.Cause == RateLimit) {
		// A block that names no IP is about the IP that connected.
		f.IP = sendingIP
		f.Route = RouteFor(f.Route.Kind, f.IP)
	}
	noteOtherIP(&f, sendingIP)
	return f
}

// noteOtherIP says so when the reply is about another IP than the one that sent: the case
// (and the delisting) must name the IP the block is about.
func noteOtherIP(f *Finding, sendingIP string) {
	if sendingIP != "" && f.IP != "" && f.IP != sendingIP {
		f.Notes = append(f.Notes, "the reply names "+f.IP+", not the sending IP "+sendingIP)
	}
}

// registryMeaning is the registry's reading of a status code, falling back to its
// subject's undefined detail.
func registryMeaning(st EnhancedStatus) (StatusMeaning, bool) {
	if !st.valid {
		return StatusMeaning{}, false
	}
	if m, ok := registry[[2]int{st.subject, st.detail}]; ok {
		return m, true
	}
	m, ok := registry[[2]int{st.subject, 0}]
	return m, ok
}

// routeForCause is where a case goes when no provider's rule says.
func routeForCause(m Mode, c Cause) string {
	switch c {
	case InvalidRecipient:
		return "fix-recipient"
	case Authentication:
		return "fix-authentication"
	case RateLimit:
		return "wait"
	case RecipientPolicy, Content, IPReputation, Blocklist, DomainReputation:
		if m == Deferral {
			return "wait"
		}
		return "recipient-admin"
	}
	if m == Deferral {
		return "wait"
	}
	if m == HardBlock && c == UnknownCause {
		// Refused for a reason nobody can read from the reply: only the receiving side
		// can say what it means.
		return "recipient-admin"
	}
	return "none"
}

// joinReply puts a (possibly multi-line) reply on one line: continuation lines of a
// multi-line reply ("550-5.7.26 …" … "550 5.7.26 …") lose their repeated codes.
func joinReply(text string) string {
	if !strings.ContainsAny(text, "\r\n\t") && !strings.Contains(text, "  ") {
		return strings.TrimSpace(text)
	}
	var b strings.Builder
	b.Grow(len(text))
	first := true
	firstCode, firstStatus := "", ""
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if code, rest, ok := leadingCode(line); ok {
			if firstCode == "" {
				firstCode = code
				if st, _, ok := strings.Cut(strings.TrimSpace(rest), " "); ok && looksStatus(st) {
					firstStatus = st
				}
			} else if code == firstCode {
				line = strings.TrimSpace(rest)
				if firstStatus != "" && strings.HasPrefix(line, firstStatus) {
					line = strings.TrimSpace(line[len(firstStatus):])
				}
			}
		}
		if line == "" {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		writeSpaced(&b, line)
	}
	return b.String()
}

// writeSpaced writes s with runs of blanks made one space.
func writeSpaced(b *strings.Builder, s string) {
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteByte(c)
	}
}

// leadingCode splits "550-5.7.26 text" into "550" and "5.7.26 text".
func leadingCode(line string) (code, rest string, ok bool) {
	if len(line) < 4 || !isReplyCode(line[:3]) || (line[3] != '-' && line[3] != ' ') {
		return "", "", false
	}
	return line[:3], line[4:], true
}

func isReplyCode(s string) bool {
	return len(s) == 3 && s[0] >= '2' && s[0] <= '5' && isDigit(s[1]) && isDigit(s[2])
}

func looksStatus(s string) bool {
	st, n := scanStatus(s, 0)
	return st.valid && n == len(s)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Markers after which MTAs quote the remote server's reply; the text before names the
// host that answered.
var quoteMarkers = []string{
	" said: ", " said:", "remote server returned '", "refused to talk to me: ",
	"did not like our rcpt to:", "did not like our mail from:", "did not like our data:",
	"the response was: ", "the response from the remote server was: ", "the error that the other server returned was: ", "it responded as follows: ",
	"diagnostic-code: smtp; ", "diagnostic-code: ", "delay reason: ", "reported error: ", "reason: ",
	" a répondu : ", " a répondu: ", // French mail systems' "said:"
}

// quotedStart finds where the reply begins in lowered text, and the host named before.
const smtpErrorMarker = "smtp error from remote mail server after "

func quotedStart(lower string, ends []int) (int, string) {
	best := -1
	end := 0
	for _, m := range quoteMarkers {
		if e := ends[markers.ids[m]]; e >= 0 && (best < 0 || e-len(m) < best) {
			best, end = e-len(m), e
		}
	}
	// "SMTP error from remote mail server after end of data: host X [IP]: 550 …"
	if e := ends[markers.ids[smtpErrorMarker]]; e >= 0 && (best < 0 || e-len(smtpErrorMarker) < best) {
		i := e - len(smtpErrorMarker)
		if j := strings.Index(lower[i:], ": "); j >= 0 {
			best, end = i, i+j+2
			if strings.HasPrefix(lower[end:], "host ") {
				if k := strings.Index(lower[end:], "]: "); k >= 0 {
					return end + k + 3, hostAfter(lower[end:], "host ")
				}
			}
		}
	}
	if best < 0 {
		return 0, ""
	}
	host := ""
	prefix := lower[:best]
	for _, w := range []string{"host ", "connect to ", "from "} {
		if i := strings.LastIndex(prefix, w); i >= 0 {
			host = hostAfter(prefix[i:], w)
			if host != "" {
				break
			}
		}
	}
	return end, host
}

// quoteContext is where the text worth keeping starts when a reply at start is quoted
// in a longer text (a bounce's prose, an Exchange NDR's "Diagnostic information for
// administrators"): at the "host X" or the quoting words just before the reply. Prose
// that holds a reply code of its own is the reply, kept whole; so is a short prefix.
func quoteContext(lower string, start int) int {
	const keep = 100
	if start <= keep {
		return 0
	}
	prefix := lower[:start]
	if code, st, _ := replyCodes(prefix); code != 0 || st.valid {
		return 0
	}
	near := start - keep
	if i := strings.LastIndex(prefix[near:], "host "); i >= 0 {
		if r := near + i - len("remote "); r >= 0 && prefix[r:near+i] == "remote " {
			return r // qmail's "Remote host said:"
		}
		return near + i
	}
	for _, m := range quoteMarkers {
		if strings.HasSuffix(prefix, m) {
			return start - len(m)
		}
	}
	if i := strings.LastIndexAny(prefix[near:], ".:"); i >= 0 {
		return near + i + 1
	}
	return 0
}

// hostAfter reads the host name that follows word in s.
func hostAfter(s, word string) string {
	s = strings.TrimPrefix(s, word)
	n := 0
	for n < len(s) && (isAlnum(s[n]) || s[n] == '.' || s[n] == '-' || s[n] == '_') {
		n++
	}
	h := strings.Trim(s[:n], ".-")
	if !strings.Contains(h, ".") {
		return ""
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return ""
	}
	return h
}

// hostInText finds a host name of a known filter in the text, outside URLs. An Exchange
// NDR's "Generating server" is the sender's own server when a remote server's reply is
// quoted, not the one that answered.
func hostInText(lower string) string {
	remoteQuoted := strings.Contains(lower, "remote server returned") || strings.Contains(lower, "reported error:")
	for i := 0; i < len(lower); {
		for i < len(lower) && !isAlnum(lower[i]) {
			i++
		}
		j := i
		for j < len(lower) && (isAlnum(lower[j]) || lower[j] == '.' || lower[j] == '-') {
			j++
		}
		tok := strings.Trim(lower[i:j], ".-")
		// Not a URL's host, nor an address's domain: neither answered.
		inURL := i >= 3 && lower[i-3:i] == "://" || i >= 1 && lower[i-1] == '@'
		before := strings.TrimRight(lower[:i], " \t")
		generating := remoteQuoted && (strings.HasSuffix(before, "generating server:") || strings.HasSuffix(before, "dsn generated by:"))
		if !inURL && !generating && strings.Count(tok, ".") >= 1 && !isDigit(tok[len(tok)-1]) {
			if _, ok := FilterForHost(tok); ok {
				return tok
			}
		}
		if j == i {
			j++
		}
		i = j
	}
	return ""
}

// replyCodes finds the reply code and the enhanced status code in a reply. In a session
// transcript the replies that succeeded (2xx, 3xx) come before the one that failed: the
// first failure's code is the reply's, else the first code there is. The third result is
// where that failure starts when replies that succeeded come before it, else 0.
func replyCodes(s string) (int, EnhancedStatus, int) {
	code, codeEnd, failAt := 0, -1, 0
	for i := 0; i+3 <= len(s); i++ {
		if !replyCodeAt(s, i) {
			continue
		}
		if codeEnd >= 0 && s[i] >= '4' {
			if !transcriptReply(s, i) {
				// "… 250 2.6.0 Queued, 46845 bytes in 0.23 s, 554 KB/sec": a number, not a reply.
				continue
			}
			failAt = i
		}
		if codeEnd < 0 || s[i] >= '4' {
			code, _ = strconv.Atoi(s[i : i+3])
			codeEnd = i + 3
		}
		if code >= 400 {
			break
		}
	}
	// The status right after the reply code is the reply's own; otherwise the first
	// failure's status, else the first.
	if codeEnd >= 0 {
		j := codeEnd
		for j < len(s) && (s[j] == ' ' || s[j] == '-') {
			j++
		}
		if st, _ := scanStatus(s, j); st.valid {
			return code, st, failAt
		}
	}
	var first EnhancedStatus
	for i := failAt; i < len(s); i++ {
		c := s[i]
		if c != '2' && c != '4' && c != '5' {
			continue
		}
		if i > 0 && !codeBoundaryBefore(s[i-1]) {
			continue
		}
		if st, _ := scanStatus(s, i); st.valid {
			if st.class != 2 {
				return code, st, failAt
			}
			if !first.valid {
				first = st
			}
		}
	}
	return code, first, failAt
}

// transcriptReply reports whether the failure code at s[i], after replies that succeeded,
// is a reply of the session: the server's side of a transcript ("<<< 550", "Out: 451"), a
// quoted reply ("said: 550"), or a code with its enhanced status ("451 4.3.0").
func transcriptReply(s string, i int) bool {
	before := strings.TrimRight(s[:i], " ")
	for _, m := range []string{"<<<", "out:", "said:", "reply:", "response:"} {
		if strings.HasSuffix(before, m) {
			return true
		}
	}
	j := i + 3
	for j < len(s) && (s[j] == ' ' || s[j] == '-') {
		j++
	}
	st, _ := scanStatus(s, j)
	return st.valid
}

// replyCodeAt reports whether an SMTP reply code starts at s[i]: three digits on a word
// boundary, followed by a space, the end, or the hyphen of a multi-line reply.
func replyCodeAt(s string, i int) bool {
	if !isReplyCode(s[i:i+3]) || (i > 0 && !codeBoundaryBefore(s[i-1])) {
		return false
	}
	if i+3 < len(s) && s[i+3] != ' ' && s[i+3] != '-' {
		return false
	}
	// "550-" must continue with a status code or be a multi-line reply.
	return !(i+3 < len(s) && s[i+3] == '-' && (i+4 >= len(s) || !isDigit(s[i+4])) && i+4 < len(s) && s[i+4] != ' ')
}

func codeBoundaryBefore(c byte) bool {
	switch c {
	case ' ', '(', '[', '#', '\'', '"', ':', ';', '<', '=', '\t':
		return true
	}
	return false
}

// scanStatus reads class.subject.detail at s[i:], 1–3 digits each part, and returns the
// index after it.
func scanStatus(s string, i int) (EnhancedStatus, int) {
	var parts [3]int
	j := i
	for k := range 3 {
		n, v := 0, 0
		for j < len(s) && isDigit(s[j]) && n < 4 {
			v = v*10 + int(s[j]-'0')
			j++
			n++
		}
		if n == 0 || n > 3 || (k == 0 && n != 1) {
			return EnhancedStatus{}, i
		}
		parts[k] = v
		if k < 2 {
			if j >= len(s) || s[j] != '.' {
				return EnhancedStatus{}, i
			}
			j++
		}
	}
	// Not an IP address or version number: nothing but a boundary may follow.
	if j < len(s) && (isAlnum(s[j]) || (s[j] == '.' && j+1 < len(s) && isDigit(s[j+1]))) {
		return EnhancedStatus{}, i
	}
	if parts[0] != 2 && parts[0] != 4 && parts[0] != 5 {
		return EnhancedStatus{}, i
	}
	return EnhancedStatus{valid: true, class: parts[0], subject: parts[1], detail: parts[2]}, j
}

// ipContext ranks how surely an IP in a reply is the one the block is about.
var ipContexts = []struct {
	before string
	rank   int
}{
	{"?ip=", 1}, {"&ip=", 1}, {".cgi?", 1}, {"ip=", 2},
	{"[", 3}, {"from ", 4}, {"client ", 4}, {"address ", 4}, {"ip ", 4}, {"host ", 5}, {"sender", 5},
}

// blockedIP finds the IP a reply is about: from ?ip=, a bare ?IP, [IP], "from IP",
// IPv4 or IPv6; loopback and unspecified addresses are never it.
func blockedIP(lower string) string {
	if strings.Contains(lower, "%3a") {
		// An IPv6 address in a URL's query is often percent-encoded.
		lower = strings.ReplaceAll(lower, "%3a", ":")
	}
	best, bestRank := "", 99
	for i := 0; i < len(lower); {
		if !isIPChar(lower[i]) {
			i++
			continue
		}
		j := i
		for j < len(lower) && isIPChar(lower[j]) {
			j++
		}
		start, tok := i, strings.TrimRight(lower[i:j], ".:")
		i = j
		if start > 0 && isAlnum(lower[start-1]) {
			// Part of a word, except "IPv6:2001:db8::1".
			if !strings.HasSuffix(lower[:start], "ipv") || !strings.HasPrefix(tok, "6:") {
				continue
			}
			tok, start = tok[2:], start+2
		}
		a, ok := parseIP(tok)
		if !ok {
			continue
		}
		rank := 6
		for _, ctx := range ipContexts {
			if strings.HasSuffix(lower[:start], ctx.before) {
				rank = ctx.rank
				break
			}
		}
		if rank == 6 && sectionNumber(lower[:start]) {
			continue
		}
		if rank == 3 && hostBefore(lower[:start-1]) {
			// "mx.example[192.0.2.9]": a host's own address, as Postfix writes it, not
			// the IP a block is about.
			continue
		}
		if rank < bestRank {
			best, bestRank = a, rank
		}
	}
	return best
}

// hostBefore reports whether s ends with a host name ("mx.example" of "mx.example[IP]"),
// not a word ("sender[IP]").
func hostBefore(s string) bool {
	i := len(s)
	for i > 0 && (isAlnum(s[i-1]) || s[i-1] == '.' || s[i-1] == '-') {
		i--
	}
	name := strings.Trim(s[i:], ".-")
	return strings.Contains(name, ".") && !isDigit(name[len(name)-1])
}

// sectionNumber reports whether a dotted number follows "RFC 2821" or "section": a
// section of a standard ("See RFC2821 4.1.1.1"), not an address.
func sectionNumber(before string) bool {
	before = strings.TrimRight(before, " ")
	i := strings.LastIndexByte(before, ' ') + 1
	word := before[i:]
	if word == "section" || word == "sec." || word == "§" {
		return true
	}
	if strings.HasPrefix(word, "rfc") {
		return true
	}
	// "RFC 5321 4.5.3.1": the number before is the RFC's.
	j := strings.LastIndexByte(strings.TrimRight(before[:i], " "), ' ') + 1
	return strings.HasPrefix(before[j:], "rfc") && strings.TrimLeft(word, "0123456789") == ""
}

func isIPChar(c byte) bool { return isHex(c) || c == ':' || c == '.' }

func parseIP(tok string) (string, bool) {
	if len(tok) < 7 || (strings.Count(tok, ".") != 3 && strings.Count(tok, ":") < 2) {
		return "", false
	}
	a, err := netip.ParseAddr(tok)
	if err != nil || a.IsLoopback() || a.IsUnspecified() {
		return "", false
	}
	return a.Unmap().String(), true
}

func isHex(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') }
