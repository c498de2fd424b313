package main

// The check verb: the live checks of package checks (and, with --message, the message
// tester of checks/message) for one sending identity, as a table that grows as results
// arrive, or as the JSON contract of DESIGN.md.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/spf13/cobra"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/message"
	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/sanitize"
)

func init() {
	verbs = append(verbs, checkCmd)
}

// checkFlags are the flags of `unblock check`, as given.
type checkFlags struct {
	ip, domain, message, helo string
	selectors                 []string
	recipientDomain, smtpHost string
	resolvers                 []string
	timeout                   time.Duration
	skip, only                []string
	json                      bool
	caseRef                   string // --case: run for this case's identifiers and record the results in it
}

func checkCmd(a *app) *cobra.Command {
	f := &checkFlags{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Prove the sending side: SPF, DKIM, DMARC, rDNS, HELO, MX, TLS and blocklists",
		Long: `check runs every live check at once for a sending IP and domain (or for the identities
found in a message) and prints each result as it arrives. A check that could not be made
(a DNS timeout, port 25 blocked) says "error", never "fail".

Exit status: 0 no check failed, 1 a check failed, 2 bad usage.`,
		Example: `  unblock check --ip 192.0.2.10 --domain example.com --helo mail.example.com
  unblock check --message bounce.eml --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheckVerb(cmd.Context(), a, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.ip, "ip", "", "the sending IP address")
	fl.StringVar(&f.domain, "domain", "", "the sending domain (MAIL FROM or From)")
	fl.StringVar(&f.message, "message", "", "a message (.eml) whose identities and content to check")
	fl.StringVar(&f.helo, "helo", "", "the name the sending server gives in HELO/EHLO")
	fl.StringArrayVar(&f.selectors, "selector", nil, "a DKIM selector (repeat for several; default: probe common ones)")
	fl.StringVar(&f.recipientDomain, "recipient-domain", "", "the domain that refused the mail")
	fl.StringVar(&f.smtpHost, "smtp-host", "", "host to probe for STARTTLS instead of the MX")
	fl.StringSliceVar(&f.resolvers, "resolver", nil, "DNS server to ask, HOST[:PORT] (default: /etc/resolv.conf)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "time limit of the whole run")
	fl.StringSliceVar(&f.skip, "skip", nil, "check ids not to run, comma-separated")
	fl.StringSliceVar(&f.only, "only", nil, "run only these check ids, comma-separated")
	fl.BoolVar(&f.json, "json", false, "print the results as JSON")
	fl.StringVar(&f.caseRef, "case", "", "run the checks for this case's identifiers (the flags above add or override) and record the results in it")
	return cmd
}

// checkTarget validates the flags into a target; every error is one line naming the flag.
func (f *checkFlags) checkTarget() (checks.Target, error) {
	var t checks.Target
	if f.ip == "" && f.domain == "" && f.message == "" && f.helo == "" {
		return t, badInput("give --ip and --domain, or --message")
	}
	if f.ip != "" {
		ip, err := netip.ParseAddr(strings.TrimSpace(f.ip))
		if err != nil || ip.Zone() != "" {
			return t, badInput("--ip %q is not an IP address", sanitize.Line(f.ip))
		}
		t.IP = ip.Unmap()
	}
	// The names are checked as new checks them (checkDomain, checkSelector): a name
	// with a control character or a space is refused before it is looked up or shown.
	domainFlag := func(flag, v string) (string, error) {
		if _, err := checkDomain("--"+flag, v); err != nil {
			return "", err
		}
		d, err := resolver.Normalize(v)
		if err != nil || !strings.Contains(d, ".") {
			return "", badInput("--%s %q is not a domain name", flag, v)
		}
		return d, nil
	}
	var err error
	if f.domain != "" {
		if i := strings.LastIndexByte(f.domain, '@'); i >= 0 {
			// An address: its domain is the sending domain, the address the envelope sender.
			if _, _, err := checkAddress("--domain", f.domain); err != nil {
				return t, err
			}
			t.EnvelopeSender = strings.TrimSpace(f.domain)
			f.domain = f.domain[i+1:]
		}
		if t.Domain, err = domainFlag("domain", f.domain); err != nil {
			return t, err
		}
	}
	if f.helo != "" {
		h := strings.TrimSpace(f.helo)
		// An address literal is accepted: the helo check says what is wrong with it.
		if lit := strings.Trim(h, "[]"); strings.HasPrefix(h, "[") {
			if _, err := netip.ParseAddr(strings.TrimPrefix(lit, "IPv6:")); err != nil {
				return t, badInput("--helo %q is neither a host name nor an address literal", f.helo)
			}
			t.HELO = h
		} else if _, err := netip.ParseAddr(h); err == nil {
			t.HELO = h
		} else if _, err := checkHELO(h); err != nil {
			return t, err
		} else if _, err := resolver.Normalize(h); err != nil {
			return t, badInput("--helo %q is neither a host name nor an address literal", f.helo)
		} else {
			// Kept as given: a final dot is itself a finding of the helo check.
			t.HELO = h
		}
	}
	for _, s := range f.selectors {
		if err := checkSelector(s); err != nil {
			return t, err
		}
		t.Selectors = append(t.Selectors, strings.ToLower(s))
	}
	if f.recipientDomain != "" {
		if t.RecipientDomain, err = domainFlag("recipient-domain", f.recipientDomain); err != nil {
			return t, err
		}
	}
	if f.smtpHost != "" {
		if _, err := netip.ParseAddr(f.smtpHost); err == nil {
			t.SMTPHost = f.smtpHost
		} else if t.SMTPHost, err = domainFlag("smtp-host", f.smtpHost); err != nil {
			return t, err
		}
	}
	return t, nil
}

// skipSet validates --skip and --only against the known ids and returns what not to run.
func (f *checkFlags) skipSet() (map[string]bool, error) {
	known := append(checks.IDs(), message.IDs()...)
	valid := func(flag string, ids []string) (map[string]bool, error) {
		set := map[string]bool{}
		for _, id := range ids {
			id = strings.TrimSpace(id)
			if id == "" {
				continue
			}
			if !slices.Contains(known, id) {
				return nil, badInput("--%s: no check %q (checks: %s)", flag, sanitize.Line(id), strings.Join(checks.IDs(), " "))
			}
			set[id] = true
		}
		return set, nil
	}
	skip, err := valid("skip", f.skip)
	if err != nil {
		return nil, err
	}
	only, err := valid("only", f.only)
	if err != nil {
		return nil, err
	}
	if len(only) > 0 {
		for _, id := range known {
			if !only[id] {
				skip[id] = true
			}
		}
	}
	return skip, nil
}

func (f *checkFlags) resolver() (*resolver.Resolver, error) {
	res, err := resolver.ForRun(f.resolvers)
	if err != nil {
		return nil, badInput("--resolver: %v", err)
	}
	return res, nil
}

func runCheckVerb(ctx context.Context, a *app, f *checkFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var target checks.Target
	var err error
	if f.caseRef != "" {
		target, err = f.caseTarget(a) // checkcase.go
	} else {
		target, err = f.checkTarget()
	}
	if err != nil {
		return err
	}
	skip, err := f.skipSet()
	if err != nil {
		return err
	}
	if f.timeout <= 0 {
		return badInput("--timeout must be positive, not %s", f.timeout)
	}
	var raw []byte
	if f.message != "" {
		if raw, err = message.ReadFile(f.message); err != nil {
			return badInput("--message: %v", err)
		}
	}
	res, err := f.resolver()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	env := &checks.Env{Resolver: res, Now: now} // UNBLOCK_NOW, as the interface does
	start := time.Now()

	var results <-chan checks.Result
	if raw != nil {
		target, results, err = message.Check(ctx, env, raw, target, skip)
		if err != nil {
			return badInput("--message %s: %v", sanitize.Line(f.message), err)
		}
	} else {
		if !target.IP.IsValid() && target.Domain == "" {
			return badInput("give --ip and --domain, or --message")
		}
		results = checks.Run(ctx, env, target, skip)
	}

	var all []checks.Result
	var out *checkTable
	if !f.json {
		ids := checks.IDs()
		if raw != nil {
			ids = append(ids, message.IDs()...)
		}
		out = newCheckTable(a.stdout, target, ids)
	}
	for r := range results {
		all = append(all, r)
		if out != nil && !(len(f.only) > 0 && skip[r.ID] && r.Status == checks.Skip) {
			// With --only, the rows left out on request would only be noise.
			out.row(r)
		}
	}
	elapsed := time.Since(start)
	if f.json {
		if err := writeCheckJSON(a.stdout, target, res, elapsed, all); err != nil {
			return err
		}
	} else {
		out.footer(all, elapsed)
	}
	if f.caseRef != "" {
		if err := f.recordInCase(a, target, all); err != nil { // checkcase.go
			return err
		}
	}
	if checks.Worst(all) == checks.Fail {
		return foundProblems
	}
	return nil
}

// checkJSON is one result in the JSON contract.
type checkJSON struct {
	ID         string         `json:"id"`
	Status     checks.Status  `json:"status"`
	Summary    string         `json:"summary"`
	Fix        string         `json:"fix,omitempty"`
	DurationMS int64          `json:"duration_ms"`
	Details    map[string]any `json:"details,omitempty"`
}

func writeCheckJSON(w io.Writer, t checks.Target, res *resolver.Resolver, d time.Duration, rs []checks.Result) error {
	doc := struct {
		Target     checks.Target `json:"target"`
		Resolver   string        `json:"resolver"`
		DurationMS int64         `json:"duration_ms"`
		Checks     []checkJSON   `json:"checks"`
	}{Target: t, Resolver: strings.Join(res.Servers(), " "), DurationMS: d.Milliseconds(), Checks: []checkJSON{}}
	// The checks sanitize what they got from outside; this is the last guard before a
	// script's terminal (jq prints a \u001b as a real ESC).
	doc.Target.Domain, doc.Target.HELO = sanitize.Line(t.Domain), sanitize.Line(t.HELO)
	doc.Target.EnvelopeSender = sanitize.Line(t.EnvelopeSender)
	doc.Target.RecipientDomain, doc.Target.SMTPHost = sanitize.Line(t.RecipientDomain), sanitize.Line(t.SMTPHost)
	doc.Target.Selectors = nil
	for _, s := range t.Selectors {
		doc.Target.Selectors = append(doc.Target.Selectors, sanitize.Line(s))
	}
	for _, r := range rs {
		doc.Checks = append(doc.Checks, checkJSON{ID: r.ID, Status: r.Status, Summary: sanitize.Line(r.Summary),
			Fix: sanitize.Text(r.Fix), DurationMS: r.Duration.Milliseconds(), Details: cleanDetails(r.Details)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("writing JSON: %w", err)
	}
	return nil
}

// cleanDetails returns details with every string sanitized, whatever types the check
// put in them: they are read back as the JSON they will be written as.
func cleanDetails(d map[string]any) map[string]any {
	if len(d) == 0 {
		return d
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return d
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return d
	}
	var clean func(any) any
	clean = func(x any) any {
		switch x := x.(type) {
		case string:
			return sanitize.Text(x)
		case []any:
			for i := range x {
				x[i] = clean(x[i])
			}
		case map[string]any:
			m := make(map[string]any, len(x))
			for k, e := range x {
				m[sanitize.Line(k)] = clean(e)
			}
			return m
		}
		return x
	}
	return clean(v).(map[string]any)
}

// checkTable prints results as they arrive: a status glyph, the id, the summary, and the
// fix under a failure or warning. Colours go through lipgloss, which drops them for
// NO_COLOR and for output that is not a terminal.
type checkTable struct {
	w      io.Writer
	width  int // of the id column
	styles map[checks.Status]lipgloss.Style
	muted  lipgloss.Style
}

var checkGlyphs = map[checks.Status]string{
	checks.Pass: "✓", checks.Warn: "!", checks.Fail: "✗", checks.Error: "?", checks.Skip: "-",
}

func newCheckTable(w io.Writer, t checks.Target, ids []string) *checkTable {
	c := &checkTable{w: w, styles: map[checks.Status]lipgloss.Style{
		checks.Pass:  lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
		checks.Warn:  lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
		checks.Fail:  lipgloss.NewStyle().Foreground(lipgloss.Color("1")),
		checks.Error: lipgloss.NewStyle().Foreground(lipgloss.Color("5")),
		checks.Skip:  lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
	}, muted: lipgloss.NewStyle().Foreground(lipgloss.Color("8"))}
	for _, id := range ids {
		c.width = max(c.width, len(id))
	}
	var about []string
	if t.IP.IsValid() {
		about = append(about, "ip "+t.IP.String())
	}
	if t.Domain != "" {
		about = append(about, "domain "+t.Domain)
	}
	if t.HELO != "" {
		about = append(about, "helo "+t.HELO)
	}
	if t.RecipientDomain != "" {
		about = append(about, "recipient "+t.RecipientDomain)
	}
	if len(about) > 0 {
		lipgloss.Fprintln(w, c.muted.Render("checking "+sanitize.Line(strings.Join(about, ", "))))
	}
	return c
}

// skipFlags are the flags that give a check what it lacked when it was skipped.
var skipFlags = map[string]string{
	"spf": "--domain, --helo or --message", "dkim": "--domain or --message", "dmarc": "--domain or --message",
	"helo": "--helo, or a message with a Received header", "mx": "--domain or --message", "a": "--domain or --message",
	"ptr": "--ip or --message", "fcrdns": "--ip or --message", "recipient": "--recipient-domain",
	"dnsbl": "--ip or --domain", "mta-sts": "--domain", "tls-rpt": "--domain",
}

func (c *checkTable) row(r checks.Result) {
	st := c.styles[r.Status]
	id := r.ID
	if n := c.width - len(id); n > 0 {
		id += strings.Repeat(" ", n)
	}
	summary := sanitize.Line(r.Summary)
	if r.Status == checks.Skip {
		if flags := skipFlags[r.ID]; flags != "" && strings.HasPrefix(summary, "no ") {
			summary += " (" + flags + ")" // what the command line takes to run it
		}
	}
	lipgloss.Fprintln(c.w, st.Render(checkGlyphs[r.Status])+" "+id+" "+summary)
	indent := strings.Repeat(" ", c.width+3)
	// The check's other findings, beyond the one its line leads with.
	notes, _ := r.Details["notes"].([]string)
	for _, n := range notes {
		lipgloss.Fprintln(c.w, indent+c.muted.Render("also: ")+sanitize.Line(n))
	}
	if r.Fix != "" && (r.Status == checks.Fail || r.Status == checks.Warn) {
		for i, line := range strings.Split(sanitize.Text(r.Fix), "\n") {
			lead := "fix: "
			if i > 0 {
				lead = "     "
			}
			lipgloss.Fprintln(c.w, indent+c.muted.Render(lead)+line)
		}
	}
}

func (c *checkTable) footer(rs []checks.Result, d time.Duration) {
	n := map[checks.Status]int{}
	for _, r := range rs {
		n[r.Status]++
	}
	lipgloss.Fprintln(c.w, c.muted.Render(fmt.Sprintf("%d pass, %d warn, %d fail, %d error, %d skipped in %d ms",
		n[checks.Pass], n[checks.Warn], n[checks.Fail], n[checks.Error], n[checks.Skip], d.Milliseconds())))
}
