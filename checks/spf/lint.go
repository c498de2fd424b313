package spf

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/unblock-mail/unblock/checks/resolver"
)

// Level grades a lint problem.
type Level string

const (
	LevelFail  Level = "fail"  // receivers get permerror, or the policy authorizes everyone
	LevelWarn  Level = "warn"  // works, but weakens or risks the policy
	LevelError Level = "error" // could not be checked (a DNS error), never a verdict
)

// Problem is one finding of the lint, tied to the record and term it is about.
type Problem struct {
	Level  Level  `json:"level"`
	Domain string `json:"domain"`
	Term   string `json:"term,omitempty"`
	Text   string `json:"text"`
	// WhenReached marks a limit that makes check_host permerror only when evaluation
	// gets that far (RFC 7208 §4.6.4 lookup and void limits, §5.2 an include without
	// SPF, loops): a term that matches first decides the result (§4.6.2).
	WhenReached bool `json:"when_reached,omitempty"`
}

// TermCost is one term of a record with the DNS lookups it costs (RFC 7208 §4.6.4),
// counting an include's or redirect's whole subtree.
type TermCost struct {
	Term    string `json:"term"`
	Lookups int    `json:"lookups"`
	Void    bool   `json:"void,omitempty"` // its lookup returned nothing
	Note    string `json:"note,omitempty"`
}

// Node is one record of the include/redirect tree.
type Node struct {
	Domain   string     `json:"domain"`
	Via      string     `json:"via,omitempty"` // the term that led here
	Record   string     `json:"record,omitempty"`
	Terms    []TermCost `json:"terms,omitempty"`
	Lookups  int        `json:"lookups"` // this record and everything under it
	Error    string     `json:"error,omitempty"`
	Children []*Node    `json:"children,omitempty"`
}

// Report is the lint of one domain's SPF policy.
type Report struct {
	Domain      string
	Found       bool    // an SPF record is published at Domain
	Record      *Record // the top record, when it parses
	Text        string  // the top record as published
	Err         error   // the top lookup failed (not "not found"): nothing could be checked
	Root        *Node
	Lookups     int // worst case over the whole tree
	VoidLookups int
	Problems    []Problem
}

// Worst returns the most serious level among the problems, or "".
func (r *Report) Worst() Level {
	var w Level
	for _, p := range r.Problems {
		switch {
		case p.Level == LevelFail:
			return LevelFail
		case p.Level == LevelError:
			w = LevelError
		case p.Level == LevelWarn && w == "":
			w = LevelWarn
		}
	}
	return w
}

// maxDepth bounds the walk: past 10 nested includes the lookup limit is exceeded anyway.
const (
	maxDepth = MaxLookups + 1
	maxNodes = 60
)

type linter struct {
	res *resolver.Resolver

	mu       sync.Mutex
	problems []Problem
	void     int
	nodes    int
}

// addReached adds a LevelFail problem that only an evaluation reaching it meets.
func (l *linter) addReached(domain, term, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.problems = append(l.problems, Problem{Level: LevelFail, Domain: domain, Term: term, Text: fmt.Sprintf(format, args...), WhenReached: true})
}

func (l *linter) add(level Level, domain, term, format string, args ...any) {
	l.mu.Lock()
	l.problems = append(l.problems, Problem{Level: level, Domain: domain, Term: term, Text: fmt.Sprintf(format, args...)})
	l.mu.Unlock()
}

// Lint walks the SPF policy of domain: every include and redirect, concurrently, level by
// level; what each term costs in lookups and the total; void lookups; loops; several
// records; syntax errors naming the term; +all, ?all, ptr, a missing all; a record over
// 450 bytes or a character-string over 255.
func Lint(ctx context.Context, res *resolver.Resolver, domain string) *Report {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	rep := &Report{Domain: domain}
	l := &linter{res: res}
	rep.Root = l.walk(ctx, domain, "", 0, nil, rep)
	rep.Lookups = rep.Root.Lookups
	rep.VoidLookups = l.void
	rep.Problems = l.problems
	if rep.Found && rep.Err == nil {
		if rep.Lookups > MaxLookups {
			rep.Problems = append(rep.Problems, Problem{Level: LevelFail, Domain: domain, WhenReached: true,
				Text: fmt.Sprintf("the policy needs %d DNS lookups; receivers stop at %d and return permerror (RFC 7208 §4.6.4)", rep.Lookups, MaxLookups)})
		}
		if rep.VoidLookups > MaxVoidLookups {
			rep.Problems = append(rep.Problems, Problem{Level: LevelFail, Domain: domain, WhenReached: true,
				Text: fmt.Sprintf("%d lookups return nothing; receivers allow %d and return permerror (RFC 7208 §4.6.4)", rep.VoidLookups, MaxVoidLookups)})
		}
	}
	return rep
}

// walk reads the record at domain; path holds the domains above it, to find loops.
func (l *linter) walk(ctx context.Context, domain, via string, depth int, path []string, rep *Report) *Node {
	n := &Node{Domain: domain, Via: via}
	top := depth == 0
	l.mu.Lock()
	l.nodes++
	over := l.nodes > maxNodes
	l.mu.Unlock()
	if over {
		n.Error = "not followed: the tree has too many records"
		return n
	}
	if err := CheckDomain(domain); err != nil {
		n.Error = err.Error()
		if top {
			rep.Err = err
		}
		l.add(LevelFail, domain, via, "%s", err)
		return n
	}
	recs, err := l.res.TXTStrings(ctx, domain)
	if err != nil && !resolver.IsNotFound(err) {
		n.Error = err.Error()
		if top {
			rep.Err = err
		}
		l.add(LevelError, domain, via, "could not be read: %s", lookupTrouble(err))
		return n
	}
	var spfs [][]string
	for _, parts := range recs {
		if IsRecord(strings.Join(parts, "")) {
			spfs = append(spfs, parts)
		}
	}
	switch {
	case len(spfs) == 0:
		n.Error = "no SPF record"
		if !top {
			l.mu.Lock()
			l.void++
			l.mu.Unlock()
			l.addReached(domain, via, "%s points at %s, which has no SPF record: receivers return permerror (RFC 7208 §5.2)", via, domain)
		}
		return n
	case len(spfs) > 1:
		n.Error = fmt.Sprintf("%d SPF records", len(spfs))
		if top {
			l.add(LevelFail, domain, via, "%d SPF records at %s: receivers return permerror; merge them into one (RFC 7208 §4.5)", len(spfs), domain)
		} else {
			l.addReached(domain, via, "%d SPF records at %s: receivers return permerror; merge them into one (RFC 7208 §4.5)", len(spfs), domain)
		}
		if top {
			rep.Found = true
		}
		return n
	}
	parts := spfs[0]
	text := strings.Join(parts, "")
	n.Record = clip(text)
	if top {
		rep.Found, rep.Text = true, text
	}
	for _, p := range parts {
		if len(p) > MaxStringBytes {
			l.add(LevelFail, domain, "", "a character-string of %d bytes: one string holds at most %d; split the record into several quoted strings", len(p), MaxStringBytes)
		}
	}
	if len(text) > MaxRecordBytes {
		l.add(LevelWarn, domain, "", "the record is %d bytes; over %d it may not fit one UDP answer (RFC 7208 §3.4)", len(text), MaxRecordBytes)
	}
	rec, err := ParseRecord(text)
	if err != nil {
		var se *SyntaxError
		term := ""
		if errors.As(err, &se) {
			term = se.Term
		}
		n.Error = err.Error()
		if top {
			l.add(LevelFail, domain, term, "syntax error: %v; receivers return permerror", err)
		} else {
			// An included record is read only when evaluation reaches it (§4.6.2).
			l.addReached(domain, term, "syntax error: %v; receivers return permerror", err)
		}
		return n
	}
	if top {
		rep.Record = rec
	}
	path = append(path, domain)
	n.Terms = make([]TermCost, len(rec.Terms))
	all, hasAll := rec.All()
	var wg sync.WaitGroup
	passedAll := false
	for i, t := range rec.Terms {
		tc := &n.Terms[i]
		tc.Term = t.Text
		tc.Lookups = t.Lookups()
		if passedAll && !t.Modifier {
			// §5.1: mechanisms after all are never tested, and cost nothing.
			tc.Lookups = 0
			tc.Note = "never used: it comes after " + all.Text
			l.add(LevelWarn, domain, t.Text, "%s is never used: it comes after %s (RFC 7208 §5.1)", t.Text, all.Text)
			continue
		}
		passedAll = passedAll || t.Name == "all"
		target := t.Value
		if target == "" && (t.Name == "a" || t.Name == "mx") {
			target = domain
		}
		target = strings.ToLower(strings.TrimSuffix(target, "."))
		if t.HasMacro() && tc.Lookups > 0 {
			tc.Note = "depends on the message (macro): not looked up here"
			continue
		}
		if t.Qualifier == '+' {
			l.wideRange(domain, t)
		}
		switch t.Name {
		case "all":
			switch t.Qualifier {
			case '+':
				l.add(LevelFail, domain, t.Text, "+all authorizes every host on the internet to send as %s", domain)
			case '?':
				l.add(LevelWarn, domain, t.Text, "?all asserts nothing about hosts not listed; use ~all or -all")
			}
		case "ptr":
			tc.Note = "slow and unreliable; RFC 7208 §5.5 says not to use it"
			l.add(LevelWarn, domain, t.Text, "ptr: slow, unreliable and ignored by some receivers (RFC 7208 §5.5); list the addresses instead")
		case "include", "redirect":
			if t.Name == "redirect" && hasAll {
				tc.Lookups = 0
				tc.Note = "ignored: the record has " + all.Text + " (RFC 7208 §6.1)"
				l.add(LevelWarn, domain, t.Text, "%s is never used: %s matches first (RFC 7208 §6.1), so whatever %s allows does not count", t.Text, all.Text, target)
				continue
			}
			if contains(path, target) {
				tc.Note = "loop"
				l.addReached(domain, t.Text, "loop: %s leads back to %s; receivers return permerror", t.Text, target)
				continue
			}
			if depth+1 >= maxDepth {
				tc.Note = "not followed: nested too deep"
				l.addReached(domain, t.Text, "includes nested more than %d deep: the lookup limit is exceeded whatever they hold", MaxLookups)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				child := l.walk(ctx, target, t.Text, depth+1, path, rep)
				tc.Lookups += child.Lookups
				l.mu.Lock()
				n.Children = append(n.Children, child)
				l.mu.Unlock()
			}()
		case "a", "exists":
			wg.Add(1)
			go func() {
				defer wg.Done()
				l.addresses(ctx, domain, t, target, tc)
			}()
		case "mx":
			wg.Add(1)
			go func() {
				defer wg.Done()
				l.exchangers(ctx, domain, t, target, tc)
			}()
		}
	}
	wg.Wait()
	if top && !hasAll && rec.Redirect == "" {
		l.add(LevelWarn, domain, "", "no all term: hosts not listed get neutral; end the record with ~all or -all")
	}
	// Children were appended as they finished; keep the record's order.
	order := map[string]int{}
	for i, t := range rec.Terms {
		order[t.Text] = i
	}
	sortNodes(n.Children, order)
	for _, tc := range n.Terms {
		n.Lookups += tc.Lookups
	}
	return n
}

// addresses resolves an a or exists target, to find void lookups.
func (l *linter) addresses(ctx context.Context, domain string, t Term, target string, tc *TermCost) {
	ips, err := l.res.IPs(ctx, target)
	if t.Name == "exists" {
		ips, err = l.res.A(ctx, target)
	}
	switch {
	case err == nil && len(ips) > 0:
	case err == nil || resolver.IsNotFound(err):
		tc.Void = true
		tc.Note = target + " has no address: a void lookup"
		l.mu.Lock()
		l.void++
		l.mu.Unlock()
	default:
		tc.Note = "could not be checked: " + err.Error()
		l.add(LevelError, domain, t.Text, "could not be checked: %s", lookupTrouble(err))
	}
}

// exchangers resolves an mx target and its hosts: at most 10 names (RFC 7208 §4.6.4).
func (l *linter) exchangers(ctx context.Context, domain string, t Term, target string, tc *TermCost) {
	mxs, err := l.res.MX(ctx, target)
	if err != nil {
		if resolver.IsNotFound(err) {
			tc.Void = true
			tc.Note = target + " has no MX: a void lookup"
			l.mu.Lock()
			l.void++
			l.mu.Unlock()
			return
		}
		tc.Note = "could not be checked: " + err.Error()
		l.add(LevelError, domain, t.Text, "could not be checked: %s", lookupTrouble(err))
		return
	}
	if len(mxs) > MaxMXNames {
		l.addReached(domain, t.Text, "%s has %d MX records; receivers look at no more than %d and return permerror", target, len(mxs), MaxMXNames)
	}
	var wg sync.WaitGroup
	for _, m := range mxs {
		if m.Host == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.res.IPs(ctx, m.Host) // warms the cache for the evaluation
		}()
	}
	wg.Wait()
	tc.Note = fmt.Sprintf("%d MX host(s)", len(mxs))
}

func contains(path []string, d string) bool {
	for _, p := range path {
		if p == d {
			return true
		}
	}
	return false
}

func sortNodes(ns []*Node, order map[string]int) {
	for i := 1; i < len(ns); i++ {
		for j := i; j > 0 && order[ns[j].Via] < order[ns[j-1].Via]; j-- {
			ns[j], ns[j-1] = ns[j-1], ns[j]
		}
	}
}

// clip keeps a record short enough to show; the lint already says how long it was.
func clip(s string) string {
	const max = 1024
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// wideRange flags a pass term whose address range is so wide it works like +all:
// "ip4:0.0.0.0/0" (or "a/0", which matches whatever the name resolves to) passes every
// address, though receivers evaluate it without complaint (RFC 7208 §5.6).
func (l *linter) wideRange(domain string, t Term) {
	switch {
	case t.Prefix4 == 0 || t.Prefix6 == 0:
		l.add(LevelFail, domain, t.Text, "%s authorizes every address on the internet to send as %s, like +all", t.Text, domain)
	case t.Prefix4 > 0 && t.Prefix4 < 8:
		l.add(LevelWarn, domain, t.Text, "%s authorizes %d IPv4 addresses: far more than any sender uses", t.Text, 1<<(32-t.Prefix4))
	case t.Prefix6 > 0 && t.Prefix6 < 16:
		l.add(LevelWarn, domain, t.Text, "%s authorizes a range wider than any sender uses", t.Text)
	}
}

// lookupTrouble says in a few words why a lookup failed (the full error stays in the
// tree's details): the kind and the name, without sockets and ports.
func lookupTrouble(err error) string {
	var re *resolver.Error
	if errors.As(err, &re) {
		return fmt.Sprintf("%s for %s", resolver.KindOf(err), re.Name)
	}
	return err.Error()
}
