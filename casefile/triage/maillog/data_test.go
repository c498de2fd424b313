//go:build unix

package maillog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unblock-mail/unblock/casefile/triage/maillog/maillogtest"
)

// readBoth reads a log with ReadData or, when data is nil, with ReadFormat from r.
func readBoth(t *testing.T, f Format, data []byte, r io.Reader, opt Options) ([]Event, Result, error) {
	t.Helper()
	var evs []Event
	fn := func(e Event) error { evs = append(evs, e); return nil }
	if data != nil {
		res, err := ReadData(f, data, opt, fn)
		return evs, res, err
	}
	res, err := ReadFormat(f, r, opt, fn)
	return evs, res, err
}

// A log in memory reads as the same log from a reader: every event, line, count and
// assumption, for the genuine Postfix and Exim logs, a generated log of many chunks, lines
// ending in CR LF, a last line without its end, and a line too long.
func TestReadDataAsReader(t *testing.T) {
	genuine := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	gen, err := io.ReadAll(maillogtest.NewPostfix(3, 3<<20))
	if err != nil {
		t.Fatal(err)
	}
	postfix := genuine("testdata/postfix-3.7.11/maillog")
	long := append(append(append([]byte(nil), gen[:len(gen)/2]...), bytes.Repeat([]byte("x"), MaxLine+10)...), '\n')
	for _, c := range []struct {
		name string
		f    Format
		data []byte
	}{
		{"postfix", Postfix, postfix},
		{"exim", Exim, genuine("testdata/exim-4.96/mainlog")},
		{"generated", Postfix, gen},
		{"crlf", Postfix, bytes.ReplaceAll(postfix, []byte("\n"), []byte("\r\n"))},
		{"no last line end", Postfix, bytes.TrimSuffix(gen, []byte("\n"))},
		{"long line", Postfix, long},
	} {
		opt := Options{Name: c.name, Year: 2026, Location: time.UTC, Counting: true}
		wantEvs, wantRes, wantErr := readBoth(t, c.f, nil, bytes.NewReader(c.data), opt)
		var progress int64
		opt.Progress = func(n int64) { progress = n }
		gotEvs, gotRes, gotErr := readBoth(t, c.f, c.data, nil, opt)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Errorf("%s: error %v, from a reader %v", c.name, gotErr, wantErr)
		}
		if wantErr == nil && (gotRes.Bytes != int64(len(c.data)) || progress != gotRes.Bytes) {
			t.Errorf("%s: %d bytes read, %d in progress, of %d", c.name, gotRes.Bytes, progress, len(c.data))
		}
		gotRes.Bytes, wantRes.Bytes = 0, 0
		if !reflect.DeepEqual(gotRes, wantRes) {
			t.Errorf("%s: result\n got %+v\nwant %+v", c.name, gotRes, wantRes)
		}
		if len(wantEvs) == 0 || !reflect.DeepEqual(gotEvs, wantEvs) {
			t.Errorf("%s: %d events, from a reader %d (or they differ)", c.name, len(gotEvs), len(wantEvs))
		}
	}
}

// A mapped log cut short while it is read (logrotate's copytruncate) ends the read with
// ErrShrank: the pages that went away are never a crash.
func TestReadDataShrank(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	gen, err := io.ReadAll(maillogtest.NewPostfix(5, 16<<20))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, gen, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := unix.Mmap(int(f.Fd()), 0, len(gen), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(data)
	truncated := false
	n := 0
	_, err = ReadData(Postfix, data, Options{Name: "mail.log", Year: 2026, Location: time.UTC}, func(Event) error {
		n++
		if !truncated {
			truncated = true
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	if !errors.Is(err, ErrShrank) {
		t.Fatalf("read %d events of a log truncated under it: error %v, want ErrShrank", n, err)
	}
	if n == 0 || n >= 100000 {
		t.Errorf("%d events before the end", n)
	}
}
