package casefile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
)

func newPDRCase(t *testing.T, s *Store) *Case {
	t.Helper()
	c := &Case{Role: Sender, Provider: "proofpoint", Mode: triage.HardBlock}
	c.Identifiers.IPs = []string{"192.0.2.1"}
	c.Identifiers.Domain = "example.com"
	if err := s.Create(c, false); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateFindList(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	if c.ID != "2026-11-22-proofpoint-192-0-2-1" {
		t.Errorf("id = %q", c.ID)
	}
	st, err := os.Stat(c.Path())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}
	if dst, _ := os.Stat(s.Dir()); dst.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", dst.Mode().Perm())
	}
	data, _ := os.ReadFile(c.Path())
	if !bytes.HasPrefix(data, []byte("schema: 2\nid: 2026-11-22-proofpoint-192-0-2-1\n")) {
		t.Errorf("file does not start with schema and id:\n%s", data)
	}
	for _, ref := range []string{c.ID, "2026-11-22-proof", c.Path()} {
		got, err := s.Find(ref)
		if err != nil {
			t.Fatalf("Find(%q): %v", ref, err)
		}
		if got.ID != c.ID {
			t.Errorf("Find(%q) = %s", ref, got.ID)
		}
	}
	d := &Case{Provider: "cloudmark"}
	d.Identifiers.IPs = []string{"192.0.2.1"}
	if err := s.Create(d, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Find("2026-11-22"); err == nil || !strings.Contains(err.Error(), "matches 2 cases") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, err := s.Find("nope"); err == nil || !strings.Contains(err.Error(), `no case "nope"`) {
		t.Errorf("missing case: %v", err)
	}
	cases, err := s.List()
	if err != nil || len(cases) != 2 {
		t.Fatalf("List = %d cases, %v", len(cases), err)
	}
}

func TestSaveUnchangedRewritesSameBytes(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	c.AddFindings([]triage.Finding{pdrFinding(1, t0.Add(-time.Hour))})
	if err := s.Save(c); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(c.Path())
	s.Now = func() time.Time { return t0.Add(time.Hour) }
	loaded, err := s.Find(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(loaded); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(c.Path())
	if !bytes.Equal(before, after) {
		t.Fatalf("load then save changed the file:\n%s\n----\n%s", before, after)
	}
	loaded.Title = "changed"
	if err := s.Save(loaded); err != nil {
		t.Fatal(err)
	}
	if !loaded.Updated.Equal(t0.Add(time.Hour)) {
		t.Errorf("updated = %v after a change, want %v", loaded.Updated, t0.Add(time.Hour))
	}
}

func TestDuplicateGuard(t *testing.T) {
	s := testStore(t)
	open := newPDRCase(t, s)

	dup := &Case{Provider: "proofpoint"}
	dup.Identifiers.IPs = []string{"192.0.2.1"}
	err := s.Create(dup, false)
	var de *DuplicateError
	if !errors.As(err, &de) || de.Existing.ID != open.ID {
		t.Fatalf("same IP and provider: %v", err)
	}
	if !strings.Contains(err.Error(), "unblock add "+open.ID+" FILE") {
		t.Errorf("error does not say how to add: %v", err)
	}
	if err := s.Create(dup, true); err != nil {
		t.Fatalf("forced: %v", err)
	}

	other := &Case{Provider: "microsoft"}
	other.Identifiers.IPs = []string{"192.0.2.1"}
	if err := s.Create(other, false); err != nil {
		t.Errorf("another provider is another case: %v", err)
	}

	// Without an IP: the same domain, provider and mode.
	a := &Case{Provider: "google", Mode: triage.Deferral}
	a.Identifiers.Domain = "example.org"
	if err := s.Create(a, false); err != nil {
		t.Fatal(err)
	}
	b := &Case{Provider: "google", Mode: triage.Deferral}
	b.Identifiers.Domain = "EXAMPLE.org"
	if err := s.Create(b, false); !errors.As(err, &de) || de.Existing.ID != a.ID {
		t.Errorf("same domain, provider and mode: %v", err)
	}
	b.Mode = triage.HardBlock
	if err := s.Create(b, false); err != nil {
		t.Errorf("another mode is another case: %v", err)
	}

	// A resolved case no longer covers the IP.
	if _, err := s.Edit(other.ID, func(c *Case) error { c.Status = StatusResolved; return nil }); err != nil {
		t.Fatal(err)
	}
	again := &Case{Provider: "microsoft"}
	again.Identifiers.IPs = []string{"192.0.2.1"}
	if err := s.Create(again, false); err != nil {
		t.Errorf("a resolved case is not a duplicate: %v", err)
	}
}

// writeCase writes a case file by hand, as a person editing it would.
func writeCase(t *testing.T, s *Store, name, text string) string {
	t.Helper()
	if err := os.MkdirAll(s.Dir(), 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.Dir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const goodCase = `schema: 1
id: hand
status: open
created: 2026-11-22T09:00:00Z
updated: 2026-11-22T09:00:00Z
role: sender
provider: proofpoint
timeline:
  - at: 2026-11-22T08:00:00Z
    reply: 550 5.7.0 Blocked
    reply_code: 550
`

func TestStrictLoad(t *testing.T) {
	s := testStore(t)
	for _, tc := range []struct {
		name, text, want string
	}{
		{"malformed", strings.Replace(goodCase, "role: sender", "role: [sender", 1), "malformed.yaml:"},
		{"unknown", strings.Replace(goodCase, "    reply_code: 550", "    reply_code: 550\n    colour: red", 1), `unknown.yaml:12: unknown field "colour"`},
		{"wrongtype", strings.Replace(goodCase, "reply_code: 550", "reply_code: five", 1), "wrongtype.yaml:11: field reply_code: cannot unmarshal"},
		{"badstatus", strings.Replace(goodCase, "status: open", "status: pending", 1), `badstatus.yaml:3: field status: "pending" is not one of`},
		{"badtime", strings.Replace(goodCase, "created: 2026-11-22T09:00:00Z", "created: yesterday", 1), `badtime.yaml:4: field created: "yesterday" is not a time (RFC 3339, such as 2026-11-22T09:00:00Z)`},
		{"badip", strings.Replace(goodCase, "provider: proofpoint", "provider: proofpoint\nidentifiers:\n  ips: [192.0.2.1, \"203.0.113.1/../x y\"]", 1), `badip.yaml:9: field ips: "203.0.113.1/../x y" is not an IP address`},
		{"newer", strings.Replace(goodCase, "schema: 1", "schema: 3\nfuture_field: yes", 1), "newer.yaml: written with case-file schema 3, newer than this unblock knows (2)"},
		{"noschema", strings.Replace(goodCase, "schema: 1\n", "", 1), "noschema.yaml: not a case file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeCase(t, s, tc.name+".yaml", tc.text)
			_, err := s.Find(tc.name)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error does not name the file %s: %v", p, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
	if _, err := s.Find("hand"); err == nil {
		t.Fatal("a file named hand.yaml should not exist")
	}
	writeCase(t, s, "hand.yaml", goodCase)
	c, err := s.Find("hand")
	if err != nil {
		t.Fatalf("a good hand-written case: %v", err)
	}
	if c.Seen().Failures != 1 {
		t.Errorf("hand-written case has %d failures", c.Seen().Failures)
	}
	cases, err := s.List()
	if len(cases) != 1 || err == nil || !strings.Contains(err.Error(), "newer.yaml") {
		t.Errorf("List: %d cases, error %v; want the good one and the broken ones reported", len(cases), err)
	}
}

// TestBrokenFileNeverOverwritten: a case loaded, then broken on disk by hand, is not
// saved over.
func TestBrokenFileNeverOverwritten(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	broken := []byte("schema: 1\nid: [oops\n")
	if err := os.WriteFile(c.Path(), broken, 0o600); err != nil {
		t.Fatal(err)
	}
	c.Title = "changed in memory"
	err := s.Save(c)
	if err == nil || !strings.Contains(err.Error(), "does not load") {
		t.Fatalf("Save over a broken file: %v", err)
	}
	if got, _ := os.ReadFile(c.Path()); !bytes.Equal(got, broken) {
		t.Errorf("the broken file was overwritten:\n%s", got)
	}
	if _, err := s.Edit(c.ID, func(*Case) error { return nil }); err == nil {
		t.Errorf("Edit of a broken file succeeded")
	}
	if got, _ := os.ReadFile(c.Path()); !bytes.Equal(got, broken) {
		t.Errorf("the broken file was overwritten by Edit:\n%s", got)
	}
}

func TestChangedOnDiskNotClobbered(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	other, err := s.Find(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	other.Title = "from the other program"
	s.Now = func() time.Time { return t0.Add(time.Minute) }
	if err := s.Save(other); err != nil {
		t.Fatal(err)
	}
	c.Title = "stale"
	if err := s.Save(c); err == nil || !strings.Contains(err.Error(), "changed on disk") {
		t.Fatalf("saving a stale case: %v", err)
	}
}

func TestLockInProcess(t *testing.T) {
	s := testStore(t)
	c := newPDRCase(t, s)
	l, err := s.Lock(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	c.Title = "saved by the lock holder"
	if err := s.Save(c); err != nil {
		t.Fatalf("the holder cannot save: %v", err)
	}
	// A second store is another open file description: flock refuses it.
	s2, _ := Open(s.Dir())
	_, err = s2.Edit(c.ID, func(c *Case) error { c.Title = "clobber"; return nil })
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.PID != os.Getpid() {
		t.Fatalf("second writer: %v", err)
	}
	if !strings.Contains(err.Error(), "pid ") || !strings.Contains(err.Error(), "since ") {
		t.Errorf("error does not name the holder: %v", err)
	}
	// The same file named by its path from a store elsewhere is the same lock.
	s3, _ := Open(t.TempDir())
	if _, err := s3.Edit(c.Path(), func(c *Case) error { c.Title = "clobber by path"; return nil }); !errors.As(err, &le) {
		t.Errorf("writer naming the file by path: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Edit(c.ID, func(c *Case) error { c.Title = "after unlock"; return nil }); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("UNBLOCK_DIR", "")
	t.Setenv("XDG_DATA_HOME", "/data")
	t.Setenv("HOME", "/home/pm")
	for _, tc := range []struct{ unblock, xdg, want string }{
		{"", "/data", "/data/unblock/cases"},
		{"", "", "/home/pm/.local/share/unblock/cases"},
		{"", "relative", "/home/pm/.local/share/unblock/cases"}, // the spec ignores a relative XDG_DATA_HOME
		{"/cases", "/data", "/cases"},
	} {
		t.Setenv("UNBLOCK_DIR", tc.unblock)
		t.Setenv("XDG_DATA_HOME", tc.xdg)
		s, err := Open("")
		if err != nil || s.Dir() != tc.want {
			t.Errorf("UNBLOCK_DIR=%q XDG_DATA_HOME=%q: %q, %v; want %q", tc.unblock, tc.xdg, s.Dir(), err, tc.want)
		}
	}
	if s, _ := Open("/given"); s.Dir() != "/given" {
		t.Errorf("an explicit directory is not used: %q", s.Dir())
	}
}

// TestDefaultRouteByCause: a case without a recorded route goes where its provider, mode
// and cause say: a fix on the sender's side goes to no desk; Gmail has no delist form.
func TestDefaultRouteByCause(t *testing.T) {
	for _, c := range []struct {
		provider string
		mode     triage.Mode
		cause    string
		want     string
	}{
		{"google", triage.HardBlock, "authentication", "fix-authentication"},
		{"google", triage.HardBlock, "ip-reputation", "wait"},
		{"google", triage.HardBlock, "recipient-policy", "recipient-admin"},
		{"proofpoint", triage.HardBlock, "ip-reputation", "proofpoint-ipcheck"},
		{"proofpoint", triage.HardBlock, "invalid-recipient", "fix-recipient"},
		{"microsoft", triage.HardBlock, "", "microsoft-delist"},
	} {
		if got := DefaultRoute(Sender, c.provider, c.mode, c.cause); got != c.want {
			t.Errorf("%s %s %s: %s, want %s", c.provider, c.mode, c.cause, got, c.want)
		}
	}
}
