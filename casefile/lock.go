package casefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Holder is the program that holds a case's lock.
type Holder struct {
	PID     int
	Program string
	Host    string
	Since   time.Time
}

func (h Holder) String() string {
	if h.PID == 0 {
		return "another program (it did not say which)"
	}
	s := fmt.Sprintf("%s (pid %d", h.Program, h.PID)
	if h.Host != "" {
		s += " on " + h.Host
	}
	if !h.Since.IsZero() {
		s += " since " + h.Since.UTC().Format(time.RFC3339)
	}
	return s + ")"
}

// LockedError says another program has the case open for editing.
type LockedError struct {
	ID     string
	Holder Holder
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("case %s is open for editing in %s: close it there first, or wait for it with --wait", e.ID, e.Holder)
}

// Lock is an advisory lock on one case: a program that has a case open for editing (the
// TUI) holds it, and every other writer is refused with a *LockedError naming the holder.
// It is an flock on a hidden sidecar file beside the case file (.NAME.lock, NAME the
// case file's name without .yaml), in the directory as resolved through any symbolic
// links: the same lock however the case was named (id, prefix or path), so the TUI and
// the command line exclude each other. The sidecar is removed when the lock is released;
// a holder killed outright leaves it, unlocked, and the next taker reuses it.
type Lock struct {
	store *Store
	id    string
	path  string // the lock file
	f     *os.File
}

// Lock takes the lock of the case with this id in the store (waiting up to s.Wait), or
// fails with a *LockedError.
func (s *Store) Lock(id string) (*Lock, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	return s.lockCase(id, s.PathOf(id))
}

// LockPath takes the lock of the case file at path (Resolve's answer), before loading it.
func (s *Store) LockPath(path string) (*Lock, error) {
	return s.lockCase(strings.TrimSuffix(filepath.Base(path), ext), path)
}

// LockCase takes the lock of a loaded case, wherever its file is.
func (s *Store) LockCase(c *Case) (*Lock, error) { return s.lockCase(c.ID, c.filePath(s)) }

func (c *Case) filePath(s *Store) string {
	if c.path != "" {
		return c.path
	}
	return s.PathOf(c.ID)
}

func (s *Store) lockCase(id, casePath string) (*Lock, error) {
	lp, err := lockPath(casePath)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	_, held := s.locks[lp]
	s.mu.Unlock()
	if held {
		return nil, fmt.Errorf("case %s is already open for editing in this program", id)
	}
	l, err := s.acquire(id, lp, s.Wait)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.locks[lp] = l
	s.mu.Unlock()
	return l, nil
}

// lockPath is the sidecar lock file of a case file; never a name ending in .yaml.
func lockPath(casePath string) (string, error) {
	abs, err := filepath.Abs(casePath)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(abs)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return filepath.Join(dir, "."+strings.TrimSuffix(filepath.Base(abs), ext)+".lock"), nil
}

// lockPoll is how often a waiting program tries the lock again.
const lockPoll = 25 * time.Millisecond

// acquire takes the flock of lp, waiting up to wait for its holder to let go.
func (s *Store) acquire(id, lp string, wait time.Duration) (*Lock, error) {
	dir := filepath.Dir(lp)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the case directory: %w", err)
	}
	if err := checkPrivateDir(dir); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		f, err := openLockFile(lp)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errLockGone) {
			continue // removed by its holder as we opened it: create it again
		}
		if err != nil {
			return nil, fmt.Errorf("locking case %s: %w", id, err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if left := time.Until(deadline); left > 0 {
				f.Close()
				time.Sleep(min(left, lockPoll))
				continue
			}
			h := readHolder(f)
			f.Close()
			return nil, &LockedError{ID: id, Holder: h}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("locking case %s: %w", id, err)
		}
		// The holder before us may have removed the file as it let go: then we hold a
		// lock on a name nobody else will open. Only the file still at lp counts.
		if !sameFile(f, lp) {
			f.Close()
			continue
		}
		writeHolder(f)
		return &Lock{store: s, id: id, path: lp, f: f}, nil
	}
}

// openLockFile opens the sidecar without ever following a link or truncating anything:
// created exclusively when absent; when present, it must be a regular file of ours with
// no other name (a hard link planted to another file would otherwise be written).
func openLockFile(lp string) (*os.File, error) {
	f, err := openNoFollow(lp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil || !errors.Is(err, fs.ErrExist) {
		return f, err
	}
	f, err = openNoFollow(lp, os.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	sys, _ := st.Sys().(*syscall.Stat_t)
	switch {
	case !st.Mode().IsRegular():
		err = fmt.Errorf("lock file %s is %s: remove it", lp, fileKind(st.Mode()))
	case sys != nil && int(sys.Uid) != os.Geteuid():
		err = fmt.Errorf("lock file %s belongs to another user (uid %d): remove it and keep the directory private", lp, sys.Uid)
	case sys != nil && sys.Nlink == 0:
		err = errLockGone
	case sys != nil && sys.Nlink != 1:
		err = fmt.Errorf("lock file %s has %d names (a hard link to another file?): remove it", lp, sys.Nlink)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// errLockGone: the lock file was removed (its holder let go) after we opened it.
var errLockGone = errors.New("lock file removed")

func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}

// writeHolder records who holds the lock, for the programs it refuses. The new text is
// written over the old, then the file is cut to its length: a reader never sees it
// empty. Failing to write it does not make the lock less held.
func writeHolder(f *os.File) {
	host, _ := os.Hostname()
	h := fmt.Sprintf("pid: %d\nprogram: %s\nhost: %s\nsince: %s\nend\n",
		os.Getpid(), filepath.Base(os.Args[0]), host, time.Now().UTC().Format(time.RFC3339))
	if _, err := f.WriteAt([]byte(h), 0); err == nil {
		f.Truncate(int64(len(h)))
	}
}

// readHolder reads who holds the lock. A holder that has just created the file may not
// have written it yet: try again for a moment before saying it is unknown.
func readHolder(f *os.File) Holder {
	buf := make([]byte, 1024)
	for range 40 {
		n, _ := f.ReadAt(buf, 0)
		if h, ok := parseHolder(string(buf[:n])); ok {
			return h
		}
		time.Sleep(5 * time.Millisecond)
	}
	return Holder{}
}

// parseHolder reads writeHolder's text up to its end line; ok only when it is whole.
func parseHolder(s string) (Holder, bool) {
	var h Holder
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "end" {
			return h, h.PID > 0
		}
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "pid":
			h.PID, _ = strconv.Atoi(v)
		case "program":
			h.Program = v
		case "host":
			h.Host = v
		case "since":
			h.Since, _ = time.Parse(time.RFC3339, v)
		}
	}
	return h, false
}

// Unlock releases the lock and removes its file.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.store.mu.Lock()
	delete(l.store.locks, l.path)
	l.store.mu.Unlock()
	return l.release()
}

// release removes the lock file while still holding it (a program waiting on the old
// file notices it is gone and takes a new one), then closes it, which drops the flock.
func (l *Lock) release() error {
	if sameFile(l.f, l.path) {
		os.Remove(l.path)
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// holdLock makes sure the case is locked for a save: by this store already, or for the
// length of the save.
func (s *Store) holdLock(id, casePath string) (release func(), err error) {
	lp, err := lockPath(casePath)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	_, held := s.locks[lp]
	s.mu.Unlock()
	if held {
		return func() {}, nil
	}
	l, err := s.acquire(id, lp, s.Wait)
	if err != nil {
		return nil, err
	}
	return func() { l.release() }, nil
}
