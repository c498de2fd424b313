// Package probe asks a recipient's mail servers, from the sending IP itself, whether they
// would take mail from it now: connect from that source address, EHLO with the sender's
// HELO name, STARTTLS where offered, MAIL FROM the envelope sender, RCPT TO one recipient,
// then RSET and QUIT. It never sends DATA: no message is ever delivered.
//
// This is what postmasters do by hand from the blocked server. It only tells about the IP
// it runs from, and only about the envelope: a server that accepts RCPT may still refuse
// the content after DATA.
package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/unblock-mail/unblock/checks/dialer"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/sanitize"
)

// Stages of the conversation, in order, as the timeline records them.
const (
	StageConnect  = "connect"
	StageEHLO     = "ehlo"
	StageSTARTTLS = "starttls"
	StageMail     = "mail"
	StageRcpt     = "rcpt"
)

// Outcome is what a probe of one recipient domain came to.
type Outcome string

const (
	Accepted Outcome = "accepted"  // RCPT TO was accepted (2xx)
	Refused  Outcome = "refused"   // a 5xx reply at some stage
	Deferred Outcome = "deferred"  // a 4xx reply at some stage
	NoAnswer Outcome = "no-answer" // no MX host answered (or the conversation broke off)
	Limited  Outcome = "limited"   // not probed: the host was probed from this IP too recently
)

// DefaultHostTimeout bounds the conversation with one MX host: a few seconds, so a silent
// host costs little before the next one is tried.
const DefaultHostTimeout = 8 * time.Second

// Options say whom to probe, from where and as whom.
type Options struct {
	Source   netip.Addr // the sending IP: the probe binds its connections to it
	Domain   string     // the recipient domain whose MX hosts are asked
	HELO     string     // the name the sending server introduces itself with
	MailFrom string     // the envelope sender
	RcptTo   string     // one recipient at Domain
	Resolver *resolver.Resolver
	// Port is the SMTP port of the MX hosts: 25 (tests point it at a loopback server).
	Port int
	// HostTimeout bounds each MX host (default DefaultHostTimeout).
	HostTimeout time.Duration
	// Allow is asked before each MX host is contacted; false stops the probe there
	// (politeness: at most one probe from an IP to a host in a while). Nil allows all.
	Allow func(mx string) bool
	// Slot, when set, is held around the conversation with each host (it returns the
	// release): a watch over many cases spreads its probes so no host gets many at once.
	Slot func(mx string) (release func())
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Reply is one reply of the server, with the stage it answered.
type Reply struct {
	Stage string `json:"stage"`
	Code  int    `json:"code"`
	Text  string `json:"text"` // the whole reply on one line, sanitized
}

// Attempt is one MX host tried.
type Attempt struct {
	MX       string `json:"mx"`
	Addr     string `json:"addr,omitempty"`
	Answered bool   `json:"answered"`
	Problem  string `json:"problem,omitempty"` // why it did not answer, in words
}

// Result is what the probe of one recipient domain met.
type Result struct {
	Domain  string    `json:"domain"`
	From    string    `json:"from_ip"`
	At      time.Time `json:"at"`
	Outcome Outcome   `json:"outcome"`
	MX      string    `json:"mx,omitempty"`   // the host that answered
	Addr    string    `json:"addr,omitempty"` // its address:port
	// Stage, Reply, Code, Enhanced are the decisive reply: the refusal, or RCPT's acceptance.
	Stage    string    `json:"stage,omitempty"`
	Reply    string    `json:"reply,omitempty"`
	Code     int       `json:"reply_code,omitempty"`
	Enhanced string    `json:"enhanced_code,omitempty"`
	TLS      bool      `json:"tls,omitempty"` // STARTTLS was offered and used
	Replies  []Reply   `json:"replies,omitempty"`
	Tried    []Attempt `json:"tried,omitempty"`
	Problem  string    `json:"problem,omitempty"` // why there is no answer, in words
	// Commands are what the probe sent, in order (the proof that DATA never was).
	Commands []string `json:"commands,omitempty"`
}

// CannotBindError says that this machine does not hold the sending IP, so a probe from it
// cannot be made here.
type CannotBindError struct {
	IP  netip.Addr
	Err error
}

func (e *CannotBindError) Error() string {
	return fmt.Sprintf("this machine cannot send from %s (%s): run the probe on the sending server", e.IP, shortNetErr(e.Err))
}

func (e *CannotBindError) Unwrap() error { return e.Err }

// CanBind tells whether this machine holds ip, by trying to bind a socket to it.
func CanBind(ip netip.Addr) error {
	l, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		return &CannotBindError{IP: ip, Err: err}
	}
	l.Close()
	return nil
}

// Probe asks opts.Domain's MX hosts in preference order, the first that answers, whether
// they would take mail from opts.Source. An error is a problem with the options (or an IP
// this machine cannot bind); what the servers said, or that none answered, is the Result.
func Probe(ctx context.Context, opts Options) (Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Port == 0 {
		opts.Port = 25
	}
	if opts.HostTimeout <= 0 {
		opts.HostTimeout = DefaultHostTimeout
	}
	res := Result{Domain: opts.Domain, From: opts.Source.String(), At: opts.Now().UTC().Truncate(time.Second)}
	switch {
	case !opts.Source.IsValid():
		return res, errors.New("no sending IP to probe from")
	case opts.Domain == "":
		return res, errors.New("no recipient domain to probe")
	case opts.HELO == "":
		return res, errors.New("no HELO name to introduce the probe with")
	case opts.MailFrom == "" || !strings.Contains(opts.MailFrom, "@"):
		return res, fmt.Errorf("envelope sender %q is not an address", opts.MailFrom)
	case opts.RcptTo == "" || !strings.Contains(opts.RcptTo, "@"):
		return res, fmt.Errorf("recipient %q is not an address", opts.RcptTo)
	case opts.Resolver == nil:
		return res, errors.New("no resolver")
	}
	opts.Source = opts.Source.Unmap()
	if err := CanBind(opts.Source); err != nil {
		return res, err
	}
	hosts, problem := mxHosts(ctx, opts.Resolver, opts.Domain)
	if len(hosts) == 0 {
		res.Outcome, res.Problem = NoAnswer, problem
		return res, nil
	}
	for _, mx := range hosts {
		if ctx.Err() != nil {
			break
		}
		if opts.Allow != nil && !opts.Allow(mx) {
			res.Outcome, res.MX = Limited, mx
			res.Problem = fmt.Sprintf("%s was probed from %s too recently", mx, res.From)
			return res, nil
		}
		a := Attempt{MX: mx}
		release := func() {}
		if opts.Slot != nil {
			release = opts.Slot(mx)
		}
		done := tryHost(ctx, opts, mx, &res, &a)
		release()
		res.Tried = append(res.Tried, a)
		if done {
			return res, nil
		}
	}
	res.Outcome = NoAnswer
	var why []string
	for _, a := range res.Tried {
		why = append(why, a.MX+": "+a.Problem)
	}
	res.Problem = "no MX host answered (" + strings.Join(why, "; ") + ")"
	if ctx.Err() != nil && len(why) == 0 {
		res.Problem = "stopped before any MX host was asked"
	}
	return res, nil
}

// mxHosts are the domain's mail exchangers in preference order: its MX records, or the
// domain itself when it has none (RFC 5321 §5.1).
func mxHosts(ctx context.Context, r *resolver.Resolver, domain string) ([]string, string) {
	mxs, err := r.MX(ctx, domain)
	if err != nil {
		if resolver.IsNotFound(err) {
			return []string{domain}, ""
		}
		return nil, "the MX lookup of " + domain + " failed: " + sanitize.Line(err.Error())
	}
	var hosts []string
	for _, m := range mxs {
		h := strings.TrimSuffix(strings.ToLower(m.Host), ".")
		if h == "" {
			// A null MX (RFC 7505): the domain takes no mail at all.
			return nil, domain + " publishes a null MX: it accepts no mail"
		}
		if !sanitize.Clean(h) {
			continue // a name no mail server has; it would only reach the screen
		}
		hosts = append(hosts, h)
	}
	return hosts, ""
}

// tryHost talks to one MX host. It reports whether the host answered (the probe is over)
// and fills in the attempt.
func tryHost(ctx context.Context, opts Options, mx string, res *Result, a *Attempt) bool {
	hctx, cancel := context.WithTimeout(ctx, opts.HostTimeout)
	defer cancel()
	var addrs []netip.Addr
	var err error
	if opts.Source.Is4() {
		addrs, err = opts.Resolver.A(hctx, mx)
	} else {
		addrs, err = opts.Resolver.AAAA(hctx, mx)
	}
	if err != nil || len(addrs) == 0 {
		fam := "IPv4"
		if !opts.Source.Is4() {
			fam = "IPv6"
		}
		a.Problem = "no " + fam + " address"
		if err != nil && !resolver.IsNotFound(err) {
			a.Problem = "its address lookup failed: " + sanitize.Line(err.Error())
		}
		return false
	}
	for _, ip := range addrs {
		if hctx.Err() != nil {
			break
		}
		a.Addr = net.JoinHostPort(ip.String(), strconv.Itoa(opts.Port))
		if talk(hctx, opts, mx, a, res) {
			a.Answered = true
			return true
		}
	}
	if hctx.Err() != nil && ctx.Err() == nil && !strings.Contains(a.Problem, "in time") {
		a.Problem = fmt.Sprintf("no answer within %s", opts.HostTimeout)
	}
	return false
}

// talk holds one conversation. It reports whether the server answered with a reply that
// decides the probe (a refusal at any stage, or RCPT's acceptance).
func talk(ctx context.Context, opts Options, mx string, a *Attempt, res *Result) bool {
	conn, err := dialer.DialFrom(ctx, "tcp", opts.Source, a.Addr, 0)
	if err != nil {
		a.Problem = "no connection: " + shortNetErr(err)
		if ctx.Err() != nil {
			a.Problem = "no connection in time"
		}
		return false
	}
	// go-smtp sets a deadline per command and clears it after; closing the connection when
	// the host's time is up is what bounds the whole conversation.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	log := &transcript{}
	tlsCfg := &tls.Config{ServerName: mx, InsecureSkipVerify: true} //nolint:gosec // opportunistic TLS, as MTAs use it (RFC 7435): the probe asks about the IP, not the certificate
	c, err := smtp.NewClientStartTLS(&heloConn{Conn: withLog(conn, log), helo: opts.HELO}, tlsCfg)
	usedTLS := err == nil
	if err != nil {
		if decided(log, err, res, mx, a) {
			return true
		}
		if !log.offeredNoTLS() {
			if a.Problem == "" {
				a.Problem = "the conversation broke off: " + shortNetErr(err)
			}
			if ctx.Err() != nil {
				a.Problem = "no answer in time"
			}
			return false
		}
		// Greeted and answered EHLO without offering STARTTLS: start again in plain text.
		conn.Close()
		if conn, err = dialer.DialFrom(ctx, "tcp", opts.Source, a.Addr, 0); err != nil {
			a.Problem = "no second connection: " + shortNetErr(err)
			return false
		}
		defer conn.Close()
		stop2 := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop2()
		log.reset()
		c = smtp.NewClient(withLog(conn, log))
	}
	defer c.Close()
	c.CommandTimeout = opts.HostTimeout
	if dl, ok := ctx.Deadline(); ok {
		c.CommandTimeout = time.Until(dl)
	}
	c.DebugWriter = log
	step := func(err error) bool {
		if err == nil {
			return false
		}
		if decided(log, err, res, mx, a) {
			res.TLS = usedTLS
			_ = c.Quit() // leave politely; the refusal is already read
		} else if a.Problem == "" {
			a.Problem = "the conversation broke off: " + shortNetErr(err)
		}
		return true
	}
	if step(c.Hello(opts.HELO)) {
		return res.Outcome != ""
	}
	if step(c.Mail(opts.MailFrom, nil)) {
		return res.Outcome != ""
	}
	if step(c.Rcpt(opts.RcptTo, nil)) {
		return res.Outcome != ""
	}
	// Accepted: the reply to RCPT is the last one read.
	last := log.last()
	res.Outcome, res.MX, res.Addr, res.TLS = Accepted, mx, a.Addr, usedTLS
	res.Stage, res.Code, res.Reply = StageRcpt, last.Code, last.Text
	res.Enhanced = enhancedOf(last.Text)
	// Never DATA: abort the transaction and leave.
	_ = c.Reset()
	_ = c.Quit()
	res.Replies, res.Commands = log.replies(), log.commands()
	return true
}

// decided reads a failed command: a 4xx or 5xx reply decides the probe.
func decided(log *transcript, err error, res *Result, mx string, a *Attempt) bool {
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code < 400 {
		return false
	}
	last := log.last()
	res.MX, res.Addr = mx, a.Addr
	res.Stage = log.stage()
	res.Code = se.Code
	res.Reply = last.Text
	if last.Code != se.Code || res.Reply == "" {
		res.Reply = sanitize.Line(fmt.Sprintf("%d %s", se.Code, se.Message))
	}
	res.Enhanced = enhancedOf(res.Reply)
	res.Outcome = Refused
	if se.Code < 500 {
		res.Outcome = Deferred
	}
	res.Replies, res.Commands = log.replies(), log.commands()
	return true
}

// enhancedOf is the RFC 3463 code after the reply code, or "".
func enhancedOf(reply string) string {
	f := strings.Fields(reply)
	if len(f) < 2 {
		return ""
	}
	p := strings.Split(f[1], ".")
	if len(p) != 3 || (p[0] != "2" && p[0] != "4" && p[0] != "5") {
		return ""
	}
	for _, s := range p[1:] {
		if _, err := strconv.Atoi(s); err != nil || s == "" {
			return ""
		}
	}
	return f[1]
}

// heloConn puts the sender's name into the first EHLO: go-smtp's STARTTLS client greets
// with "EHLO localhost" before TLS, and receivers that refuse "localhost" would turn the
// probe into a refusal that says nothing about the IP.
type heloConn struct {
	net.Conn
	helo string
	sent bool
}

func (h *heloConn) Write(p []byte) (int, error) {
	if !h.sent {
		h.sent = true
		if bytes.Equal(p, []byte("EHLO localhost\r\n")) {
			if _, err := h.Conn.Write([]byte("EHLO " + h.helo + "\r\n")); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return h.Conn.Write(p)
}

// logConn copies the plaintext conversation into the transcript (before STARTTLS; after
// it, go-smtp's DebugWriter does).
type logConn struct {
	net.Conn
	log *transcript
}

func withLog(c net.Conn, t *transcript) net.Conn { return &logConn{Conn: c, log: t} }

func (l *logConn) Read(p []byte) (int, error) {
	n, err := l.Conn.Read(p)
	if !l.log.isTLS() {
		l.log.read(p[:n])
	}
	return n, err
}

func (l *logConn) Write(p []byte) (int, error) {
	if !l.log.isTLS() {
		l.log.wrote(p)
	}
	return l.Conn.Write(p)
}

// maxTranscript bounds what is kept of a conversation.
const maxTranscript = 32 << 10

// transcript splits the conversation into the client's commands and the server's replies.
type transcript struct {
	mu      sync.Mutex
	partial []byte // an incomplete reply line
	cmds    []string
	reps    []Reply
	cur     []string // the lines of the reply being read
	tls     bool
	size    int
}

func (t *transcript) isTLS() bool { t.mu.Lock(); defer t.mu.Unlock(); return t.tls }

func (t *transcript) reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial, t.cmds, t.reps, t.cur, t.tls, t.size = nil, nil, nil, nil, false, 0
}

// Write is go-smtp's DebugWriter after STARTTLS: commands and replies alike.
func (t *transcript) Write(p []byte) (int, error) {
	t.mu.Lock()
	tls := t.tls
	t.mu.Unlock()
	if !tls {
		return len(p), nil // logConn sees the plaintext part
	}
	t.mu.Lock()
	// The conversation is lockstep: a chunk that starts a line with a letter is a command
	// (replies start with three digits).
	command := len(t.partial) == 0 && len(p) > 0 && p[0] >= 'A' && p[0] <= 'Z'
	t.mu.Unlock()
	if command {
		t.wrote(p)
	} else {
		t.read(p)
	}
	return len(p), nil
}

func (t *transcript) wrote(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for line := range strings.SplitSeq(strings.TrimRight(string(p), "\r\n"), "\r\n") {
		if t.size += len(line); t.size > maxTranscript {
			return
		}
		t.cmds = append(t.cmds, sanitize.Line(line))
	}
}

func (t *transcript) read(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(t.partial[:i]), "\r")
		t.partial = t.partial[i+1:]
		if t.size += len(line); t.size > maxTranscript {
			continue
		}
		t.cur = append(t.cur, line)
		if len(line) < 4 || line[3] != '-' {
			t.endReply()
		}
	}
}

// endReply closes the reply being read: "250-a", "250 b" make "250 a b".
func (t *transcript) endReply() {
	code := 0
	var text []string
	for i, l := range t.cur {
		if len(l) >= 3 {
			if n, err := strconv.Atoi(l[:3]); err == nil {
				code = n
				l = strings.TrimSpace(l[3:])
				if len(l) > 0 && l[0] == '-' {
					l = strings.TrimSpace(l[1:])
				}
			}
		}
		if i == 0 {
			text = append(text, strconv.Itoa(code))
		}
		if l != "" {
			text = append(text, l)
		}
	}
	t.cur = nil
	stage := stageOf(t.cmds)
	t.reps = append(t.reps, Reply{Stage: stage, Code: code, Text: sanitize.Line(strings.Join(text, " "))})
	if stage == StageSTARTTLS && code == 220 {
		// What follows is encrypted on the wire; go-smtp's DebugWriter reports it in plain text.
		t.tls = true
	}
}

// stageOf names the stage from the last command sent before a reply.
func stageOf(cmds []string) string {
	if len(cmds) == 0 {
		return StageConnect
	}
	c := strings.ToUpper(cmds[len(cmds)-1])
	switch {
	case strings.HasPrefix(c, "EHLO"), strings.HasPrefix(c, "HELO"):
		return StageEHLO
	case strings.HasPrefix(c, "STARTTLS"):
		return StageSTARTTLS
	case strings.HasPrefix(c, "MAIL"):
		return StageMail
	case strings.HasPrefix(c, "RCPT"):
		return StageRcpt
	case strings.HasPrefix(c, "RSET"):
		return "rset"
	case strings.HasPrefix(c, "QUIT"):
		return "quit"
	}
	return strings.ToLower(strings.Fields(c + " ?")[0])
}

func (t *transcript) last() Reply {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.reps) == 0 {
		return Reply{}
	}
	return t.reps[len(t.reps)-1]
}

func (t *transcript) stage() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return stageOf(t.cmds)
}

func (t *transcript) replies() []Reply {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Reply(nil), t.reps...)
}

func (t *transcript) commands() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.cmds...)
}

// offeredNoTLS: the server greeted and answered EHLO, and STARTTLS was not among its
// extensions (go-smtp's STARTTLS client then gives up without a reply to read).
func (t *transcript) offeredNoTLS() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.reps) < 2 || t.reps[0].Code != 220 || t.reps[1].Code != 250 {
		return false
	}
	for _, c := range t.cmds {
		if strings.EqualFold(c, "STARTTLS") {
			return false
		}
	}
	return true
}

func shortNetErr(err error) string {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return sanitize.Line(oe.Err.Error())
	}
	return sanitize.Line(err.Error())
}
