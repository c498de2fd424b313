//go:build unix

package triage

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/unblock-mail/unblock/casefile/triage/maillog"
	"github.com/unblock-mail/unblock/casefile/triage/maillog/maillogtest"
)

// A large log file is mapped, not read, and says exactly what the same bytes say through
// a pipe, with the progress counted to its last byte; one cut short under the read
// (copytruncate) is an input error that names it, never a crash.
func TestMappedLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	data, err := io.ReadAll(maillogtest.NewPostfix(11, 4<<20))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	opts := Options{Year: 2026, Location: time.UTC}
	ctx := context.Background()

	var progress int64
	mapped := opts
	mapped.Progress = func(n int64) { progress = n }
	probe := NewReader(opts)
	in, err := probe.openFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if ml := probe.mapLog(in); ml == nil {
		t.Fatal("a 4 MB log file is not mapped")
	} else {
		ml.close(0)
	}
	in.close()
	rd := NewReader(mapped)
	if err := rd.ReadInputs(ctx, []string{path}, nil); err != nil {
		t.Fatal(err)
	}
	if progress != int64(len(data)) {
		t.Errorf("progress ended at %d of %d bytes", progress, len(data))
	}

	piped := NewReader(opts)
	pr, pw := io.Pipe()
	go func() { pw.Write(data); pw.Close() }()
	if err := piped.Read(ctx, path, pr); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(rd.Report())
	want, _ := json.Marshal(piped.Report())
	if len(rd.Report().Findings) == 0 || string(got) != string(want) {
		t.Errorf("the mapped log's report differs from the piped one's (%d and %d bytes of JSON)", len(got), len(want))
	}

	cut := NewReader(Options{Year: 2026, Location: time.UTC, OnFinding: func(Finding) error {
		return os.Truncate(path, 0)
	}})
	err = cut.ReadInputs(ctx, []string{path}, nil)
	var ie *InputError
	if !errors.As(err, &ie) || ie.Name != path || ie.Reason != maillog.ErrShrank.Error() {
		t.Errorf("a log cut short under the read: %v", err)
	}
}

// Standard input redirected from a file is mapped like a file, and left read to its end, as
// reading it would leave it: what runs after on the same input sees nothing left.
func TestMappedStdinLeftRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	data, err := io.ReadAll(maillogtest.NewPostfix(13, 2<<20))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, data, 0o600)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	skip := int64(1000)
	f.Seek(skip, io.SeekStart) // a shell that read some of it first
	rd := NewReader(Options{Year: 2026, Location: time.UTC})
	if err := rd.ReadInputs(context.Background(), []string{"-", "-"}, f); err != nil {
		t.Fatal(err)
	}
	if pos, _ := f.Seek(0, io.SeekCurrent); pos != int64(len(data)) {
		t.Errorf("standard input left at %d of %d bytes", pos, len(data))
	}
	rep := rd.Report()
	if len(rep.Inputs) != 1 || rep.Inputs[0].Bytes != int64(len(data))-skip {
		t.Errorf("inputs %+v, want one of %d bytes", rep.Inputs, int64(len(data))-skip)
	}
}

// --follow refuses what does not grow as a file does, before reading anything: a FIFO
// (whose opening would wait for a writer, deaf to ctrl-c) and a folder.
func TestFollowRefusesNonFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{fifo, dir} {
		rd := NewReader(Options{Follow: true})
		err := rd.ReadInputs(context.Background(), []string{arg}, nil)
		var ie *InputError
		if !errors.As(err, &ie) || ie.Name != arg || !strings.Contains(ie.Reason, "--follow") {
			t.Errorf("--follow %s: %v", arg, err)
		}
	}
}
