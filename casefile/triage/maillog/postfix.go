package maillog

import (
	"bufio"
	"bytes"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/sanitize"
)

// ReadPostfix reads a Postfix log (syslog lines of postfix/* programs), calling fn for every
// delivery attempt (smtp, lmtp, local, virtual, error), every queue expiry (qmgr) and every
// client rejected by our own smtpd.
func ReadPostfix(r io.Reader, opt Options, fn func(Event) error) (Result, error) {
	return ReadFormat(Postfix, r, opt, fn)
}

// queuedMessage is what the log said of a message before delivering it (Postfix qmgr and
// cleanup lines, Exim arrivals).
type queuedMessage struct {
	sender    string
	messageID string
	size      int64
}

// maxQueue bounds the messages remembered between their arrival and removal, so memory
// stays constant even for a log whose "removed" lines were filtered out.
const maxQueue = 1 << 17

type postfixReader struct {
	opt   Options
	clock *clock
	res   Result
	queue map[string]queuedMessage
	ln    lines
	// The last host, instance and sending IP seen, so each line does not allocate them anew.
	host, instance, instanceIP string
	hostIP                     string
}

func readPostfix(br *bufio.Reader, opt Options, fn func(Event) error) (Result, error) {
	p := &postfixReader{
		opt:   opt,
		clock: newClock(opt),
		queue: make(map[string]queuedMessage),
		ln:    lines{br: br, name: name(opt)},
	}
	p.res.Format = Postfix
	for {
		line, err := p.ln.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			p.finish()
			return p.res, err
		}
		if err := p.line(line, fn); err != nil {
			p.finish()
			return p.res, err
		}
	}
	p.finish()
	return p.res, nil
}

func (p *postfixReader) finish() {
	p.res.Lines = p.ln.n
	p.clock.assumed(&p.res)
}

var (
	bTo        = []byte("to=<")
	bFrom      = []byte("from=<")
	bRemoved   = []byte("removed")
	bMessageID = []byte("message-id=")
	bReject    = []byte("reject: ")
	bNoQueue   = []byte("NOQUEUE: ")
)

func (p *postfixReader) line(line []byte, fn func(Event) error) error {
	h, ok := parseSyslog(line)
	if !ok {
		p.res.Skipped++
		return nil
	}
	slash := bytes.IndexByte(h.tag, '/')
	if slash <= 0 {
		return nil // another program's line
	}
	service := h.tag[bytes.LastIndexByte(h.tag, '/')+1:]
	msg := h.msg
	var qid []byte
	if bytes.HasPrefix(msg, bNoQueue) {
		msg = msg[len(bNoQueue):]
	} else {
		c := bytes.IndexByte(msg, ':')
		if c < 5 || c > 24 || c+2 > len(msg) || msg[c+1] != ' ' || !alnum(msg[:c]) {
			return nil
		}
		qid, msg = msg[:c], msg[c+2:]
	}
	switch {
	case qid != nil && bytes.HasPrefix(msg, bTo):
		return p.delivery(h, qid, msg, fn)
	case qid != nil && bytes.HasPrefix(msg, bFrom):
		return p.from(h, qid, msg, fn)
	case qid != nil && bytes.Equal(msg, bRemoved):
		delete(p.queue, string(qid))
	case qid != nil && bytes.HasPrefix(msg, bMessageID):
		id := msg[len(bMessageID):]
		m := p.queue[string(qid)]
		if m.messageID != string(id) {
			m.messageID = sanitize.Line(string(id))
			p.remember(qid, m)
		}
	case bytes.HasPrefix(msg, bReject) && (bytes.Equal(service, []byte("smtpd")) || bytes.Equal(service, []byte("postscreen"))):
		return p.reject(h, qid, msg[len(bReject):], fn)
	}
	return nil
}

func (p *postfixReader) remember(qid []byte, m queuedMessage) {
	if _, ok := p.queue[string(qid)]; !ok && len(p.queue) >= maxQueue {
		clear(p.queue)
	}
	p.queue[string(qid)] = m
}

func alnum(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// start fills the fields every Postfix event shares.
func (p *postfixReader) start(h syslogHeader, qid string) (Event, bool) {
	var at = p.at(h)
	if at.IsZero() {
		p.res.Skipped++
		return Event{}, false
	}
	if string(h.host) != p.host {
		p.host = sanitize.Line(string(h.host))
		p.hostIP = ""
		if a, err := netip.ParseAddr(p.host); err == nil {
			p.hostIP = a.String()
		}
	}
	inst := h.tag[:bytes.IndexByte(h.tag, '/')]
	if string(inst) != p.instance {
		p.instance = sanitize.Line(string(inst))
		p.instanceIP = ""
		// A multi-instance setup names instances after their address: postfix-203.0.113.25.
		if ip, ok := strings.CutPrefix(p.instance, "postfix-"); ok {
			if a, err := netip.ParseAddr(ip); err == nil {
				p.instanceIP = a.String()
			}
		}
	}
	e := Event{
		At:      at,
		File:    name(p.opt),
		Line:    p.ln.n,
		Format:  Postfix,
		Host:    p.host,
		QueueID: qid,
	}
	if p.instance != "postfix" {
		e.Instance = p.instance
	}
	switch {
	case p.instanceIP != "":
		e.SendingIP = p.instanceIP
	case p.opt.SendingIP != "":
		e.SendingIP = p.opt.SendingIP
	default:
		e.SendingIP = p.hostIP
	}
	return e, true
}

func (p *postfixReader) at(h syslogHeader) (t time.Time) {
	var ok bool
	if h.iso {
		t, ok = p.clock.iso(h.stamp)
	} else {
		t, ok = p.clock.rfc3164(h.stamp, func() string { return name(p.opt) + ":" + strconv.Itoa(p.ln.n) })
	}
	if !ok {
		return time.Time{}
	}
	return t
}

// delivery reads "to=<rcpt>, relay=host[ip]:port, delay=…, dsn=5.1.1, status=bounced (…)".
func (p *postfixReader) delivery(h syslogHeader, qidb, msg []byte, fn func(Event) error) error {
	st := bytes.Index(msg, []byte(", status="))
	if st < 0 {
		p.res.Skipped++
		return nil
	}
	s := string(msg) // one allocation; every field below is a substring of it
	m := p.queue[string(qidb)]
	e, ok := p.start(h, string(qidb))
	if !ok {
		return nil
	}
	e.Sender, e.MessageID, e.Size = m.sender, m.messageID, m.size
	fields, tail := s[:st], s[st+len(", status="):]
	word, text := tail, ""
	if sp := strings.IndexByte(tail, ' '); sp >= 0 {
		word, text = tail[:sp], tail[sp+1:]
	}
	switch word {
	case "sent", "delivered":
		e.Status = Sent
	case "deferred":
		e.Status = Deferred
	case "bounced":
		e.Status = Bounced
	case "expired":
		e.Status = Expired
	default:
		p.res.Skipped++
		return nil
	}
	for fields != "" {
		var f string
		f, fields = nextField(fields)
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "to":
			e.Recipient = sanitize.Line(strings.Trim(v, "<>"))
		case "relay":
			e.Relay, e.RelayIP = hostIP(v)
		case "dsn":
			e.DSN = sanitize.Line(v)
		case "delay":
			if d, err := strconv.ParseFloat(v, 64); err == nil && d >= 0 && d < 1e9 {
				e.Delay = time.Duration(d * float64(time.Second))
			}
		}
	}
	if len(text) >= 2 && text[0] == '(' && text[len(text)-1] == ')' {
		text = text[1 : len(text)-1]
	}
	if text != "" {
		e.Text = sanitize.Line(text)
		e.Reply, e.Stage = postfixReply(e.Text)
	}
	p.res.Events++
	return fn(e)
}

// nextField splits "a=<x, y>, b=c, …" at the next ", " outside angle brackets.
func nextField(s string) (string, string) {
	inAngle := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			inAngle = true
		case '>':
			inAngle = false
		case ',':
			if !inAngle && i+1 < len(s) && s[i+1] == ' ' {
				return s[:i], s[i+2:]
			}
		}
	}
	return s, ""
}

// hostIP splits "mx.example.net[192.0.2.1]:25" into name and address; "none" and
// "private/dovecot-lmtp" have no address.
func hostIP(v string) (string, string) {
	b := strings.IndexByte(v, '[')
	if b < 0 {
		return sanitize.Line(v), ""
	}
	e := strings.IndexByte(v[b:], ']')
	if e < 0 {
		return sanitize.Line(v), ""
	}
	ip := v[b+1 : b+e]
	ip = strings.TrimPrefix(ip, "IPv6:")
	return sanitize.Line(v[:b]), sanitize.Line(ip)
}

// postfixReply finds the remote server's reply inside Postfix's explanation:
// "host X[IP] said: 550 … (in reply to RCPT TO command)" or "… refused to talk to me: 554 …".
func postfixReply(text string) (reply, stage string) {
	if i := strings.Index(text, " said: "); i >= 0 {
		reply = text[i+len(" said: "):]
	} else if i := strings.Index(text, " refused to talk to me: "); i >= 0 {
		reply, stage = text[i+len(" refused to talk to me: "):], "connect"
	} else if startsWithCode(text) {
		reply = text
	}
	if i := strings.LastIndex(reply, " (in reply to "); i >= 0 && strings.HasSuffix(reply, " command)") {
		stage = reply[i+len(" (in reply to ") : len(reply)-len(" command)")]
		reply = reply[:i]
	}
	return reply, stage
}

func startsWithCode(s string) bool {
	return len(s) >= 4 && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' && (s[3] == ' ' || s[3] == '-')
}

// from reads qmgr's "from=<sender>, size=N, nrcpt=N (queue active)" and
// "from=<sender>, status=expired, returned to sender".
func (p *postfixReader) from(h syslogHeader, qid, msg []byte, fn func(Event) error) error {
	rest := msg[len(bFrom):]
	end := bytes.IndexByte(rest, '>')
	if end < 0 {
		return nil
	}
	sender, rest := rest[:end], rest[end+1:]
	m, known := p.queue[string(qid)]
	switch {
	case len(sender) == 0:
		m.sender = "<>" // the null sender of bounces
	case m.sender != string(sender):
		m.sender = sanitize.Line(string(sender))
	}
	if i := bytes.Index(rest, []byte("size=")); i >= 0 {
		j := i + 5
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if n, err := strconv.ParseInt(string(rest[i+5:j]), 10, 64); err == nil {
			m.size = n
		}
	}
	if !known || p.queue[string(qid)] != m {
		p.remember(qid, m)
	}
	if i := bytes.Index(rest, []byte("status=expired")); i >= 0 {
		e, ok := p.start(h, string(qid))
		if !ok {
			return nil
		}
		e.Status = Expired
		e.Sender, e.MessageID, e.Size = m.sender, m.messageID, m.size
		if t := bytes.TrimLeft(rest[i+len("status=expired"):], ", "); len(t) > 0 {
			e.Text = sanitize.Line(string(t))
		}
		p.res.Events++
		return fn(e)
	}
	return nil
}

// reject reads smtpd's "RCPT from host[ip]: 554 5.7.1 <x>: Relay access denied; from=<a>
// to=<b> proto=ESMTP helo=<h>": our server refusing a client.
func (p *postfixReader) reject(h syslogHeader, qid, msg []byte, fn func(Event) error) error {
	s := string(msg)
	stage, rest, ok := strings.Cut(s, " from ")
	if !ok {
		p.res.Skipped++
		return nil
	}
	client, rest, ok := strings.Cut(rest, ": ")
	if !ok {
		p.res.Skipped++
		return nil
	}
	e, ok := p.start(h, string(qid))
	if !ok {
		return nil
	}
	e.Status, e.Inbound = Rejected, true
	e.Stage = sanitize.Line(stage)
	e.Relay, e.RelayIP = hostIP(client)
	reply := rest
	if i := strings.LastIndex(rest, "; proto="); i >= 0 && !strings.Contains(rest[i:], "from=<") {
		reply = rest[:i] // an EHLO reject names no sender: "…; proto=SMTP helo=<x>"
	}
	if i := strings.LastIndex(rest, "; from=<"); i >= 0 {
		reply = rest[:i]
		tail := rest[i+2:]
		if v, ok := angleField(tail, "from=<"); ok {
			e.Sender = sanitize.Line(v)
			if e.Sender == "" {
				e.Sender = "<>"
			}
		}
		if v, ok := angleField(tail, " to=<"); ok {
			e.Recipient = sanitize.Line(v)
		}
	}
	e.Reply = sanitize.Line(reply)
	e.Text = e.Reply
	e.DSN = enhancedCode(e.Reply)
	p.res.Events++
	return fn(e)
}

func angleField(s, key string) (string, bool) {
	i := strings.Index(s, key)
	if i < 0 {
		return "", false
	}
	v := s[i+len(key):]
	j := strings.IndexByte(v, '>')
	if j < 0 {
		return "", false
	}
	return v[:j], true
}

// enhancedCode returns the RFC 3463 code after a reply code: "550 5.7.1 …" → "5.7.1".
func enhancedCode(reply string) string {
	if !startsWithCode(reply) {
		return ""
	}
	s := reply[4:]
	end := 0
	dots := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || s[end] == '.') {
		if s[end] == '.' {
			dots++
		}
		end++
	}
	if dots != 2 || end < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return ""
	}
	return s[:end]
}
