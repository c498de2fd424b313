package message

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/unblock-mail/unblock/checks"
)

// test is one of the message's own tests that needs no network.
type test struct {
	name string
	run  func(m *Message) checks.Result
}

// pureTests are run in this order; each returns its Result without the id prefix set.
var pureTests []test

// netTest is a message test that needs DNS.
type netTest struct {
	name string
	run  func(ctx context.Context, m *Message, env *checks.Env) checks.Result
}

var netTests []netTest

// order is the order results are listed in: the message's form first, then transport,
// authentication, bulk rules, content, and what filters wrote.
var order = []string{
	"size", "bare-lf", "line-length", "nul", "header-syntax", "header-size", "header-encoding",
	"from", "from-display-name", "from-encoding", "date", "message-id", "duplicate-headers", "recipients",
	"subject", "reply-to", "return-path",
	"mime-version", "mime-structure", "content-type", "transfer-encoding", "qp-line-length", "body",
	"plain-text-part", "image-only", "attachments", "attachment-names",
	"received", "sending-hop", "hop-count", "hop-delay", "tls-hops", "helo-rdns",
	"dkim", "dkim-key", "dkim-signed-headers", "spf", "spf-helo", "dmarc", "arc",
	"authentication-results", "bimi",
	"list-unsubscribe", "one-click-unsubscribe", "feedback-id",
	"link-mismatch", "url-shorteners", "ip-links", "link-blocklist",
	"proofpoint-spam-details", "urldefense", "microsoft-antispam", "spamassassin",
}

var sortOnce sync.Once

func sortTests() {
	sortOnce.Do(func() {
		rank := func(name string) int {
			if i := slices.Index(order, name); i >= 0 {
				return i
			}
			return len(order)
		}
		slices.SortStableFunc(pureTests, func(a, b test) int { return rank(a.name) - rank(b.name) })
		slices.SortStableFunc(netTests, func(a, b netTest) int { return rank(a.name) - rank(b.name) })
	})
}

// Test runs the tests that need no network, in a stable order.
func (m *Message) Test() []checks.Result {
	sortTests()
	out := make([]checks.Result, 0, len(pureTests))
	for _, t := range pureTests {
		start := time.Now()
		r := t.run(m)
		r.ID = "message/" + t.name
		r.Duration = time.Since(start)
		out = append(out, r)
	}
	return out
}

// IDs lists every message test's id, pure ones first.
func IDs() []string {
	sortTests()
	var out []string
	for _, t := range pureTests {
		out = append(out, "message/"+t.name)
	}
	for _, t := range netTests {
		if !slices.Contains(out, "message/"+t.name) {
			out = append(out, "message/"+t.name)
		}
	}
	return out
}

// hasNetTest reports whether id is run by a network test (which then replaces the pure
// test of the same id in Check).
func hasNetTest(id string) bool {
	for _, t := range netTests {
		if "message/"+t.name == id {
			return true
		}
	}
	return false
}

// netTests runs the tests that need DNS concurrently and streams their results.
func (m *Message) netTests(ctx context.Context, env *checks.Env, skip map[string]bool) <-chan checks.Result {
	// The walk and the links are made here, before the tests share the message.
	m.links()
	out := make(chan checks.Result, len(netTests))
	done := make(chan checks.Result, len(netTests))
	pending := 0
	for _, t := range netTests {
		id := "message/" + t.name
		if skip[id] {
			out <- checks.Result{ID: id, Status: checks.Skip, Summary: "skipped on request"}
			continue
		}
		pending++
		go func(t netTest) {
			start := time.Now()
			r := t.run(ctx, m, env)
			r.ID = id
			r.Duration = time.Since(start)
			if ctx.Err() != nil && r.Status == checks.Fail {
				r.Status = checks.Error
			}
			done <- r
		}(t)
	}
	go func() {
		for ; pending > 0; pending-- {
			out <- <-done
		}
		close(out)
	}()
	return out
}

// result builds a Result.
func result(s checks.Status, summary, fix string) checks.Result {
	return checks.Result{Status: s, Summary: summary, Fix: fix}
}

func pass(summary string) checks.Result { return result(checks.Pass, summary, "") }
func skip(summary string) checks.Result { return result(checks.Skip, summary, "") }
