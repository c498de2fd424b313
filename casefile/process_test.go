package casefile

// Tests that need another process: a second writer, a save killed half-way, a user who
// may not write the directory, a full disk. The test binary re-executes itself with
// CASEFILE_HELPER naming the part to play.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/unblock-mail/unblock/checks/dialer"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

func TestMain(m *testing.M) {
	if role := os.Getenv("CASEFILE_HELPER"); role != "" {
		if err := helper(role, os.Getenv("CASEFILE_DIR"), os.Getenv("CASEFILE_ID")); err != nil {
			fmt.Println("helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(dialer.TestMain(m)) // the live checks of messages dial loopback only

}

func helper(role, dir, id string) error {
	s, err := Open(dir)
	if err != nil {
		return err
	}
	switch role {
	case "hold-lock":
		l, err := s.Lock(id)
		if err != nil {
			return err
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin) // hold it until the parent closes our stdin
		return l.Unlock()
	case "pause-save":
		c, err := s.Find(id)
		if err != nil {
			return err
		}
		c.Title = "the save that never finished"
		saveHook = func(string) {
			fmt.Println("paused")
			select {} // wait here to be killed
		}
		return s.Save(c)
	case "unprivileged":
		c, err := s.Find(id)
		if err != nil {
			return err
		}
		c.Title = "changed by a user who may not write here"
		err = s.Save(c)
		if err == nil {
			return errors.New("saved where it may not write")
		}
		fmt.Println(err)
		n := &Case{Provider: "cloudmark"}
		n.Identifiers.IPs = []string{"198.51.100.1"}
		if err := s.Create(n, false); err == nil {
			return errors.New("created a case where it may not write")
		} else {
			fmt.Println(err)
		}
		return nil
	case "full-disk":
		return fullDisk(dir)
	case "create-25":
		for i := range 25 {
			c := &Case{Provider: "proofpoint", Title: "raced"}
			c.Identifiers.IPs = []string{fmt.Sprintf("198.51.100.%d", i)}
			var de *DuplicateError
			if err := s.Create(c, false); err != nil && !errors.As(err, &de) {
				return err
			}
		}
		return nil
	case "edit-loop":
		fmt.Println("editing")
		for i := 0; ; i++ {
			c, err := s.Edit(id, func(c *Case) error {
				c.Evidence.Notes = append(c.Evidence.Notes, Note{Text: fmt.Sprint("edit ", i)})
				return nil
			})
			if err != nil {
				return err
			}
			fmt.Println(len(c.Evidence.Notes)) // saved: the parent holds us to it
		}
	}
	return fmt.Errorf("unknown helper role %q", role)
}

// runHelper starts the test binary as a helper.
func runHelper(t *testing.T, role, dir, id string, attr *syscall.SysProcAttr, bin string) *exec.Cmd {
	t.Helper()
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "CASEFILE_HELPER="+role, "CASEFILE_DIR="+dir, "CASEFILE_ID="+id)
	cmd.SysProcAttr = attr
	return cmd
}

// waitLine starts cmd and waits for it to print want.
func waitLine(t *testing.T, cmd *exec.Cmd, want string) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if l != want {
			t.Fatalf("helper said %q, want %q", l, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("helper did not say %q", want)
	}
	go func() {
		for range lines {
		}
	}()
}

func TestSecondProcessGetsLockedError(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	child := runHelper(t, "hold-lock", s.Dir(), c.ID, nil, "")
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	waitLine(t, child, "locked")
	defer child.Process.Kill()

	before, _ := os.ReadFile(c.Path())
	_, err = s.Edit(c.ID, func(c *Case) error { c.Title = "clobber"; return nil })
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second writer: %v", err)
	}
	if le.Holder.PID != child.Process.Pid {
		t.Errorf("holder pid %d, want the child's %d", le.Holder.PID, child.Process.Pid)
	}
	host, _ := os.Hostname()
	for _, want := range []string{fmt.Sprintf("pid %d", child.Process.Pid), "on " + host, "since ", filepath.Base(os.Args[0])} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name the holder (%q)", err, want)
		}
	}
	c.Title = "direct save"
	if err := s.Save(c); !errors.As(err, &le) {
		t.Errorf("Save while another process holds the lock: %v", err)
	}
	if after, _ := os.ReadFile(c.Path()); !bytes.Equal(before, after) {
		t.Error("the file changed while another process held the lock")
	}

	stdin.Close()
	if err := child.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Edit(c.ID, func(c *Case) error { c.Title = "after release"; return nil }); err != nil {
		t.Fatalf("after the holder released the lock: %v", err)
	}
}

func TestSaveKilledHalfWayKeepsOldFile(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	c.AddFindings([]triage.Finding{pdrFinding(1, t0)})
	if err := s.Save(c); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(c.Path())

	child := runHelper(t, "pause-save", s.Dir(), c.ID, nil, "")
	waitLine(t, child, "paused")
	temps, _ := filepath.Glob(filepath.Join(s.Dir(), ".*.tmp"))
	if len(temps) != 1 {
		t.Fatalf("no half-written temporary file while the save is paused: %v", temps)
	}
	if st, _ := os.Stat(temps[0]); st == nil || st.Size() == 0 || st.Size() >= int64(len(before)) {
		t.Fatalf("the temporary file is not half-written: %v", st)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()

	after, _ := os.ReadFile(c.Path())
	if !bytes.Equal(before, after) {
		t.Fatalf("the case file changed after a killed save:\n%s", after)
	}
	got, err := s.Find(c.ID)
	if err != nil {
		t.Fatalf("the case no longer loads: %v", err)
	}
	// The kernel released the dead process's lock: the case can be saved again.
	got.Title = "saved after the crash"
	if err := s.Save(got); err != nil {
		t.Fatal(err)
	}
	if cases, err := s.List(); err != nil || len(cases) != 1 {
		t.Errorf("List after a crash: %d cases, %v (a leftover temporary file is not a case)", len(cases), err)
	}
	if _, err := os.Stat(temps[0]); err == nil {
		t.Errorf("the dead save's temporary file is still there after the next save")
	}
}

// TestUnwritableDirectory: a user who may read but not write the case directory gets an
// error naming the path, and the file stays as it was. Tests run as root, where chmod
// stops nothing, so the helper runs as nobody (65534).
func TestUnwritableDirectory(t *testing.T) {
	// A directory every user can reach, holding the test binary and the store.
	base, err := os.MkdirTemp("", "casefile-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	bin := filepath.Join(base, "casefile.test")
	self, _ := os.Executable()
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	s, _ := Open(filepath.Join(base, "cases"))
	s.Now = func() time.Time { return t0 }
	c := newPDRCase(t, s)
	before, _ := os.ReadFile(c.Path())
	// Readable by all, writable by its owner only.
	for p, mode := range map[string]os.FileMode{base: 0o755, s.Dir(): 0o755, c.Path(): 0o644} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	var attr *syscall.SysProcAttr
	if os.Getuid() == 0 {
		attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	} else {
		// Not root: the owner is us, so take the write bit away instead.
		os.Chmod(s.Dir(), 0o555)
		t.Cleanup(func() { os.Chmod(s.Dir(), 0o700) })
	}
	out, err := runHelper(t, "unprivileged", s.Dir(), c.ID, attr, bin).CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	t.Logf("as uid %d:\n%s", 65534, out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("helper output:\n%s", out)
	}
	for _, l := range lines {
		if !strings.Contains(l, "permission denied") || !strings.Contains(l, s.Dir()) {
			t.Errorf("error does not say permission denied and name the directory: %q", l)
		}
	}
	if after, _ := os.ReadFile(c.Path()); !bytes.Equal(before, after) {
		t.Error("the case file changed")
	}
}
