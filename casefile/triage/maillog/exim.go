package maillog

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/sanitize"
)

// ReadExim reads an Exim main log, calling fn for every delivery (=>, ->, *>), failure (**),
// deferral (==) and client our Exim rejected.
func ReadExim(r io.Reader, opt Options, fn func(Event) error) (Result, error) {
	return ReadFormat(Exim, r, opt, fn)
}

// An Exim log is read as a Postfix log is: in chunks of lines parsed by several workers,
// the arrivals that join a delivery to its sender and Message-ID and the times done after,
// in order (readChunks).
func readExim(br *bufio.Reader, opt Options, fn func(Event) error) (Result, error) {
	return readChunks(br, nil, Exim, opt, fn)
}

// eximStamp measures "2026-11-22 21:16:01[.123][ +0100]" at the start of a line.
func eximStamp(line []byte) (int, bool) {
	if len(line) < 20 || line[4] != '-' || line[7] != '-' || line[10] != ' ' || line[13] != ':' || line[16] != ':' {
		return 0, false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if line[i] < '0' || line[i] > '9' {
			return 0, false
		}
	}
	n := 19
	if line[n] == '.' {
		n++
		for n < len(line) && line[n] >= '0' && line[n] <= '9' {
			n++
		}
	}
	if n+6 < len(line) && line[n] == ' ' && (line[n+1] == '+' || line[n+1] == '-') && line[n+6] == ' ' {
		if _, ok := digits(line[n+2 : n+6]); ok {
			n += 6
		}
	}
	if n >= len(line) || line[n] != ' ' {
		return 0, false
	}
	return n, true
}

// eximID measures an Exim message ID: 1xVEun-0002FR-0C, or the 4.97 form 1xVEun-000000002FR-0C.
func eximID(b []byte) int {
	for _, n := range [...]int{16, 23} {
		// Dashes at 6 and 13 (16 bytes) or at 6 and 18 (23 bytes).
		if len(b) <= n || b[n] != ' ' || b[6] != '-' || n == 16 && b[13] != '-' || n == 23 && b[18] != '-' {
			continue
		}
		ok := true
		for i := 0; i < n; i++ {
			c := b[i]
			if c == '-' {
				continue
			}
			if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				ok = false
				break
			}
		}
		if ok {
			return n
		}
	}
	return 0
}

// eximISO makes an Exim stamp one the ISO reader takes, in place: "… 21:16:01 +0100"
// becomes "…21:16:01+0100". Too long a stamp (a fraction of many digits) is not a time.
func eximISO(stamp []byte) ([]byte, bool) {
	n := len(stamp)
	if n > 6 && stamp[n-6] == ' ' && (stamp[n-5] == '+' || stamp[n-5] == '-') {
		if n-1 > 40 {
			return nil, false
		}
		copy(stamp[n-6:], stamp[n-5:])
		return stamp[:n-1], true
	}
	return stamp, true
}

// eximLine notes what one line of an Exim main log says.
func (w *pfWorker) eximLine(c *pfChunk, line []byte) {
	n, ok := eximStamp(line)
	if !ok {
		c.skipped++
		return
	}
	stamp, rest := line[:n], line[n+1:]
	if len(rest) > 0 && rest[0] == '[' { // process id: [1234] or [1234/…]
		if i := bytes.IndexByte(rest, ']'); i > 0 && i+1 < len(rest) && rest[i+1] == ' ' {
			rest = rest[i+2:]
		}
	}
	idLen := eximID(rest)
	if idLen == 0 {
		if bytes.Contains(rest, []byte(" rejected RCPT ")) || bytes.Contains(rest, []byte(" rejected MAIL ")) {
			w.eximReject(c, stamp, rest)
		}
		return
	}
	id, rest := rest[:idLen], rest[idLen+1:]
	if len(rest) < 3 || rest[2] != ' ' {
		if bytes.Equal(rest, []byte("Completed")) {
			c.ops = append(c.ops, pfOp{kind: pfRemoved, line: c.lines, qid: keyOf(id)})
		}
		return
	}
	flag := string(rest[:2]) // two bytes: the compiler does not allocate for the switch
	switch flag {
	case "<=":
		w.eximArrival(c, id, rest[3:])
	case "=>", "->", "*>", ">>", "**", "==": // >> is a cutthrough delivery
		w.eximDelivery(c, stamp, id, flag, rest[3:])
	}
}

// eximEvent notes an event with its stamp; its time is read by the in-order pass.
func (w *pfWorker) eximEvent(c *pfChunk, stamp []byte, qid []byte, e *Event, join bool) {
	stamp, ok := eximISO(stamp)
	if !ok {
		c.skipped++
		return
	}
	c.evs = append(c.evs, *e)
	c.ops = append(c.ops, pfOp{kind: pfEvent, line: c.lines, qid: keyOf(qid), stamp: stamp, iso: true, ev: len(c.evs) - 1, join: join})
}

// eximTokens walks Exim's space-separated fields: quoted values (T="a b"), and the point
// where the fields end and an error text begins (a field that ends with ':').
type eximTokens struct{ s string }

// next returns the next field and whether it ended with the ':' that starts an error text.
func (t *eximTokens) next() (tok string, colon bool) {
	s := strings.TrimLeft(t.s, " ")
	if s == "" {
		t.s = ""
		return "", false
	}
	i := 0
	for i < len(s) && s[i] != ' ' {
		if s[i] == '"' { // quoted value: to the closing quote
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
		}
		i++
	}
	if i > len(s) {
		i = len(s)
	}
	tok, t.s = s[:i], s[i:]
	if strings.HasSuffix(tok, ":") && (t.s == "" || t.s[0] == ' ') {
		return tok[:len(tok)-1], true
	}
	return tok, false
}

func (w *pfWorker) eximArrival(c *pfChunk, id, b []byte) {
	t := eximTokens{string(b)}
	sender, _ := t.next()
	op := pfOp{kind: pfArrival, line: c.lines, qid: keyOf(id), sender: sanitize.Line(sender)}
	for {
		tok, _ := t.next()
		if tok == "" || tok == "for" {
			break
		}
		k, v, _ := strings.Cut(tok, "=")
		switch k {
		case "S":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				op.size = n
			}
		case "id":
			op.msgID = sanitize.Line(v)
		}
	}
	c.ops = append(c.ops, op)
}

func (w *pfWorker) eximDelivery(c *pfChunk, stamp, id []byte, flag string, b []byte) {
	e := Event{File: name(w.opt), Format: Exim, Host: w.opt.Host, SendingIP: w.opt.SendingIP, QueueID: string(id)}
	switch flag {
	case "**":
		e.Status = Bounced
	case "==":
		e.Status = Deferred
	default:
		e.Status = Sent
	}
	t := eximTokens{string(b)}
	addr, colon := t.next()
	e.Recipient = sanitize.Line(strings.Trim(addr, "<>"))
	last := ""
	for !colon {
		var tok string
		tok, colon = t.next()
		if tok == "" {
			break
		}
		if tok[0] == '[' && last == "H" {
			if j := strings.IndexByte(tok, ']'); j > 0 {
				e.RelayIP = sanitize.Line(tok[1:j])
			}
			continue
		}
		k, v, _ := strings.Cut(tok, "=")
		last = k
		switch k {
		case "H":
			if v != "" && v[0] == '[' { // H=[ip] without a name
				if j := strings.IndexByte(v, ']'); j > 0 {
					e.RelayIP = sanitize.Line(v[1:j])
					continue
				}
			}
			e.Relay = sanitize.Line(v)
		case "I": // +outgoing_interface: the address the mail left from
			if j := strings.IndexByte(v, ']'); len(v) > 1 && v[0] == '[' && j > 0 {
				e.SendingIP = sanitize.Line(v[1:j])
			}
		case "DT":
			e.Delay = eximDuration(v)
		case "T": // a local transport delivers into this server's own mailboxes or a command
			if t := strings.ToLower(v); strings.Contains(t, "local") || strings.Contains(t, "appendfile") || strings.Contains(t, "lmtp") ||
				strings.Contains(t, "pipe") || strings.Contains(t, "maildir") || strings.Contains(t, "mailbox") {
				e.Inbound = true
			}
		case "C": // the receiver's reply to a delivery
			e.Reply = sanitize.Line(unquote(v))
			e.Text = e.Reply
		}
	}
	if colon {
		text := strings.TrimLeft(t.s, " ")
		// The delivery time, logged after the error text on ** lines, is not part of it.
		if i := strings.LastIndex(text, " DT="); i >= 0 && !strings.Contains(text[i+1:], " ") {
			e.Delay = eximDuration(text[i+4:])
			text = text[:i]
		}
		// Exim writes a multi-line reply's line breaks as a literal \n: one reply, one line.
		text = strings.ReplaceAll(text, `\n`, " ")
		e.Text = sanitize.Line(text)
		e.Reply, e.Stage = eximReply(e.Text)
	}
	if e.Status == Deferred && e.Reply == "" && strings.Contains(e.Text, "retry time not reached") {
		// Exim's own retry database held the message back: no host was tried, nobody
		// refused anything, and it is no attempt.
		return
	}
	e.DSN = enhancedCode(e.Reply)
	w.eximEvent(c, stamp, id, &e, true)
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		if strings.Contains(v, `\"`) {
			v = strings.ReplaceAll(v, `\"`, `"`)
		}
	}
	return v
}

// eximReply finds the reply in "SMTP error from remote mail server after RCPT TO:<x>: 550 …".
func eximReply(text string) (reply, stage string) {
	for _, p := range [...]string{"SMTP error from remote mail server after ", "SMTP error from remote mailer after ", "SMTP error from remote server after "} {
		if i := strings.Index(text, p); i >= 0 {
			st, r, ok := strings.Cut(text[i+len(p):], ": ")
			if !ok {
				return "", ""
			}
			if j := strings.Index(st, ":<"); j >= 0 {
				st = st[:j]
			}
			return r, st
		}
	}
	if startsWithCode(text) {
		return text, ""
	}
	return "", ""
}

// reject reads "H=name (helo) [192.0.2.1]:port I=[ip]:25 F=<a@b> rejected RCPT <c@d>: reason";
// the addresses may come with or without angle brackets.
func (w *pfWorker) eximReject(c *pfChunk, stamp, b []byte) {
	s := string(b)
	e := Event{File: name(w.opt), Format: Exim, Host: w.opt.Host, SendingIP: w.opt.SendingIP, Status: Rejected, Inbound: true}
	i := strings.Index(s, " rejected ")
	if i < 0 {
		c.skipped++
		return
	}
	head, tail := s[:i], s[i+len(" rejected "):]
	stage, tail, _ := strings.Cut(tail, " ")
	e.Stage = sanitize.Line(stage)
	addr, reason, ok := strings.Cut(tail, ": ")
	if !ok {
		addr, reason = strings.TrimSuffix(tail, ":"), ""
	}
	if stage == "RCPT" {
		e.Recipient = sanitize.Line(strings.Trim(addr, "<>"))
	}
	if h, ok := eximField(head, "H="); ok {
		// The name, a HELO in parentheses (which may itself hold brackets), then [ip].
		if h != "" && h[0] != '(' && h[0] != '[' {
			name, _, _ := strings.Cut(h, " ")
			e.Relay = sanitize.Line(name)
		}
		depth := 0
		for k := 0; k < len(h); k++ {
			switch h[k] {
			case '(':
				depth++
			case ')':
				depth--
			case '[':
				if depth == 0 {
					if z := strings.IndexByte(h[k:], ']'); z > 0 {
						e.RelayIP = sanitize.Line(h[k+1 : k+z])
					}
					k = len(h)
				}
			}
		}
	}
	if v, ok := eximField(head, "F="); ok {
		v, _, _ = strings.Cut(v, " ")
		e.Sender = sanitize.Line(strings.Trim(v, "<>"))
	}
	e.Text = sanitize.Line(reason)
	e.Reply = e.Text
	e.DSN = enhancedCode(e.Reply)
	w.eximEvent(c, stamp, nil, &e, false)
}

// eximField returns what follows key (at the start or after a space) up to the end of s.
func eximField(s, key string) (string, bool) {
	for off := 0; ; {
		i := strings.Index(s[off:], key)
		if i < 0 {
			return "", false
		}
		i += off
		if i == 0 || s[i-1] == ' ' {
			return s[i+len(key):], true
		}
		off = i + len(key)
	}
}

// eximDuration reads Exim's time format: "0s", "1m13s", "2h3m", "1d2h".
func eximDuration(v string) time.Duration {
	var d, n time.Duration
	digits := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= '0' && c <= '9' {
			if n > 1e9 {
				return 0
			}
			n = n*10 + time.Duration(c-'0')
			digits = true
			continue
		}
		if !digits {
			return 0
		}
		switch c {
		case 'w':
			d += n * 7 * 24 * time.Hour
		case 'd':
			d += n * 24 * time.Hour
		case 'h':
			d += n * time.Hour
		case 'm':
			d += n * time.Minute
		case 's':
			d += n * time.Second
		default:
			return 0
		}
		n, digits = 0, false
	}
	return d
}
