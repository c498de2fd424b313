package casefile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/sanitize"
)

// Summary is what `list`, the duplicate guard and the TUI's picker show of a case:
// kept in the store's index so they need not read every case whole.
type Summary struct {
	ID          string
	Title       string
	Provider    string
	IPs         []string
	Domain      string
	Mode        triage.Mode
	Status      Status
	Readiness   Level
	LastFailure time.Time // the latest failure's time; zero when none has one
	Updated     time.Time
	FollowUpAt  time.Time // when a follow-up of the last message sent falls due; zero: none
	Path        string
}

// IP is the case's first sending IP, or "".
func (s Summary) IP() string {
	if len(s.IPs) > 0 {
		return s.IPs[0]
	}
	return ""
}

// FollowUpDue reports whether the case's follow-up is due at now (Case.FollowUpDue).
func (s Summary) FollowUpDue(now time.Time) bool {
	return !s.FollowUpAt.IsZero() && !now.Before(s.FollowUpAt)
}

// Summarize is the summary of a case.
func Summarize(c *Case) Summary {
	s := Summary{ID: c.ID, Title: c.Title, Provider: c.Provider, IPs: c.Identifiers.IPs,
		Domain: c.Identifiers.Domain, Mode: c.Mode, Status: c.Status, Readiness: c.Readiness().Level,
		LastFailure: c.Seen().Last, Updated: c.Updated, Path: c.path}
	// The due time does not depend on now: FollowUpDue(now) only compares it.
	if f, _ := c.FollowUpDue(time.Time{}); !f.Due.IsZero() {
		s.FollowUpAt = f.Due
	}
	return s
}

// indexName is the store's index: one line per case file, beside the cases. Its name
// never ends in .yaml, so it is never taken for a case.
const indexName = ".index"

// indexVersion changes with the index's format.
const indexVersion = "unblock-index 1"

// indexStamp tells that a case file is the one an index line was made from: a save
// replaces the file (new inode), an edit in place changes its size, mtime or ctime.
type indexStamp struct {
	size, mtime, ctime int64
	ino                uint64
}

func indexStampOf(st fs.FileInfo) indexStamp {
	s := indexStamp{size: st.Size(), mtime: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		s.ino = sys.Ino
		s.ctime = ctime(sys)
	}
	return s
}

type indexEntry struct {
	stamp indexStamp
	sum   Summary
	err   string // the file did not load: why
}

// program identifies the build that wrote an index: readiness and follow-up rules live
// in the program, so another build recomputes every summary.
var program = sync.OnceValue(func() string {
	exe, err := os.Executable()
	if err != nil {
		return "unknown"
	}
	st, err := os.Stat(exe)
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%d-%d", st.Size(), st.ModTime().UnixNano())
})

// Summaries summarises every case in the store, newest first, from the index where it
// agrees with the files (same size, mtime, ctime and inode) and from the files where it
// does not; the index is rewritten when anything changed. Files that do not load, and
// names ending in .yaml that are not regular files, are left out and reported together
// in the error; the rest is still returned.
func (s *Store) Summaries() ([]Summary, error) { return s.summaries(true) }

// QuickSummaries is Summaries trusting the index for every file it names, without
// checking each file's stamp: for a first screen drawn at once (the TUI's picker), to be
// followed by Summaries, which confirms it. Files the index does not name are read.
func (s *Store) QuickSummaries() ([]Summary, error) { return s.summaries(false) }

func (s *Store) summaries(verify bool) ([]Summary, error) {
	if err := checkPrivateDir(s.dir); err != nil {
		return nil, err
	}
	d, err := os.Open(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	old := s.readIndex()
	type file struct {
		name  string
		stamp indexStamp
		known bool // trusted from the index (quick)
	}
	var files []file
	var errs []error
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ext) || strings.HasPrefix(n, ".") || e.IsDir() {
			continue
		}
		// The directory says what kind of file it is: a link, FIFO or device is
		// skipped without being opened.
		if t := e.Type(); !t.IsRegular() {
			errs = append(errs, fmt.Errorf("%s is %s, not a case file: skipped", filepath.Join(s.dir, n), fileKind(t)))
			continue
		}
		if !verify {
			if _, ok := old[n]; ok {
				files = append(files, file{name: n, known: true})
				continue
			}
		}
		// fstatat beside the directory handle: one name looked up, not the whole path.
		var st unix.Stat_t
		if err := unix.Fstatat(int(d.Fd()), n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue // removed meanwhile
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			errs = append(errs, fmt.Errorf("%s is not a regular file, not a case file: skipped", filepath.Join(s.dir, n)))
			continue
		}
		files = append(files, file{name: n, stamp: indexStamp{size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), ino: st.Ino}})
	}
	fresh := make(map[string]indexEntry, len(files))
	var stale []file
	for _, f := range files {
		if e, ok := old[f.name]; ok && (f.known || e.stamp == f.stamp) {
			e.sum.Path = filepath.Join(s.dir, f.name)
			fresh[f.name] = e
		} else {
			stale = append(stale, f)
		}
	}
	// What the index did not know is read from the files, on every core.
	read := make([]indexEntry, len(stale))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(len(stale), max(1, runtime.GOMAXPROCS(0))) {
		wg.Go(func() {
			for i := range next {
				read[i] = s.summarizeFile(stale[i].name)
			}
		})
	}
	for i := range stale {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, f := range stale {
		fresh[f.name] = read[i]
	}
	if verify && (len(stale) > 0 || len(old) != len(fresh)) {
		s.writeIndex(fresh) // best effort: a read-only store still lists
	}
	out := make([]Summary, 0, len(fresh))
	for _, f := range files {
		e := fresh[f.name]
		if e.err != "" {
			errs = append(errs, errors.New(e.err))
			continue
		}
		out = append(out, e.sum)
	}
	slices.SortFunc(out, func(a, b Summary) int {
		if c := b.Updated.Compare(a.Updated); c != 0 {
			return c
		}
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path) // file names are unique: a total order
	})
	return out, errors.Join(errs...)
}

// summarizeFile reads one case file; its stamp is taken from the open file, so the
// summary and the stamp describe the same bytes.
func (s *Store) summarizeFile(name string) indexEntry {
	path := filepath.Join(s.dir, name)
	c, err := load(path, false)
	if err != nil {
		e := indexEntry{err: err.Error()}
		if st, serr := os.Lstat(path); serr == nil {
			e.stamp = indexStampOf(st)
		}
		return e
	}
	var e indexEntry
	if st, err := os.Lstat(path); err == nil && stampOf(st) == c.file {
		e.stamp = indexStampOf(st)
	}
	e.sum = Summarize(c)
	return e
}

// noteSaved brings the index's line for a case file just saved up to date, so that the
// next command (add's SummaryOf, list, new's duplicate guard) need not read the case
// whole again. Best effort: an index that misses it is corrected by Summaries. Two
// saves of different cases at once may each write the index without the other's line;
// a line whose stamp no longer matches its file is only read again.
func (s *Store) noteSaved(path string, c *Case, st fs.FileInfo) {
	if filepath.Dir(path) != filepath.Clean(s.dir) {
		return // a case named by a path outside the store
	}
	entries := s.readIndex()
	if entries == nil {
		entries = map[string]indexEntry{}
	}
	entries[filepath.Base(path)] = indexEntry{stamp: indexStampOf(st), sum: Summarize(c)}
	s.writeIndex(entries)
}

// readIndex reads the index; a missing, foreign or damaged one is empty (rebuilt).
func (s *Store) readIndex() map[string]indexEntry {
	data, _, err := readCaseFile(filepath.Join(s.dir, indexName), MaxCaseSize)
	if err != nil {
		return nil
	}
	header, body, _ := bytes.Cut(data, []byte("\n"))
	if string(header) != indexVersion+"\t"+program() {
		return nil
	}
	out := map[string]indexEntry{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, MaxCaseSize)
	for sc.Scan() {
		name, e, ok := parseIndexLine(sc.Text())
		if !ok {
			return nil
		}
		out[name] = e
	}
	return out
}

// Index line fields, tab-separated, each escaped (\\, \t, \n).
const indexFields = 17

func parseIndexLine(line string) (string, indexEntry, bool) {
	f := strings.Split(line, "\t")
	if len(f) != indexFields {
		return "", indexEntry{}, false
	}
	for i := range f {
		f[i] = sanitize.Text(unescapeField(f[i]))
	}
	var e indexEntry
	nums := make([]int64, 4)
	for i := range nums {
		n, err := strconv.ParseInt(f[1+i], 10, 64)
		if err != nil {
			return "", indexEntry{}, false
		}
		nums[i] = n
	}
	e.stamp = indexStamp{size: nums[0], mtime: nums[1], ctime: nums[2], ino: uint64(nums[3])}
	unix := func(s string) time.Time {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n == 0 {
			return time.Time{}
		}
		return time.Unix(n, 0).UTC()
	}
	e.sum = Summary{ID: f[5], Title: f[6], Provider: f[7], Domain: f[9], Mode: triage.Mode(f[10]),
		Status: Status(f[11]), Readiness: Level(f[12]), LastFailure: unix(f[13]), Updated: unix(f[14]),
		FollowUpAt: unix(f[15])}
	if f[8] != "" {
		e.sum.IPs = strings.Split(f[8], ",")
	}
	e.err = f[16]
	return f[0], e, true
}

func (s *Store) writeIndex(entries map[string]indexEntry) {
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	slices.Sort(names)
	var b bytes.Buffer
	b.WriteString(indexVersion + "\t" + program() + "\n")
	unix := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(t.Unix(), 10)
	}
	for _, n := range names {
		e := entries[n]
		if e.stamp == (indexStamp{}) {
			continue // changed while it was read: read it again next time
		}
		sm := e.sum
		fields := []string{n, strconv.FormatInt(e.stamp.size, 10), strconv.FormatInt(e.stamp.mtime, 10),
			strconv.FormatInt(e.stamp.ctime, 10), strconv.FormatUint(e.stamp.ino, 10),
			sm.ID, sm.Title, sm.Provider, strings.Join(sm.IPs, ","), sm.Domain, string(sm.Mode), string(sm.Status),
			string(sm.Readiness), unix(sm.LastFailure), unix(sm.Updated), unix(sm.FollowUpAt), e.err}
		for i, f := range fields {
			if i > 0 {
				b.WriteByte('\t')
			}
			b.WriteString(escapeField(f))
		}
		b.WriteByte('\n')
	}
	// A program killed while writing the index leaves its temporary file: removed here.
	// One being written at this moment goes too; its writer's rename then fails, and
	// this index stands (it is only ever a cache of the case files).
	if stale, _ := filepath.Glob(filepath.Join(globEscape(s.dir), indexName+".*.tmp")); len(stale) > 0 {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	tmp, err := os.CreateTemp(s.dir, indexName+".*.tmp")
	if err != nil {
		return
	}
	_, err = tmp.Write(b.Bytes())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(s.dir, indexName))
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
}

var (
	fieldEscaper   = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)
	fieldUnescaper = strings.NewReplacer(`\\`, `\`, `\t`, "\t", `\n`, "\n", `\r`, "\r")
)

func escapeField(s string) string {
	if !strings.ContainsAny(s, "\\\t\n\r") {
		return s
	}
	return fieldEscaper.Replace(s)
}

func unescapeField(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return fieldUnescaper.Replace(s)
}

// SummaryOf is the summary of the case file at path, from the index when it is current
// (the file is read when it is not): what a command needs of a case before it edits it.
func (s *Store) SummaryOf(path string) (Summary, error) {
	all, err := s.Summaries()
	if err != nil {
		return Summary{}, err
	}
	want, err := os.Stat(path)
	if err != nil {
		return Summary{}, err
	}
	for _, sm := range all {
		if st, err := os.Stat(sm.Path); err == nil && os.SameFile(st, want) {
			return sm, nil
		}
	}
	// A case named by a path outside the store.
	c, err := s.View(path)
	if err != nil {
		return Summary{}, err
	}
	return Summarize(c), nil
}
