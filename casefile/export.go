package casefile

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Attach hashes a file and records it as evidence of a kind (EvidenceKinds). The file
// stays where it is; the case keeps its absolute path, size and SHA-256.
func (c *Case) Attach(path, kind string, at time.Time) (File, error) {
	if !slices.Contains(EvidenceKinds, kind) {
		return File{}, fmt.Errorf("evidence kind %q is not one of %s", kind, strings.Join(EvidenceKinds, ", "))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return File{}, err
	}
	sum, size, err := hashFile(abs)
	if err != nil {
		return File{}, err
	}
	f := File{Path: abs, Kind: kind, Size: size, SHA256: sum, Added: utc(at)}
	for i, o := range c.Evidence.Files {
		if o.Path == abs {
			c.Evidence.Files[i] = f // attached again: the file may have changed
			return f, nil
		}
	}
	c.Evidence.Files = append(c.Evidence.Files, f)
	return f, nil
}

func hashFile(path string) (sum string, size int64, err error) {
	// Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	if !st.Mode().IsRegular() {
		return "", 0, fmt.Errorf("%s is not a regular file", path)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ManifestName is the bundle's list of files with their SHA-256, in sha256sum's format.
const ManifestName = "SHA256SUMS"

// ErrExportDestination marks an export refused for where it was asked to go (a file, a
// directory that is not empty): the person's input, not the case.
var ErrExportDestination = errors.New("export destination")

// Export writes the evidence bundle into dir (new, or an empty directory it replaces):
// the message, the case, the attached files and the last check results, with a SHA-256
// manifest. An attached file that changed or vanished since it was attached is an error:
// the bundle would not be what the case says. It returns the files written, relative to
// dir.
//
// The bundle is built in a directory Export creates itself (0700, beside dir) through a
// handle on it, so no link planted by path can redirect a write, then renamed to dir in
// one step: a failed export leaves nothing behind, and a directory someone filled
// meanwhile is never written into.
func Export(c *Case, dir string, m Message) ([]string, error) {
	files, err := bundle(c, m)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Lstat(abs); err == nil {
		if !st.IsDir() {
			kind := fileKind(st.Mode())
			if st.Mode().IsRegular() {
				kind = "a file"
			}
			return nil, fmt.Errorf("%w: %s exists and is %s, not a directory: export into a new directory", ErrExportDestination, dir, kind)
		}
		if entries, err := os.ReadDir(abs); err != nil || len(entries) > 0 {
			return nil, fmt.Errorf("%w: %s is not empty: export into a new directory", ErrExportDestination, dir)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	parentPath, base := filepath.Dir(abs), filepath.Base(abs)
	if err := os.MkdirAll(parentPath, 0o700); err != nil {
		return nil, err
	}
	parent, err := os.OpenRoot(parentPath)
	if err != nil {
		return nil, err
	}
	defer parent.Close()
	tmp, err := makeTempDir(parent, "."+base+".partial-")
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := writeBundle(parent, tmp, files); err != nil {
		parent.RemoveAll(tmp)
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := parent.Rename(tmp, base); err != nil {
		parent.RemoveAll(tmp)
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, fmt.Errorf("%s is not empty: export into a new directory", dir)
		}
		return nil, fmt.Errorf("export: %w", err)
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.name
	}
	return names, nil
}

type bundleFile struct {
	name string
	data []byte
}

// bundle gathers and checks everything the bundle holds before anything is written; the
// manifest comes last.
func bundle(c *Case, m Message) ([]bundleFile, error) {
	files := []bundleFile{{name: "message.txt", data: []byte(m.String())}}
	data, err := Marshal(c)
	if err != nil {
		return nil, err
	}
	files = append(files, bundleFile{"case.yaml", data})
	if len(c.Authentication) > 0 {
		data, _ := json.MarshalIndent(c.Authentication, "", "  ")
		files = append(files, bundleFile{"checks.json", append(data, '\n')})
	}
	used := map[string]bool{}
	for _, f := range c.Evidence.Files {
		data, err := readEvidence(f.Path)
		if err != nil {
			return nil, fmt.Errorf("evidence %s: %w", f.Path, err)
		}
		if s := sha256.Sum256(data); hex.EncodeToString(s[:]) != f.SHA256 {
			return nil, fmt.Errorf("evidence %s changed since it was attached (SHA-256 differs): attach it again", f.Path)
		}
		name := "evidence/" + filepath.Base(f.Path)
		for n := 2; used[name]; n++ {
			name = fmt.Sprintf("evidence/%d-%s", n, filepath.Base(f.Path))
		}
		used[name] = true
		files = append(files, bundleFile{name, data})
	}
	slices.SortFunc(files, func(a, b bundleFile) int { return strings.Compare(a.name, b.name) })
	var b strings.Builder
	for _, f := range files {
		s := sha256.Sum256(f.data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(s[:]), f.name)
	}
	return append(files, bundleFile{ManifestName, []byte(b.String())}), nil
}

// readEvidence reads an attached file, refusing what is not a regular file.
func readEvidence(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s, not a regular file", path, fileKind(st.Mode()))
	}
	return io.ReadAll(f)
}

// makeTempDir creates a new directory of ours in parent, named prefix and a random tail.
func makeTempDir(parent *os.Root, prefix string) (string, error) {
	for range 100 {
		var r [6]byte
		rand.Read(r[:])
		name := prefix + hex.EncodeToString(r[:])
		err := parent.Mkdir(name, 0o700)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", errors.New("could not create a temporary directory")
}

// writeBundle writes the files into dir (in parent) through a handle on it: every file
// is created exclusively, no link is followed out of it.
func writeBundle(parent *os.Root, dir string, files []bundleFile) error {
	root, err := parent.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	// The handle must be the directory just made: ours, private.
	st, err := root.Stat(".")
	if err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || int(sys.Uid) != os.Geteuid() || st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("the temporary directory %s is not the one created", dir)
	}
	made := map[string]bool{}
	for _, f := range files {
		if d := filepath.Dir(f.name); d != "." && !made[d] {
			if err := root.Mkdir(d, 0o700); err != nil {
				return err
			}
			made[d] = true
		}
		w, err := root.OpenFile(f.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if exportHook != nil {
			exportHook(f.name)
		}
		_, err = w.Write(f.data)
		if err == nil {
			err = w.Sync()
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// exportHook lets a test act half-way through writing a bundle.
var exportHook func(name string)
