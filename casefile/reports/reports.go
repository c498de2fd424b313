// Package reports reads what receivers report about a sender's mail: DMARC aggregate
// reports (RFC 7489 Appendix C and the RFC 9990 schema), TLS-RPT reports (RFC 8460) and
// Microsoft SNDS exports, as files, gzip and zip archives, mails, mbox files and Maildir
// folders, and sums them per sending IP and receiver.
//
// Reports come from strangers' servers and from anyone who can mail a rua= address, so
// every input is hostile until read: XML goes through a streaming decoder that refuses a
// DOCTYPE, archives are read with a bound on the decompressed size and ratio, and no
// text node, line or attachment is held whole past a fixed size. Text taken from a
// report is sanitized where it is read.
package reports

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Limits on what one input may cost. The defaults hold real reports with room to spare:
// the largest aggregate reports seen from big receivers are tens of megabytes of XML.
const (
	// DefaultMaxReportBytes bounds one report after decompression.
	DefaultMaxReportBytes = 1 << 30
	// DefaultMaxRatio bounds decompressed size over compressed size. Aggregate XML
	// compresses 10–50 times; a zip or gzip bomb compresses a thousand times.
	DefaultMaxRatio = 200
	// DefaultMaxIPs bounds the distinct sending IPs kept; the rest are counted as omitted.
	DefaultMaxIPs = 25_000
	// maxHeldBytes bounds what is read whole into memory: a zip or an attachment.
	maxHeldBytes = 256 << 20
	// maxJSONBytes bounds a TLS-RPT report; real ones are a few kilobytes.
	maxJSONBytes = 16 << 20
	// maxRun bounds a run of bytes without a markup or line delimiter: an XML text node,
	// a tag, a CSV line. Nothing in a real report comes close.
	maxRun = 1 << 20
	// maxNesting bounds containers inside containers (a mail holding a zip holding a gzip).
	maxNesting = 4
	// maxZipEntries bounds the files read from one zip.
	maxZipEntries = 1000
	// minAllowance is the decompressed size allowed whatever the ratio: small archives
	// of small reports compress well.
	minAllowance = 4 << 20
)

// Options say what to keep and how much an input may cost. The zero value keeps
// everything within the default limits.
type Options struct {
	// IPs, when set, keeps only rows from these sending IPs (DMARC, SNDS).
	IPs []string
	// Domain, when set, keeps only DMARC and TLS-RPT reports about this domain or its
	// subdomains.
	Domain         string
	MaxReportBytes int64
	MaxRatio       int64
	MaxIPs         int
	// Workers reading files at once; 0 means one per CPU.
	Workers int
}

// Problem is an input that could not be read, or held no report, and why.
type Problem struct {
	File   string `json:"file"`
	Reason string `json:"reason"`
}

func (p Problem) String() string { return p.File + ": " + p.Reason }

// Reader reads report files and sums what they say. It is safe for concurrent use.
type Reader struct {
	opts Options
	ips  map[string]bool

	mu       sync.Mutex
	dmarc    map[string]*IPReport      // by sending IP
	tls      map[string]*TLSDomain     // by policy domain
	snds     map[string]*SNDSIP        // by IP
	seen     map[string]bool           // reports already counted, by reporter and id
	sndsSeen map[string]map[string]int // IP → day → index in Days
	files    int
	reports  int
	dups     int
	omitted  int64
	problems []Problem
}

// NewReader returns a reader with the given options.
func NewReader(o Options) *Reader {
	if o.MaxReportBytes <= 0 {
		o.MaxReportBytes = DefaultMaxReportBytes
	}
	if o.MaxRatio <= 0 {
		o.MaxRatio = DefaultMaxRatio
	}
	if o.MaxIPs <= 0 {
		o.MaxIPs = DefaultMaxIPs
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	o.Domain = strings.ToLower(strings.TrimSuffix(o.Domain, "."))
	r := &Reader{opts: o, dmarc: map[string]*IPReport{}, tls: map[string]*TLSDomain{},
		snds: map[string]*SNDSIP{}, seen: map[string]bool{}, sndsSeen: map[string]map[string]int{}}
	if len(o.IPs) > 0 {
		r.ips = map[string]bool{}
		for _, s := range o.IPs {
			if ip, err := netip.ParseAddr(s); err == nil {
				r.ips[ip.Unmap().String()] = true
			}
		}
	}
	return r
}

// ReadPaths reads files and folders (a folder is read whole, Maildir included), several
// files at once. A file that cannot be read is recorded as a Problem; the error is only
// for a path that does not exist or a cancelled context.
func (r *Reader) ReadPaths(ctx context.Context, paths []string) error {
	files := make(chan string)
	var walkErr error
	go func() {
		defer close(files)
		for _, p := range paths {
			err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					if path == p {
						return err
					}
					r.problem(path, err.Error())
					return nil
				}
				if d.IsDir() || !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
					return nil
				}
				select {
				case files <- path:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			if err != nil {
				walkErr = err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range r.opts.Workers {
		wg.Go(func() {
			for f := range files {
				if ctx.Err() == nil {
					r.readFile(f)
				}
			}
		})
	}
	wg.Wait()
	if walkErr != nil {
		var pe *fs.PathError
		if errors.As(walkErr, &pe) {
			return fmt.Errorf("%s: %w", pe.Path, pe.Err)
		}
		return walkErr
	}
	return ctx.Err()
}

func (r *Reader) readFile(path string) {
	f, err := os.Open(path)
	if err != nil {
		r.problem(path, err.Error())
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		r.problem(path, err.Error())
		return
	}
	r.mu.Lock()
	r.files++
	r.mu.Unlock()
	in := &input{r: r, name: path}
	in.sniff(f, f, st.Size(), 0)
	r.finish(in)
}

// finish records what one file gave: its reports, or why it gave none.
func (r *Reader) finish(in *input) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, in.problems...)
	if in.found == 0 && len(in.problems) == 0 {
		r.problems = append(r.problems, Problem{in.name, "no report in it"})
	}
}

func (r *Reader) problem(file, reason string) {
	r.mu.Lock()
	r.problems = append(r.problems, Problem{file, reason})
	r.mu.Unlock()
}

// wantIP reports whether rows from ip are kept.
func (r *Reader) wantIP(ip string) bool { return r.ips == nil || r.ips[ip] }

// wantDomain reports whether a report about d is kept.
func (r *Reader) wantDomain(d string) bool {
	if r.opts.Domain == "" {
		return true
	}
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	return d == r.opts.Domain || strings.HasSuffix(d, "."+r.opts.Domain)
}

// Summary is what the reports read say, sorted for reading: DMARC by messages, TLS-RPT
// by domain, SNDS by IP.
type Summary struct {
	DMARC []*IPReport  `json:"dmarc,omitempty"`
	TLS   []*TLSDomain `json:"tls_rpt,omitempty"`
	SNDS  []*SNDSIP    `json:"snds,omitempty"`
	// Files read, reports counted, and reports seen again (the same reporter and report
	// id, as when a mail and its extracted attachment are both given).
	Files      int `json:"files"`
	Reports    int `json:"reports"`
	Duplicates int `json:"duplicates,omitempty"`
	// OmittedMessages are messages from sending IPs past the limit on distinct IPs.
	OmittedMessages int64     `json:"omitted_messages,omitempty"`
	Problems        []Problem `json:"problems,omitempty"`
}

// Empty reports whether nothing was read.
func (s *Summary) Empty() bool { return s.Reports == 0 }

// Summary returns the sums so far.
func (r *Reader) Summary() *Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &Summary{Files: r.files, Reports: r.reports, Duplicates: r.dups, OmittedMessages: r.omitted}
	for _, ip := range r.dmarc {
		ip.sort()
		s.DMARC = append(s.DMARC, ip)
	}
	slices.SortFunc(s.DMARC, func(a, b *IPReport) int {
		return cmp.Or(cmp.Compare(b.Total.Messages, a.Total.Messages), cmp.Compare(a.IP, b.IP))
	})
	for _, d := range r.tls {
		d.sort()
		s.TLS = append(s.TLS, d)
	}
	slices.SortFunc(s.TLS, func(a, b *TLSDomain) int { return cmp.Compare(a.Domain, b.Domain) })
	for _, ip := range r.snds {
		ip.sort()
		s.SNDS = append(s.SNDS, ip)
	}
	slices.SortFunc(s.SNDS, func(a, b *SNDSIP) int { return cmp.Compare(a.IP, b.IP) })
	s.Problems = slices.Clone(r.problems)
	slices.SortFunc(s.Problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Reason, b.Reason))
	})
	return s
}

// Span is a date range: the first and last instant a set of reports covers.
type Span struct {
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
}

func (s *Span) add(first, last time.Time) {
	if !first.IsZero() && (s.First.IsZero() || first.Before(s.First)) {
		s.First = first
	}
	if !last.IsZero() && last.After(s.Last) {
		s.Last = last
	}
}

// add counts one into a map of counts, making it when needed.
func add(m *map[string]int64, k string, n int64) {
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[k] += n
}

// merge adds b's counts into a's.
func merge(a *map[string]int64, b map[string]int64) {
	for k, n := range b {
		add(a, k, n)
	}
}

// words are the values a Tally counts: the DKIM and SPF results (RFC 8601 §2.7), the
// DMARC dispositions, and "other" for anything else a reporter writes.
var words = [...]string{"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "policy",
	"quarantine", "reject", "unreported", "other"}

// Tally counts messages by result or disposition. It is a fixed array, not a map: a
// store of reports sums millions of rows into it.
type Tally [len(words)]int64

func wordIndex(w string) int {
	for i, x := range words {
		if x == w {
			return i
		}
	}
	return len(words) - 1
}

// Add counts n messages under w ("other" when w is not a known word).
func (t *Tally) Add(w string, n int64) { t[wordIndex(w)] += n }

// Get is the count under w.
func (t *Tally) Get(w string) int64 { return t[wordIndex(w)] }

func (t *Tally) merge(o *Tally) {
	for i := range t {
		t[i] += o[i]
	}
}

// Map is the counts that are not zero.
func (t *Tally) Map() map[string]int64 {
	m := map[string]int64{}
	for i, n := range t {
		if n != 0 {
			m[words[i]] = n
		}
	}
	return m
}

// IsZero lets JSON omit an empty tally.
func (t Tally) IsZero() bool { return t == Tally{} }

func (t Tally) MarshalJSON() ([]byte, error) { return json.Marshal(t.Map()) }
