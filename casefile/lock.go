package casefile

import (
	"errors"
	"fmt"
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
		return "another program"
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
	return fmt.Sprintf("case %s is open for editing in %s: close it there first", e.ID, e.Holder)
}

// Lock is an advisory lock on one case: a program that has a case open for editing (the
// TUI) holds it, and every other writer is refused with a *LockedError naming the holder.
// It is an flock on a hidden sidecar file next to the case file (.ID.lock), so it dies
// with the process that held it and is the same lock however the case was named.
type Lock struct {
	store *Store
	id    string
	path  string // the lock file
	f     *os.File
}

// Lock takes the lock of the case with this id in the store, or fails at once with a
// *LockedError.
func (s *Store) Lock(id string) (*Lock, error) { return s.lockCase(id, s.PathOf(id)) }

// LockCase takes the lock of a loaded case, wherever its file is.
func (s *Store) LockCase(c *Case) (*Lock, error) { return s.lockCase(c.ID, c.filePath(s)) }

func (c *Case) filePath(s *Store) string {
	if c.path != "" {
		return c.path
	}
	return s.PathOf(c.ID)
}

func (s *Store) lockCase(id, casePath string) (*Lock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lp := lockPath(casePath)
	if _, held := s.locks[lp]; held {
		return nil, fmt.Errorf("case %s is already open for editing in this program", id)
	}
	l, err := s.lock(id, lp)
	if err != nil {
		return nil, err
	}
	s.locks[lp] = l
	return l, nil
}

// lockPath is the sidecar lock file of a case file.
func lockPath(casePath string) string {
	return filepath.Join(filepath.Dir(casePath), "."+strings.TrimSuffix(filepath.Base(casePath), ext)+".lock")
}

func (s *Store) lock(id, lp string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(lp), 0o700); err != nil {
		return nil, fmt.Errorf("creating the case directory: %w", err)
	}
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking case %s: %w", id, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			data, _ := os.ReadFile(lp)
			return nil, &LockedError{ID: id, Holder: parseHolder(string(data))}
		}
		return nil, fmt.Errorf("locking case %s: %w", id, err)
	}
	host, _ := os.Hostname()
	h := fmt.Sprintf("pid: %d\nprogram: %s\nhost: %s\nsince: %s\n",
		os.Getpid(), filepath.Base(os.Args[0]), host, time.Now().UTC().Format(time.RFC3339))
	// The holder's details are a courtesy to the refused program; failing to write them
	// does not make the lock less held.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(h), 0)
	}
	return &Lock{store: s, id: id, path: lp, f: f}, nil
}

func parseHolder(s string) Holder {
	var h Holder
	for line := range strings.Lines(s) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok {
			continue
		}
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
	return h
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.store.mu.Lock()
	delete(l.store.locks, l.path)
	l.store.mu.Unlock()
	l.f.Truncate(0)
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}

// holdLock makes sure the case is locked for a save: by this store already, or for the
// length of the save.
func (s *Store) holdLock(id, casePath string) (release func(), err error) {
	lp := lockPath(casePath)
	s.mu.Lock()
	_, held := s.locks[lp]
	s.mu.Unlock()
	if held {
		return func() {}, nil
	}
	l, err := s.lock(id, lp)
	if err != nil {
		return nil, err
	}
	return func() { l.f.Truncate(0); l.f.Close() }, nil
}
