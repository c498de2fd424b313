package casefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxCaseSize is the largest case file this program reads: 64 MiB, about twice a
// 100,000-event timeline. A bigger file is refused with an error saying so, instead of
// being read whole into memory (a case file may come from someone else, or be a link
// to something endless).
const MaxCaseSize = 64 << 20

// ErrUnloadable marks the errors of a case file that could not be read or parsed: the
// file is at fault, not the program.
var ErrUnloadable = errors.New("the case file does not load")

type unloadable struct{ err error }

func (e unloadable) Error() string        { return e.err.Error() }
func (e unloadable) Unwrap() error        { return e.err }
func (e unloadable) Is(target error) bool { return target == ErrUnloadable }

// readCaseFile reads a case file safely: never through a symbolic link, never from a FIFO
// or a device (opened non-blocking so a FIFO cannot hang the program), never more than
// limit bytes.
func readCaseFile(path string, limit int64) ([]byte, fs.FileInfo, error) {
	f, err := openNoFollow(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if err := regularFile(path, st); err != nil {
		return nil, nil, err
	}
	if st.Size() > limit {
		return nil, nil, fmt.Errorf("%s: %s is larger than a case file may be (%s): not reading it", path, sizeText(st.Size()), sizeText(limit))
	}
	// Sized from the stat, one byte over to see a file that grew: no doubling copies
	// of a 30 MB timeline.
	data := make([]byte, 0, st.Size()+1)
	for int64(len(data)) <= limit {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := f.Read(data[len(data):min(cap(data), int(limit+1))])
		data = data[:len(data)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	if int64(len(data)) > limit {
		return nil, nil, fmt.Errorf("%s: grew past %s while being read: not reading it", path, sizeText(limit))
	}
	return data, st, nil
}

// openNoFollow opens path without following a symbolic link in its last component, and
// says so clearly when there is one.
func openNoFollow(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link: unblock does not follow links in the case directory (name the file itself, or remove the link)", path)
	}
	return f, err
}

// regularFile refuses what is not a plain file: reading a FIFO blocks forever, a device
// may never end.
func regularFile(path string, st fs.FileInfo) error {
	if st.Mode().IsRegular() {
		return nil
	}
	return fmt.Errorf("%s is %s, not a case file: skipped", path, fileKind(st.Mode()))
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	}
	return "not a regular file"
}

func sizeText(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// checkPrivateDir refuses a directory that another user may write into: whoever can
// create names in it can plant links where unblock writes. A directory that does not
// exist yet is fine (it is created 0700).
func checkPrivateDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("case directory %s is not a directory", dir)
	}
	// Like ssh with ~/.ssh: the owner must be the user or root (who can do anything anyway).
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Geteuid() && sys.Uid != 0 {
		return fmt.Errorf("case directory %s belongs to another user (uid %d): use a directory of your own (--dir or UNBLOCK_DIR)", dir, sys.Uid)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("case directory %s may be written by other users (mode %04o): refusing to use it; fix it with: chmod go-w %s", dir, st.Mode().Perm(), shellQuote(dir))
	}
	return nil
}

var shellSafe = lazyRegexp(`^[A-Za-z0-9_./+:=@%-]+$`)

func shellQuote(s string) string {
	if shellSafe().MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, `'`, `'\''`) + "'"
}

// validID is what an id may be: it names a file in the case directory and other files
// beside it (locks, saved messages), so no separators, no leading dot, nothing a shell or
// a terminal treats specially.
var validID = lazyRegexp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

func checkID(id string) error {
	if !validID().MatchString(id) || strings.Contains(id, "..") {
		return fmt.Errorf("field id: %q is not a case id (letters, digits, '.', '_' and '-', at most 100, no '..')", id)
	}
	return nil
}

// WriteNewFile writes data to a file that did not exist: path itself, else path with -2,
// -3 … before its extension. It never replaces a file and never follows a link (the
// file is created exclusively). It returns the path written.
func WriteNewFile(path string, data []byte) (string, error) {
	ext := filepath.Ext(path)
	stem := strings.TrimSuffix(path, ext)
	for n := 1; n <= 100; n++ {
		p := path
		if n > 1 {
			p = fmt.Sprintf("%s-%d%s", stem, n, ext)
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
			return "", err
		}
		return p, nil
	}
	return "", fmt.Errorf("%s and 99 numbered variants exist already: not overwriting any", path)
}
