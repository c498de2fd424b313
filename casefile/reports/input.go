package reports

// Telling what a file is, and opening the containers reports travel in: gzip, zip, a
// mail with attachments, an mbox of such mails. Each level is bounded.

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path"
	"strings"
	"sync"

	"github.com/emersion/go-message"

	"github.com/unblock-mail/unblock/sanitize"
)

// input is one file being read, with what it gave.
type input struct {
	r         *Reader
	name      string
	found     int // reports found in it
	problems  []Problem
	inArchive bool // reading what a gzip or zip holds
}

func (in *input) fail(where, format string, args ...any) {
	in.problems = append(in.problems, Problem{sanitize.Line(where), sanitize.Line(fmt.Sprintf(format, args...))})
}

// errTooBig is returned by a bounded reader past its bound.
type errTooBig struct {
	what  string
	limit int64
}

func (e *errTooBig) Error() string {
	return fmt.Sprintf("refused: %s larger than %s", e.what, bytesText(e.limit))
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// bounded fails with errTooBig once more than limit bytes have been read.
type bounded struct {
	r     io.Reader
	left  int64
	limit int64
	what  string
}

func (b *bounded) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, &errTooBig{b.what, b.limit}
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, &errTooBig{b.what, b.limit}
	}
	return n, err
}

// allowance is how much a compressed input of size n may expand to.
func (in *input) allowance(n int64) int64 {
	limit := in.r.opts.MaxReportBytes
	if n > 0 && n < limit/in.r.opts.MaxRatio {
		limit = max(n*in.r.opts.MaxRatio, minAllowance)
	}
	return min(limit, in.r.opts.MaxReportBytes)
}

// readers are the buffers inputs are read through; a store of small reports would
// otherwise spend its time clearing new ones.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}

// sniff reads one input: ra is set when the input is on disk or in memory (a zip needs
// it), size is its length or -1.
func (in *input) sniff(rd io.Reader, ra io.ReaderAt, size int64, depth int) {
	where := in.name
	if depth > maxNesting {
		in.fail(where, "refused: archives nested more than %d deep", maxNesting)
		return
	}
	br := readers.Get().(*bufio.Reader)
	br.Reset(rd)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	head, err := br.Peek(512)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		in.fail(where, "%v", err)
		return
	}
	if len(head) == 0 {
		in.fail(where, "empty")
		return
	}
	gz := bytes.HasPrefix(head, []byte{0x1f, 0x8b})
	zp := bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06"))
	if (gz || zp) && in.inArchive {
		// Receivers send one layer of compression; more is only a way round the
		// bounds on what an archive may expand to.
		in.fail(where, "refused: an archive inside an archive")
		return
	}
	switch {
	case gz:
		in.gunzip(br, size, depth)
	case zp:
		in.unzip(br, ra, size, depth)
	default:
		text := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
		switch {
		case len(text) == 0:
			in.fail(where, "not a report: only white space at its start")
		case text[0] == '<':
			in.readXML(br)
		case text[0] == '{':
			in.readTLS(br)
		case bytes.HasPrefix(text, []byte("From ")):
			in.readMbox(br, depth)
		case looksLikeMail(text):
			in.readMail(br, depth)
		case looksLikeSNDS(text):
			in.readSNDS(br)
		default:
			in.fail(where, "not a report: neither XML, JSON, an SNDS CSV, a mail nor a gzip or zip archive")
		}
	}
}

func (in *input) gunzip(rd io.Reader, size int64, depth int) {
	zr, err := gzip.NewReader(rd)
	if err != nil {
		in.fail(in.name, "gzip: %v", err)
		return
	}
	limit := in.allowance(size)
	name := in.name
	in.name += " (gunzipped)"
	in.inArchive = true
	in.sniff(&bounded{r: zr, left: limit, limit: limit, what: "decompressed to"}, nil, -1, depth+1)
	in.name, in.inArchive = name, false
}

func (in *input) unzip(rd io.Reader, ra io.ReaderAt, size int64, depth int) {
	if ra == nil || size < 0 {
		// A zip inside gzip, or from a pipe: hold it, bounded.
		data, err := io.ReadAll(&bounded{r: rd, left: maxHeldBytes, limit: maxHeldBytes, what: "zip archive"})
		if err != nil {
			in.fail(in.name, "%v", err)
			return
		}
		ra, size = bytes.NewReader(data), int64(len(data))
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		in.fail(in.name, "zip: %v", err)
		return
	}
	name := in.name
	in.inArchive = true
	defer func() { in.name, in.inArchive = name, false }()
	n := 0
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		if n++; n > maxZipEntries {
			in.fail(name, "refused: more than %d files in the zip", maxZipEntries)
			return
		}
		in.name = name + ":" + sanitize.Line(f.Name)
		limit := in.allowance(int64(f.CompressedSize64))
		if f.UncompressedSize64 > uint64(limit) {
			in.fail(in.name, "refused: says it decompresses to %s, more than %s", bytesText(int64(f.UncompressedSize64)), bytesText(limit))
			continue
		}
		rc, err := f.Open()
		if err != nil {
			in.fail(in.name, "zip: %v", err)
			continue
		}
		in.sniff(&bounded{r: rc, left: limit, limit: limit, what: "decompressed to"}, nil, -1, depth+1)
		rc.Close()
	}
}

// looksLikeMail reports whether text starts like an RFC 5322 header: a field name and a
// colon on the first line, and a field a mail has somewhere in the head.
func looksLikeMail(text []byte) bool {
	line, _, _ := bytes.Cut(text, []byte("\n"))
	name, _, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	lower := bytes.ToLower(text)
	for _, f := range []string{"\nfrom:", "\nsubject:", "\ncontent-type:", "\nmime-version:", "\nreceived:", "\nreturn-path:", "\ndate:"} {
		if bytes.Contains(append([]byte("\n"), lower...), []byte(f)) {
			return true
		}
	}
	return false
}

// reportPart reports whether a mail part may carry a report, by type or file name.
func reportPart(ct, filename string) bool {
	switch ct {
	case "application/gzip", "application/x-gzip", "application/zip", "application/x-zip-compressed",
		"application/x-zip", "application/xml", "text/xml", "application/tlsrpt+gzip",
		"application/tlsrpt+json", "application/json", "text/csv", "application/octet-stream":
		return true
	}
	f := strings.ToLower(filename)
	for _, ext := range []string{".xml", ".gz", ".zip", ".json", ".csv"} {
		if strings.HasSuffix(f, ext) {
			return true
		}
	}
	return false
}

// readMail reads the attachments of one mail that may be reports.
func (in *input) readMail(rd io.Reader, depth int) {
	m, err := message.Read(rd)
	if err != nil && m == nil {
		in.fail(in.name, "mail: %v", err)
		return
	}
	name := in.name
	defer func() { in.name = name }()
	parts := 0
	err = m.Walk(func(_ []int, part *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return err
		}
		ct, params, _ := part.Header.ContentType()
		if strings.HasPrefix(ct, "multipart/") {
			return nil
		}
		_, dparams, _ := part.Header.ContentDisposition()
		filename := cmpOr(dparams["filename"], params["name"])
		if !reportPart(ct, filename) {
			return nil
		}
		parts++
		in.name = name + ":" + sanitize.Line(cmpOr(path.Base(filename), ct))
		data, err := io.ReadAll(&bounded{r: part.Body, left: maxHeldBytes, limit: maxHeldBytes, what: "attachment"})
		if err != nil {
			in.fail(in.name, "%v", err)
			return nil
		}
		in.sniff(bytes.NewReader(data), bytes.NewReader(data), int64(len(data)), depth+1)
		return nil
	})
	in.name = name
	if err != nil {
		in.fail(name, "mail: %v", err)
		return
	}
	if parts == 0 {
		in.fail(name, "a mail with no report attached")
	}
}

// readMbox reads each mail of an mbox file (mboxo or mboxrd: "From " lines separate).
func (in *input) readMbox(rd io.Reader, depth int) {
	br := bufio.NewReaderSize(rd, 64<<10)
	name := in.name
	defer func() { in.name = name }()
	var msg bytes.Buffer
	n := 0
	tooBig := false
	flush := func() {
		if n > 0 {
			in.name = fmt.Sprintf("%s: mail %d", name, n)
			if tooBig {
				in.fail(in.name, "refused: a mail larger than %s", bytesText(maxHeldBytes))
			} else if msg.Len() > 0 {
				in.readMail(bytes.NewReader(msg.Bytes()), depth+1)
			}
		}
		msg.Reset()
		tooBig = false
	}
	prevBlank := true
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if prevBlank && bytes.HasPrefix(line, []byte("From ")) {
				flush()
				n++
			} else if !tooBig {
				if msg.Len()+len(line) > maxHeldBytes {
					tooBig = true
					msg.Reset()
				} else {
					// mboxrd: ">From " at the start of a body line was escaped.
					if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) && line[0] == '>' {
						line = line[1:]
					}
					msg.Write(line)
				}
			}
			prevBlank = line[0] == '\n' || line[0] == '\r' && len(line) <= 2
		}
		if err == bufio.ErrBufferFull {
			prevBlank = false
			continue
		}
		if err != nil {
			if err != io.EOF {
				in.fail(name, "%v", err)
			}
			break
		}
	}
	flush()
}

// parseIP reads an IP address as a report writes it, the IPv4-mapped form unmapped.
func parseIP(s string) (string, bool) {
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return "", false
	}
	return ip.Unmap().String(), true
}

// runGuard fails a stream with a run of more than maxRun bytes containing none of the
// delimiters, so that a decoder reading a token or line whole never holds more.
type runGuard struct {
	r      io.Reader
	delims string
	run    int
	what   string
}

func (g *runGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	b := p[:n]
	if len(b) <= maxRun {
		// A run inside b is shorter than the bound: only the runs that continue from
		// the last read, and the one b ends with, need counting.
		if first := bytes.IndexAny(b, g.delims); first < 0 {
			g.run += len(b)
		} else {
			g.run += first
			if g.run <= maxRun {
				g.run = len(b) - bytes.LastIndexAny(b, g.delims) - 1
			}
		}
	} else {
		for len(b) > 0 && g.run <= maxRun {
			i := bytes.IndexAny(b, g.delims)
			if i < 0 {
				g.run += len(b)
				break
			}
			g.run += i
			if g.run <= maxRun {
				g.run = 0
			}
			b = b[i+1:]
		}
	}
	if g.run > maxRun {
		return n, fmt.Errorf("refused: %s longer than %s", g.what, bytesText(maxRun))
	}
	return n, err
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
