// Package maillog reads mail logs as a stream of delivery events: Postfix and Exim logs,
// Amazon SES notifications and SendGrid event-webhook JSON.
//
// Readers hold constant memory whatever the size of the input (only the messages still in
// the queue are remembered, to join a delivery to its sender and Message-ID) and report the
// bytes read so a caller can draw a progress bar. Every string in an Event has been
// sanitized where it entered. The package parses only; it knows nothing of providers or
// routes (that is casefile/triage).
package maillog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/unblock-mail/unblock/sanitize"
)

// Format is the kind of log a reader understands.
type Format string

const (
	Postfix  Format = "postfix"
	Exim     Format = "exim"
	SES      Format = "ses"      // Amazon SES notifications, bare or inside SNS envelopes
	SendGrid Format = "sendgrid" // SendGrid event webhook (and its older bounce list)
	JSON     Format = "json"     // SES or SendGrid, decided per object
	Unknown  Format = ""
)

// Status is what became of one delivery attempt.
type Status string

const (
	Sent      Status = "sent"      // the receiver accepted it
	Deferred  Status = "deferred"  // temporary failure; the sender tries again
	Bounced   Status = "bounced"   // permanent failure
	Expired   Status = "expired"   // given up after the queue lifetime (Postfix qmgr)
	Rejected  Status = "rejected"  // our own SMTP server refused a client (Postfix smtpd, Exim)
	Dropped   Status = "dropped"   // an ESP refused to send it at all (SendGrid)
	Complaint Status = "complaint" // the recipient reported it as spam (SES, SendGrid)
)

// Failed reports whether the status is a failure worth classifying.
func (s Status) Failed() bool { return s != Sent && s != "" }

// Event is one delivery attempt (or a rejection, complaint or expiry) read from a log.
// Fields the log did not say are empty.
type Event struct {
	At        time.Time // UTC
	File      string    // the input's name, for Source
	Line      int       // 1-based line of the input where the event stands
	Format    Format
	Host      string // the host that wrote the log: syslog host, SES reporting MTA
	Instance  string // Postfix syslog name when it is not plain "postfix" (postfix-out)
	SendingIP string // the IP the mail left from, when known (see Options.SendingIP)
	QueueID   string // Postfix queue ID, Exim message ID, SES/SendGrid message ID
	MessageID string // the Message-ID header, when logged
	Sender    string // envelope sender; "<>" for bounces
	Recipient string
	Relay     string // the receiver's host name; for Rejected, the client we refused
	RelayIP   string
	Status    Status
	DSN       string        // enhanced status code, as logged or read from the reply
	Reply     string        // the remote SMTP reply, when one was received
	Text      string        // the whole explanation as logged (Postfix's parentheses, Exim's error)
	Stage     string        // the SMTP stage the reply answered: "RCPT TO", "end of DATA" …
	Size      int64         // message size in bytes, when logged
	Delay     time.Duration // Postfix delay= (arrival to this attempt), Exim DT= (this delivery)
	// Inbound: mail this server received, not mail it sent: its own refusal of someone
	// else's mail (Rejected), or a delivery to its own mailboxes or a local service (Postfix
	// local, virtual, lmtp, pipe; Exim's local transports). It counts in no sending volume
	// and is no failure of the sender.
	Inbound bool
}

// Source is "file:line", the finding's source.
func (e *Event) Source() string { return e.File + ":" + strconv.Itoa(e.Line) }

// SendingHost is the key volumes are counted by: the sending IP when known, else the
// logging host and its Postfix instance.
func (e *Event) SendingHost() string {
	switch {
	case e.SendingIP != "":
		return e.SendingIP
	case e.Instance != "" && e.Host != "":
		return e.Host + "/" + e.Instance
	case e.Instance != "":
		return e.Instance
	}
	return e.Host
}

// Options tune a reader. The zero value reads with the local zone and the current year.
type Options struct {
	Name      string                // the input's name in sources; "stdin" when empty
	Year      int                   // year of the first syslog timestamp (they carry none); 0 = current year
	YearNote  string                // why Year is what it is, for Result.Assumed; "" = "as given"
	Location  *time.Location        // zone of timestamps that carry none; nil = time.Local
	SendingIP string                // the sending IP when the log does not name one (--ip)
	Host      string                // the logging host when the log does not name one (Exim)
	Progress  func(bytesRead int64) // called as the input is read, with the total so far
	Now       func() time.Time      // the clock for the default year; nil = time.Now
	// Live is for an input that grows while it is read (a followed log): each read's lines
	// are handed on at once instead of waiting to fill a chunk.
	Live bool
	// Counting is for a caller that only counts mail that went through (volumes and
	// progressions): a Postfix delivery with status sent then carries its time, hosts,
	// queue ID, recipient, sender, Message-ID, size and DSN, but no relay, delay, reply or
	// text, which are neither read nor kept. Failures carry everything.
	Counting bool
	// Queue, when set, holds what the files read before said of the messages in their
	// queue, and keeps what this one says: the files of a rotated set share one, so that a
	// delivery knows its sender when its arrival is in the file before. Nil: a new queue.
	Queue *Queue
}

// Result says what a reader read and what it assumed.
type Result struct {
	Format    Format
	Bytes     int64
	Lines     int
	Events    int
	Skipped   int      // lines or objects that were not understood
	Year      int      // first year used for timestamps without one (0 if none seen)
	Zone      string   // zone used for timestamps without one ("" if none seen)
	Rollovers int      // times the year advanced inside the input (December → January)
	Assumed   []string // sentences for the user: what was taken from options or defaults
}

// MaxLine is the longest line a log reader accepts; longer means this is not a mail log.
const MaxLine = 64 << 10

// ErrNotLog is returned (wrapped) when the input is not a log this package reads.
var ErrNotLog = errors.New("not a Postfix or Exim log, nor SES or SendGrid JSON")

// Read detects the format from the start of r and reads it, calling fn for every event.
// An error from fn stops reading and is returned.
func Read(r io.Reader, opt Options, fn func(Event) error) (Result, error) {
	cr := newCounter(r, opt.Progress)
	br := bufio.NewReaderSize(cr, 64<<10)
	head, _ := br.Peek(br.Size()) // a mixed syslog may hold other programs' lines first
	f := Detect(head)
	return readFormat(f, br, cr, opt, fn)
}

// ReadFormat reads r as the given format (when the user forces one).
func ReadFormat(f Format, r io.Reader, opt Options, fn func(Event) error) (Result, error) {
	cr := newCounter(r, opt.Progress)
	return readFormat(f, bufio.NewReaderSize(cr, 64<<10), cr, opt, fn)
}

// ReadData reads a log held in memory, a mapped file, as ReadFormat reads one from a
// reader. Postfix and Exim logs are cut into chunks where they lie, without copying
// their lines. A file that shrinks under its mapping (logrotate's copytruncate) ends the
// read with ErrShrank, where reading the missing pages would otherwise crash the program.
func ReadData(f Format, data []byte, opt Options, fn func(Event) error) (Result, error) {
	if f != Postfix && f != Exim {
		return ReadFormat(f, bytes.NewReader(data), opt, fn)
	}
	return readChunks(nil, data, f, opt.sanitized(), fn)
}

// ErrShrank is returned (wrapped) when a mapped log became shorter while it was read.
var ErrShrank = errors.New("the file became shorter while it was read (rotated by copytruncate?): read it again")

// sanitized is the options with what the caller passes, which may come from a command
// line or a file name, sanitized once.
func (opt Options) sanitized() Options {
	opt.Name = sanitize.Line(name(opt))
	opt.Host = sanitize.Line(opt.Host)
	opt.SendingIP = sanitize.Line(opt.SendingIP)
	return opt
}

func readFormat(f Format, br *bufio.Reader, cr *counter, opt Options, fn func(Event) error) (Result, error) {
	opt = opt.sanitized()
	var (
		res Result
		err error
	)
	switch f {
	case Postfix:
		res, err = readPostfix(br, opt, fn)
	case Exim:
		res, err = readExim(br, opt, fn)
	case SES, SendGrid, JSON:
		res, err = readJSON(br, f, opt, fn)
	default:
		return Result{Bytes: cr.n}, fmt.Errorf("%s: %w", name(opt), ErrNotLog)
	}
	res.Bytes = cr.n
	return res, err
}

// Detect names the format of a log from its first bytes.
func Detect(head []byte) Format {
	t := bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return JSON
	}
	for n := 0; len(head) > 0 && n < 1000; n++ {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		if _, ok := eximStamp(line); ok {
			return Exim
		}
		if h, ok := parseSyslog(line); ok && bytes.IndexByte(h.tag, '/') > 0 {
			// postfix/smtp, or an instance with a syslog_name of its own whose lines have
			// the shape of Postfix deliveries.
			if bytes.HasPrefix(h.tag, []byte("postfix")) || bytes.Contains(h.msg, []byte(": to=<")) && bytes.Contains(h.msg, []byte(", status=")) {
				return Postfix
			}
		}
	}
	return Unknown
}

func name(opt Options) string {
	if opt.Name == "" {
		return "stdin"
	}
	return opt.Name
}

// counter counts bytes read and reports them.
type counter struct {
	r        io.Reader
	n        int64
	progress func(int64)
}

func newCounter(r io.Reader, progress func(int64)) *counter {
	return &counter{r: r, progress: progress}
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && n > 0 {
		c.progress(c.n)
	}
	return n, err
}
