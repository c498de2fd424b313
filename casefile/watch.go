package casefile

// Watching a case: probes from the sending IP (checks/probe) and the blocklists
// (checks/dnsbl) run again, their results enter the timeline as probe events, every
// change of state enters it once as a state event, and the block is declared lifted when
// a probe is accepted where the case was last refused and no list that could be read
// lists the IP.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dnsbl"
	"github.com/unblock-mail/unblock/checks/probe"
	"github.com/unblock-mail/unblock/checks/resolver"
)

// Politeness of probes: at most one from a source IP to an MX host per interval.
const (
	DefaultProbeInterval = 15 * time.Minute
	MinProbeInterval     = 5 * time.Minute
)

// probeLogName is the file beside the cases that remembers when each IP last probed each
// host. It does not end in .yaml, so the store never takes it for a case.
const probeLogName = ".probes.json"

// ProbeLog remembers, across runs and across programs, when a source IP last probed an MX
// host. It is shared by every case of a store: two cases of one IP share its politeness.
type ProbeLog struct {
	path     string
	interval time.Duration
	mu       sync.Mutex
}

// ProbeLog opens the store's probe log with the given interval (0: the default). An
// interval below MinProbeInterval is refused.
func (s *Store) ProbeLog(interval time.Duration) (*ProbeLog, error) {
	if interval == 0 {
		interval = DefaultProbeInterval
	}
	if interval < MinProbeInterval {
		return nil, fmt.Errorf("probe interval %s is below the %s minimum: probes must stay polite", interval, MinProbeInterval)
	}
	return &ProbeLog{path: filepath.Join(s.dir, probeLogName), interval: interval}, nil
}

// Interval is the least time between two probes from one IP to one host.
func (l *ProbeLog) Interval() time.Duration { return l.interval }

func probeKey(from, mx string) string { return from + " " + mx }

// Last is when from last probed mx, or the zero time.
func (l *ProbeLog) Last(from, mx string) time.Time {
	times, _ := l.read()
	return times[probeKey(from, mx)]
}

// Reserve claims a probe from from to mx at now: it reports false (and when the last
// probe was) if one was made within the interval. The claim is written before the probe
// is made, under a lock, so two programs never probe the same host from one IP at once.
func (l *ProbeLog) Reserve(from, mx string, now time.Time) (bool, time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return false, time.Time{}, err
	}
	lf, err := os.OpenFile(l.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return false, time.Time{}, err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return false, time.Time{}, err
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	times, err := l.read()
	if err != nil {
		return false, time.Time{}, err
	}
	k := probeKey(from, mx)
	if last, ok := times[k]; ok && now.Sub(last) < l.interval && !last.After(now) {
		return false, last, nil
	}
	times[k] = now.UTC()
	// Forget what no longer limits anything, so the file stays small.
	for key, t := range times {
		if now.Sub(t) > 24*time.Hour {
			delete(times, key)
		}
	}
	data, err := json.MarshalIndent(times, "", "  ")
	if err != nil {
		return false, time.Time{}, err
	}
	tmp := l.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return false, time.Time{}, err
	}
	return true, time.Time{}, os.Rename(tmp, l.path)
}

func (l *ProbeLog) read() (map[string]time.Time, error) {
	times := map[string]time.Time{}
	data, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return times, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &times); err != nil {
		// The file is ours and only a memory of politeness: a broken one is started afresh
		// rather than stopping every probe.
		return map[string]time.Time{}, nil
	}
	return times, nil
}

// HostSlots spreads probes per MX host: at most n conversations with one host at once.
type HostSlots struct {
	n     int
	mu    sync.Mutex
	slots map[string]chan struct{}
}

// NewHostSlots allows n conversations per host (at least 1).
func NewHostSlots(n int) *HostSlots {
	return &HostSlots{n: max(n, 1), slots: map[string]chan struct{}{}}
}

// Hold waits for a slot at mx and returns its release.
func (h *HostSlots) Hold(mx string) func() {
	h.mu.Lock()
	ch, ok := h.slots[mx]
	if !ok {
		ch = make(chan struct{}, h.n)
		h.slots[mx] = ch
	}
	h.mu.Unlock()
	ch <- struct{}{}
	return func() { <-ch }
}

// ProbeTarget is one recipient domain a case's probe asks, with the recipient used.
type ProbeTarget struct {
	Domain string
	Rcpt   string
	Skip   string // why this domain is not probed, when it is not
}

// ProbePlan is what a probe of the case would do: from which IP, as whom, to whom. The
// error names what the case lacks, and how to set it.
func (c *Case) ProbePlan() (netip.Addr, []ProbeTarget, error) {
	ip, err := netip.ParseAddr(c.IP())
	switch {
	case c.IP() == "":
		return ip, nil, fmt.Errorf("case %s has no sending IP: set it with \"unblock set %s --ip IP\"", c.ID, c.ID)
	case err != nil:
		return ip, nil, fmt.Errorf("case %s: sending IP %q is not an IP address", c.ID, c.IP())
	case c.Identifiers.HELO == "":
		return ip, nil, fmt.Errorf("case %s has no HELO name to probe with: set it with \"unblock set %s --helo NAME\"", c.ID, c.ID)
	case !strings.Contains(c.Identifiers.EnvelopeSender, "@"):
		return ip, nil, fmt.Errorf("case %s has no envelope sender to probe with: set it with \"unblock set %s --envelope-sender ADDRESS\"", c.ID, c.ID)
	}
	domains := slices.Clone(c.Identifiers.RecipientDomains)
	latest := map[string]Event{}
	for _, e := range c.Timeline {
		if !e.IsFailure() || e.RecipientDomain == "" {
			continue
		}
		d := strings.ToLower(e.RecipientDomain)
		if !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
		if prev, ok := latest[d]; len(e.Recipients) > 0 && (!ok || !e.LastSeen().Before(prev.LastSeen())) {
			latest[d] = e
		}
	}
	if len(domains) == 0 {
		return ip, nil, fmt.Errorf("case %s has no recipient domain to probe: add a failure (\"unblock add %s FILE\")", c.ID, c.ID)
	}
	var out []ProbeTarget
	for _, d := range domains {
		t := ProbeTarget{Domain: d}
		if e, ok := latest[d]; ok {
			// The most recent recipient refused: the probe asks exactly what failed.
			for _, r := range slices.Backward(e.Recipients) {
				if strings.HasSuffix(strings.ToLower(r), "@"+d) {
					t.Rcpt = r
					break
				}
			}
		}
		if t.Rcpt == "" {
			t.Skip = "no recipient at " + d + " in the timeline"
		}
		out = append(out, t)
	}
	return ip, out, nil
}

// StateChange is one change of state recorded in the timeline.
type StateChange struct {
	Case   string    `json:"case"`
	What   string    `json:"what"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to"`
	At     time.Time `json:"at"`
	Better bool      `json:"better,omitempty"`
	Worse  bool      `json:"worse,omitempty"`
}

// WatchOptions say what a watch (or a probe) of a case runs and how.
type WatchOptions struct {
	Resolver    *resolver.Resolver
	Port        int           // SMTP port of MX hosts (0: 25)
	HostTimeout time.Duration // per MX host (0: probe.DefaultHostTimeout)
	Log         *ProbeLog     // the rate limit; required for probes
	Slots       *HostSlots    // spreads probes per host; nil: no spreading
	Now         func() time.Time
	Probe       bool         // run the probe
	Blocklists  bool         // re-run the IP blocklists
	Zones       []dnsbl.Zone // nil: dnsbl.Zones()
	Checks      bool         // re-run the live checks (authentication, rDNS, HELO …)
}

// WatchReport is what one watch of one case found.
type WatchReport struct {
	Case     string
	Probes   []probe.Result
	Skipped  []ProbeTarget // domains not probed, and why
	Lists    []dnsbl.Result
	Checks   []checks.Result // the live checks, when run
	Unread   []string        // lists that could not be read: named, but they do not hold a lift back
	Changes  []StateChange
	Lifted   bool
	LiftedAt time.Time
	Notes    []string // what could not be done, in words ("this machine cannot send from …")
}

// Worse and Better say whether any change went that way.
func (r WatchReport) Worse() bool {
	return slices.ContainsFunc(r.Changes, func(c StateChange) bool { return c.Worse })
}
func (r WatchReport) Better() bool {
	return slices.ContainsFunc(r.Changes, func(c StateChange) bool { return c.Better })
}

// Watch runs what o asks for against the case and records the results and every change
// of state in its timeline. The caller saves the case. A probe that cannot be made here
// (the IP is not this machine's) is a note, not an error: the blocklists still run.
func (c *Case) Watch(ctx context.Context, o WatchOptions) WatchReport {
	rep := c.Plan().Gather(ctx, o)
	if o.Now == nil {
		o.Now = time.Now
	}
	c.RecordWatch(&rep, o.Now())
	return rep
}

// WatchPlan is what a watch needs of a case, copied: the network part runs on it (in a
// goroutine, a tea.Cmd) while the case itself is left alone.
type WatchPlan struct {
	Case        string
	Identifiers Identifiers
	IP          netip.Addr
	Targets     []ProbeTarget
	PlanErr     error // why no probe can be planned
}

// Plan copies what a watch of the case needs.
func (c *Case) Plan() WatchPlan {
	p := WatchPlan{Case: c.ID, Identifiers: c.Identifiers}
	id := &p.Identifiers
	id.IPs, id.Selectors = slices.Clone(id.IPs), slices.Clone(id.Selectors)
	id.RecipientDomains, id.MessageIDs = slices.Clone(id.RecipientDomains), slices.Clone(id.MessageIDs)
	p.IP, p.Targets, p.PlanErr = c.ProbePlan()
	return p
}

// Gather runs the network part of a watch: blocklists, probes and checks, as o asks. It
// changes no case; RecordWatch puts what it found into one.
func (p WatchPlan) Gather(ctx context.Context, o WatchOptions) WatchReport {
	if o.Now == nil {
		o.Now = time.Now
	}
	rep := WatchReport{Case: p.Case}
	ip := ""
	if len(p.Identifiers.IPs) > 0 {
		ip = p.Identifiers.IPs[0]
	}
	var wg sync.WaitGroup
	if o.Blocklists && ip != "" {
		wg.Go(func() {
			zones := o.Zones
			if zones == nil {
				zones = dnsbl.Zones()
			}
			rep.Lists = dnsbl.Check(ctx, o.Resolver, zones, dnsbl.KindIP, ip)
		})
	}
	if o.Checks {
		wg.Go(func() { rep.Checks = p.runChecks(ctx, o) })
	}
	if o.Probe {
		rep.Probes, rep.Skipped, rep.Notes = p.runProbes(ctx, o)
	}
	wg.Wait()
	for _, l := range rep.Lists {
		if l.State == dnsbl.Error || l.State == dnsbl.Refused || l.State == dnsbl.Unknown {
			rep.Unread = append(rep.Unread, l.Zone.Zone)
		}
	}
	return rep
}

// RecordWatch puts a gathered report into the case's timeline: the probes' answers, every
// change of state once, and the lift when there is one. It fills in rep's changes.
func (c *Case) RecordWatch(rep *WatchReport, now time.Time) {
	now = utc(now)
	if rep.Checks != nil {
		rep.Changes = append(rep.Changes, c.recordCheckChanges(rep.Checks, now)...)
	}
	rep.Changes = append(rep.Changes, c.recordLists(rep.Lists, now)...)
	rep.Changes = append(rep.Changes, c.RecordProbes(rep.Probes, now)...)
	if ch, ok := c.lifted(*rep, now); ok {
		rep.Changes = append(rep.Changes, ch)
		rep.Lifted, rep.LiftedAt = true, ch.At
	}
}

// runChecks runs the live checks for the case's identity (the blocklists run apart).
func (p WatchPlan) runChecks(ctx context.Context, o WatchOptions) []checks.Result {
	id := p.Identifiers
	t := checks.Target{Domain: id.Domain, EnvelopeSender: id.EnvelopeSender, HELO: id.HELO, Selectors: id.Selectors}
	if len(id.IPs) > 0 {
		if ip, err := netip.ParseAddr(id.IPs[0]); err == nil {
			t.IP = ip
		}
	}
	if len(id.RecipientDomains) > 0 {
		t.RecipientDomain = id.RecipientDomains[0]
	}
	env := &checks.Env{Resolver: o.Resolver, SMTPPort: cmp.Or(o.Port, 25), Now: o.Now}
	var out []checks.Result
	for r := range checks.Run(ctx, env, t, map[string]bool{"dnsbl": true}) {
		out = append(out, r)
	}
	return out
}

// recordCheckChanges records each check whose verdict moved (pass, warn, fail; a check
// that could not be made changes nothing) and keeps the new results as the case's status.
func (c *Case) recordCheckChanges(results []checks.Result, now time.Time) []StateChange {
	rank := map[string]int{string(checks.Fail): 0, string(checks.Warn): 1, string(checks.Pass): 2}
	old := map[string]string{}
	for _, a := range c.Authentication {
		old[a.ID] = a.Status
	}
	var changes []StateChange
	var keep []checks.Result
	for _, r := range results {
		is, ok := rank[string(r.Status)]
		if !ok {
			// Could not check this round: what the case knew stays as it was, with the
			// time it was checked and its details (a message states both).
			continue
		}
		keep = append(keep, r)
		prev, had := old[r.ID]
		was, known := rank[prev]
		if !had || !known || prev == string(r.Status) {
			continue
		}
		ch := StateChange{Case: c.ID, What: "check " + r.ID, From: prev, To: string(r.Status), At: now, Better: is > was, Worse: is < was}
		c.Timeline = append(c.Timeline, Event{Kind: KindState, At: now, Added: now, What: ch.What, From: ch.From, To: ch.To})
		changes = append(changes, ch)
	}
	if len(keep) > 0 {
		c.RecordChecks(keep, now)
	}
	return changes
}

// runProbes probes each recipient domain of the case, politely.
func (p WatchPlan) runProbes(ctx context.Context, o WatchOptions) ([]probe.Result, []ProbeTarget, []string) {
	ip, targets := p.IP, p.Targets
	if p.PlanErr != nil {
		return nil, nil, []string{"not probed: " + p.PlanErr.Error()}
	}
	if err := probe.CanBind(ip); err != nil {
		return nil, nil, []string{"not probed: " + err.Error()}
	}
	if o.Log == nil {
		return nil, nil, []string{"not probed: no probe log to keep probes polite"}
	}
	var results []probe.Result
	var skipped []ProbeTarget
	var notes []string
	for _, t := range targets {
		if t.Skip != "" {
			skipped = append(skipped, t)
			continue
		}
		var logErr error
		po := probe.Options{
			Source: ip, Domain: t.Domain, HELO: p.Identifiers.HELO, MailFrom: p.Identifiers.EnvelopeSender,
			RcptTo: t.Rcpt, Resolver: o.Resolver, Port: o.Port, HostTimeout: o.HostTimeout, Now: o.Now,
			Allow: func(mx string) bool {
				ok, _, err := o.Log.Reserve(ip.String(), mx, utc(o.Now()))
				if err != nil {
					logErr = err
				}
				return ok && err == nil
			},
		}
		if o.Slots != nil {
			po.Slot = o.Slots.Hold
		}
		res, err := probe.Probe(ctx, po)
		switch {
		case err != nil:
			notes = append(notes, "not probed: "+err.Error())
		case logErr != nil:
			notes = append(notes, "not probed: the probe log: "+logErr.Error())
		default:
			results = append(results, res)
		}
	}
	return results, skipped, notes
}

// outcomeOf words a probe event or a failure as the states compare: accepted, refused,
// deferred.
func outcomeOf(e Event) string {
	switch {
	case e.Kind == KindProbe && e.ReplyCode >= 200 && e.ReplyCode < 300:
		return "accepted"
	case e.Mode == triage.Deferral || e.ReplyCode >= 400 && e.ReplyCode < 500:
		return "deferred"
	case e.Mode == triage.Delivered:
		return "accepted"
	}
	return "refused"
}

// previousFor is what a probe of domain from ip compares with: the latest probe of it,
// or, before the first probe, the latest failure at that domain.
func (c *Case) previousFor(ip, domain string) (Event, bool) {
	var last Event
	found := false
	for _, e := range c.Timeline {
		if e.Kind == KindProbe && e.FromIP == ip && strings.EqualFold(e.RecipientDomain, domain) {
			last, found = e, true
		}
	}
	if found {
		return last, true
	}
	for _, e := range c.Timeline {
		if e.IsFailure() && strings.EqualFold(e.RecipientDomain, domain) && (!found || !e.LastSeen().Before(last.LastSeen())) {
			last, found = e, true
		}
	}
	return last, found
}

// RecordProbes puts the probes' answers into the timeline: a probe that answered as the
// last one did adds to its counts; any other is a new probe event, and a change of outcome
// or of reply is a state event.
func (c *Case) RecordProbes(results []probe.Result, now time.Time) []StateChange {
	var changes []StateChange
	for _, r := range results {
		if r.Outcome != probe.Accepted && r.Outcome != probe.Refused && r.Outcome != probe.Deferred {
			continue // no answer, or not asked: says nothing about the block
		}
		f := triage.ClassifyReply(r.Reply)
		e := Event{
			Kind: KindProbe, At: utc(r.At), Added: now, RecipientDomain: r.Domain,
			FromIP: r.From, MX: r.MX, Stage: r.Stage, Reply: f.Text, ReplyCode: r.Code, EnhancedCode: r.Enhanced,
			Provider: f.Provider, Control: f.Control, Mode: f.Mode,
		}
		if e.Reply == "" {
			e.Reply = r.Reply
		}
		if e.Provider == "unknown" {
			e.Provider = ""
		}
		if r.Outcome == probe.Accepted {
			// An accepted envelope is not a delivery (no DATA was sent): no failure mode.
			e.Mode, e.Provider, e.Control = "", "", ""
		}
		prev, had := c.previousFor(r.From, r.Domain)
		was, is := "", outcomeOf(e)
		if had {
			was = outcomeOf(prev)
		}
		if had && prev.Kind == KindProbe && prev.MX == e.MX && prev.Stage == e.Stage && prev.ReplyCode == e.ReplyCode &&
			prev.EnhancedCode == e.EnhancedCode && prev.Control == e.Control {
			// The same answer again: one event with counts.
			for i := len(c.Timeline) - 1; i >= 0; i-- {
				p := &c.Timeline[i]
				if p.Kind == KindProbe && p.FromIP == e.FromIP && strings.EqualFold(p.RecipientDomain, e.RecipientDomain) {
					p.Attempts = p.AttemptCount() + 1
					if e.At.After(p.LastSeen()) {
						p.Last = e.At
					}
					break
				}
			}
			continue
		}
		c.Timeline = append(c.Timeline, e)
		what := "probe " + r.Domain + " from " + r.From
		switch {
		case was == is && had && prev.Kind == KindProbe:
			// Same outcome, another reply: a new reply is a change too.
			changes = append(changes, StateChange{What: "reply " + r.Domain + " from " + r.From,
				From: replyWords(prev), To: replyWords(e), At: e.At, Worse: is != "accepted"})
		case was == is:
			// The first probe says what the latest failure said: nothing changed.
		default:
			better := rank(is) > rank(was)
			changes = append(changes, StateChange{What: what, From: cmp.Or(was, "unknown"), To: is, At: e.At, Better: better, Worse: !better})
		}
	}
	for i := range changes {
		changes[i].Case = c.ID
		c.Timeline = append(c.Timeline, Event{Kind: KindState, At: changes[i].At, Added: now, What: changes[i].What, From: changes[i].From, To: changes[i].To})
	}
	return changes
}

func rank(outcome string) int {
	switch outcome {
	case "accepted":
		return 2
	case "deferred":
		return 1
	}
	return 0
}

func replyWords(e Event) string {
	s := fmt.Sprint(e.ReplyCode)
	if e.EnhancedCode != "" {
		s += " " + e.EnhancedCode
	}
	if e.Control != "" {
		s += " " + e.Control
	}
	return s
}

// latestState is the latest state event about what.
func (c *Case) latestState(what string) (Event, bool) {
	for _, e := range slices.Backward(c.Timeline) {
		if e.Kind == KindState && e.What == what {
			return e, true
		}
	}
	return Event{}, false
}

// recordLists records the lists whose answer changed: listed ↔ not listed. A list that
// could not be read changes nothing; a list first seen listed is a change from unknown.
func (c *Case) recordLists(lists []dnsbl.Result, now time.Time) []StateChange {
	var changes []StateChange
	for _, l := range lists {
		if l.State != dnsbl.Listed && l.State != dnsbl.NotListed {
			continue
		}
		what := "dnsbl " + l.Zone.Zone
		was := ""
		if prev, ok := c.latestState(what); ok {
			was = prev.To
		}
		is := string(l.State)
		if was == is || was == "" && l.State == dnsbl.NotListed {
			continue
		}
		ch := StateChange{Case: c.ID, What: what, From: cmp.Or(was, "unknown"), To: is, At: now,
			Better: l.State == dnsbl.NotListed, Worse: l.State == dnsbl.Listed}
		c.Timeline = append(c.Timeline, Event{Kind: KindState, At: now, Added: now, What: what, From: ch.From, To: is})
		changes = append(changes, ch)
	}
	return changes
}

// lifted decides whether the block lifted with this watch: a probe accepted where the
// case was last refused or deferred (by a failure, or by a probe), no probe of this watch
// refused, and no list that could be read listing the IP — lists that could not be read
// do not hold it back. It is said once: not again until a new refusal.
func (c *Case) lifted(rep WatchReport, now time.Time) (StateChange, bool) {
	var accepted time.Time
	for _, p := range rep.Probes {
		switch p.Outcome {
		case probe.Refused, probe.Deferred:
			return StateChange{}, false
		case probe.Accepted:
			if accepted.IsZero() {
				accepted = utc(p.At)
			}
		}
	}
	if accepted.IsZero() {
		return StateChange{}, false
	}
	for _, l := range rep.Lists {
		if l.State == dnsbl.Listed {
			return StateChange{}, false
		}
	}
	var refused, said time.Time
	for _, e := range c.Timeline {
		switch {
		case e.IsFailure() || e.Kind == KindProbe && outcomeOf(e) != "accepted":
			if t := e.LastSeen(); t.After(refused) {
				refused = t
			}
		case e.Kind == KindState && e.What == "block" && e.To == "lifted":
			if e.At.After(said) {
				said = e.At
			}
		}
	}
	if refused.IsZero() || !said.IsZero() && !said.Before(refused) {
		return StateChange{}, false
	}
	// Lifted at the first accepted probe after the last refusal.
	at := accepted
	for _, e := range c.Timeline {
		if e.Kind == KindProbe && outcomeOf(e) == "accepted" && e.At.After(refused) && e.At.Before(at) {
			at = e.At
		}
	}
	ch := StateChange{Case: c.ID, What: "block", From: "refused", To: "lifted", At: at, Better: true}
	c.Timeline = append(c.Timeline, Event{Kind: KindState, At: at, Added: now, What: "block", From: "refused", To: "lifted"})
	return ch, true
}

// Probes are the timeline's probe events at or after since, in timeline order.
func (c *Case) Probes(since time.Time) []Event {
	var out []Event
	for _, e := range c.Timeline {
		if e.Kind == KindProbe && (since.IsZero() || !e.LastSeen().Before(since)) {
			out = append(out, e)
		}
	}
	return out
}

// States are the timeline's state events at or after since, in timeline order.
func (c *Case) States(since time.Time) []Event {
	var out []Event
	for _, e := range c.Timeline {
		if e.Kind == KindState && (since.IsZero() || !e.At.Before(since)) {
			out = append(out, e)
		}
	}
	return out
}

// ProbeStanding says in one sentence per probed domain how the latest probes since since
// stood, for the update message: still refused with the exact reply, or accepted since
// when. Empty when no probe was made since. A probe tells only about the IP it ran from,
// and only about the envelope: the sentence says so.
func (c *Case) ProbeStanding(since time.Time) string {
	latest := map[string]Event{}
	var order []string
	for _, e := range c.Probes(since) {
		k := e.FromIP + " " + strings.ToLower(e.RecipientDomain)
		if _, ok := latest[k]; !ok {
			order = append(order, k)
		}
		latest[k] = e
	}
	var out []string
	const stamp = "2006-01-02 15:04 UTC"
	for _, k := range order {
		e := latest[k]
		switch outcomeOf(e) {
		case "accepted":
			// Accepted since the first of the accepted probes that follow the last refusal.
			from := e.At
			for _, p := range slices.Backward(c.Probes(time.Time{})) {
				if p.FromIP != e.FromIP || !strings.EqualFold(p.RecipientDomain, e.RecipientDomain) {
					continue
				}
				if outcomeOf(p) != "accepted" {
					break
				}
				from = p.At
			}
			out = append(out, fmt.Sprintf("A probe from %s to %s (%s) has been accepted at RCPT TO since %s; the probe sent no message.",
				e.FromIP, e.MX, e.RecipientDomain, from.Format(stamp)))
		default:
			still := ""
			if prev, ok := c.refusedBefore(e); ok && prev {
				still = "still "
			}
			out = append(out, fmt.Sprintf("A probe from %s to %s (%s) at %s was %s%s at %s with: %s",
				e.FromIP, e.MX, e.RecipientDomain, e.LastSeen().Format(stamp), still, outcomeOf(e), strings.ToUpper(e.Stage), e.Reply))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return strings.Join(out, " ") + " A probe tells only about the IP it ran from."
}

// refusedBefore: was the case refused at e's domain before e (an earlier failure or probe)?
func (c *Case) refusedBefore(e Event) (bool, bool) {
	for _, p := range c.Timeline {
		if p.Kind == KindProbe && p.At.Equal(e.At) && p.FromIP == e.FromIP {
			break
		}
		if strings.EqualFold(p.RecipientDomain, e.RecipientDomain) && (p.IsFailure() || p.Kind == KindProbe) && outcomeOf(p) != "accepted" {
			return true, true
		}
	}
	return false, true
}
