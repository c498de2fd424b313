package main

// The case verbs: new, list, show, set, attach, message, export. Each is a thin layer over
// casefile: parse flags, call the domain, print.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/unblock-mail/unblock/casefile"
	"github.com/unblock-mail/unblock/casefile/triage"
	"github.com/unblock-mail/unblock/sanitize"
)

func init() {
	verbs = append(verbs, newCmd, listCmd, showCmd, setCmd, attachCmd, messageCmd, exportCmd)
}

// now is the clock; UNBLOCK_NOW (RFC 3339) fixes it, for scripts and tests that need
// stable ids and dates.
func now() time.Time {
	if s := os.Getenv("UNBLOCK_NOW"); s != "" {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t.UTC()
		}
	}
	return time.Now().UTC()
}

func (a *app) store() (*casefile.Store, error) {
	s, err := casefile.Open(a.dir)
	if err != nil {
		return nil, badInput("%v", err)
	}
	if a.wait < 0 {
		return nil, badInput("--wait %s is negative", a.wait)
	}
	s.Now = now
	s.Wait = a.wait
	return s, nil
}

// waitFlag lets a verb that changes a case wait for another program to let go of it.
func (a *app) waitFlag(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&a.wait, "wait", 0, "wait up to this long (e.g. 5s) for a case another program has open, instead of failing at once")
}

// problem is exit status 1 with a one-line reason: the command ran and was refused.
func problem(err error) error { return &exitError{code: 1, err: err} }

// findCase reads a case to look at it (a preview, a probe's target); edit is the way to
// change one.
func (a *app) findCase(s *casefile.Store, ref string) (*casefile.Case, error) {
	c, err := s.View(ref)
	if err != nil {
		return nil, badInput("%v", err)
	}
	return c, nil
}

// edit changes a case under its lock. A CASE that names no case, or a file that does not
// load, is bad input; a case held by another program is a refusal.
func (a *app) edit(s *casefile.Store, ref string, fn func(*casefile.Case) error) (*casefile.Case, error) {
	path, err := s.Resolve(ref)
	if err != nil {
		return nil, badInput("%v", err)
	}
	c, err := s.Edit(path, fn)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return nil, err
		}
		if errors.Is(err, casefile.ErrUnloadable) {
			return nil, badInput("%v", err)
		}
		return nil, problem(err)
	}
	return c, nil
}

var tokenRE = regexp.MustCompile(`^[a-z0-9][a-z0-9:._-]*$`)

func checkIP(s string) (string, error) {
	ip, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return "", badInput("--ip %q is not an IP address", s)
	}
	return ip.Unmap().String(), nil
}

func checkDomain(flag, s string) (string, error) {
	// Clean is asked of s as given: ToLower turns invalid UTF-8 into U+FFFD, which is clean.
	d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
	if d == "" || len(d) > 253 || !strings.Contains(d, ".") || strings.ContainsAny(d, " @/\\:") || !sanitize.Clean(s) {
		return "", badInput("%s %q is not a domain name", flag, s)
	}
	return d, nil
}

// checkHELO is the one test of a HELO name: a host name as a server gives it, a single
// label included (localhost, mailhost: the bad HELO the helo check exists to report).
func checkHELO(s string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
	if d == "" || len(d) > 253 || strings.ContainsAny(d, " @/\\:") || !sanitize.Clean(s) {
		return "", badInput("--helo %q is not a host name", s)
	}
	return d, nil
}

// checkAddress is the one test of an address flag: a local part without spaces or
// control characters, @, and a domain checkDomain accepts.
func checkAddress(flag, s string) (local, domain string, err error) {
	local, dom, ok := strings.Cut(strings.TrimSpace(s), "@")
	if !ok || local == "" || !sanitize.Clean(s) || strings.ContainsAny(s, " \t") {
		return "", "", badInput("%s %q is not an address", flag, s)
	}
	d, err := checkDomain(flag, dom)
	if err != nil {
		return "", "", err
	}
	return local, d, nil
}

// checkSelector is the one test of a DKIM selector flag (new, set, check): a selector is
// a name under _domainkey (RFC 6376 §3.1), so no spaces, no control characters, no ':'.
func checkSelector(s string) error {
	if !tokenRE.MatchString(strings.ToLower(s)) || strings.Contains(s, ":") {
		return badInput("--selector %q is not a DKIM selector", s)
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 { // DNS labels (RFC 1035 §2.3.4)
			return badInput("--selector %q is not a DKIM selector: each dot-separated part is 1 to 63 characters", s)
		}
	}
	return nil
}

func oneOfFlag[T ~string](flag, v string, valid []T) (T, error) {
	for _, x := range valid {
		if string(x) == v {
			return x, nil
		}
	}
	names := make([]string, len(valid))
	for i, x := range valid {
		names[i] = string(x)
	}
	return "", badInput("%s %q is not one of %s", flag, v, strings.Join(names, ", "))
}

// identityFlags are the identifiers new and set both take.
type identityFlags struct {
	ips, selectors, recipientDomains []string
	domain, envelopeSender, helo     string
}

func (f *identityFlags) register(cmd *cobra.Command) {
	listVar(cmd.Flags(), &f.ips, "ip", "sending IP (repeat, or separate several with commas, spaces or lines)")
	cmd.Flags().StringVar(&f.domain, "domain", "", "sending domain")
	cmd.Flags().StringVar(&f.envelopeSender, "envelope-sender", "", "envelope sender (MAIL FROM) address")
	cmd.Flags().StringVar(&f.helo, "helo", "", "HELO/EHLO name of the sending server")
	listVar(cmd.Flags(), &f.selectors, "selector", "DKIM selector (repeat, or separate several with commas, spaces or lines)")
	listVar(cmd.Flags(), &f.recipientDomains, "recipient-domain", "recipient domain (repeat, or separate several with commas, spaces or lines)")
}

// apply adds the identifiers given to the case, checking each.
func (f *identityFlags) apply(id *casefile.Identifiers) error {
	for _, s := range f.ips {
		ip, err := checkIP(s)
		if err != nil {
			return err
		}
		if !slices.Contains(id.IPs, ip) {
			id.IPs = append(id.IPs, ip)
		}
	}
	if f.domain != "" {
		d, err := checkDomain("--domain", f.domain)
		if err != nil {
			return err
		}
		id.Domain = d
	}
	if f.envelopeSender != "" {
		local, d, err := checkAddress("--envelope-sender", f.envelopeSender)
		if err != nil {
			return err
		}
		id.EnvelopeSender = local + "@" + d
		if id.Domain == "" {
			id.Domain = d
		}
	}
	if f.helo != "" {
		h, err := checkHELO(f.helo)
		if err != nil {
			return err
		}
		id.HELO = h
	}
	for _, s := range f.selectors {
		if err := checkSelector(s); err != nil {
			return err
		}
		if !slices.Contains(id.Selectors, s) {
			id.Selectors = append(id.Selectors, s)
		}
	}
	for _, s := range f.recipientDomains {
		d, err := checkDomain("--recipient-domain", s)
		if err != nil {
			return err
		}
		if !slices.Contains(id.RecipientDomains, d) {
			id.RecipientDomains = append(id.RecipientDomains, d)
		}
	}
	return nil
}

func newCmd(a *app) *cobra.Command {
	var (
		ids                         identityFlags
		role, provider, mode, title string
		force, asJSON               bool
	)
	cmd := &cobra.Command{
		Use:   "new",
		Short: "Start a case from flags",
		Long: `Start a case for a sending IP (or domain) and the provider that refuses it. An open
case for the same IP and provider (or, without an IP, the same domain, provider and
mode) is not duplicated: add new failures to it with "unblock add CASE FILE", or use
--force.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := &casefile.Case{Title: sanitize.Line(title)}
			var err error
			if c.Role, err = oneOfFlag("--role", role, casefile.Roles); err != nil {
				return err
			}
			if !tokenRE.MatchString(provider) {
				return badInput("--provider %q is not a provider name (proofpoint, microsoft, esp:sendgrid …)", provider)
			}
			c.Provider = provider
			if mode != "" {
				if c.Mode, err = oneOfFlag("--mode", mode, casefile.Modes); err != nil {
					return err
				}
			}
			if err := ids.apply(&c.Identifiers); err != nil {
				return err
			}
			a.noteUnlikely(c)
			s, err := a.store()
			if err != nil {
				return err
			}
			if err := s.Create(c, force); err != nil {
				return problem(err)
			}
			if asJSON {
				return writeJSON(a.stdout, map[string]string{"id": c.ID, "path": c.Path()})
			}
			fmt.Fprintf(a.stdout, "%s %s\n", c.ID, c.Path())
			return nil
		},
	}
	ids.register(cmd)
	cmd.Flags().StringVar(&role, "role", "sender", "who you are: sender (an external sender) or customer (a Proofpoint customer admin)")
	cmd.Flags().StringVar(&provider, "provider", "proofpoint", "provider whose control refuses the mail (proofpoint, cloudmark, microsoft, esp:sendgrid …)")
	cmd.Flags().StringVar(&mode, "mode", "", "failure mode: hard-block, deferral or filtering")
	cmd.Flags().StringVar(&title, "title", "", "a title for the case")
	cmd.Flags().BoolVar(&force, "force", false, "create the case even if an open case covers the same IP or domain")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"id", "path"} as JSON`)
	a.waitFlag(cmd)
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// listRow is one case in list's JSON.
type listRow struct {
	ID          string `json:"id"`
	Title       string `json:"title,omitempty"`
	Provider    string `json:"provider"`
	IP          string `json:"ip,omitempty"`
	Domain      string `json:"domain,omitempty"`
	Status      string `json:"status"`
	Readiness   string `json:"readiness"`
	LastFailure string `json:"last_failure,omitempty"`
	FollowUpDue bool   `json:"follow_up_due,omitempty"`
	FollowUpAt  string `json:"follow_up_at,omitempty"` // when the follow-up falls due
	Path        string `json:"path"`
}

func listCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the saved cases",
		Long:  "List the saved cases, newest first, with their readiness and whether a follow-up is due.\nA case file that does not load is reported on stderr (exit status 1).",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			cases, loadErr := s.Summaries()
			rows := make([]listRow, 0, len(cases))
			t := now()
			for _, c := range cases {
				r := listRow{ID: c.ID, Title: c.Title, Provider: c.Provider, IP: c.IP(), Domain: c.Domain,
					Status: string(c.Status), Readiness: string(c.Readiness), Path: c.Path}
				if !c.LastFailure.IsZero() {
					r.LastFailure = c.LastFailure.Format(time.RFC3339)
				}
				r.FollowUpDue = c.FollowUpDue(t)
				if !c.FollowUpAt.IsZero() {
					r.FollowUpAt = c.FollowUpAt.Format(time.RFC3339)
				}
				rows = append(rows, r)
			}
			if asJSON {
				if err := writeJSON(a.stdout, rows); err != nil {
					return err
				}
			} else if len(rows) > 0 {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTITLE\tPROVIDER\tIP\tSTATUS\tREADINESS\tLAST FAILURE\tFOLLOW-UP")
				for i, r := range rows {
					who := r.IP
					if who == "" {
						who = r.Domain
					}
					due := ""
					switch c := cases[i]; {
					case r.FollowUpDue:
						due = "due"
					case !c.FollowUpAt.IsZero():
						due = "due " + c.FollowUpAt.Format("2006-01-02") // waiting: when it falls due
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, dash(r.Title), r.Provider, dash(who),
						r.Status, r.Readiness, dash(r.LastFailure), dash(due))
				}
				tw.Flush()
			}
			if loadErr != nil {
				for _, e := range strings.Split(loadErr.Error(), "\n") {
					fmt.Fprintln(a.stderr, "unblock: "+sanitize.Line(e))
				}
				return foundProblems
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the cases as JSON")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func showCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show CASE",
		Short: "Show a case: identifiers, failures, readiness and what is missing",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			c, err := s.View(args[0])
			if err != nil {
				return badInput("%v", err)
			}
			if asJSON {
				v, err := caseJSON(c)
				if err != nil {
					return err
				}
				return writeJSON(a.stdout, v)
			}
			showCase(a.stdout, c)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the case as JSON (the file's fields, plus path, readiness, seen and follow_up)")
	return cmd
}

// caseJSON is the case with the file's own keys, plus what is derived from it.
func caseJSON(c *casefile.Case) (map[string]any, error) {
	data, err := casefile.Marshal(c)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	m["path"] = c.Path()
	m["readiness"] = c.Readiness()
	seen := c.Seen()
	sj := map[string]any{"failures": seen.Failures}
	if !seen.First.IsZero() {
		sj["first"], sj["last"] = seen.First, seen.Last
	}
	if len(seen.RecipientDomains) > 0 {
		sj["recipient_domains"] = seen.RecipientDomains
	}
	m["seen"] = sj
	if f, due := c.FollowUpDue(now()); due {
		m["follow_up"] = map[string]any{"due": f.Due, "kind": f.Message.Kind, "sent_at": f.Message.SentAt}
	}
	return m, nil
}

const stamp = "2006-01-02 15:04 UTC"

func showCase(w io.Writer, c *casefile.Case) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", label, value)
		}
	}
	line("Case", c.ID)
	line("Title", c.Title)
	line("Status", string(c.Status))
	line("Role", string(c.Role))
	line("Provider", c.Provider)
	route := c.RouteKind()
	if d, ok := triage.DeskFor(route); ok && d.Name != "" {
		route += " (" + d.Name + ")"
	}
	line("Route", route)
	line("Reference", c.Route.Reference)
	line("Mode", string(c.Mode))
	line("Cause", c.Cause)
	line("Control", c.Control)
	id := c.Identifiers
	line("Sending IPs", strings.Join(id.IPs, ", "))
	line("Sending domain", id.Domain)
	line("Envelope sender", id.EnvelopeSender)
	line("HELO", id.HELO)
	line("DKIM selectors", strings.Join(id.Selectors, ", "))
	line("Recipient domains", strings.Join(id.RecipientDomains, ", "))
	seen := c.Seen()
	if seen.Failures > 0 {
		line("Failures", strconv.Itoa(seen.Failures))
	}
	if !seen.First.IsZero() {
		line("First seen", seen.First.Format(stamp))
		line("Latest seen", seen.Last.Format(stamp))
	}
	line("Latest reply", seen.LastEvent.Reply)
	for _, l := range timelineLines(c) {
		line(l[0], l[1])
	}
	line("Volume", c.Scope.Volume)
	line("Impact", c.Scope.Impact)
	line("Mail kind", strings.Join(c.Scope.MailKind, ", "))
	for _, a := range c.Authentication {
		line("Check "+a.ID, a.Status+": "+a.Summary)
	}
	for _, r := range c.ReportEvidence() {
		line("Reports", r)
	}
	for _, ch := range c.RecentChanges() {
		line("Change", ch.Kind+" "+ch.Summary)
	}
	if c.NoRecentChanges() {
		line("Changes", "none recently (confirmed)")
	}
	for _, f := range c.Evidence.Files {
		line("Evidence", fmt.Sprintf("%s (%s, %d bytes)", f.Path, f.Kind, f.Size))
	}
	for _, m := range c.Messages {
		state := "not sent"
		if !m.SentAt.IsZero() {
			state = "sent " + m.SentAt.Format(stamp)
		}
		if !m.AnsweredAt.IsZero() {
			state += ", answered " + m.AnsweredAt.Format(stamp)
		}
		line("Message", m.Kind+" ("+state+")")
	}
	r := c.Readiness()
	ready := string(r.Level)
	if r.Why != "" {
		ready += " (" + r.Why + ")"
	}
	line("Readiness", ready)
	for _, m := range r.Missing {
		line("Missing", m)
	}
	if f, due := c.FollowUpDue(now()); due {
		line("Follow-up", fmt.Sprintf("due since %s (%s sent %s, no answer)", f.Due.Format(stamp), f.Message.Kind, f.Message.SentAt.Format(stamp)))
	} else if !f.Due.IsZero() {
		line("Follow-up", fmt.Sprintf("due %s (%s sent %s)", f.Due.Format(stamp), f.Message.Kind, f.Message.SentAt.Format(stamp)))
	}
	tw.Flush()
}

// timelineLines are the timeline's other events, by kind: how many, and the latest.
func timelineLines(c *casefile.Case) [][2]string {
	kinds := []struct {
		kind  casefile.EventKind
		label string
	}{{casefile.KindDelivery, "Deliveries"}, {casefile.KindProbe, "Probes"}, {casefile.KindState, "State changes"}, {casefile.KindReport, "Report events"}}
	var out [][2]string
	for _, k := range kinds {
		n := 0
		var latest casefile.Event
		for _, e := range c.Timeline {
			if e.Kind != k.kind {
				continue
			}
			n++
			if n == 1 || !e.LastSeen().Before(latest.LastSeen()) {
				latest = e
			}
		}
		if n == 0 {
			continue
		}
		v := strconv.Itoa(n)
		var what []string
		switch k.kind {
		case casefile.KindProbe:
			what = []string{latest.MX, latest.Stage, latest.Reply}
		case casefile.KindState:
			change := latest.From + " → " + latest.To
			if latest.From == "" {
				change = latest.To
			}
			what = []string{latest.What, change}
		case casefile.KindDelivery:
			what = []string{latest.RecipientDomain}
		case casefile.KindReport:
			what = []string{latest.Source}
		}
		what = slices.DeleteFunc(what, func(s string) bool { return strings.TrimSpace(s) == "" })
		if at := latest.LastSeen(); !at.IsZero() || len(what) > 0 {
			v += " (latest"
			if !at.IsZero() {
				v += " " + at.Format(stamp)
			}
			if len(what) > 0 {
				v += ": " + sanitize.Line(strings.Join(what, " "))
			}
			v += ")"
		}
		out = append(out, [2]string{k.label, v})
	}
	return out
}

func setCmd(a *app) *cobra.Command {
	var (
		ids                                                                      identityFlags
		status, ref, title, volume, customers, impact, product, component, route string
		mode, cause, note                                                        string
		mailKinds, changes, confirm                                              []string
		warmup                                                                   int
		answered                                                                 bool
	)
	cmd := &cobra.Command{
		Use:   "set CASE",
		Short: "Fill in what only a person knows: status, reference, scope, recent changes …",
		Long: `Fill in the fields a person knows. --change KIND[:SUMMARY] lists a recent change
(kinds: ` + strings.Join(casefile.ChangeKinds, ", ") + `); --warmup-days goes with a new-ip
change. --confirm scope or --confirm changes confirms an item only a person can know,
even when there is nothing to list. --answered records that the desk answered the last
message sent.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			flags := cmd.Flags()
			if flags.NFlag() == 0 || (flags.NFlag() == 1 && flags.Changed("dir")) {
				return badInput("set needs at least one field to set (see unblock set --help)")
			}
			t := now()
			// Check every value before touching the case.
			var st casefile.Status
			var err error
			if status != "" {
				if st, err = oneOfFlag("--status", status, casefile.Statuses); err != nil {
					return err
				}
			}
			var md triage.Mode
			if mode != "" {
				if md, err = oneOfFlag("--mode", mode, casefile.Modes); err != nil {
					return err
				}
			}
			if cause != "" {
				if _, err := oneOfFlag("--cause", cause, triage.Causes); err != nil {
					return err
				}
			}
			for _, k := range mailKinds {
				if _, err := oneOfFlag("--mail-kind", k, casefile.MailKinds); err != nil {
					return err
				}
			}
			for _, c := range confirm {
				if _, err := oneOfFlag("--confirm", c, casefile.Confirmable); err != nil {
					return err
				}
			}
			var chs []casefile.Change
			for _, c := range changes {
				kind, summary, _ := strings.Cut(c, ":")
				if _, err := oneOfFlag("--change", kind, casefile.ChangeKinds); err != nil {
					return err
				}
				ch := casefile.Change{Kind: kind, Summary: sanitize.Line(strings.TrimSpace(summary)), At: t.Truncate(time.Second)}
				if kind == "new-ip" {
					ch.WarmupDays = warmup
				}
				chs = append(chs, ch)
			}
			if warmup != 0 && !slices.ContainsFunc(chs, func(c casefile.Change) bool { return c.Kind == "new-ip" }) {
				return badInput("--warmup-days goes with --change new-ip[:SUMMARY]")
			}
			if warmup < 0 {
				return badInput("--warmup-days %d is negative", warmup)
			}
			if route != "" {
				if _, ok := triage.DeskFor(route); !ok {
					return badInput("--route %q is not a route kind", route)
				}
			}
			s, err := a.store()
			if err != nil {
				return err
			}
			var inputErr error
			_, err = a.edit(s, args[0], func(c *casefile.Case) error {
				if err := ids.apply(&c.Identifiers); err != nil {
					inputErr = err
					return err
				}
				if st != "" {
					c.Status = st
				}
				if md != "" {
					c.Mode = md
				}
				setStr := func(dst *string, v string, flag string) {
					if flags.Changed(flag) {
						*dst = sanitize.Line(strings.TrimSpace(v))
					}
				}
				setStr(&c.Route.Reference, ref, "ref")
				setStr(&c.Title, title, "title")
				setStr(&c.Scope.Volume, volume, "volume")
				setStr(&c.Scope.Customers, customers, "customers")
				setStr(&c.Scope.Impact, impact, "impact")
				setStr(&c.Route.Product, product, "product")
				setStr(&c.Route.Component, component, "component")
				setStr(&c.Route.Kind, route, "route")
				setStr(&c.Cause, cause, "cause")
				for _, k := range mailKinds {
					if !slices.Contains(c.Scope.MailKind, k) {
						c.Scope.MailKind = append(c.Scope.MailKind, k)
					}
				}
				c.Changes = append(c.Changes, chs...)
				for _, item := range confirm {
					if err := c.Confirm(item); err != nil {
						return err
					}
				}
				if note != "" {
					c.Evidence.Notes = append(c.Evidence.Notes, casefile.Note{At: t.Truncate(time.Second), Text: sanitize.Text(note)})
				}
				if answered && !c.RecordAnswer(t) {
					inputErr = badInput("--answered: no message of this case is marked sent")
					return inputErr
				}
				if st != "" {
					c.Status = st // a status given with --answered is the one the person chose
				}
				return nil
			})
			if inputErr != nil {
				return inputErr
			}
			return err
		},
	}
	ids.register(cmd)
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "status: draft, open, waiting, resolved or closed")
	f.StringVar(&ref, "ref", "", "the reference the provider gave (CSC case number, PDR reference ID, thread subject)")
	f.StringVar(&title, "title", "", "the case's title")
	f.StringVar(&volume, "volume", "", `affected volume, as you would say it ("about 2,000 messages a day")`)
	f.StringVar(&customers, "customers", "", "who is affected")
	f.StringVar(&impact, "impact", "", "business impact in one sentence")
	f.StringSliceVar(&mailKinds, "mail-kind", nil, "kind of mail: "+strings.Join(casefile.MailKinds, ", "))
	f.StringArrayVar(&changes, "change", nil, "a recent change, KIND[:SUMMARY] (repeatable)")
	f.IntVar(&warmup, "warmup-days", 0, "days the new IP has been warmed up (with --change new-ip)")
	f.StringSliceVar(&confirm, "confirm", nil, "confirm a person-only item: scope, changes")
	f.StringVar(&product, "product", "", "for a support case: the Proofpoint product")
	f.StringVar(&component, "component", "", "for a support case: the component")
	f.StringVar(&route, "route", "", "route kind (proofpoint-ipcheck, cloudmark-reset …)")
	f.StringVar(&mode, "mode", "", "failure mode: hard-block, deferral or filtering")
	f.StringVar(&cause, "cause", "", "cause (ip-reputation, blocklist, authentication …)")
	f.StringVar(&note, "note", "", "add a free-text note to the evidence")
	f.BoolVar(&answered, "answered", false, "record that the desk answered the last message sent")
	a.waitFlag(cmd)
	return cmd
}

func attachCmd(a *app) *cobra.Command {
	var kind string
	cmd := &cobra.Command{
		Use:   "attach CASE FILE",
		Short: "Record a file as evidence (hashed; the file stays where it is)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind == "" {
				return badInput("attach needs --kind: one of %s", strings.Join(casefile.EvidenceKinds, ", "))
			}
			if _, err := oneOfFlag("--kind", kind, casefile.EvidenceKinds); err != nil {
				return err
			}
			// Refused before the case is locked: hashing a FIFO or a device would wait forever.
			if st, err := os.Stat(args[1]); err != nil {
				return badInput("%v", err)
			} else if !st.Mode().IsRegular() {
				return badInput("%s is not a regular file: attach the file itself", args[1])
			}
			s, err := a.store()
			if err != nil {
				return err
			}
			var attachErr error
			_, err = a.edit(s, args[0], func(c *casefile.Case) error {
				_, attachErr = c.Attach(args[1], kind, now())
				return attachErr
			})
			if attachErr != nil {
				return badInput("%v", attachErr)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "evidence kind: "+strings.Join(casefile.EvidenceKinds, ", "))
	a.waitFlag(cmd)
	return cmd
}

func messageCmd(a *app) *cobra.Command {
	var (
		kind                    string
		redact, markSent, force bool
	)
	cmd := &cobra.Command{
		Use:   "message CASE",
		Short: "Print the message for the case's route, ready to paste",
		Long: `Print the message for the case's route (or --kind), ready to paste: the recipient or
form, the subject, the identifiers, a short narrative and one question. Printing is a
preview and changes nothing; --mark-sent records that you sent it, which starts the
wait for an answer. An escalation before the desk's response time has passed is
refused (exit 1, saying when the follow-up is due); --force writes it anyway.
Kinds: ` + strings.Join(casefile.MessageKinds(), ", ") + `.
A customer admin's case (role customer) writes only ` + strings.Join(casefile.KindsFor(casefile.Customer), ", ") + `:
the others are in the sender's voice.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind != "" && !slices.Contains(casefile.MessageKinds(), kind) {
				return badInput("--kind %q is not one of %s", kind, strings.Join(casefile.MessageKinds(), ", "))
			}
			s, err := a.store()
			if err != nil {
				return err
			}
			t := now()
			var msg casefile.Message
			var renderErr, early error
			write := func(c *casefile.Case) error {
				msg, renderErr = casefile.Render(c, kind, casefile.RenderOptions{Redact: redact, Now: t})
				if renderErr != nil {
					return renderErr
				}
				if msg.Kind == "escalation" && !force {
					if early = c.CanEscalate(t); early != nil {
						return early
					}
				}
				return nil
			}
			if markSent {
				_, err = a.edit(s, args[0], func(c *casefile.Case) error {
					if err := write(c); err != nil {
						return err
					}
					c.MarkSent(msg, t)
					return nil
				})
			} else {
				// A preview: the case is read, never written.
				var c *casefile.Case
				if c, err = a.findCase(s, args[0]); err == nil {
					err = write(c)
				}
			}
			switch {
			case renderErr != nil:
				return badInput("%v", withKindHint(renderErr))
			case early != nil:
				return problem(fmt.Errorf("escalation refused: %v; --force writes it anyway", early))
			case err != nil:
				return err
			}
			fmt.Fprint(a.stdout, msg.String())
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "message kind (default: the case's route, or an update once a message was sent)")
	cmd.Flags().BoolVar(&redact, "redact", false, "write recipient addresses as a***@domain")
	cmd.Flags().BoolVar(&markSent, "mark-sent", false, "record the message as sent now")
	cmd.Flags().BoolVar(&force, "force", false, "write an escalation even before the desk's response time has passed")
	a.waitFlag(cmd)
	return cmd
}

func exportCmd(a *app) *cobra.Command {
	var (
		kind   string
		redact bool
	)
	cmd := &cobra.Command{
		Use:   "export CASE DIR",
		Short: "Write the evidence bundle: message, case, attached files, check results, SHA-256 manifest",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if kind != "" && !slices.Contains(casefile.MessageKinds(), kind) {
				return badInput("--kind %q is not one of %s", kind, strings.Join(casefile.MessageKinds(), ", "))
			}
			s, err := a.store()
			if err != nil {
				return err
			}
			c, err := s.View(args[0])
			if err != nil {
				return badInput("%v", err)
			}
			msg, err := casefile.Render(c, kind, casefile.RenderOptions{Redact: redact, Now: now()})
			if err != nil {
				return badInput("%v", withKindHint(err))
			}
			files, err := casefile.Export(c, args[1], msg)
			if errors.Is(err, casefile.ErrExportDestination) {
				return badInput("%s", strings.TrimPrefix(err.Error(), casefile.ErrExportDestination.Error()+": "))
			}
			if err != nil {
				return problem(err)
			}
			for _, f := range files {
				fmt.Fprintln(a.stdout, f)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "message kind to include (default: as for message)")
	cmd.Flags().BoolVar(&redact, "redact", false, "write recipient addresses as a***@domain in the message")
	return cmd
}

// noteUnlikely says on stderr what in a new case is likely a mistake, without refusing
// it: an address no receiver sees, a provider unblock has no desk for.
func (a *app) noteUnlikely(c *casefile.Case) {
	for _, s := range c.Identifiers.IPs {
		if ip, err := netip.ParseAddr(s); err == nil && (ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()) {
			fmt.Fprintf(a.stderr, "unblock: note: %s is not a public address, so no receiver sees it: the IP to delist is the public one your mail leaves from (in the receiver's Received header)\n", s)
		}
	}
	known := strings.HasPrefix(c.Provider, "esp:")
	for _, d := range triage.Desks() {
		known = known || d.Provider == c.Provider
	}
	for _, t := range triage.Tables() {
		known = known || t.Provider == c.Provider
	}
	if !known {
		fmt.Fprintf(a.stderr, "unblock: note: provider %q is not one unblock knows, so the case has no desk to write to (known: proofpoint, microsoft, google, yahoo, cloudmark, mimecast, esp:NAME …)\n", c.Provider)
	}
}

// withKindHint tells how to ask for a message when the case's route calls for none.
func withKindHint(err error) error {
	if nm, ok := errors.AsType[*casefile.NoMessageError](err); ok {
		return fmt.Errorf("%s: choose one with --kind", nm.Reason)
	}
	return err
}
