package maillog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
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

// A Queue is what a log said of the messages in its queue (sender, Message-ID, size),
// kept from one file of a rotated set to the next, where the messages' deliveries may be
// logged (Options.Queue).
type Queue struct{ m map[qidKey]queuedMessage }

// NewQueue returns an empty queue.
func NewQueue() *Queue { return &Queue{m: map[qidKey]queuedMessage{}} }

// maxQueue bounds the messages remembered between their arrival and removal, so memory
// stays constant even for a log whose "removed" lines were filtered out.
const maxQueue = 1 << 17

// A Postfix log is read in chunks of whole lines, parsed by several workers at once; what
// needs the lines in order (the year of syslog stamps, the queue that joins a delivery to
// its sender and Message-ID) is done after, in order, from what the workers noted.
const postfixChunk = 128 << 10

// pfOp is what one line says, noted by a worker for the in-order pass.
type pfOp struct {
	kind   pfKind
	line   int    // within the chunk, 1-based
	qid    qidKey // the queue ID
	stamp  []byte // into the chunk's data
	iso    bool
	ev     int    // index of the event in the chunk's events (pfEvent, pfFrom with expiry)
	join   bool   // fill the sender, Message-ID and size from the queue
	sender string // pfFrom: as logged ("<>" for the null sender)
	size   int64  // pfFrom: -1 when not logged
	msgID  string // pfMessageID
}

type pfKind uint8

// qidKey is a queue ID as a map key: a value, so that looking one up, noting it or
// forgetting it allocates nothing. Queue IDs are 5 to 24 letters and digits (line), zero-padded.
type qidKey [24]byte

func keyOf(qid []byte) (k qidKey) {
	copy(k[:], qid)
	return k
}

func keyOfString(qid string) (k qidKey) {
	copy(k[:], qid)
	return k
}

// plain reports bytes that sanitize.Line leaves as they are, and so does it with every part
// of them cut at an ASCII byte: printable ASCII. (Other text is sanitized field by field.)
func plain(b []byte) bool {
	// Eight bytes at a time: no byte below 0x20, at 0x7f or above.
	const ones, highs, spaces, dels = 0x0101010101010101, 0x8080808080808080, 0x2020202020202020, 0x7f7f7f7f7f7f7f7f
	for len(b) >= 8 {
		w := binary.LittleEndian.Uint64(b)
		d := w ^ dels
		if (w|(w-spaces)|(d-ones)&^d)&highs != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// lineString is sanitize.Line of the bytes, with one allocation.
func lineString(b []byte) string {
	if plain(b) {
		return string(b)
	}
	return sanitize.Line(string(b))
}

const (
	pfEvent     pfKind = iota // a delivery attempt, rejection
	pfFrom                    // qmgr's from=<…>, size=…; with ev set, an expiry too
	pfMessageID               // cleanup's message-id=
	pfRemoved                 // qmgr's removed
	pfArrival                 // Exim's <= line: the sender, Message-ID and size, all at once
)

type pfChunk struct {
	buf     []byte // reused from chunk to chunk (the read's free list)
	data    []byte
	ops     []pfOp
	evs     []Event
	lines   int
	skipped int
	tooLong int   // line (within the chunk) longer than MaxLine, 0 if none
	readErr error // the input failed after data
	done    chan struct{}
}

// pfWorker parses lines; it keeps only caches of the last host and instance.
type pfWorker struct {
	exim bool // the lines are Exim's

	hosts, instances           map[string]hostCache // names seen, sanitized, with their IPs
	opt                        Options
	host, instance, instanceIP string
	hostIP                     string
}

type hostCache struct{ name, ip string }

func readPostfix(br *bufio.Reader, opt Options, fn func(Event) error) (Result, error) {
	return readChunks(br, nil, Postfix, opt, fn)
}

// readChunks reads a Postfix or Exim log in chunks parsed by several workers (see
// postfixChunk): from br, or, when data is not nil, from a mapped file's bytes.
func readChunks(br *bufio.Reader, data []byte, format Format, opt Options, fn func(Event) error) (res Result, err error) {
	clk := newClock(opt)
	if data != nil {
		// Each goroutine that touches a mapped file turns the fault of a page gone (the
		// file shrank) into ErrShrank.
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				if !isFault(r) {
					panic(r)
				}
				clk.assumed(&res)
				err = fmt.Errorf("%s: %w", name(opt), ErrShrank)
			}
		}()
	}
	res = Result{Format: format}
	workers := min(max(runtime.GOMAXPROCS(0), 1), 4)
	work := make(chan *pfChunk, workers)
	ordered := make(chan *pfChunk, workers+1)
	// Chunks go back to the splitter once the in-order pass is done with them (the data and
	// notes of a chunk are not referred to by the events given out): a read allocates its
	// few buffers once.
	free := make(chan *pfChunk, 2*workers+2)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(work)
		defer close(ordered)
		if data != nil {
			splitData(data, work, ordered, free, stop)
			return
		}
		splitChunks(br, opt.Live, work, ordered, free, stop)
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &pfWorker{opt: opt, exim: format == Exim}
			if data != nil {
				debug.SetPanicOnFault(true) // for this goroutine, which ends with the read
			}
			for c := range work {
				w.parse(c, data != nil)
				close(c.done)
			}
		}()
	}
	q := opt.Queue
	if q == nil {
		q = NewQueue()
	}
	queue := q.m
	remember := func(qid qidKey, m queuedMessage) {
		if _, ok := queue[qid]; !ok && len(queue) >= maxQueue {
			clear(queue)
		}
		queue[qid] = m
	}
	base := 0
	for c := range ordered {
		<-c.done
		for i := range c.ops {
			op := &c.ops[i]
			switch op.kind {
			case pfRemoved:
				delete(queue, op.qid)
				continue
			case pfMessageID:
				m := queue[op.qid]
				if m.messageID != op.msgID {
					m.messageID = op.msgID
					remember(op.qid, m)
				}
				continue
			case pfFrom:
				m, known := queue[op.qid]
				n := m
				n.sender = op.sender
				if op.size >= 0 {
					n.size = op.size
				}
				if !known || n != m {
					remember(op.qid, n)
				}
				if !op.join {
					continue
				}
			case pfArrival:
				remember(op.qid, queuedMessage{sender: op.sender, messageID: op.msgID, size: op.size})
				continue
			}
			var at time.Time
			var ok bool
			line := base + op.line
			if op.iso {
				at, ok = clk.iso(op.stamp)
			} else {
				at, ok = clk.rfc3164(op.stamp, func() string { return name(opt) + ":" + strconv.Itoa(line) })
			}
			if !ok || at.IsZero() {
				res.Skipped++
				continue
			}
			e := c.evs[op.ev]
			e.At, e.Line = at, line
			if op.join {
				m := queue[op.qid]
				e.Sender, e.MessageID, e.Size = m.sender, m.messageID, m.size
			}
			res.Events++
			if err := fn(e); err != nil {
				res.Lines = line
				clk.assumed(&res)
				return res, err
			}
		}
		res.Skipped += c.skipped
		tooLong, readErr, lines, size := c.tooLong, c.readErr, c.lines, len(c.data)
		clear(c.evs)
		select {
		case free <- c:
		default:
		}
		if tooLong > 0 {
			res.Lines = base + tooLong - 1
			clk.assumed(&res)
			return res, fmt.Errorf("%s:%d: line longer than %d KiB: %w", name(opt), base+tooLong, MaxLine>>10, ErrNotLog)
		}
		base += lines
		if data != nil {
			res.Bytes += int64(size)
			if opt.Progress != nil {
				opt.Progress(res.Bytes)
			}
		}
		if readErr != nil {
			res.Lines = base
			clk.assumed(&res)
			return res, readErr
		}
	}
	res.Lines = base
	clk.assumed(&res)
	return res, nil
}

// splitChunks reads the input in chunks of whole lines and hands each to the workers and,
// in order, to the in-order pass.
func splitChunks(br *bufio.Reader, live bool, work, ordered chan<- *pfChunk, free <-chan *pfChunk, stop <-chan struct{}) {
	var carry []byte
	for {
		c := nextChunk(free)
		need := max(postfixChunk, len(carry)+MaxLine)
		if cap(c.buf) < need {
			c.buf = make([]byte, need)
		}
		buf := c.buf[:need]
		n := copy(buf, carry)
		var m int
		var err error
		if live {
			// What is there now: the next read may wait for the log to grow.
			for m == 0 && err == nil {
				m, err = br.Read(buf[n:])
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
		} else {
			m, err = io.ReadFull(br, buf[n:])
		}
		n += m
		data := buf[:n]
		end := err == io.EOF || err == io.ErrUnexpectedEOF
		if err != nil && !end {
			c.readErr = err
		}
		if !end && c.readErr == nil {
			i := bytes.LastIndexByte(data, '\n')
			if i < 0 || len(data)-i-1 > MaxLine {
				// No line end in the chunk, or a tail longer than a line may be.
				c.data = data
				c.tooLong = bytes.Count(data, []byte("\n")) + 1
				data, end = nil, true
			} else {
				carry = append(carry[:0:0], data[i+1:]...)
				data = data[:i+1]
			}
		}
		if data != nil {
			c.data = data
		}
		if len(c.data) == 0 && c.readErr == nil && c.tooLong == 0 {
			return
		}
		if !handOn(c, ordered, work, stop) || end || c.readErr != nil {
			return
		}
	}
}

// nextChunk takes an emptied chunk from the free list, or a new one.
func nextChunk(free <-chan *pfChunk) *pfChunk {
	var c *pfChunk
	select {
	case c = <-free:
	default:
		c = &pfChunk{}
	}
	*c = pfChunk{buf: c.buf, ops: c.ops[:0], evs: c.evs[:0], done: make(chan struct{})}
	return c
}

// handOn gives a chunk to the in-order pass, then to a worker; false when the read has
// stopped.
func handOn(c *pfChunk, ordered, work chan<- *pfChunk, stop <-chan struct{}) bool {
	select {
	case ordered <- c:
	case <-stop:
		return false
	}
	select {
	case work <- c:
		return true
	case <-stop:
		return false
	}
}

// splitData cuts a log held in memory into chunks of whole lines, as splitChunks cuts
// one it reads, without copying them. A fault reading the bytes (a mapped file that
// shrank) ends the chunks with ErrShrank.
func splitData(data []byte, work, ordered chan<- *pfChunk, free <-chan *pfChunk, stop <-chan struct{}) {
	debug.SetPanicOnFault(true) // for this goroutine, which ends with the read
	for len(data) > 0 {
		c := nextChunk(free)
		n, end := cutChunk(c, data)
		data = data[n:]
		if !handOn(c, ordered, work, stop) || end {
			return
		}
	}
}

// cutChunk sets the chunk to the lines at the start of data and says how many bytes it
// took, and whether it is the last (the end of data, a line too long, or a fault).
func cutChunk(c *pfChunk, data []byte) (n int, end bool) {
	defer func() {
		if r := recover(); r != nil {
			if !isFault(r) {
				panic(r)
			}
			c.data, c.readErr, n, end = nil, ErrShrank, len(data), true
		}
	}()
	n = min(len(data), postfixChunk)
	if n == len(data) {
		c.data = data
		return n, true
	}
	i := bytes.LastIndexByte(data[:n], '\n')
	if i < 0 || n-i-1 > MaxLine {
		// No line end in the chunk, or a tail longer than a line may be.
		c.data = data[:n]
		c.tooLong = bytes.Count(c.data, []byte("\n")) + 1
		return n, true
	}
	c.data = data[:i+1]
	return i + 1, false
}

// isFault reports whether a recovered panic is the fault of a memory access (see
// debug.SetPanicOnFault).
func isFault(r any) bool {
	_, ok := r.(interface{ Addr() uintptr })
	return ok
}

// parse parses a chunk; in a mapped file, a fault (the file shrank) becomes the chunk's
// read error, after what was parsed before it.
func (w *pfWorker) parse(c *pfChunk, mapped bool) {
	if mapped {
		defer func() {
			if r := recover(); r != nil {
				if !isFault(r) {
					panic(r)
				}
				c.readErr = ErrShrank
			}
		}()
	}
	w.chunk(c)
}

// chunk parses the lines of one chunk into ops.
func (w *pfWorker) chunk(c *pfChunk) {
	data := c.data
	limit := 0
	if c.tooLong > 0 {
		limit = c.tooLong // parse the lines before the long one
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		c.lines++
		if limit > 0 && c.lines >= limit {
			return
		}
		if len(line) > MaxLine {
			c.tooLong = c.lines
			return
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if w.exim {
			w.eximLine(c, line)
		} else {
			w.line(c, line)
		}
	}
}

var (
	bTo        = []byte("to=<")
	bFrom      = []byte("from=<")
	bRemoved   = []byte("removed")
	bMessageID = []byte("message-id=")
	bReject    = []byte("reject: ")
	bNoQueue   = []byte("NOQUEUE: ")
)

func (w *pfWorker) line(c *pfChunk, line []byte) {
	h, ok := parseSyslog(line)
	if !ok {
		c.skipped++
		return
	}
	slash := bytes.IndexByte(h.tag, '/')
	if slash <= 0 {
		return // another program's line
	}
	service := h.tag[bytes.LastIndexByte(h.tag, '/')+1:]
	msg := h.msg
	var qid []byte
	if bytes.HasPrefix(msg, bNoQueue) {
		msg = msg[len(bNoQueue):]
	} else {
		// "QUEUEID: ", the queue ID 5 to 24 letters and digits (checked once the rest of
		// the line is one we read: most lines are not).
		i := bytes.IndexByte(msg[:min(len(msg), 25)], ':')
		if i < 5 || i+2 > len(msg) || msg[i+1] != ' ' {
			return
		}
		qid, msg = msg[:i], msg[i+2:]
	}
	switch {
	case qid != nil && bytes.HasPrefix(msg, bTo):
		if alnum(qid) {
			w.delivery(c, h, h.msg[:len(h.msg)-len(msg)], msg)
		}
	case qid != nil && bytes.HasPrefix(msg, bFrom):
		if alnum(qid) {
			w.from(c, h, qid, msg)
		}
	case qid != nil && bytes.Equal(msg, bRemoved):
		if alnum(qid) {
			c.ops = append(c.ops, pfOp{kind: pfRemoved, line: c.lines, qid: keyOf(qid)})
		}
	case qid != nil && bytes.HasPrefix(msg, bMessageID):
		if alnum(qid) {
			c.ops = append(c.ops, pfOp{kind: pfMessageID, line: c.lines, qid: keyOf(qid), msgID: lineString(msg[len(bMessageID):])})
		}
	case bytes.HasPrefix(msg, bReject) && (bytes.Equal(service, []byte("smtpd")) || bytes.Equal(service, []byte("postscreen"))):
		if qid == nil || alnum(qid) {
			w.reject(c, h, qid, msg[len(bReject):])
		}
	}
}

func alnum(b []byte) bool {
	for _, c := range b {
		if !alnums[c] {
			return false
		}
	}
	return true
}

// alnums are the bytes of queue IDs: letters and digits.
var alnums = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
	}
	return t
}()

// event notes an event of the line; its time (and the queue's fields, with join) are
// filled in by the in-order pass.
func (w *pfWorker) event(c *pfChunk, h syslogHeader, kind pfKind, qid string, e *Event, join bool) *pfOp {
	c.evs = append(c.evs, *e)
	c.ops = append(c.ops, pfOp{kind: kind, line: c.lines, qid: keyOfString(qid), stamp: h.stamp, iso: h.iso, ev: len(c.evs) - 1, join: join})
	return &c.ops[len(c.ops)-1]
}

// start fills the fields every Postfix event shares.
func (w *pfWorker) start(h syslogHeader, qid string) Event {
	if string(h.host) != w.host {
		// Hosts alternate in a merged log: each is sanitized and parsed once.
		hc, ok := w.hosts[string(h.host)]
		if !ok {
			hc.name = sanitize.Line(string(h.host))
			if a, err := netip.ParseAddr(hc.name); err == nil {
				hc.ip = a.String()
			}
			if w.hosts == nil {
				w.hosts = map[string]hostCache{}
			}
			if len(w.hosts) < 256 {
				w.hosts[string(h.host)] = hc
			}
		}
		w.host, w.hostIP = hc.name, hc.ip
	}
	inst := h.tag[:bytes.IndexByte(h.tag, '/')]
	if string(inst) != w.instance {
		ic, ok := w.instances[string(inst)]
		if !ok {
			ic.name = sanitize.Line(string(inst))
			// A multi-instance setup names instances after their address: postfix-203.0.113.25.
			if ip, ok := strings.CutPrefix(ic.name, "postfix-"); ok {
				if a, err := netip.ParseAddr(ip); err == nil {
					ic.ip = a.String()
				}
			}
			if w.instances == nil {
				w.instances = map[string]hostCache{}
			}
			if len(w.instances) < 256 {
				w.instances[string(inst)] = ic
			}
		}
		w.instance, w.instanceIP = ic.name, ic.ip
	}
	e := Event{
		File:    name(w.opt),
		Format:  Postfix,
		Host:    w.host,
		QueueID: qid,
	}
	if w.instance != "postfix" {
		e.Instance = w.instance
	}
	switch {
	case w.instanceIP != "":
		e.SendingIP = w.instanceIP
	case w.opt.SendingIP != "":
		e.SendingIP = w.opt.SendingIP
	default:
		e.SendingIP = w.hostIP
	}
	return e
}

// delivery reads "to=<rcpt>, relay=host[ip]:port, delay=…, dsn=5.1.1, status=bounced (…)".
func (w *pfWorker) delivery(c *pfChunk, h syslogHeader, qidb, msg []byte) {
	st := bytes.Index(msg, []byte(", status="))
	if st < 0 {
		c.skipped++
		return
	}
	// One allocation, "QUEUEID: to=<…>, …": the queue ID and every field below are
	// substrings of it.
	raw := h.msg[len(h.msg)-len(qidb)-len(msg):]
	status := msg[st+len(", status="):]
	if sp := bytes.IndexByte(status, ' '); sp >= 0 {
		status = status[:sp]
	}
	// Mail that went through is only counted (Options.Counting): its fields up to the
	// status are enough, and its reply is neither kept nor read.
	counted := w.opt.Counting && (string(status) == "sent" || string(status) == "delivered")
	if counted {
		raw = raw[:len(qidb)+st]
	}
	// Printable ASCII, as logs nearly always are, needs no field sanitized apart.
	clean := sanitize.Line
	if plain(raw) {
		clean = asIs
	}
	whole := string(raw)
	qid, s := whole[:len(qidb)-2], whole[len(qidb):]
	e := w.start(h, qid)
	switch string(h.tag[bytes.LastIndexByte(h.tag, '/')+1:]) {
	case "local", "virtual", "lmtp", "pipe":
		e.Inbound = true // into this server's own mailboxes or services
	}
	fields, word, text := s, "sent", ""
	if !counted {
		tail := s[st+len(", status="):]
		fields, word = s[:st], tail
		if sp := strings.IndexByte(tail, ' '); sp >= 0 {
			word, text = tail[:sp], tail[sp+1:]
		}
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
		c.skipped++
		return
	}
	if counted {
		// The recipient opens the fields and the DSN ends them ("to=<…>, relay=…,
		// delay=…, delays=…, dsn=2.0.0"): nothing between is read.
		if i := strings.LastIndex(fields, ", dsn="); i >= 0 {
			e.DSN = clean(fields[i+len(", dsn="):])
			fields = fields[:i]
		}
		if to, _ := nextField(fields); strings.HasPrefix(to, "to=") {
			e.Recipient = clean(strings.Trim(to[len("to="):], "<>"))
		}
		fields = ""
	}
	for fields != "" {
		var f string
		f, fields = nextField(fields)
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "to":
			e.Recipient = clean(strings.Trim(v, "<>"))
		case "relay":
			if !counted {
				e.Relay, e.RelayIP = hostIP(v, clean)
			}
		case "dsn":
			e.DSN = clean(v)
		case "delay":
			if counted {
				continue
			}
			if d, err := strconv.ParseFloat(v, 64); err == nil && d >= 0 && d < 1e9 {
				e.Delay = time.Duration(d * float64(time.Second))
			}
		}
	}
	if len(text) >= 2 && text[0] == '(' && text[len(text)-1] == ')' {
		text = text[1 : len(text)-1]
	}
	if text != "" {
		e.Text = clean(text)
		e.Reply, e.Stage = postfixReply(e.Text)
	}
	w.event(c, h, pfEvent, qid, &e, true)
}

// nextField splits "a=<x, y>, b=c, …" at the next ", " outside angle brackets.
func nextField(s string) (string, string) {
	for i := 0; ; {
		j := strings.IndexByte(s[i:], ',')
		if j < 0 {
			return s, ""
		}
		j += i
		if lt := strings.IndexByte(s[i:j], '<'); lt >= 0 {
			// An address opens before the comma: past its end.
			gt := strings.IndexByte(s[i+lt:], '>')
			if gt < 0 {
				return s, ""
			}
			i += lt + gt + 1
			continue
		}
		if j+1 < len(s) && s[j+1] == ' ' {
			return s[:j], s[j+2:]
		}
		i = j + 1
	}
}

// hostIP splits "mx.example.net[192.0.2.1]:25" into name and address; "none" and
// "private/dovecot-lmtp" have no address.
func hostIP(v string, clean func(string) string) (string, string) {
	b := strings.IndexByte(v, '[')
	if b < 0 {
		return clean(v), ""
	}
	e := strings.IndexByte(v[b:], ']')
	if e < 0 {
		return clean(v), ""
	}
	ip := v[b+1 : b+e]
	ip = strings.TrimPrefix(ip, "IPv6:")
	return clean(v[:b]), clean(ip)
}

func asIs(s string) string { return s }

// postfixReply finds the remote server's reply inside Postfix's explanation:
// "host X[IP] said: 550 … (in reply to RCPT TO command)" or "… refused to talk to me: 554 …".
func postfixReply(text string) (reply, stage string) {
	if startsWithCode(text) {
		// The reply itself ("250 2.0.0 Ok: queued as …", as most lines say): Postfix's
		// own explanations start with words ("host …", "connect to …").
		reply = text
	} else if i := strings.Index(text, " said: "); i >= 0 {
		reply = text[i+len(" said: "):]
	} else if i := strings.Index(text, " refused to talk to me: "); i >= 0 {
		reply, stage = text[i+len(" refused to talk to me: "):], "connect"
	}
	if strings.HasSuffix(reply, " command)") {
		if i := strings.LastIndex(reply, " (in reply to "); i >= 0 {
			stage = reply[i+len(" (in reply to ") : len(reply)-len(" command)")]
			reply = reply[:i]
		}
	}
	return reply, stage
}

func startsWithCode(s string) bool {
	return len(s) >= 4 && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' && (s[3] == ' ' || s[3] == '-')
}

// from reads qmgr's "from=<sender>, size=N, nrcpt=N (queue active)" and
// "from=<sender>, status=expired, returned to sender".
func (w *pfWorker) from(c *pfChunk, h syslogHeader, qidb, msg []byte) {
	rest := msg[len(bFrom):]
	end := bytes.IndexByte(rest, '>')
	if end < 0 {
		return
	}
	sender, rest := rest[:end], rest[end+1:]
	op := pfOp{kind: pfFrom, line: c.lines, qid: keyOf(qidb), sender: "<>", size: -1} // "<>": the null sender of bounces
	if len(sender) > 0 {
		op.sender = lineString(sender)
	}
	if i := bytes.Index(rest, []byte("size=")); i >= 0 {
		j := i + 5
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if n, err := strconv.ParseInt(string(rest[i+5:j]), 10, 64); err == nil {
			op.size = n
		}
	}
	i := bytes.Index(rest, []byte("status=expired"))
	if i < 0 {
		c.ops = append(c.ops, op)
		return
	}
	qid := string(qidb)
	e := w.start(h, qid)
	e.Status = Expired
	if t := bytes.TrimLeft(rest[i+len("status=expired"):], ", "); len(t) > 0 {
		e.Text = sanitize.Line(string(t))
	}
	ev := w.event(c, h, pfFrom, qid, &e, true)
	ev.sender, ev.size = op.sender, op.size
}

// reject reads smtpd's "RCPT from host[ip]: 554 5.7.1 <x>: Relay access denied; from=<a>
// to=<b> proto=ESMTP helo=<h>": our server refusing a client.
func (w *pfWorker) reject(c *pfChunk, h syslogHeader, qid, msg []byte) {
	s := string(msg)
	stage, rest, ok := strings.Cut(s, " from ")
	if !ok {
		c.skipped++
		return
	}
	client, rest, ok := strings.Cut(rest, ": ")
	if !ok {
		c.skipped++
		return
	}
	e := w.start(h, string(qid))
	e.Status, e.Inbound = Rejected, true
	e.Stage = sanitize.Line(stage)
	e.Relay, e.RelayIP = hostIP(client, sanitize.Line)
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
	w.event(c, h, pfEvent, string(qid), &e, false)
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
