package triage

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/bzip2"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

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
	Now      func() time.Time      // the clock that decides a log's year; nil: time.Now
	IP       string                // the sending IP, when the input does not say
	MaxBytes int64                 // largest message, mbox or reply input; 0: DefaultMaxBytes
	// OnFinding, when set, receives every finding as it is read, and the report keeps none
	// (only their groups): a log of any size is read in constant memory.
	OnFinding func(Finding) error
	// OnProgression, when set, receives each message's progression in a log when it ends
	// (sent, bounced or expired); the report keeps only those still being retried.
	OnProgression func(maillog.Progression) error
	// Follow keeps reading a log file as it grows (and after it is rotated) until the
	// context is done; the report is then what was read.
	Follow bool
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
	// Inbound counts the findings about mail the log's own server received (its
	// refusals of others' mail, deliveries to its own mailboxes): listed, in no group.
	Inbound int `json:"inbound,omitempty"`

	classified bool // some finding had a known mode or cause (when findings are not kept)
}

// Input is one input read.
type Input struct {
	Name     string `json:"name"`
	Format   Format `json:"format"`
	Bytes    int64  `json:"bytes"`
	Messages int    `json:"messages,omitempty"`
	Packing  string `json:"packing,omitempty"` // what was unpacked: gzip, bzip2, zstd, journal JSON …
}

// Classified reports whether anything in the report was understood: a finding with a
// known mode or cause, or a delivered message read.
func (r *Report) Classified() bool {
	if r.classified {
		return true
	}
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
	groups  Grouper
	total   atomic.Int64 // bytes read over all inputs, for progress (logs are read concurrently)
	sources map[string]int
	sinkErr error                // the first error OnFinding returned
	free    chan []maillog.Event // batches of events to reuse (readLogs)
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

// ReadPath reads a file or folder into the report: a folder's files as if each were given
// (ReadInputs).
func (rd *Reader) ReadPath(ctx context.Context, path string) error {
	if path == "-" {
		path = "./-" // a file of that name, not standard input
	}
	return rd.ReadInputs(ctx, []string{path}, nil)
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
	t := rd.total.Add(n)
	if rd.opts.Progress != nil {
		rd.opts.Progress(t)
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
	in, err := rd.open(ctx, name, r)
	if err != nil {
		return err
	}
	defer in.close()
	if in.log() {
		return rd.readLogs(ctx, [][]*opened{{in}})
	}
	return rd.readText(ctx, in)
}

const reasonEmpty = "empty input"

// opened is an input ready to read: unpacked, its head seen, its format known.
type opened struct {
	name     string
	br       *bufio.Reader
	head     []byte
	format   Format
	packing  string        // what was unpacked, "" for plain text
	closers  []func()      // decompressors to release
	file     *os.File      // the file, when the input is a plain file (for its last line)
	first    maillog.Stamp // the first line's time, for logs with syslog or Exim stamps
	stamped  bool
	year     int    // year of the first line, when the set it belongs to says (logSets)
	yearNote string // why
}

func (in *opened) close() {
	for _, c := range in.closers {
		c()
	}
	in.closers = nil
}

// log reports whether the input is a log: read as a stream, in any size.
func (in *opened) log() bool {
	switch in.format {
	case FormatPostfix, FormatExim, FormatSES, FormatSendGrid, FormatJSON:
		return true
	}
	return false
}

// The magic numbers that open compressed files: rotated logs are gzip (logrotate's
// default), sometimes bzip2, xz or zstd.
var (
	gzipMagic  = []byte{0x1f, 0x8b}
	bzip2Magic = []byte("BZh")
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0}
)

// open unpacks an input by its content (compression, then a journal export), looks at its
// head and tells its format.
func (rd *Reader) open(ctx context.Context, name string, r io.Reader) (*opened, error) {
	if name == "" {
		name = "stdin"
	}
	in := &opened{name: name}
	in.file, _ = r.(*os.File)
	fail := func(err error) (*opened, error) {
		in.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &InputError{Name: name, Reason: "cannot read: " + errReason(err)}
	}
	br := bufio.NewReaderSize(&counting{ctx: ctx, r: r, rd: rd}, 64<<10)
	head, err := peek(br)
	if err != nil {
		return fail(err)
	}
	var unpacked io.Reader
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, &InputError{Name: name, Reason: "gzip: " + errReason(err)}
		}
		unpacked, in.packing = z, "gzip"
		in.closers = append(in.closers, func() { z.Close() })
	case bytes.HasPrefix(head, bzip2Magic) && len(head) >= 10 && head[3] >= '1' && head[3] <= '9' &&
		(bytes.Equal(head[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}) || bytes.Equal(head[4:10], []byte{0x17, 0x72, 0x45, 0x38, 0x50, 0x90})):
		unpacked, in.packing = bzip2.NewReader(br), "bzip2"
	case bytes.HasPrefix(head, zstdMagic):
		z, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, &InputError{Name: name, Reason: "zstd: " + errReason(err)}
		}
		unpacked, in.packing = z, "zstd"
		in.closers = append(in.closers, z.Close)
	case bytes.HasPrefix(head, xzMagic):
		return nil, &InputError{Name: name, Reason: "xz-compressed, which triage does not unpack: unpack it first (xz -dc) or give it on standard input"}
	}
	if unpacked != nil {
		in.file = nil
		br = bufio.NewReaderSize(unpacked, 64<<10)
		if head, err = peek(br); err != nil {
			in.close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &InputError{Name: name, Reason: in.packing + ": " + errReason(err)}
		}
	}
	if j := maillog.DetectJournal(head); j != maillog.NotJournal && (rd.opts.Format == FormatAuto || in.logFormat(rd.opts.Format)) {
		in.file = nil
		in.packing = strings.TrimPrefix(in.packing+", "+j.String(), ", ")
		lines := maillog.JournalLines(br, j)
		in.closers = append(in.closers, func() { lines.Close() })
		br = bufio.NewReaderSize(lines, 64<<10)
		if head, err = peek(br); err != nil {
			in.close()
			return nil, &InputError{Name: name, Reason: errReason(err)}
		}
	}
	in.br, in.head = br, head
	if len(bytes.TrimSpace(head)) == 0 {
		in.close()
		return nil, &InputError{Name: name, Reason: reasonEmpty}
	}
	if binary(head) {
		in.close()
		return nil, &InputError{Name: name, Reason: "binary data, not a reply, message or log"}
	}
	in.format = rd.opts.Format
	if in.format == FormatAuto {
		// Detected on LF line ends: a CR-only mbox starts with "From " all the same.
		in.format = detect(lineEndsLF(head))
	}
	if in.format == FormatPostfix || in.format == FormatExim {
		in.first, in.stamped = maillog.FirstStamp(head, rd.opts.Location)
	}
	return in, nil
}

func (in *opened) logFormat(f Format) bool {
	return f == FormatPostfix || f == FormatExim
}

// peek returns the first 64 KiB (or all) of the input.
func peek(br *bufio.Reader) ([]byte, error) {
	head, err := br.Peek(64 << 10)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	return head, nil
}

// readText reads an input that is not a log: replies, messages, mbox.
func (rd *Reader) readText(ctx context.Context, in *opened) error {
	name, br, head, format := in.name, in.br, in.head, in.format
	switch format {
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
	input := Input{Name: name, Format: format, Bytes: int64(len(data)), Packing: in.packing}
	switch format {
	case FormatReply:
		rd.readReplies(name, data)
	case FormatMessage:
		input.Messages = 1
		if err := rd.readMessage(name, data, 0); err != nil {
			return err
		}
	case FormatHeaders:
		input.Messages = 1
		if err := rd.readHeaders(name, data); err != nil {
			return err
		}
	case FormatMbox:
		n, err := rd.readMbox(ctx, name, data)
		if err != nil {
			return err
		}
		input.Messages = n
	}
	rd.report.Inputs = append(rd.report.Inputs, input)
	return rd.sinkErr
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

// readReplies reads pasted text that has no mail headers: one SMTP reply or several, or
// the body of a bounce copied from a mail client.
func (rd *Reader) readReplies(name string, data []byte) {
	text := string(data)
	// A bounce's text followed by the message it returns: only the text above the copy
	// is the failure (the copy may quote anything), and the copy's headers say who sent it.
	// Its delivery-status fields, when they were copied too, say each recipient's
	// diagnostic and the time.
	m := &msgReader{rd: rd, source: name}
	body := m.splitInlineOriginal(text)
	m.plain.WriteString(body[:min(len(body), maxPlain)])
	if m.inlineStatus([]byte("\n" + body)); len(m.recipients) > 0 {
		m.dsnFindings()
		return
	}
	if m.attached {
		m.plainFindings()
		return
	}
	paras := replies(text)
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

// replies splits pasted text into the replies it holds: paragraphs, and within a
// paragraph made only of reply lines, one reply per final line. RFC 5321 §4.2.1: "550-"
// continues a reply, "550 " ends it, so the line after a final line starts another.
func replies(text string) []paragraph {
	var out []paragraph
	for _, p := range splitParagraphs(text) {
		lines := strings.SplitAfter(p.text, "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		codes := true
		for _, l := range lines {
			if _, _, ok := leadingCode(strings.TrimRight(l, "\n") + " "); !ok {
				codes = false
				break
			}
		}
		if !codes {
			out = append(out, p)
			continue
		}
		start := 0
		for i, l := range lines {
			if len(l) > 3 && l[3] == '-' && i < len(lines)-1 {
				continue // a continuation line: the reply goes on
			}
			out = append(out, paragraph{line: p.line + start, text: strings.Join(lines[start:i+1], "")})
			start = i + 1
		}
	}
	return out
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
	rd.sources[key] = len(rd.sources)
	if err := rd.found(f); err != nil && rd.sinkErr == nil {
		rd.sinkErr = err
	}
}

// found takes one finding: into its group, and to OnFinding or the report.
func (rd *Reader) found(f Finding) error {
	if f.Inbound {
		rd.report.Inbound++ // another's mail this server received: no group of the sender's failures
	} else {
		rd.groups.add(&f)
	}
	if f.Mode != UnknownMode || f.Cause != UnknownCause {
		rd.report.classified = true
	}
	if rd.opts.OnFinding != nil {
		return rd.opts.OnFinding(f)
	}
	rd.report.Findings = append(rd.report.Findings, f)
	return nil
}

// Report returns what was read so far, with groups.
func (rd *Reader) Report() *Report {
	rep := rd.report
	rep.Findings = append([]Finding{}, rep.Findings...)
	rep.Inputs = slices.Clone(rep.Inputs)
	rep.Notes = slices.Clone(rep.Notes)
	if rd.logs != nil {
		lr := rd.logs.Report()
		rep.Progressions, rep.Days, rep.Breaches = lr.Progressions, lr.Days, lr.Breaches
		rep.Notes = append(rep.Notes, lr.Assumed...)
	}
	rep.Groups = rd.groups.Groups()
	return &rep
}

// GroupFindings aggregates findings by provider, control and IP, in order of first
// appearance. Delivered mail and auto-replies are not failures and are not grouped.
func GroupFindings(fs []Finding) []Group {
	var g Grouper
	for _, f := range fs {
		g.Add(f)
	}
	return g.Groups()
}
