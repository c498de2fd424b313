package casefile

// The store attacked as a second user of the machine would (planted links, FIFOs,
// hostile case files) and raced by several writers (issue 12). Each test is bounded to
// seconds so it runs in CI.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// precious is a file a planted link points at; it must come out as it went in.
func precious(t *testing.T) (string, func()) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "precious")
	want := []byte("years of work\n")
	if err := os.WriteFile(p, want, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, func() {
		t.Helper()
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, want) {
			t.Errorf("the planted link's target was touched: %q, %v", got, err)
		}
	}
}

func TestPlantedLockLinkIsNotFollowed(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	target, intact := precious(t)
	lp := filepath.Join(s.Dir(), "."+c.ID+".lock")
	if err := os.Symlink(target, lp); err != nil {
		t.Fatal(err)
	}
	_, err := s.Edit(c.ID, func(c *Case) error { c.Scope.Volume = "1"; return nil })
	if err == nil || !strings.Contains(err.Error(), "symbolic link") || !strings.Contains(err.Error(), lp) {
		t.Errorf("edit through a planted lock link: %v", err)
	}
	if _, err := s.Lock(c.ID); err == nil {
		t.Error("Lock took a planted link")
	}
	intact()

	// A hard link to the victim, planted in its place.
	os.Remove(lp)
	if err := os.Link(target, lp); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Edit(c.ID, func(c *Case) error { c.Scope.Volume = "1"; return nil }); err == nil || !strings.Contains(err.Error(), "names") {
		t.Errorf("edit through a planted hard link: %v", err)
	}
	intact()
}

func TestLockFilesAreCleanedUp(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	for i := range 3 {
		if _, err := s.Edit(c.ID, func(c *Case) error { c.Scope.Volume = fmt.Sprint(i); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.Lock(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	left, _ := filepath.Glob(filepath.Join(s.Dir(), ".*.lock"))
	for _, f := range left {
		if filepath.Base(f) != storeLockName {
			t.Errorf("left behind: %s", f)
		}
	}
	if st, err := os.Stat(filepath.Join(s.Dir(), storeLockName)); err == nil {
		t.Errorf("the store lock is left behind (%d bytes)", st.Size())
	}
	names, _ := os.ReadDir(s.Dir())
	for _, n := range names {
		if n.Name() != c.ID+ext && strings.HasSuffix(n.Name(), ext) {
			t.Errorf("a file beside the cases ends in .yaml: %s", n.Name())
		}
	}
}

// Two stores in one process open the lock file separately, as two programs would: the
// refused one is always told who holds it, however the holder's lock and unlock race
// with it, and never both hold it.
func TestLockErrorAlwaysNamesHolder(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	other, _ := Open(s.Dir())
	var held sync.Mutex // what the flock must mirror
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if l, err := s.Lock(c.ID); err == nil {
				if !held.TryLock() {
					t.Error("both stores hold the lock")
				}
				time.Sleep(200 * time.Microsecond)
				held.Unlock()
				l.Unlock()
			}
		}
	})
	refused, anonymous := 0, 0
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		l, err := other.Lock(c.ID)
		var le *LockedError
		switch {
		case err == nil:
			if !held.TryLock() {
				t.Error("both stores hold the lock")
			} else {
				held.Unlock()
			}
			l.Unlock()
		case errors.As(err, &le):
			refused++
			if le.Holder.PID != os.Getpid() {
				anonymous++
			}
		default:
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if refused == 0 || anonymous > 0 {
		t.Errorf("%d refusals, %d without the holder", refused, anonymous)
	}
	t.Logf("%d refusals, all naming the holder", refused)
}

func TestWaitForLock(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	l, err := s.Lock(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := Open(s.Dir())
	if _, err := other.Edit(c.ID, func(*Case) error { return nil }); !errors.As(err, new(*LockedError)) {
		t.Fatalf("--wait 0: %v", err)
	}
	other.Wait = 5 * time.Second
	go func() { time.Sleep(150 * time.Millisecond); l.Unlock() }()
	start := time.Now()
	if _, err := other.Edit(c.ID, func(c *Case) error { c.Scope.Volume = "waited"; return nil }); err != nil {
		t.Fatalf("--wait 5s: %v", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 3*time.Second {
		t.Errorf("waited %s", d)
	}
}

// The TUI opens a case by Resolve+LockPath, the command line by Edit; a case whose file
// was renamed (its id no longer its name), or reached through a linked directory, is
// still one lock.
func TestOneLockHoweverTheCaseIsNamed(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	renamed := filepath.Join(s.Dir(), "renamed"+ext)
	if err := os.Rename(c.Path(), renamed); err != nil {
		t.Fatal(err)
	}
	path, err := s.Resolve("renamed")
	if err != nil {
		t.Fatal(err)
	}
	tui, err := s.LockPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer tui.Unlock()
	cli, _ := Open(s.Dir())
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(s.Dir(), link); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"renamed", renamed, filepath.Join(link, "renamed"+ext)} {
		if _, err := cli.Edit(ref, func(*Case) error { return nil }); !errors.As(err, new(*LockedError)) {
			t.Errorf("edit %s while the TUI holds it: %v", ref, err)
		}
	}
}

func TestSpecialFilesAreSkipped(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	fifo := filepath.Join(s.Dir(), "fifo"+ext)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(s.Dir(), "zero"+ext)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sums, err := s.Summaries()
		if len(sums) != 1 || sums[0].ID != c.ID {
			t.Errorf("summaries: %+v", sums)
		}
		if err == nil || !strings.Contains(err.Error(), "fifo.yaml is a FIFO") || !strings.Contains(err.Error(), "zero.yaml is a symbolic link") {
			t.Errorf("summaries did not warn about the special files: %v", err)
		}
		if cases, err := s.List(); len(cases) != 1 || err == nil {
			t.Errorf("list: %d cases, %v", len(cases), err)
		}
		n := bigCase(1)
		n.Identifiers.IPs = []string{"198.51.100.7"}
		if err := s.Create(n, false); err != nil {
			t.Errorf("new beside a FIFO: %v", err)
		}
		for _, ref := range []string{"fifo", "zero"} {
			if _, err := s.Find(ref); err == nil || !errors.Is(err, ErrUnloadable) {
				t.Errorf("find %s: %v", ref, err)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("hung on a FIFO")
	}
}

func TestOversizedCaseIsRefused(t *testing.T) {
	s := testStore(t)
	newPDRCase(t, s)
	big := filepath.Join(s.Dir(), "big"+ext)
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("schema: 1\nid: big\n")
	f.Truncate(MaxCaseSize + 1) // sparse: costs no disk
	f.Close()
	_, err = s.Find("big")
	if err == nil || !strings.Contains(err.Error(), "larger than a case file may be") {
		t.Errorf("load of a file over the limit: %v", err)
	}
}

func TestHostileIDIsRefused(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	data, _ := os.ReadFile(c.Path())
	for _, id := range []string{"../../x", "a/b", ".hidden", "..", "x\\y", "a..b"} {
		bad := strings.Replace(string(data), "id: "+c.ID, fmt.Sprintf("id: %q", id), 1)
		p := writeCase(t, s, "hostile"+ext, bad)
		_, err := s.Find(p)
		if err == nil || !strings.Contains(err.Error(), "field id") || !strings.Contains(err.Error(), "hostile.yaml:") {
			t.Errorf("id %q: %v", id, err)
		}
	}
	if _, err := s.Lock("../x"); err == nil {
		t.Error("Lock took an id with a path in it")
	}
}

func TestDirectoryWritableByOthersIsRefused(t *testing.T) {
	s := testStore(t)
	newPDRCase(t, s)
	if err := os.Chmod(s.Dir(), 0o777); err != nil {
		t.Fatal(err)
	}
	fix := "chmod go-w " + s.Dir()
	if _, err := s.Summaries(); err == nil || !strings.Contains(err.Error(), fix) {
		t.Errorf("list: %v", err)
	}
	if err := s.Create(bigCase(1), true); err == nil || !strings.Contains(err.Error(), fix) {
		t.Errorf("new: %v", err)
	}
	if _, err := s.Edit("2026", func(*Case) error { return nil }); err == nil || !strings.Contains(err.Error(), fix) {
		t.Errorf("edit: %v", err)
	}
	os.Chmod(s.Dir(), 0o700)
	if _, err := s.Summaries(); err != nil {
		t.Errorf("after the chmod: %v", err)
	}
}

func TestExportNeverWritesThroughPlantedLinks(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	m, err := Render(c, "", RenderOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	target, intact := precious(t)
	out := filepath.Join(t.TempDir(), "bundle")

	// A directory someone filled with links before the export.
	os.Mkdir(out, 0o755)
	os.Symlink(target, filepath.Join(out, ManifestName))
	if _, err := Export(c, out, m); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into a directory holding a link: %v", err)
	}
	intact()

	// An empty directory, filled with links while the export runs.
	os.Remove(filepath.Join(out, ManifestName))
	exportHook = func(string) { os.Symlink(target, filepath.Join(out, ManifestName)) }
	defer func() { exportHook = nil }()
	if _, err := Export(c, out, m); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export racing a planted link: %v", err)
	}
	intact()
	exportHook = nil
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".bundle.partial-*")); len(left) > 0 {
		t.Errorf("a failed export left %v", left)
	}

	// An evidence file that changed: nothing at all is written.
	ev := filepath.Join(t.TempDir(), "bounce.eml")
	os.WriteFile(ev, []byte("one"), 0o600)
	if _, err := c.Attach(ev, "bounce", t0); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(ev, []byte("two"), 0o600)
	fresh := filepath.Join(t.TempDir(), "fresh")
	if _, err := Export(c, fresh, m); err == nil {
		t.Error("export with a changed evidence file succeeded")
	}
	if _, err := os.Lstat(fresh); err == nil {
		t.Error("a failed export left a partial bundle")
	}

	// And the export that should work, does, with a manifest that checks out.
	os.WriteFile(ev, []byte("one"), 0o600)
	files, err := Export(c, fresh, m)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 || files[len(files)-1] != ManifestName {
		t.Errorf("files %v", files)
	}
	if st, err := os.Stat(filepath.Join(fresh, "evidence", "bounce.eml")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("evidence in the bundle: %v", err)
	}
}

func TestWriteNewFileNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	target, intact := precious(t)
	name := filepath.Join(dir, "case-update.txt")
	os.Symlink(target, name)
	os.WriteFile(filepath.Join(dir, "case-update-2.txt"), []byte("earlier"), 0o600)
	got, err := WriteNewFile(name, []byte("the message"))
	if err != nil || got != filepath.Join(dir, "case-update-3.txt") {
		t.Fatalf("wrote %s, %v", got, err)
	}
	intact()
	if b, _ := os.ReadFile(filepath.Join(dir, "case-update-2.txt")); string(b) != "earlier" {
		t.Error("an existing file was overwritten")
	}
}

// attackRounds is how many rounds a race test runs: UNBLOCK_ATTACK_ROUNDS, else def
// (bounded for CI; each round costs the fsyncs of a save).
func attackRounds(def int) int {
	if n, err := strconv.Atoi(os.Getenv("UNBLOCK_ATTACK_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return def
}

// Two `new` for one IP at the same instant, round after round: one case each round.
// UNBLOCK_ATTACK_ROUNDS=200 is the figure.
func TestConcurrentNewMakesNoDuplicates(t *testing.T) {
	s := testStore(t)
	const racers = 3
	rounds := attackRounds(50)
	for r := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, racers)
		for i := range racers {
			st, _ := Open(s.Dir())
			st.Now = s.Now
			wg.Go(func() {
				c := bigCase(1)
				c.Identifiers.IPs = []string{fmt.Sprintf("198.51.%d.%d", r/256, r%256)}
				errs[i] = st.Create(c, false)
			})
		}
		wg.Wait()
		created := 0
		for _, err := range errs {
			var de *DuplicateError
			switch {
			case err == nil:
				created++
			case !errors.As(err, &de):
				t.Fatalf("round %d: %v", r, err)
			}
		}
		if created != 1 {
			t.Fatalf("round %d: %d cases for one IP", r, created)
		}
	}
	sums, err := s.Summaries()
	if err != nil || len(sums) != rounds {
		t.Errorf("%d cases, %v", len(sums), err)
	}
}

// The same across processes: 4 helpers each create a case for the same 25 IPs.
func TestConcurrentNewAcrossProcesses(t *testing.T) {
	s := testStore(t)
	os.MkdirAll(s.Dir(), 0o700)
	var wg sync.WaitGroup
	for range 4 {
		cmd := runHelper(t, "create-25", s.Dir(), "", nil, "")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		wg.Go(func() {
			if err := cmd.Run(); err != nil {
				t.Errorf("helper: %v\n%s", err, out.String())
			}
		})
	}
	wg.Wait()
	sums, err := s.Summaries()
	if err != nil || len(sums) != 25 {
		t.Errorf("%d cases for 25 IPs, %v", len(sums), err)
	}
}

// kill -9 in the middle of edits, over and over: the case always loads and holds every
// edit that reported success (the helper prints the note count after each save).
func TestKilledWritersLoseNothing(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	for round := range attackRounds(10) {
		cmd := runHelper(t, "edit-loop", s.Dir(), c.ID, nil, "")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		saved := -1
		done := make(chan struct{})
		first := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, err := strconv.Atoi(sc.Text()); err == nil {
					mu.Lock()
					if saved < 0 {
						close(first)
					}
					saved = n
					mu.Unlock()
				}
			}
		}()
		// Kill it once it is writing (a loaded machine starts a process slowly), at a
		// moment that varies from round to round.
		select {
		case <-first:
		case <-done:
		case <-time.After(10 * time.Second):
		}
		time.Sleep(time.Duration(round%10*7) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		cmd.Wait()
		got, err := s.Find(c.ID)
		if err != nil {
			t.Fatalf("round %d: the case no longer loads: %v", round, err)
		}
		n := len(got.Evidence.Notes)
		if n < saved || n > saved+1 && saved >= 0 {
			t.Fatalf("round %d: %d notes on disk, the killed writer reported %d saved", round, n, saved)
		}
	}
	final, _ := s.Find(c.ID)
	if final == nil || len(final.Evidence.Notes) == 0 {
		t.Fatal("no edit was saved before the kills: the test proved nothing")
	}
	t.Logf("%d edits saved across the kills", len(final.Evidence.Notes))
	if sums, err := s.Summaries(); err != nil || len(sums) != 1 {
		t.Errorf("after the kills: %d cases, %v", len(sums), err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(s.Dir(), "*.tmp")); len(tmp) > 1 {
		t.Errorf("temporary files pile up: %v", tmp)
	}
}

// N writers at once: no update is lost.
func TestConcurrentWritersLoseNoUpdate(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		st, _ := Open(s.Dir())
		st.Now = s.Now
		st.Wait = 30 * time.Second
		wg.Go(func() {
			for i := range each {
				if _, err := st.Edit(c.ID, func(c *Case) error {
					c.Evidence.Notes = append(c.Evidence.Notes, Note{At: t0, Text: fmt.Sprintf("w%d-%d", w, i)})
					return nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.Find(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Evidence.Notes) != writers*each {
		t.Errorf("%d notes, want %d", len(got.Evidence.Notes), writers*each)
	}
}

func TestIndexIsRebuiltWhenItDisagrees(t *testing.T) {
	s := testStore(t)
	c := bigCase(2)
	if err := s.Create(c, false); err != nil {
		t.Fatal(err)
	}
	if sums, err := s.Summaries(); err != nil || len(sums) != 1 || sums[0].Title != c.Title {
		t.Fatalf("%+v %v", sums, err)
	}
	idx := filepath.Join(s.Dir(), indexName)
	if _, err := os.Stat(idx); err != nil {
		t.Fatal("no index written")
	}
	// Edited in place by hand, same size, mtime put back: the ctime still tells.
	st, _ := os.Stat(c.Path())
	data, _ := os.ReadFile(c.Path())
	edited := bytes.Replace(data, []byte("title: PDR"), []byte("title: XYZ"), 1)
	f, _ := os.OpenFile(c.Path(), os.O_WRONLY, 0)
	f.WriteAt(edited, 0)
	f.Close()
	os.Chtimes(c.Path(), st.ModTime(), st.ModTime())
	if sums, _ := s.Summaries(); len(sums) != 1 || !strings.HasPrefix(sums[0].Title, "XYZ") {
		t.Errorf("after an edit in place: %+v", sums)
	}
	// A damaged index is rebuilt, not believed.
	os.WriteFile(idx, []byte("garbage\tmore\n"), 0o600)
	if sums, err := s.Summaries(); err != nil || len(sums) != 1 || sums[0].ID != c.ID {
		t.Errorf("with a damaged index: %+v %v", sums, err)
	}
	// A file that does not load is reported from the index as from the file.
	writeCase(t, s, "broken"+ext, "schema: 1\nid: broken\nstatus: nonsense\n")
	for range 2 {
		if _, err := s.Summaries(); err == nil || !strings.Contains(err.Error(), "broken.yaml") {
			t.Errorf("broken file: %v", err)
		}
	}
	// A case removed is gone from the answer.
	os.Remove(c.Path())
	if sums, _ := s.Summaries(); len(sums) != 0 {
		t.Errorf("after removal: %+v", sums)
	}
}
