package checks

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/sanitize"
)

// liveEnv starts a loopback DNS server with zone and returns an Env over it.
func liveEnv(t *testing.T, zone string) (*Env, *dnstest.Server) {
	t.Helper()
	s := dnstest.Start(t, zone)
	r, err := resolver.New(resolver.Config{Servers: []string{s.Addr}, Timeout: 300 * time.Millisecond, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Resolver: r, SMTPPort: 25, Now: time.Now}, s
}

// runLive runs one registered check by id the way Run does (Applies first).
func runLive(t *testing.T, env *Env, id string, tg Target) Result {
	t.Helper()
	tg = tg.ALabels()
	for _, c := range registry {
		if c.ID != id {
			continue
		}
		if c.Applies != nil {
			if ok, why := c.Applies(tg); !ok {
				return Result{ID: id, Status: Skip, Summary: why}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		r := c.Run(ctx, env, tg)
		r.ID = id
		assertPrintable(t, r)
		return r
	}
	t.Fatalf("no check %q registered", id)
	return Result{}
}

// assertPrintable fails when anything in a result could act on a terminal.
func assertPrintable(t *testing.T, r Result) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("%s: details do not marshal: %v", r.ID, err)
	}
	var back any
	_ = json.Unmarshal(b, &back)
	walkStrings(back, func(s string) {
		if sanitize.Text(s) != s {
			t.Errorf("%s: unsanitized text in result: %q", r.ID, s)
		}
	})
	if sanitize.Text(r.Summary) != r.Summary || sanitize.Text(r.Fix) != r.Fix {
		t.Errorf("%s: unsanitized summary or fix", r.ID)
	}
}

func walkStrings(v any, f func(string)) {
	switch x := v.(type) {
	case string:
		f(x)
	case []any:
		for _, e := range x {
			walkStrings(e, f)
		}
	case map[string]any:
		for _, e := range x {
			walkStrings(e, f)
		}
	}
}

type liveCase struct {
	name   string
	target Target
	status Status
	want   string // in the summary
}

func (c liveCase) check(t *testing.T, env *Env, id string) Result {
	t.Helper()
	r := runLive(t, env, id, c.target)
	if r.Status != c.status || !strings.Contains(r.Summary, c.want) {
		t.Errorf("%s/%s: %s %q; want %s containing %q", id, c.name, r.Status, r.Summary, c.status, c.want)
	}
	if (r.Status == Fail || r.Status == Warn) && r.Fix == "" && c.status == Fail {
		t.Errorf("%s/%s: a failure without a fix", id, c.name)
	}
	return r
}
