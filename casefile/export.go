package casefile

import (
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
	f, err := os.Open(path)
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

// Export writes the evidence bundle into dir (new or empty): the message, the case, the
// attached files and the last check results, with a SHA-256 manifest. An attached file
// that changed or vanished since it was attached is an error: the bundle would not be
// what the case says. It returns the files written, relative to dir.
func Export(c *Case, dir string, m Message) ([]string, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: export into a new directory", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	sums := map[string]string{}
	put := func(name string, data []byte) error {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
		s := sha256.Sum256(data)
		sums[name] = hex.EncodeToString(s[:])
		return nil
	}
	if err := put("message.txt", []byte(m.String())); err != nil {
		return nil, err
	}
	data, err := Marshal(c)
	if err != nil {
		return nil, err
	}
	if err := put("case.yaml", data); err != nil {
		return nil, err
	}
	if len(c.Authentication) > 0 {
		data, _ := json.MarshalIndent(c.Authentication, "", "  ")
		if err := put("checks.json", append(data, '\n')); err != nil {
			return nil, err
		}
	}
	used := map[string]bool{}
	for _, f := range c.Evidence.Files {
		data, err := os.ReadFile(f.Path)
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
		if err := put(name, data); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s  %s\n", sums[n], n)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestName), []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return append(names, ManifestName), nil
}
