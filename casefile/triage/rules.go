package triage

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The provider tables: one YAML file per provider (PROVIDERS.md) under
// knowledge/providers, plus the generic table of words every MTA uses and the enhanced
// status code registry under knowledge/standards; embedded with the rest in knowledge.go.

// ProviderTable is one provider's knowledge: the replies it writes and what they mean.
type ProviderTable struct {
	Provider string `yaml:"provider"` // the provider value; "unknown" for the generic table
	Name     string `yaml:"name"`
	// Order ranks tables: lower is tried first, so a specific provider wins over the
	// generic words.
	Order int `yaml:"order"`
	// Answers says that a reply matching this table was written by the provider itself
	// (Yahoo writes [BL21]); lists like Spamhaus are quoted by others and do not answer.
	Answers bool   `yaml:"answers"`
	Rules   []Rule `yaml:"rules"`
}

// Rule recognises one kind of reply by what is stable in it: codes, hosts, URLs and
// bracketed tokens, never whole sentences.
type Rule struct {
	ID      string `yaml:"id"`
	Meaning string `yaml:"meaning"`
	// Any: at least one of these (case-insensitive substrings) must appear, unless the
	// receiver is one of Receivers.
	Any []string `yaml:"any"`
	// All: every one of these must appear.
	All []string `yaml:"all"`
	// None: the rule does not apply when one of these appears.
	None []string `yaml:"none"`
	// Receivers: provider names of the answering host that stand in for Any.
	Receivers []string `yaml:"receivers"`
	// Codes: enhanced status codes ("5.7.26", "5.7.606-649", "x.7.1" for either class).
	Codes []string `yaml:"codes"`
	// Stated: the code must be in the reply itself, not only in a DSN's Status field
	// (which MTAs often fill with a generic 5.0.0 or 5.3.0).
	Stated bool `yaml:"stated"`
	// Replies: reply codes ("421", "5xx").
	Replies []string `yaml:"replies"`
	// Recipients: the recipient's domain ends with one of these (googlegroups.com).
	Recipients []string `yaml:"recipients"`
	// Stages: SMTP stages the reply came at (connect, mail, rcpt, data).
	Stages []string `yaml:"stages"`
	// Words: the rule's phrases count only as whole words, with no letter or digit on
	// either side ("rp-001", not the "corp-001" of a host name).
	Words bool `yaml:"words"`
	// Registry: "specific" matches a status code whose registry meaning is specific
	// (5.1.1, 5.2.2 …, not 5.0.0 or 5.7.1), "any" any code the registry knows; the
	// cause then comes from the registry.
	Registry string `yaml:"registry"`

	Mode     Mode   `yaml:"mode"`     // forced mode; empty: from the codes
	Cause    Cause  `yaml:"cause"`    // empty: from the enhanced status code
	Control  string `yaml:"control"`  // the control that fired
	Provider string `yaml:"provider"` // owner of the control when not the table's provider
	Route    string `yaml:"route"`    // route kind; empty: from the cause
	// DeferralRoute is the route when the reply is a deferral (a PDR delay clears itself).
	DeferralRoute string `yaml:"deferral_route"`
	// Routes picks the route by the cause found, for rules that name the provider but
	// leave the cause to the codes and words (a provider's catch-all).
	Routes map[Cause]string `yaml:"routes"`
	Send   string           `yaml:"send"` // what to do or send, for people

	table   *ProviderTable
	codes   []codeRange
	replies []replyRange
	rxProvs []string
	phrase  map[int]string // id → phrase, for the whole-word check
	anyIDs  []int          // phrase ids in the shared matcher
	allIDs  []int
	noneIDs []int
}

type codeRange struct {
	class           int // 0: either 4 or 5
	subject         int
	detailLo, detHi int
}

type replyRange struct{ lo, hi int }

// StatusMeaning is the registry meaning of an enhanced status code's subject and detail.
type StatusMeaning struct {
	Code    string `yaml:"code"` // "x.1.1"
	Meaning string `yaml:"meaning"`
	Cause   Cause  `yaml:"cause"`
	// Specific: the code alone says what happened, more surely than vague words.
	Specific bool `yaml:"specific"`
}

var (
	phrases  phraseSet // every phrase of every rule, matched in one pass
	tables   []*ProviderTable
	rules    []*Rule // every rule, in the order they are tried
	registry = map[[2]int]StatusMeaning{}
)

func init() {
	if err := loadRules(); err != nil {
		panic(err) // the embedded data is part of the program; its tests catch this
	}
}

// Causes are the values of a finding's cause (DESIGN.md).
var Causes = []Cause{IPReputation, DomainReputation, Blocklist, Authentication, RecipientPolicy, Content, RateLimit, InvalidRecipient, TLS, Other, UnknownCause}

var validCauses = map[Cause]bool{IPReputation: true, DomainReputation: true, Blocklist: true,
	Authentication: true, RecipientPolicy: true, Content: true, RateLimit: true,
	InvalidRecipient: true, TLS: true, Other: true, UnknownCause: true}

var validModes = map[Mode]bool{"": true, HardBlock: true, Deferral: true, Filtering: true,
	Complaint: true, Delivered: true, AutoReply: true, UnknownMode: true}

func loadRules() error {
	tables, rules, phrases = nil, nil, phraseSet{}
	k := knowledgeData()
	for i := range k.tables {
		t := &k.tables[i]
		name := k.tableFiles[i]
		if t.Provider == "" || len(t.Rules) == 0 {
			return fmt.Errorf("%s: a table needs a provider and rules", name)
		}
		for i := range t.Rules {
			r := &t.Rules[i]
			if err := r.compile(t); err != nil {
				return fmt.Errorf("%s: rule %q: %w", name, r.ID, err)
			}
		}
		tables = append(tables, t)
	}
	slices.SortStableFunc(tables, func(a, b *ProviderTable) int { return a.Order - b.Order })
	for _, t := range tables {
		for i := range t.Rules {
			rules = append(rules, &t.Rules[i])
		}
	}
	for _, m := range k.registry {
		cr, err := parseCodePattern(m.Code)
		if err != nil || cr.detailLo != cr.detHi || !validCauses[m.Cause] {
			return fmt.Errorf("enhanced-codes.yaml: bad entry %q", m.Code)
		}
		registry[[2]int{cr.subject, cr.detailLo}] = m
	}
	return nil
}

func (r *Rule) compile(t *ProviderTable) error {
	r.table = t
	if r.ID == "" || (r.Cause != "" && !validCauses[r.Cause]) || !validModes[r.Mode] {
		return fmt.Errorf("needs an id, a valid cause and mode")
	}
	for _, st := range r.Stages {
		if !slices.Contains([]string{"connect", "helo", "mail", "rcpt", "data"}, st) {
			return fmt.Errorf("stage %q", st)
		}
	}
	for c, kind := range r.Routes {
		if !validCauses[c] {
			return fmt.Errorf("routes: cause %q", c)
		}
		if _, ok := DeskFor(kind); !ok {
			return fmt.Errorf("route %q has no desk", kind)
		}
	}
	for _, kind := range []string{r.Route, r.DeferralRoute} {
		if _, ok := DeskFor(kind); kind != "" && !ok {
			return fmt.Errorf("route %q has no desk", kind)
		}
	}
	for _, c := range r.Codes {
		cr, err := parseCodePattern(c)
		if err != nil {
			return err
		}
		r.codes = append(r.codes, cr)
	}
	for _, s := range r.Replies {
		rr, err := parseReplyPattern(s)
		if err != nil {
			return err
		}
		r.replies = append(r.replies, rr)
	}
	ids := func(in []string) []int {
		out := make([]int, len(in))
		for i, s := range in {
			if s == "" {
				return nil
			}
			out[i] = phrases.add(strings.ToLower(s))
			if r.Words {
				if r.phrase == nil {
					r.phrase = map[int]string{}
				}
				r.phrase[out[i]] = strings.ToLower(s)
			}
		}
		return out
	}
	r.anyIDs, r.allIDs, r.noneIDs = ids(r.Any), ids(r.All), ids(r.None)
	if len(r.anyIDs) != len(r.Any) || len(r.allIDs) != len(r.All) || len(r.noneIDs) != len(r.None) {
		return fmt.Errorf("an empty phrase matches everything")
	}
	r.rxProvs = r.Receivers
	if r.Registry != "" && r.Registry != "specific" && r.Registry != "any" {
		return fmt.Errorf("registry %q", r.Registry)
	}
	if len(r.Any) == 0 && len(r.All) == 0 && len(r.codes) == 0 && len(r.replies) == 0 && len(r.rxProvs) == 0 && len(r.Stages) == 0 && r.Registry == "" && len(r.Recipients) == 0 {
		return fmt.Errorf("matches everything")
	}
	return nil
}

// parseCodePattern reads "5.7.26", "4.7.606-649" or "x.7.1".
func parseCodePattern(s string) (codeRange, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return codeRange{}, fmt.Errorf("code %q is not class.subject.detail", s)
	}
	var cr codeRange
	if parts[0] != "x" {
		c, err := strconv.Atoi(parts[0])
		if err != nil || (c != 2 && c != 4 && c != 5) {
			return cr, fmt.Errorf("code %q: bad class", s)
		}
		cr.class = c
	}
	sub, err := strconv.Atoi(parts[1])
	if err != nil {
		return cr, fmt.Errorf("code %q: bad subject", s)
	}
	cr.subject = sub
	lo, hi, isRange := strings.Cut(parts[2], "-")
	if cr.detailLo, err = strconv.Atoi(lo); err != nil {
		return cr, fmt.Errorf("code %q: bad detail", s)
	}
	cr.detHi = cr.detailLo
	if isRange {
		if cr.detHi, err = strconv.Atoi(hi); err != nil || cr.detHi < cr.detailLo {
			return cr, fmt.Errorf("code %q: bad detail range", s)
		}
	}
	return cr, nil
}

// parseReplyPattern reads "421" or "5xx".
func parseReplyPattern(s string) (replyRange, error) {
	if len(s) == 3 && s[1:] == "xx" && s[0] >= '2' && s[0] <= '5' {
		base := int(s[0]-'0') * 100
		return replyRange{base, base + 99}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 200 || n > 599 {
		return replyRange{}, fmt.Errorf("reply code %q", s)
	}
	return replyRange{n, n}, nil
}

// match reports whether the rule fits a parsed reply.
func (r *Rule) match(p *parsedReply) bool {
	if len(r.codes) > 0 {
		ok := false
		for _, c := range r.codes {
			if p.status.valid && (c.class == 0 || c.class == p.status.class) && c.subject == p.status.subject &&
				p.status.detail >= c.detailLo && p.status.detail <= c.detHi {
				ok = true
				break
			}
		}
		if !ok || (r.Stated && p.statusHinted) {
			return false
		}
	}
	if len(r.replies) > 0 {
		ok := false
		for _, rr := range r.replies {
			if p.code >= rr.lo && p.code <= rr.hi {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	// A reply that names the sender's address, not the recipient's, is about the envelope
	// sender whatever stage it came at (Exim quotes some after end of data).
	if len(r.Stages) > 0 && !slices.Contains(r.Stages, p.stage) && !(p.aboutSender && slices.Contains(r.Stages, "mail")) {
		return false
	}
	if len(r.Recipients) > 0 && (p.rcptDomain == "" || !hasSuffix(p.rcptDomain, r.Recipients)) {
		return false
	}
	if r.Registry != "" {
		m, ok := registryMeaning(p.status)
		if !ok || m.Cause == UnknownCause || (r.Registry == "specific" && !m.Specific) {
			return false
		}
	}
	for _, id := range r.allIDs {
		if !r.has(p, id) {
			return false
		}
	}
	for _, id := range r.noneIDs {
		if has(p.seen, id) {
			return false
		}
	}
	if len(r.anyIDs) == 0 && len(r.rxProvs) == 0 {
		return true
	}
	if p.receiverProvider != "" && slices.Contains(r.rxProvs, p.receiverProvider) {
		return true
	}
	for _, id := range r.anyIDs {
		if r.has(p, id) {
			return true
		}
	}
	return false
}

// has reports whether the reply holds the phrase, as a whole word when the rule says.
func (r *Rule) has(p *parsedReply, id int) bool {
	if !has(p.seen, id) {
		return false
	}
	w, ok := r.phrase[id]
	if !ok {
		return true
	}
	for i := 0; ; {
		j := strings.Index(p.focus[i:], w)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(w)
		if (j == 0 || !isAlnum(p.focus[j-1])) && (end == len(p.focus) || !isAlnum(p.focus[end])) {
			return true
		}
		i = j + 1
	}
}

// Tables returns the provider tables in the order they are tried.
func Tables() []ProviderTable {
	out := make([]ProviderTable, len(tables))
	for i, t := range tables {
		out[i] = *t
	}
	return out
}
