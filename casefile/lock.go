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
// It is an flock on a hidden sidecar file, so it dies with the process that held it.
type Lock struct {
	store *Store
	id    string
	f     *os.File
}

// Lock takes the lock of the case with this id, or fails at once with a *LockedError.
func (s *Store) Lock(id string) (*Lock, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, held := s.locks[id]; held {
		return nil, fmt.Errorf("case %s is already open for editing in this program", id)
	}
	l, err := s.lock(id)
	if err != nil {
		return nil, err
	}
	s.locks[id] = l
	return l, nil
}

func (s *Store) lockPath(id string) string { return filepath.Join(s.dir, "."+id+".lock") }

func (s *Store) lock(id string) (*Lock, error) {
	if err := s.mkdir(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(s.lockPath(id), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking case %s: %w", id, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			data, _ := os.ReadFile(s.lockPath(id))
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
	return &Lock{store: s, id: id, f: f}, nil
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
	delete(l.store.locks, l.id)
	l.store.mu.Unlock()
	l.f.Truncate(0)
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}

// holdLock makes sure the case is locked for a save: by this store already, or for the
// length of the save.
func (s *Store) holdLock(id string) (release func(), err error) {
	s.mu.Lock()
	_, held := s.locks[id]
	s.mu.Unlock()
	if held {
		return func() {}, nil
	}
	l, err := s.lock(id)
	if err != nil {
		return nil, err
	}
	return func() { l.f.Truncate(0); l.f.Close() }, nil
}
