package triage

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/unblock-mail/unblock/casefile/triage/maillog"
	"github.com/unblock-mail/unblock/sanitize"
)

// Format names a kind of input. The zero value detects it.
type Format string

const (
	FormatAuto     Format = ""
	FormatReply    Format = "reply"    // one SMTP reply or diagnostic text (or several, one per paragraph)
	FormatMessage  Format = "message"  // a message: DSN or plain-text bounce, ARF report, auto-reply, delivered headers
	FormatHeaders  Format = "headers"  // the headers of a delivered message
	FormatMbox     Format = "mbox"     // many messages in one mbox file
	FormatPostfix  Format = "postfix"  // Postfix syslog
	FormatExim     Format = "exim"     // Exim main log
	FormatSES      Format = "ses"      // Amazon SES bounce/complaint notifications (JSON)
	FormatSendGrid Format = "sendgrid" // SendGrid event webhook (JSON)
	FormatJSON     Format = "json"     // SES or SendGrid JSON, decided per object
)

// Formats are the formats --format accepts.
var Formats = []Format{FormatReply, FormatMessage, FormatHeaders, FormatMbox, FormatPostfix, FormatExim, FormatSES, FormatSendGrid, FormatJSON}

// Options steer a read.
type Options struct {
	Format   Format
	Progress func(bytesRead int64) // called as input is read, with the total so far
	Year     int                   // year of syslog timestamps; 0: the current year
	Location *time.Location        // zone of syslog timestamps; nil: the local zone
	IP       string                // the sending IP, when the input does not say
	MaxBytes int64                 // largest message, mbox or reply input; 0: DefaultMaxBytes
}

// DefaultMaxBytes bounds the inputs that are read whole (messages, mbox files, replies);
// logs are streamed and have no bound.
const DefaultMaxBytes = 256 << 20

// maxLine bounds a line of a non-log input: past it the input is not text we read.
const maxLine = 1 << 20

// Report is what a read found: findings, their groups, and what was assumed.
type Report struct {
	Findings     []Finding             `json:"findings"`
	Groups       []Group               `json:"groups"`
	Notes        []string              `json:"notes,omitempty"` // assumptions made and things to know
	Inputs       []Input               `json:"inputs,omitempty"`
	Delivered    []DeliveredMessage    `json:"delivered,omitempty"` // headers of delivered messages
	Progressions []maillog.Progression `json:"progressions,omitempty"`
	Days         []maillog.Day         `json:"daily_volume,omitempty"`
	Breaches     []maillog.Day         `json:"warmup_breaches,omitempty"`
}

// Input is one input read.
type Input struct {
	Name     string `json:"name"`
	Format   Format `json:"format"`
	Bytes    int64  `json:"bytes"`
	Messages int    `json:"messages,omitempty"`
}

// Classified reports whether anything in the report was understood: a finding with a
// known mode or cause, or a delivered message read.
func (r *Report) Classified() bool {
	for _, f := range r.Findings {
		if f.Mode != UnknownMode || f.Cause != UnknownCause {
			return true
		}
	}
	return len(r.Delivered) > 0 || len(r.Days) > 0
}

// InputError is bad input: empty, binary, too large, or not any format we read.
type InputError struct {
	Name   string
	Reason string
}

func (e *InputError) Error() string { return sanitize.Line(e.Name) + ": " + e.Reason }

// Reader reads inputs into one report. It is what Read and ReadPath use; a caller
// reading many inputs keeps one Reader.
type Reader struct {
	opts    Options
	report  Report
	logs    *LogReader
	total   int64 // bytes read over all inputs, for progress
	sources map[string]int
}

// NewReader returns a reader with the given options.
func NewReader(opts Options) *Reader {
	return &Reader{opts: opts}
}

// Read reads one input and returns the report of it alone.
func Read(ctx context.Context, name string, r io.Reader, opts Options) (*Report, error) {
	rd := NewReader(opts)
	if err := rd.Read(ctx, name, r); err != nil {
		return nil, err
	}
	return rd.Report(), nil
}

// ReadPath reads a file, a Maildir folder (cur/ and new/) or a folder of message files.
func ReadPath(ctx context.Context, path string, opts Options) (*Report, error) {
	rd := NewReader(opts)
	if err := rd.ReadPath(ctx, path); err != nil {
		return nil, err
	}
	return rd.Report(), nil
}

// ReadPath reads a file or folder into the report.
func (rd *Reader) ReadPath(ctx context.Context, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return &InputError{Name: path, Reason: "cannot read: " + errReason(err)}
	}
	if !st.IsDir() {
		f, err := os.Open(path)
		if err != nil {
			return &InputError{Name: path, Reason: "cannot read: " + errReason(err)}
		}
		defer f.Close()
		return rd.Read(ctx, path, f)
	}
	files, err := maildirFiles(path)
	if err != nil {
		return &InputError{Name: path, Reason: "cannot read folder: " + errReason(err)}
	}
	if len(files) == 0 {
		return &InputError{Name: path, Reason: "folder holds no messages"}
	}
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := os.Open(name)
		if err != nil {
			return &InputError{Name: name, Reason: "cannot read: " + errReason(err)}
		}
		err = rd.Read(ctx, name, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// maildirFiles lists the message files of a Maildir (cur/ and new/) or a plain folder.
func maildirFiles(dir string) ([]string, error) {
	var subs []string
	for _, s := range []string{"cur", "new"} {
		if st, err := os.Stat(filepath.Join(dir, s)); err == nil && st.IsDir() {
			subs = append(subs, filepath.Join(dir, s))
		}
	}
	if len(subs) == 0 {
		subs = []string{dir}
	}
	var files []string
	for _, d := range subs {
		entries, err := os.ReadDir(d)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				files = append(files, filepath.Join(d, e.Name()))
			}
		}
	}
	slices.Sort(files)
	return files, nil
}

func errReason(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func (rd *Reader) progress(n int64) {
	rd.total += n
	if rd.opts.Progress != nil {
		rd.opts.Progress(rd.total)
	}
}

// counting passes reads through, reporting progress and stopping when ctx is done.
type counting struct {
	ctx context.Context
	r   io.Reader
	rd  *Reader
	n   int64
}

func (c *counting) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 {
		c.rd.progress(int64(n))
	}
	return n, err
}

// Read reads one input, detecting its format unless Options.Format says it.
func (rd *Reader) Read(ctx context.Context, name string, r io.Reader) error {
	if name == "" {
		name = "stdin"
	}
	cr := &counting{ctx: ctx, r: r, rd: rd}
	br := bufio.NewReaderSize(cr, 64<<10)
	head, err := br.Peek(64 << 10)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &InputError{Name: name, Reason: "cannot read: " + errReason(err)}
	}
	if len(bytes.TrimSpace(head)) == 0 {
		return &InputError{Name: name, Reason: "empty input"}
	}
	if binary(head) {
		return &InputError{Name: name, Reason: "binary data, not a reply, message or log"}
	}
	format := rd.opts.Format
	if format == FormatAuto {
		// Detected on LF line ends: a CR-only mbox starts with "From " all the same.
		format = detect(lineEndsLF(head))
	}
	switch format {
	case FormatPostfix, FormatExim, FormatSES, FormatSendGrid, FormatJSON:
		return rd.readLog(name, br, format)
	case FormatReply, FormatMessage, FormatHeaders, FormatMbox:
	default:
		return &InputError{Name: name, Reason: fmt.Sprintf("unknown format %q", format)}
	}
	if !bytes.ContainsAny(head, "\r\n") && len(head) >= 64<<10 {
		return &InputError{Name: name, Reason: "no line break in the first 64 KiB: not a reply, message or log"}
	}
	limit := cmp.Or(rd.opts.MaxBytes, DefaultMaxBytes)
	data, err := io.ReadAll(io.LimitReader(br, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &InputError{Name: name, Reason: "cannot read: " + errReason(err)}
	}
	if int64(len(data)) > limit {
		return &InputError{Name: name, Reason: fmt.Sprintf("larger than %d MiB; split it or read it as a log", limit>>20)}
	}
	data = lineEndsLF(data)
	if longLine(data) {
		return &InputError{Name: name, Reason: fmt.Sprintf("a line longer than %d KiB: not a reply or message", maxLine>>10)}
	}
	in := Input{Name: name, Format: format, Bytes: int64(len(data))}
	switch format {
	case FormatReply:
		rd.readReplies(name, data)
	case FormatMessage:
		in.Messages = 1
		if err := rd.readMessage(name, data, 0); err != nil {
			return err
		}
	case FormatHeaders:
		in.Messages = 1
		if err := rd.readHeaders(name, data); err != nil {
			return err
		}
	case FormatMbox:
		n, err := rd.readMbox(ctx, name, data)
		if err != nil {
			return err
		}
		in.Messages = n
	}
	rd.report.Inputs = append(rd.report.Inputs, in)
	return nil
}

// lineEndsLF makes CRLF and CR-only (classic Mac) line ends LF, so that every reader
// past this point sees one kind: a file reads the same whatever wrote its line ends.
func lineEndsLF(b []byte) []byte {
	i := bytes.IndexByte(b, '\r')
	if i < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:i]...)
	for ; i < len(b); i++ {
		c := b[i]
		if c == '\r' {
			out = append(out, '\n')
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// binary reports input that is not text: NUL bytes, or mostly invalid UTF-8 and
// control characters.
func binary(head []byte) bool {
	bad := 0
	for i := 0; i < len(head); {
		r, size := utf8.DecodeRune(head[i:])
		if (r == utf8.RuneError && size <= 1 && i+4 < len(head)) || (r < 0x20 && r != '\n' && r != '\r' && r != '\t' && r != 0x1b && r != '\f' && r != 0) {
			bad++
		}
		if r == 0 {
			// NUL bytes turn up in attached originals; many of them is binary.
			bad += 2
			bad++
		}
		i += size
	}
	// Legacy charsets (ISO-2022-JP, Latin-1) are text: only a high share is binary.
	return bad*10 > len(head)
}

func longLine(data []byte) bool {
	for len(data) > maxLine {
		i := bytes.IndexByte(data[:maxLine+1], '\n')
		if i < 0 {
			return true
		}
		data = data[i+1:]
	}
	return false
}

// detect tells the format from the start of the input.
func detect(head []byte) Format {
	switch maillog.Detect(head) {
	case maillog.Postfix:
		return FormatPostfix
	case maillog.Exim:
		return FormatExim
	case maillog.SES:
		return FormatSES
	case maillog.SendGrid:
		return FormatSendGrid
	case maillog.JSON:
		return FormatJSON
	}
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte("From ")) && bytes.Contains(firstLine(trimmed), []byte("@")) || isMboxFromLine(firstLine(trimmed)) {
		return FormatMbox
	}
	if looksLikeHeader(trimmed) {
		return FormatMessage
	}
	return FormatReply
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}

// isMboxFromLine recognises "From sender date" separators (mboxrd/mboxo).
func isMboxFromLine(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("From ")) {
		return false
	}
	f := strings.Fields(string(line))
	return len(f) >= 3 && !strings.HasSuffix(f[0], ":")
}

// looksLikeHeader reports text that starts as a header block: "Name: value" lines.
func looksLikeHeader(b []byte) bool {
	lines := 0
	for _, line := range bytes.SplitN(b, []byte("\n"), 12) {
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // folded
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 || bytes.ContainsAny(line[:i], " \t") {
			return false
		}
		lines++
		if lines >= 2 {
			return true
		}
	}
	return lines >= 1 && bytes.Contains(b, []byte("\n\n"))
}

// readReplies reads pasted reply text: one reply, or several separated by blank lines
// when each starts with its own code.
func (rd *Reader) readReplies(name string, data []byte) {
	text := string(data)
	paras := splitParagraphs(text)
	several := len(paras) > 1
	for _, p := range paras {
		if _, _, ok := leadingCode(strings.TrimSpace(p.text)); !ok {
			several = false
			break
		}
	}
	if !several {
		paras = []paragraph{{line: 1, text: text}}
	}
	for _, p := range paras {
		f := classify(p.text, rd.opts.IP)
		f.Source = fmt.Sprintf("%s:%d", name, p.line)
		rd.add(f)
	}
}

type paragraph struct {
	line int
	text string
}

func splitParagraphs(text string) []paragraph {
	var out []paragraph
	var cur strings.Builder
	start, n := 0, 0
	for line := range strings.Lines(text) {
		n++
		if strings.TrimSpace(line) == "" {
			if cur.Len() > 0 {
				out = append(out, paragraph{start, cur.String()})
				cur.Reset()
			}
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		cur.WriteString(line)
	}
	if cur.Len() > 0 {
		out = append(out, paragraph{start, cur.String()})
	}
	return out
}

// readLog hands a log to the log readers.
func (rd *Reader) readLog(name string, r io.Reader, format Format) error {
	if rd.logs == nil {
		rd.logs = NewLogReader()
	}
	opt := maillog.Options{Name: name, Year: rd.opts.Year, Location: rd.opts.Location, SendingIP: rd.opts.IP}
	res, err := rd.logs.Read(r, maillog.Format(format), opt)
	rd.report.Inputs = append(rd.report.Inputs, Input{Name: name, Format: format, Bytes: res.Bytes})
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			return err
		}
		// The log readers name the input (and line) themselves: "name:12: reason".
		msg, where := err.Error(), name
		if rest, ok := strings.CutPrefix(msg, sanitize.Line(name)); ok && strings.HasPrefix(rest, ":") {
			if i := strings.Index(rest, ": "); i >= 0 {
				where, msg = name+rest[:i], rest[i+2:]
			}
		}
		return &InputError{Name: where, Reason: msg}
	}
	return nil
}

// add puts a finding in the report, once: the same source and text twice count once.
func (rd *Reader) add(f Finding) {
	if f.SendingIP == "" && rd.opts.IP != "" {
		f.SendingIP = rd.opts.IP
	}
	if rd.sources == nil {
		rd.sources = map[string]int{}
	}
	key := f.Source + "\x00" + f.Recipient + "\x00" + f.Text
	if _, dup := rd.sources[key]; dup {
		return
	}
	rd.sources[key] = len(rd.report.Findings)
	rd.report.Findings = append(rd.report.Findings, f)
}

// Report returns what was read so far, with groups.
func (rd *Reader) Report() *Report {
	rep := rd.report
	rep.Findings = append([]Finding{}, rep.Findings...)
	if rd.logs != nil {
		lr := rd.logs.Report()
		rep.Findings = append(rep.Findings, lr.Findings...)
		rep.Progressions, rep.Days, rep.Breaches = lr.Progressions, lr.Days, lr.Breaches
		rep.Notes = append(rep.Notes, lr.Assumed...)
	}
	rep.Groups = GroupFindings(rep.Findings)
	return &rep
}

// GroupFindings aggregates findings by provider, control and IP, in order of first
// appearance. Delivered mail and auto-replies are not failures and are not grouped.
func GroupFindings(fs []Finding) []Group {
	groups := []Group{}
	index := map[string]int{}
	for _, f := range fs {
		if f.Mode == Delivered || f.Mode == AutoReply {
			continue
		}
		key := f.Provider + "\x00" + f.Control + "\x00" + f.IP
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, Group{Provider: f.Provider, Control: f.Control, IP: f.IP, Mode: f.Mode, Cause: f.Cause, Route: f.Route})
		}
		g := &groups[i]
		if f.Mode == HardBlock && g.Mode == Deferral {
			// Deferred, then blocked: the block is what the case is about, and its route
			// (a PDR delay waits, a PDR block needs the request).
			g.Mode, g.Cause, g.Route = f.Mode, f.Cause, f.Route
		}
		g.Count++
		if !f.At.IsZero() {
			if g.FirstSeen.IsZero() || f.At.Before(g.FirstSeen) {
				g.FirstSeen = f.At
			}
			if f.At.After(g.LastSeen) {
				g.LastSeen = f.At
			}
		}
		if f.RecipientDomain != "" && !slices.Contains(g.RecipientDomains, f.RecipientDomain) {
			g.RecipientDomains = append(g.RecipientDomains, f.RecipientDomain)
		}
	}
	for i := range groups {
		slices.Sort(groups[i].RecipientDomains)
	}
	return groups
}
