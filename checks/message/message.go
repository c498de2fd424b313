// Package message tests one real message the way a receiver reads it: the identities it
// carries (the sending IP and HELO from the first Received hop outside the recipient's own
// systems, the envelope sender, the From domain, each DKIM signature's d= and s=), the
// authentication a receiver would compute (DKIM, SPF, DMARC, ARC) and the rules receivers
// apply to the message itself (RFC 5322/5321 form, MIME, bulk-mail headers, links,
// attachments, what Proofpoint and other filters wrote into it).
//
// Test is the pure part (no network): it runs on bytes and a clock and can be benchmarked
// and shown by the TUI as the user types. Check adds what needs DNS — signature
// verification, SPF, DMARC, link blocklists — and the live checks of package checks for the
// identities found, streaming every Result.
package message

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/unblock-mail/unblock/checks"
)

// Limits that keep a hostile message from exhausting memory or time. Each is reported in
// the result it affects, so a capped reading is never mistaken for a complete one.
const (
	// MaxRead is the most of a message Read takes in: larger than any receiver accepts
	// (Gmail 25 MB, Microsoft 365 up to 150 MB for Outlook clients is the rare outlier).
	MaxRead = 64 << 20
	// MaxHeaderBytes bounds the header section parsed (Postfix's header_size_limit is
	// 100 KB; go-message's default is 1 MB).
	MaxHeaderBytes = 1 << 20
	// MaxMIMEDepth is how deep nested multiparts are followed (Postfix's
	// mime_nesting_limit is 100; real mail rarely passes 5).
	MaxMIMEDepth = 20
	// MaxParts bounds the MIME parts walked.
	MaxParts = 500
	// MaxTextScan bounds the decoded text scanned for links, per message.
	MaxTextScan = 4 << 20
)

// Options set up the pure tests.
type Options struct {
	// Now is the clock the Date and signature times are judged against; zero means
	// time.Now.
	Now time.Time
	// RecipientDomains are the recipient's own domains (their MX, filters, mailbox hosts):
	// hops received from these are inside the recipient's systems.
	RecipientDomains []string
}

// Read reads a message from r, at most MaxRead bytes; a larger message is an error naming
// the limit, since no receiver would take it either.
func Read(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxRead+1))
	if err != nil {
		return nil, fmt.Errorf("reading message: %w", err)
	}
	if len(b) > MaxRead {
		return nil, fmt.Errorf("message is larger than %d MB: no receiver accepts mail this large", MaxRead>>20)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("message is empty")
	}
	return b, nil
}

// ReadFile reads the message in path with the limits of Read.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// Test runs the message's own tests that need no network and returns their results in a
// stable order, each with an id "message/<name>".
func Test(raw []byte, opts Options) []checks.Result {
	m := Parse(raw, opts)
	return m.Test()
}

// mxLookup bounds the one lookup made before the tests start.
const mxLookup = 2 * time.Second

// learnRecipientMX adds the recipient domain's mail exchangers to the recipient's own
// systems and finds the sending hop again: a message that reached the mailbox through
// the recipient's filter (Proofpoint, Mimecast, Microsoft EOP) was handed over by the
// filter's public hosts, which are the recipient's, not the sender's.
func (m *Message) learnRecipientMX(ctx context.Context, env *checks.Env, domain string) {
	if domain == "" {
		domain = m.recipientDomain()
	}
	if domain == "" || len(m.Hops) == 0 || env.Resolver == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, mxLookup)
	defer cancel()
	mxs, err := env.Resolver.MX(ctx, domain)
	if err != nil {
		return
	}
	for _, mx := range mxs {
		if mx.Host != "" {
			m.opts.RecipientDomains = append(m.opts.RecipientDomains, orgDomain(mx.Host))
		}
	}
	m.Sending = m.sendingHop()
}

// Check derives the identities from the message, fills what base leaves empty, runs the
// live checks (checks.Run) for them and the message's own tests, streaming every Result on
// the channel (ids "message/<name>" for the message's tests). The channel closes when all
// are done. An error means the bytes are not a message at all.
func Check(ctx context.Context, env *checks.Env, raw []byte, base checks.Target, skip map[string]bool) (checks.Target, <-chan checks.Result, error) {
	if env.Now == nil {
		env.Now = time.Now
	}
	opts := Options{Now: env.Now()}
	if base.RecipientDomain != "" {
		opts.RecipientDomains = []string{base.RecipientDomain}
	}
	m := Parse(raw, opts)
	if err := m.NotAMessage(); err != nil {
		return base, nil, err
	}
	m.learnRecipientMX(ctx, env, base.RecipientDomain)
	t := m.Target(base)
	m.base = base
	out := make(chan checks.Result, 64)
	go func() {
		defer close(out)
		for _, r := range m.Test() {
			if hasNetTest(r.ID) {
				// The network runs this test more fully (ARC with its signatures).
				continue
			}
			if skip[r.ID] {
				r = checks.Result{ID: r.ID, Status: checks.Skip, Summary: "skipped on request"}
			}
			out <- r
		}
		live := checks.Run(ctx, env, t, skip)
		net := m.netTests(ctx, env, skip)
		for live != nil || net != nil {
			select {
			case r, ok := <-live:
				if !ok {
					live = nil
					continue
				}
				out <- r
			case r, ok := <-net:
				if !ok {
					net = nil
					continue
				}
				out <- r
			}
		}
	}()
	return t, out, nil
}
