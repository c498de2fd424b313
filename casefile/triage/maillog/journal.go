package maillog

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Journal is a systemd journal export read by JournalLines: what `journalctl -o json`
// and `journalctl -o export` write.
type Journal int

const (
	NotJournal    Journal = iota
	JournalJSON           // -o json: one object a line
	JournalExport         // -o export: KEY=value lines, entries apart by a blank line
)

func (j Journal) String() string {
	switch j {
	case JournalJSON:
		return "journal JSON"
	case JournalExport:
		return "journal export"
	}
	return ""
}

// DetectJournal tells a journal export from its first bytes. The plain forms journalctl
// writes (short, short-iso, short-iso-precise) are syslog lines and need no conversion.
func DetectJournal(head []byte) Journal {
	t := bytes.TrimLeft(head, " \t\r\n\ufeff")
	first := t
	if i := bytes.IndexByte(t, '\n'); i >= 0 {
		first = t[:i]
	}
	if len(first) > 0 && first[0] == '{' {
		if bytes.Contains(first, []byte(`"__REALTIME_TIMESTAMP"`)) || bytes.Contains(first, []byte(`"__CURSOR"`)) ||
			bytes.Contains(first, []byte(`"SYSLOG_IDENTIFIER"`)) && bytes.Contains(first, []byte(`"MESSAGE"`)) {
			return JournalJSON
		}
		return NotJournal
	}
	for _, key := range []string{"__CURSOR=", "__REALTIME_TIMESTAMP=", "_HOSTNAME=", "SYSLOG_IDENTIFIER="} {
		if bytes.HasPrefix(first, []byte(key)) {
			return JournalExport
		}
	}
	return NotJournal
}

// JournalLines turns a journal export into the syslog lines journalctl -o short-iso-precise
// would have written ("2026-11-22T21:17:36.123456+00:00 host postfix/smtp[9653]: …"), one
// per entry, so that the log readers read it as they read any syslog. The n-th line is the
// n-th entry: for -o json, the n-th line of the input too.
func JournalLines(r io.Reader, kind Journal) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 64<<10)
		var err error
		switch kind {
		case JournalJSON:
			err = journalJSON(r, bw)
		case JournalExport:
			err = journalExport(r, bw)
		default:
			err = errors.New("not a journal export")
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// journalEntry is what a syslog line needs of an entry.
type journalEntry struct {
	realtime string // microseconds since the epoch
	host     string
	ident    string
	pid      string
	message  []byte
}

// line writes the entry as a syslog line. Entries without a time or message still take
// a line (a blank one), so that line numbers stay entry numbers.
func (e *journalEntry) line(w *bufio.Writer) error {
	us, err := strconv.ParseInt(e.realtime, 10, 64)
	if err != nil || len(e.message) == 0 || e.ident == "" {
		return w.WriteByte('\n')
	}
	w.Write(time.UnixMicro(us).UTC().AppendFormat(nil, "2006-01-02T15:04:05.000000-07:00"))
	w.WriteByte(' ')
	w.WriteString(cmpOr(e.host, "localhost"))
	w.WriteByte(' ')
	w.WriteString(e.ident)
	if e.pid != "" {
		w.WriteByte('[')
		w.WriteString(e.pid)
		w.WriteByte(']')
	}
	w.WriteString(": ")
	// A message may hold line ends: one line it stays.
	for _, c := range e.message {
		if c == '\n' || c == '\r' {
			c = ' '
		}
		w.WriteByte(c)
	}
	return w.WriteByte('\n')
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// journalJSON reads -o json: one object a line; MESSAGE is a string, or an array of byte
// values when it is not UTF-8.
func journalJSON(r io.Reader, w *bufio.Writer) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var obj struct {
		Realtime string          `json:"__REALTIME_TIMESTAMP"`
		Host     string          `json:"_HOSTNAME"`
		Ident    string          `json:"SYSLOG_IDENTIFIER"`
		PID      string          `json:"_PID"`
		SysPID   string          `json:"SYSLOG_PID"`
		Message  json.RawMessage `json:"MESSAGE"`
	}
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("line %d: journal entry longer than %d KiB: %w", n, br.Size()>>10, ErrNotLog)
		}
		if len(bytes.TrimSpace(line)) > 0 {
			obj.Realtime, obj.Host, obj.Ident, obj.PID, obj.SysPID, obj.Message = "", "", "", "", "", nil
			if json.Unmarshal(line, &obj) != nil {
				return fmt.Errorf("line %d: bad journal JSON: %w", n, ErrNotLog)
			}
			e := journalEntry{realtime: obj.Realtime, host: obj.Host, ident: obj.Ident, pid: cmpOr(obj.SysPID, obj.PID)}
			switch {
			case len(obj.Message) > 0 && obj.Message[0] == '"':
				var s string
				if json.Unmarshal(obj.Message, &s) == nil {
					e.message = []byte(s)
				}
			case len(obj.Message) > 0 && obj.Message[0] == '[':
				var b []int
				if json.Unmarshal(obj.Message, &b) == nil {
					for _, v := range b {
						e.message = append(e.message, byte(v))
					}
				}
			}
			if err := e.line(w); err != nil {
				return err
			}
		} else if len(line) > 0 {
			w.WriteByte('\n')
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// journalExport reads -o export: "KEY=value" lines; a field that is not text is the key
// alone on its line, a 64-bit little-endian length, the bytes, and a line end.
func journalExport(r io.Reader, w *bufio.Writer) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var e journalEntry
	fields := 0
	flush := func() error {
		if fields == 0 {
			return nil
		}
		err := e.line(w)
		e, fields = journalEntry{}, 0
		return err
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("journal field longer than %d KiB: %w", br.Size()>>10, ErrNotLog)
		}
		if len(line) == 0 && err == io.EOF {
			return flush()
		}
		if err != nil && err != io.EOF {
			return err
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) == 0 {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		fields++
		key, value, text := bytes.Cut(line, []byte("="))
		if !text {
			// Binary: the length and the bytes follow.
			key = append([]byte(nil), key...)
			var size [8]byte
			if _, err := io.ReadFull(br, size[:]); err != nil {
				return fmt.Errorf("journal export ends inside field %s: %w", key, ErrNotLog)
			}
			n := binary.LittleEndian.Uint64(size[:])
			if n > MaxLine {
				return fmt.Errorf("journal field %s of %d bytes: %w", key, n, ErrNotLog)
			}
			value = make([]byte, n+1)
			if _, err := io.ReadFull(br, value); err != nil {
				return fmt.Errorf("journal export ends inside field %s: %w", key, ErrNotLog)
			}
			value = value[:n]
		}
		switch string(key) {
		case "__REALTIME_TIMESTAMP":
			e.realtime = string(value)
		case "_HOSTNAME":
			e.host = string(value)
		case "SYSLOG_IDENTIFIER":
			e.ident = string(value)
		case "SYSLOG_PID":
			e.pid = string(value)
		case "_PID":
			if e.pid == "" {
				e.pid = string(value)
			}
		case "MESSAGE":
			e.message = append([]byte(nil), value...)
		}
		if err == io.EOF {
			return flush()
		}
	}
}
