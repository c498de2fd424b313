package casefile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// ext is the case files' extension.
const ext = ".yaml"

// Store is a directory of case files.
type Store struct {
	dir string
	// Now is the clock; tests fix it.
	Now func() time.Time
	// Wait is how long taking a case's lock waits for another program to let go
	// before failing with a *LockedError (0: fail at once).
	Wait time.Duration

	mu    sync.Mutex
	locks map[string]*Lock // locks this store holds, by case id
}

// DefaultDir is where cases live unless --dir says otherwise: $UNBLOCK_DIR, else
// $XDG_DATA_HOME/unblock/cases, else ~/.local/share/unblock/cases.
func DefaultDir() (string, error) {
	if d := os.Getenv("UNBLOCK_DIR"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "unblock", "cases"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no case directory: set UNBLOCK_DIR or use --dir (%v)", err)
	}
	return filepath.Join(home, ".local", "share", "unblock", "cases"), nil
}

// Open returns the store in dir, or in DefaultDir when dir is empty. The directory is
// created (0700) at the first save, not here: listing an empty store writes nothing.
func Open(dir string) (*Store, error) {
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return &Store{dir: dir, Now: time.Now, locks: map[string]*Lock{}}, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

// PathOf is the file of the case with this id.
func (s *Store) PathOf(id string) string { return filepath.Join(s.dir, id+ext) }

func (s *Store) now() time.Time { return utc(s.Now()) }

// DuplicateError says that an open case already covers what a new case would be about.
type DuplicateError struct {
	Existing Summary
	Why      string // "192.0.2.1 at proofpoint"
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("case %s is already open for %s: add new failures to it with \"unblock add %s FILE\", or start another with \"unblock new --force\"",
		e.Existing.ID, e.Why, e.Existing.ID)
}

// Create saves a new case. It fills in what a new case needs (schema, id, status draft,
// provider proofpoint, created and updated), then refuses a duplicate: a sending IP and
// provider already covered by an open case, or without an IP, the same sending domain,
// provider and mode. force creates it anyway.
func (s *Store) Create(c *Case, force bool) error {
	now := s.now()
	c.Schema = SchemaVersion
	if c.Status == "" {
		c.Status = StatusDraft
	}
	if c.Role == "" {
		c.Role = Sender
	}
	if c.Provider == "" {
		c.Provider = "proofpoint"
	}
	c.Created, c.Updated = now, now
	base := idFor(c, now)
	c.ID = base // made unique in the store below
	if err := c.Validate(); err != nil {
		return err
	}
	if err := s.mkdir(); err != nil {
		return err
	}
	// The duplicate guard and the creation are one step for every program using the
	// store: two `new` for one IP at the same instant make one case.
	sl, err := s.acquire("the case directory", filepath.Join(s.dir, storeLockName), max(s.Wait, storeLockWait))
	if err != nil {
		return err
	}
	defer sl.release()
	if !force {
		if err := s.checkDuplicate(c); err != nil {
			return err
		}
	}
	for n := 1; ; n++ {
		c.ID = base
		if n > 1 {
			c.ID = fmt.Sprintf("%s-%d", base, n)
		}
		err := s.write(s.PathOf(c.ID), c, true, true)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return err
	}
}

func (s *Store) checkDuplicate(c *Case) error {
	// From the index: a broken file cannot be the open case; its errors are list's.
	cases, _ := s.Summaries()
	for _, o := range cases {
		if !o.Status.IsOpen() || o.Provider != c.Provider {
			continue
		}
		for _, ip := range c.Identifiers.IPs {
			if slices.Contains(o.IPs, ip) {
				return &DuplicateError{Existing: o, Why: ip + " at " + c.Provider}
			}
		}
		if len(c.Identifiers.IPs) == 0 && c.Identifiers.Domain != "" &&
			strings.EqualFold(o.Domain, c.Identifiers.Domain) && o.Mode == c.Mode {
			why := c.Identifiers.Domain + " at " + c.Provider
			if c.Mode != "" {
				why += " (" + string(c.Mode) + ")"
			}
			return &DuplicateError{Existing: o, Why: why}
		}
	}
	return nil
}

// storeLockName is the store's own lock, held while a case is created.
const storeLockName = ".store.lock"

// storeLockWait bounds the wait for another program's creation of a case (milliseconds
// of work) before saying who holds it.
const storeLockWait = 10 * time.Second

var nonID = lazyRegexp(`[^a-z0-9]+`)

// idFor makes a short readable id: date, provider, then the IP or the domain.
func idFor(c *Case, now time.Time) string {
	parts := []string{now.Format("2006-01-02"), c.Provider}
	switch {
	case c.IP() != "":
		parts = append(parts, c.IP())
	case c.Identifiers.Domain != "":
		parts = append(parts, c.Identifiers.Domain)
	case c.Mode != "":
		parts = append(parts, string(c.Mode))
	}
	id := strings.Trim(nonID().ReplaceAllString(strings.ToLower(strings.Join(parts, "-")), "-"), "-")
	if len(id) > 60 {
		id = strings.TrimRight(id[:60], "-")
	}
	return id
}

// Load reads a case file strictly: an unknown field, a value of the wrong type or a
// schema newer than SchemaVersion is an error naming the file, line and field.
func (s *Store) Load(path string) (*Case, error) { return Load(path) }

// Load reads a case file strictly (see Store.Load). It never follows a symbolic link,
// reads only a regular file, and refuses one over MaxCaseSize. Its errors match
// ErrUnloadable.
func Load(path string) (*Case, error) { return load(path, true) }

// View finds and reads the case ref names for showing (show, export): like Find, without
// the copy of the content a later Save compares against, which on a 100,000-event case
// is a tenth of a second. Saving a viewed case counts as a change.
func (s *Store) View(ref string) (*Case, error) {
	path, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	return load(path, false)
}

func load(path string, snapshot bool) (*Case, error) {
	data, st, err := readCaseFile(path, MaxCaseSize)
	if err != nil {
		return nil, unloadable{err}
	}
	// data is this load's own and never changes: the timeline's values may share it.
	c, err := parse(path, data, snapshot, true)
	if err != nil {
		return nil, unloadable{err}
	}
	c.path = path
	c.file = stampOf(st)
	return c, nil
}

// schemaLine finds the schema number without decoding the whole document, so a newer
// schema is refused for what it is and not for the fields this program does not know.
var schemaLine = lazyRegexp(`(?m)^schema:[ \t]*([^\s#]*)`)

var idLine = lazyRegexp(`(?m)^id:`)

// Parse decodes a case file's bytes; name is used in errors.
func Parse(name string, data []byte) (*Case, error) { return parse(name, data, true, false) }

// parse is Parse; owned says that data will never change, so that the case's strings
// may share its bytes instead of copying them.
func parse(name string, data []byte, snapshot, owned bool) (*Case, error) {
	m := schemaLine().FindSubmatchIndex(data)
	if m == nil {
		return nil, fmt.Errorf("%s: not a case file: no schema field", name)
	}
	line := 1 + bytes.Count(data[:m[0]], []byte("\n"))
	v, err := strconv.Atoi(string(data[m[2]:m[3]]))
	if err != nil || v < 1 {
		return nil, fmt.Errorf("%s:%d: field schema: %q is not a schema version", name, line, data[m[2]:m[3]])
	}
	if v > SchemaVersion {
		return nil, fmt.Errorf("%s: written with case-file schema %d, newer than this unblock knows (%d): upgrade unblock to open it", name, v, SchemaVersion)
	}
	c, d, err := decodeCase(name, data, owned)
	if err != nil {
		return nil, err
	}
	if d.timelineSanitized {
		events := c.Timeline
		c.Timeline = nil
		sanitizeCase(c)
		c.Timeline = events
	} else {
		sanitizeCase(c)
	}
	for i := range c.Timeline {
		c.Timeline[i].upgrade()
	}
	c.Schema = SchemaVersion
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	// The id names files (locks, saved messages): a hand-made one must not reach outside.
	if err := checkID(c.ID); err != nil {
		if m := idLine().FindIndex(data); m != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, 1+bytes.Count(data[:m[0]], []byte("\n")), err)
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if snapshot {
		if !owned {
			data = bytes.Clone(data)
		}
		c.saved = savedBytes{raw: data, exact: d.timelineExact && headExact(c, data[:d.headLen]), events: len(c.Timeline)}
	}
	return c, nil
}

// savedBytes is what a case was read from or last written as, to tell at the next save
// whether its content changed (and updated with it) without keeping a copy of the
// content: when exact, the bytes Marshal writes for an unchanged case are these.
type savedBytes struct {
	raw    []byte
	exact  bool
	events int // in the timeline
}

// headExact reports whether Marshal writes the case's fields before the timeline as
// head: the file was written by Marshal, nothing in it was sanitized or upgraded.
func headExact(c *Case, head []byte) bool {
	var b bytes.Buffer
	h := *c
	h.Timeline = nil
	return encodeYAML(&b, &h) == nil && bytes.Equal(b.Bytes(), head)
}

// decoded is what decodeCase tells beside the case.
type decoded struct {
	timelineSanitized bool // the timeline reader sanitized the events
	timelineExact     bool // and they are written back as read (parseTimeline)
	headLen           int  // the bytes before the timeline
}

// decodeCase decodes strictly: the head through yaml/v3, a timeline in the plain form
// directly (timeline.go), anything else wholly through yaml/v3.
func decodeCase(name string, data []byte, owned bool) (*Case, decoded, error) {
	c := new(Case)
	if head, body, line, ok := splitTimeline(data); ok {
		events, exact, terr := parseTimeline(name, body, line, owned)
		if !errors.Is(terr, errNotPlain) {
			// The head's errors first, as they come first in the file.
			if err := decodeStrict(head, c); err != nil {
				return nil, decoded{}, loadError(name, data, err)
			}
			if terr != nil {
				return nil, decoded{}, terr
			}
			c.Timeline = events
			return c, decoded{timelineSanitized: true, timelineExact: exact, headLen: len(head)}, nil
		}
	}
	if err := decodeStrict(data, c); err != nil {
		return nil, decoded{}, loadError(name, data, err)
	}
	// No timeline: the head is the whole file.
	return c, decoded{timelineExact: len(c.Timeline) == 0, headLen: len(data)}, nil
}

func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		return nil // an empty head: everything is in the timeline
	}
	return err
}

// lazyRegexp compiles an expression on its first use: the program starts without
// compiling what most commands never match.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

var (
	lineMsg      = lazyRegexp(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField = lazyRegexp(`^field (\S+) not found in type`)
	atLine       = lazyRegexp(`at line \d+`)
	keyOfLine    = lazyRegexp(`^\s*(?:- )?([A-Za-z0-9_]+):`)
	badTime      = lazyRegexp(`parsing time "(.*?)"`)
)

// loadError rewrites the YAML decoder's errors as FILE:LINE: field NAME: reason, on one line.
func loadError(name string, data []byte, err error) error { return loadErrorAt(name, data, err, 0) }

// loadErrorAt is loadError for a part of the file that starts after line offset.
func loadErrorAt(name string, data []byte, err error, offset int) error {
	var msgs []string
	var te *yaml.TypeError
	typed := errors.As(err, &te)
	if typed {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	lines := bytes.Split(data, []byte("\n"))
	var out []string
	for _, msg := range msgs {
		m := lineMsg().FindStringSubmatch(msg)
		if t := badTime().FindStringSubmatch(msg); m == nil && t != nil {
			// The time parser names neither line nor field, and speaks in Go's layout: the
			// value's line is found, and the form it must have is said.
			out = append(out, timeError(name, lines, t[1], offset).Error())
			continue
		}
		if m == nil {
			out = append(out, fmt.Sprintf("%s: %s", name, strings.TrimPrefix(msg, "yaml: ")))
			continue
		}
		n, _ := strconv.Atoi(m[1])
		reason := atLine().ReplaceAllStringFunc(m[2], func(s string) string {
			k, _ := strconv.Atoi(strings.TrimPrefix(s, "at line "))
			return fmt.Sprintf("at line %d", k+offset)
		})
		if f := unknownField().FindStringSubmatch(reason); f != nil {
			reason = fmt.Sprintf("unknown field %q", f[1])
		} else if typed && !strings.HasPrefix(reason, "field ") && n >= 1 && n <= len(lines) {
			if k := keyOfLine().FindSubmatch(lines[n-1]); k != nil {
				reason = fmt.Sprintf("field %s: %s", k[1], reason)
			}
		}
		out = append(out, fmt.Sprintf("%s:%d: %s", name, n+offset, reason))
	}
	return errors.New(strings.Join(out, "; "))
}

// timeError says which line holds a value that is no time, and what a time looks like.
func timeError(name string, lines [][]byte, value string, offset int) error {
	for i, l := range lines {
		k := keyOfLine().FindSubmatch(l)
		if k == nil {
			continue
		}
		v := strings.Trim(strings.TrimSpace(string(l[bytes.IndexByte(l, ':')+1:])), `"'`)
		if v == value {
			return fmt.Errorf("%s:%d: field %s: %q is not a time (RFC 3339, such as 2026-11-22T09:00:00Z)", name, i+1+offset, k[1], value)
		}
	}
	return fmt.Errorf("%s: %q is not a time (RFC 3339, such as 2026-11-22T09:00:00Z)", name, value)
}

// Marshal encodes a case as its file's bytes: the fields through yaml/v3, the timeline
// last (timeline.go).
func Marshal(c *Case) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(4096 + 512*len(c.Timeline)) // a plain event is 300 to 500 bytes: one allocation
	if err := encodeCase(&b, c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// encodeCase writes Marshal's bytes to w, the timeline a chunk at a time.
func encodeCase(w io.Writer, c *Case) error {
	var head bytes.Buffer
	if err := encodeHead(&head, c); err != nil {
		return err
	}
	if _, err := w.Write(head.Bytes()); err != nil {
		return err
	}
	return writeTimeline(w, c.Timeline)
}

func encodeHead(b *bytes.Buffer, c *Case) error {
	head := *c
	head.Timeline = nil
	return encodeYAML(b, &head)
}

func encodeYAML(w *bytes.Buffer, v any) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}

// Save writes the case atomically. updated changes only when the content did, so saving
// an unchanged case rewrites the same bytes. Another program holding the case's lock gets
// a *LockedError; a file that changed on disk since it was loaded (by hand, by another
// program, or broken) is not overwritten.
func (s *Store) Save(c *Case) error { return s.save(c, true) }

// save is Save; snapshot keeps a copy of what was written to compare the next save
// against (Edit, which saves once, does without).
func (s *Store) save(c *Case, snapshot bool) error {
	if c.ID == "" {
		return errors.New("case has no id: create it first")
	}
	c.Schema = SchemaVersion
	for i := range c.Timeline {
		c.Timeline[i].upgrade() // events built in code get their kind
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("not saving case %s: %w", c.ID, err)
	}
	path := c.filePath(s)
	release, err := s.holdLock(c.ID, path)
	if err != nil {
		return err
	}
	defer release()
	if s.changed(c, path) {
		c.Updated = s.now()
	}
	if err := s.checkUnchangedOnDisk(c, path); err != nil {
		return err
	}
	// With the lock held, a temporary file of this case can only be left by a save that
	// died half-way.
	if stale, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "."+globEscape(filepath.Base(path))+".*.tmp")); len(stale) > 0 {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	return s.write(path, c, false, snapshot)
}

// changed reports whether the case's content differs from what it was read from or last
// written as (updated left out).
func (s *Store) changed(c *Case, path string) bool {
	switch {
	case c.saved.raw == nil: // new, or read for viewing
		return true
	case c.saved.exact:
		if len(c.Timeline) != c.saved.events {
			return true
		}
		w := &compareWriter{want: c.saved.raw}
		return encodeCase(w, c) != nil || w.off != len(w.want)
	}
	// Read from bytes Marshal would not write (a hand edit, schema 1, something
	// sanitized): their content, read again, is what the case is compared with.
	old, err := parse(path, c.saved.raw, false, true)
	return err != nil || !sameContent(c, old)
}

// compareWriter compares what is written with want, failing at the first difference.
type compareWriter struct {
	want []byte
	off  int
}

var errDiffers = errors.New("differs")

func (w *compareWriter) Write(p []byte) (int, error) {
	if len(p) > len(w.want)-w.off || !bytes.Equal(p, w.want[w.off:w.off+len(p)]) {
		return 0, errDiffers
	}
	w.off += len(p)
	return len(p), nil
}

// checkUnchangedOnDisk refuses to replace a file that is not the one the case came from.
func (s *Store) checkUnchangedOnDisk(c *Case, path string) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.file != (fileStamp{}) && stampOf(st) == c.file {
		return nil
	}
	if _, err := Load(path); err != nil {
		return fmt.Errorf("not saving over a case file that does not load (fix or move it first): %w", err)
	}
	return fmt.Errorf("%s changed on disk since it was loaded: load it again before saving", path)
}

// Edit locks the case ref names, loads it (once, under the lock), applies fn and saves
// it: the way a command changes a case without clobbering another program's edit.
func (s *Store) Edit(ref string, fn func(*Case) error) (*Case, error) {
	path, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	l, err := s.LockPath(path)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	c, err := Load(path)
	if err != nil {
		return nil, err
	}
	if err := fn(c); err != nil {
		return nil, err
	}
	return c, s.save(c, false)
}

func globEscape(s string) string {
	return strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`).Replace(s)
}

func (s *Store) mkdir() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("creating the case directory: %w", err)
	}
	return checkPrivateDir(s.dir)
}

// saveHook lets a test pause a save half-way (after part of the temporary file is written).
var saveHook func(stage string)

// write saves the case to path through a temporary file in the same directory: fsync,
// rename (or link, for a new case that must not replace anything), fsync the directory.
// With snapshot, the bytes written are kept to compare the next save with; without, they
// go to the file a chunk at a time.
func (s *Store) write(path string, c *Case, exclusive, snapshot bool) error {
	var data []byte
	if snapshot {
		var err error
		if data, err = Marshal(c); err != nil {
			return fmt.Errorf("saving %s: %w", path, err)
		}
	}
	if err := s.mkdir(); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	pw := &partWriter{f: tmp}
	if snapshot {
		half := len(data) / 2
		_, err = pw.Write(data[:half])
		if err == nil {
			_, err = pw.Write(data[half:])
		}
	} else {
		err = encodeCase(pw, c)
	}
	if err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	written, err := tmp.Stat()
	if err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if exclusive {
		// link fails if the name exists: a new case never replaces another.
		if err := os.Link(tmp.Name(), path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fs.ErrExist
			}
			return fmt.Errorf("saving %s: %w", path, err)
		}
		os.Remove(tmp.Name())
	} else if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil && !errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("saving %s: syncing the directory: %w", path, err)
		}
	}
	c.path = path
	c.saved = savedBytes{}
	if snapshot {
		c.saved = savedBytes{raw: data, exact: true, events: len(c.Timeline)}
	}
	c.file = fileStamp{}
	// The file at path is this save's (same inode) unless someone replaced it meanwhile.
	if st, err := os.Lstat(path); err == nil && os.SameFile(st, written) {
		c.file = stampOf(st)
		s.noteSaved(path, c, st)
	}
	return nil
}

// partWriter writes a temporary file, calling saveHook once part of it is written.
type partWriter struct {
	f             *os.File
	written, told bool
}

func (w *partWriter) Write(p []byte) (int, error) {
	if w.written && !w.told && saveHook != nil {
		w.told = true
		saveHook("half-written")
	}
	w.written = true
	return w.f.Write(p)
}

// fileStamp is what tells that a file changed since it was read.
type fileStamp struct {
	size  int64
	mtime int64
	ino   uint64
}

func stampOf(st fs.FileInfo) fileStamp {
	f := fileStamp{size: st.Size(), mtime: st.ModTime().UnixNano()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		f.ino = sys.Ino
	}
	return f
}

// List loads every case in the store, newest first. Files that fail to load are left
// out and reported together in the error; the cases that did load are still returned.
func (s *Store) List() ([]*Case, error) {
	if err := checkPrivateDir(s.dir); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ext) && !strings.HasPrefix(n, ".") {
			names = append(names, n)
		}
	}
	cases := make([]*Case, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			for i := range next {
				cases[i], errs[i] = Load(filepath.Join(s.dir, names[i]))
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	out := cases[:0]
	for _, c := range cases {
		if c != nil {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b *Case) int {
		if c := b.Updated.Compare(a.Updated); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, errors.Join(errs...)
}

// Find loads the case ref names: a path to a case file, an id, or a unique id prefix.
func (s *Store) Find(ref string) (*Case, error) {
	path, err := s.Resolve(ref)
	if err != nil {
		return nil, err
	}
	return Load(path)
}

// Resolve is the file of the case ref names (see Find), without reading it.
func (s *Store) Resolve(ref string) (string, error) {
	if ref == "" {
		return "", errors.New("no case given")
	}
	if strings.ContainsRune(ref, filepath.Separator) || strings.HasSuffix(ref, ext) {
		if _, err := os.Lstat(ref); err == nil {
			return ref, nil
		}
	}
	if !validRef(ref) {
		return "", fmt.Errorf("no case %q in %s", ref, s.dir)
	}
	if err := checkPrivateDir(s.dir); err != nil {
		return "", err
	}
	if _, err := os.Lstat(s.PathOf(ref)); err == nil {
		return s.PathOf(ref), nil
	}
	entries, err := os.ReadDir(s.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var matches []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ref) && strings.HasSuffix(n, ext) && !strings.HasPrefix(n, ".") {
			matches = append(matches, strings.TrimSuffix(n, ext))
		}
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("no case %q in %s", ref, s.dir)
	case 1:
		return s.PathOf(matches[0]), nil
	}
	if len(matches) > 5 {
		matches = append(matches[:5], "…")
	}
	return "", fmt.Errorf("%q matches %d cases (%s): give more of the id", ref, len(matches), strings.Join(matches, ", "))
}

func validRef(ref string) bool {
	return !strings.ContainsAny(ref, `/\`) && ref != "." && ref != ".." && !strings.HasPrefix(ref, ".")
}

// DefaultRoute is the route kind for a case that has none recorded: the desk of its
// provider for its role, mode and cause (PROVIDERS.md). A cause the sender fixes on its
// own side (authentication, a wrong address) goes to no desk of a provider that has none.
func DefaultRoute(role Role, provider string, mode triage.Mode, cause string) string {
	if strings.HasPrefix(provider, "esp:") {
		return "esp-support"
	}
	if role == Customer && provider == "proofpoint" {
		return "proofpoint-support"
	}
	switch triage.Cause(cause) {
	case triage.Authentication:
		return "fix-authentication"
	case triage.InvalidRecipient:
		return "fix-recipient"
	}
	if provider == "google" && triage.Cause(cause) != triage.RecipientPolicy {
		return "wait" // no delist form: Postmaster Tools, the fix, and time; gcdp goes to the admin
	}
	if mode == triage.Deferral && provider != "yahoo" {
		return "wait"
	}
	switch provider {
	case "proofpoint":
		if mode == triage.Filtering {
			return "recipient-admin"
		}
		return "proofpoint-ipcheck"
	case "cloudmark":
		return "cloudmark-reset"
	case "microsoft":
		return "microsoft-delist"
	case "yahoo":
		return "yahoo-sender-support"
	case "apple":
		return "apple-postmaster"
	case "spamhaus":
		return "spamhaus"
	case "barracuda":
		return "barracuda-removal"
	case "cisco":
		return "talos"
	case "trendmicro":
		return "trendmicro-ers"
	case "symantec":
		return "symantec-ipremoval"
	case "mimecast", "google", "sophos":
		return "recipient-admin"
	}
	return "none"
}

// RouteKind is the case's route: the one recorded, else DefaultRoute.
func (c *Case) RouteKind() string {
	if c.Route.Kind != "" {
		return c.Route.Kind
	}
	return DefaultRoute(c.Role, c.Provider, c.Mode, c.Cause)
}
