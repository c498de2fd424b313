package tui

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/unblock-mail/unblock/sanitize"
)

// detailSentences says what a check's details hold, in sentences a newcomer reads: the
// record found, what each selector, host, zone or probe answered. The details are the
// checks' JSON contract (DESIGN.md); a key this screen does not know yet is still said,
// as "<key in words>: <value>", never dropped and never dumped as a Go value.
func detailSentences(id string, details map[string]any) []string {
	if len(details) == 0 {
		return nil
	}
	d := normalize(details)
	s := &sentences{d: d, used: map[string]bool{}}
	switch id {
	case "spf":
		s.spf()
	case "dkim":
		s.dkim()
	case "dmarc":
		s.dmarc()
	case "ptr":
		s.ptr()
	case "fcrdns":
		s.fcrdns()
	case "helo":
		s.helo()
	case "a":
		if a := s.list("addresses"); len(a) > 0 {
			s.say("%s resolves to %s.", s.str("domain"), strings.Join(a, ", "))
		}
	case "mx":
		s.mx()
	case "dnsbl":
		s.dnsbl()
	case "starttls", "mx-starttls":
		s.probes()
	case "mta-sts", "tls-rpt":
		s.mtasts()
	case "recipient":
		s.recipient()
	}
	s.notes()
	s.rest()
	return s.out
}

// normalize turns the details into plain JSON values (maps, lists, strings, numbers,
// booleans) whatever Go types the check used.
func normalize(details map[string]any) map[string]any {
	b, err := json.Marshal(details)
	if err != nil {
		return map[string]any{}
	}
	var out map[string]any
	if json.Unmarshal(b, &out) != nil {
		return map[string]any{}
	}
	return out
}

type sentences struct {
	d    map[string]any
	used map[string]bool
	out  []string
}

// say adds a sentence; every value in it is made safe to show.
func (s *sentences) say(format string, args ...any) {
	for i, a := range args {
		if t, ok := a.(string); ok {
			args[i] = sanitize.Line(t)
		}
	}
	s.out = append(s.out, fmt.Sprintf(format, args...))
}

func (s *sentences) str(k string) string {
	s.used[k] = true
	return scalar(s.d[k])
}

func (s *sentences) list(k string) []string {
	s.used[k] = true
	return strs(s.d[k])
}

func (s *sentences) rows(k string) []map[string]any {
	s.used[k] = true
	return rowsOf(s.d[k])
}

func (s *sentences) has(k string) bool { _, ok := s.d[k]; return ok }

// skip marks keys whose content another sentence already says (or that repeat the
// target, such as the domain asked about).
func (s *sentences) skip(keys ...string) {
	for _, k := range keys {
		s.used[k] = true
	}
}

func scalar(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprint(int64(x))
		}
		return fmt.Sprint(x)
	case []any:
		return strings.Join(strs(x), ", ")
	case map[string]any:
		var parts []string
		for _, k := range sortedMapKeys(x) {
			if v := scalar(x[k]); v != "" {
				parts = append(parts, words(k)+" "+v)
			}
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

func strs(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, x := range l {
		if s := scalar(x); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func rowsOf(v any) []map[string]any {
	l, _ := v.([]any)
	var out []map[string]any
	for _, x := range l {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// words writes a details key as words: "void_lookups" → "void lookups".
func words(k string) string { return strings.ReplaceAll(k, "_", " ") }

func get(m map[string]any, k string) string { return scalar(m[k]) }

func yes(m map[string]any, k string) bool { b, _ := m[k].(bool); return b }

func (s *sentences) spf() {
	dom := s.str("domain")
	if r := s.str("record"); r != "" {
		s.say("The SPF record of %s is %q.", dom, r)
	}
	if s.has("lookups") {
		s.say("Evaluating it takes %s of the 10 DNS lookups SPF allows (%s of them found nothing).", s.str("lookups"), orZero(s.str("void_lookups")))
	}
	s.skip("tree")
	for _, k := range []string{"mail_from", "helo"} {
		m, ok := s.d[k].(map[string]any)
		s.used[k] = true
		if !ok {
			continue
		}
		who := "the envelope domain"
		if k == "helo" {
			who = "the HELO name"
		}
		line := fmt.Sprintf("For %s %s the sending IP gets %s", who, get(m, "domain"), get(m, "result"))
		if r := get(m, "reason"); r != "" {
			line += ": " + r
		}
		s.say("%s.", line)
	}
	if n := s.str("helo_note"); n != "" {
		s.say("%s.", capital(n))
	}
	for _, p := range s.list("problems") {
		s.say("Problem: %s.", p)
	}
}

func (s *sentences) dkim() {
	dom := s.str("domain")
	probed := s.has("probed") && s.str("probed") == "yes"
	s.skip("probed")
	if probed {
		s.say("No selector is recorded for %s, so the common selector names were tried; finding none of them proves nothing.", dom)
	}
	published := false
	for _, r := range s.rows("selectors") {
		sel, name := get(r, "selector"), get(r, "name")
		switch {
		case get(r, "error") != "":
			s.say("Selector %s (%s): the key could not be read: %s.", sel, name, get(r, "error"))
		case !yes(r, "found") && len(strs(r["cnames"])) > 0:
			s.say("Selector %s points (CNAME) at %s, which publishes no key.", sel, strings.Join(strs(r["cnames"]), " → "))
		case !yes(r, "found"):
			if !probed {
				s.say("Selector %s: no key is published at %s.", sel, name)
			}
		default:
			published = true
			line := fmt.Sprintf("Selector %s: a key is published at %s", sel, name)
			if b := get(r, "bits"); b != "" && b != "0" {
				line += fmt.Sprintf(" (%s-bit %s)", b, strings.ToUpper(get(r, "key_type")))
			}
			if yes(r, "revoked") {
				line += ", revoked (empty p=)"
			}
			if yes(r, "testing") {
				line += ", in testing mode (t=y)"
			}
			if e := get(r, "esp"); e != "" {
				line += ", served by " + e
			}
			s.say("%s.", line)
			for _, p := range strs(r["problems"]) {
				s.say("Selector %s: %s.", sel, p)
			}
		}
	}
	if published {
		s.say("A published key is not a verified signature: only a message's DKIM-Signature, checked, shows that.")
	}
}

func (s *sentences) dmarc() {
	dom := s.str("domain")
	at := s.str("record_domain")
	if r := s.str("record"); r != "" {
		s.say("The DMARC record at _dmarc.%s is %q.", at, r)
	}
	if p := s.str("p"); p != "" {
		line := "Its policy is p=" + p
		if sp := s.str("sp"); sp != "" {
			line += ", sp=" + sp + " for subdomains"
		}
		if np := s.str("np"); np != "" {
			line += ", np=" + np + " for names that do not exist"
		}
		s.say("%s; mail from %s that fails DMARC gets %s.", line, dom, s.str("applied_policy"))
	}
	if o := s.str("org_domain"); o != "" && o != dom {
		s.say("The organizational domain is %s.", o)
	}
	s.skip("org_domain", "queried", "psd", "fo")
	if s.has("adkim") {
		s.say("Alignment: DKIM %s, SPF %s.", alignment(s.str("adkim")), alignment(s.str("aspf")))
	}
	if s.str("testing") == "yes" {
		s.say("The record is in testing mode (t=y): receivers may apply a lesser policy.")
	}
	if r := s.list("rua"); len(r) > 0 {
		s.say("Aggregate reports go to %s.", strings.Join(r, ", "))
	}
	if r := s.list("ruf"); len(r) > 0 {
		s.say("Failure reports go to %s.", strings.Join(r, ", "))
	}
	if s.has("domain_exists") && s.str("domain_exists") == "no" {
		s.say("%s does not exist in the DNS.", dom)
	}
	if e := s.str("existence_error"); e != "" {
		s.say("Whether %s exists could not be checked: %s.", dom, e)
	}
	for _, r := range s.rows("external_reports") {
		s.say("Reports to %s: %s.", get(r, "domain"), describe(r, "domain"))
	}
}

func alignment(v string) string {
	switch v {
	case "s":
		return "strict"
	case "r", "":
		return "relaxed"
	}
	return v
}

func (s *sentences) ptr() {
	ip := s.str("ip")
	if n := s.list("names"); len(n) > 0 {
		s.say("%s has the PTR name %s.", ip, strings.Join(n, ", "))
	}
	if e := s.str("esp"); e != "" {
		s.say("The name belongs to %s.", e)
	}
	if b := s.list("not_host_names"); len(b) > 0 {
		s.say("Not host names: %s.", strings.Join(b, ", "))
	}
	if g := s.str("generic"); g != "" && g != "no" {
		s.say("The name looks generic (like a dynamic or residential address): %s.", g)
	}
}

func (s *sentences) fcrdns() {
	ip := s.str("ip")
	for _, r := range s.rows("names") {
		addrs := strings.Join(strs(r["addresses"]), ", ")
		if addrs == "" {
			addrs = "no address"
		}
		verdict := "which confirms it"
		if !yes(r, "confirmed") {
			verdict = "which does not include " + ip
		}
		s.say("%s resolves to %s, %s.", get(r, "name"), addrs, verdict)
	}
}

func (s *sentences) helo() {
	name := s.str("name")
	if a := s.list("addresses"); len(a) > 0 {
		s.say("%s resolves to %s.", name, strings.Join(a, ", "))
	} else if name != "" {
		s.say("%s resolves to no address.", name)
	}
	if s.has("resolves_to_ip") {
		if s.str("resolves_to_ip") == "yes" {
			s.say("One of them is the sending IP.")
		} else {
			s.say("None of them is the sending IP.")
		}
	}
	if s.has("matches_rdns") {
		if s.str("matches_rdns") == "yes" {
			s.say("It is the IP's PTR name.")
		} else {
			s.say("It is not the IP's PTR name.")
		}
	}
}

func (s *sentences) mx() {
	dom := s.str("domain")
	if s.str("null_mx") == "yes" {
		s.say("%s publishes a null MX: it receives no mail.", dom)
	}
	if a := s.list("implicit_mx"); len(a) > 0 {
		s.say("%s has no MX record; mail goes to its address %s.", dom, strings.Join(a, ", "))
	}
	for _, r := range s.rows("mx") {
		addrs := strings.Join(strs(r["addresses"]), ", ")
		if addrs == "" {
			addrs = "no address"
		}
		line := fmt.Sprintf("MX %s (preference %s) resolves to %s", get(r, "host"), get(r, "preference"), addrs)
		if p := get(r, "problem"); p != "" {
			line += ": " + p
		}
		s.say("%s.", line)
	}
}

func (s *sentences) dnsbl() {
	var listed, clean, unread []string
	var why []string
	for _, z := range s.rows("zones") {
		name := get(z, "name")
		if name == "" {
			name = get(z, "zone")
		}
		subject := get(z, "subject")
		switch get(z, "state") {
		case "listed":
			line := fmt.Sprintf("Listed on %s", name)
			if c := strs(z["codes"]); len(c) > 0 {
				line += " (" + strings.Join(c, ", ") + ")"
			}
			if subject != "" {
				line += " for " + subject
			}
			if m := strs(z["meanings"]); len(m) > 0 {
				line += ": " + strings.Join(m, "; ")
			}
			listed = append(listed, line+".")
		case "not-listed":
			clean = append(clean, name)
		default:
			unread = append(unread, name)
			reason := get(z, "note")
			if reason == "" {
				reason = get(z, "reason")
			}
			if reason != "" {
				why = append(why, fmt.Sprintf("%s could not be read: %s.", name, reason))
			}
		}
	}
	for _, l := range listed {
		s.say("%s", l)
	}
	if len(clean) > 0 {
		s.say("Not listed on %s: %s.", plural(len(clean), "list"), strings.Join(clean, ", "))
	}
	if len(unread) > 0 {
		s.say("%s could not be read, so they prove nothing either way: %s.", plural(len(unread), "list"), strings.Join(unread, ", "))
	}
	for _, w := range why {
		s.say("%s", w)
	}
}

func (s *sentences) probes() {
	probes := s.rows("probes")
	if len(probes) == 0 {
		// One probe: its fields are the details themselves.
		probes = []map[string]any{s.d}
		for k := range s.d {
			s.used[k] = true
		}
	}
	for _, p := range probes {
		whose := "The MX"
		switch get(p, "role") {
		case "recipient":
			whose = "The recipient's MX"
		case "sender":
			whose = "Your own MX"
		}
		line := fmt.Sprintf("%s %s", whose, get(p, "host"))
		if d := get(p, "domain"); d != "" {
			line += " (for " + d + ")"
		}
		if a := get(p, "address"); a != "" {
			line += " at " + a
		}
		line += ": " + outcome(get(p, "outcome"))
		if v := get(p, "tls_version"); v != "" {
			line += ", " + v
			if c := get(p, "cipher"); c != "" {
				line += " with " + c
			}
		}
		s.say("%s.", line)
		if c, ok := p["certificate"].(map[string]any); ok {
			s.say("Its certificate names %s, issued by %s, valid until %s.", strings.Join(strs(c["names"]), ", "), get(c, "issuer"), get(c, "not_after"))
		}
		if b := get(p, "banner"); b != "" {
			s.say("It greeted with %q.", b)
		}
		if r := get(p, "reply"); r != "" {
			s.say("It replied %q.", r)
		}
		if f := get(p, "seen_from"); f != "" {
			s.say("This was seen from %s.", f)
		}
	}
}

func outcome(o string) string {
	switch o {
	case "tls-valid":
		return "STARTTLS works with a valid certificate"
	case "cert-invalid":
		return "STARTTLS works, but the certificate is not valid"
	case "not-offered":
		return "STARTTLS is not offered"
	case "handshake-failed":
		return "the TLS handshake failed"
	case "unreachable":
		return "no connection from this machine (many networks block outbound port 25; this says nothing about the server)"
	case "rejected":
		return "the server refused this machine"
	case "":
		return "not probed"
	}
	return words(o)
}

func (s *sentences) mtasts() {
	s.skip("domain")
	if r := s.str("record"); r != "" {
		s.say("The record is %q.", r)
	}
	if rs := s.list("records"); len(rs) > 0 {
		s.say("Records found: %s.", strings.Join(rs, " | "))
	}
	if id := s.str("id"); id != "" {
		s.say("The policy id is %s; the policy is at %s.", id, s.str("url"))
	}
	if p, ok := s.d["policy"].(map[string]any); ok {
		s.used["policy"] = true
		s.say("The policy's mode is %s, for MX %s, cached for %s seconds.", get(p, "mode"), strings.Join(strs(p["mx"]), ", "), get(p, "max_age"))
	}
	s.skip("policy_text")
	if m, ok := s.d["mx_match"]; ok {
		s.used["mx_match"] = true
		for _, r := range rowsOf(m) {
			s.say("MX %s: %s.", get(r, "host"), describe(r, "host"))
		}
	}
	if r := s.list("rua"); len(r) > 0 {
		s.say("Reports go to %s.", strings.Join(r, ", "))
	}
}

func (s *sentences) recipient() {
	dom := s.str("domain")
	if s.str("null_mx") == "yes" {
		s.say("%s publishes a null MX: it receives no mail.", dom)
	}
	if mx := s.list("mx"); len(mx) > 0 {
		s.say("%s receives mail at %s.", dom, strings.Join(mx, ", "))
	}
	if p := s.str("product"); p != "" {
		s.say("That is %s (provider %s).", p, s.str("provider"))
	} else if p := s.str("provider"); p != "" {
		s.say("The provider is %s.", p)
	}
	if r, ok := s.d["route"].(map[string]any); ok {
		s.used["route"] = true
		where := get(r, "kind")
		if u := get(r, "url"); u != "" {
			where += " at " + u
		}
		if c := get(r, "contact"); c != "" {
			where += " (" + c + ")"
		}
		s.say("A sender whose IP is blocked there goes to %s.", where)
		if a := strs(r["asks"]); len(a) > 0 {
			s.say("That desk asks for %s.", strings.Join(a, "; "))
		}
	}
}

// notes are the check's own sentences beyond the summary.
func (s *sentences) notes() {
	for _, n := range s.list("notes") {
		s.say("%s", capital(strings.TrimSuffix(n, ".")+"."))
	}
}

// rest says every key no sentence above used: a check may add details before this
// screen learns them.
func (s *sentences) rest() {
	for _, k := range sortedMapKeys(s.d) {
		if s.used[k] {
			continue
		}
		v := s.d[k]
		if rows := rowsOf(v); len(rows) > 0 {
			for _, r := range rows {
				s.say("%s: %s.", capital(words(k)), describe(r, ""))
			}
			continue
		}
		if x := scalar(v); x != "" {
			s.say("%s: %s.", capital(words(k)), x)
		}
	}
}

// describe says a row's fields as "field value" pairs, the lead field first.
func describe(r map[string]any, lead string) string {
	var parts []string
	for _, k := range sortedMapKeys(r) {
		if k == lead {
			continue
		}
		if v := scalar(r[k]); v != "" {
			parts = append(parts, words(k)+" "+v)
		}
	}
	return strings.Join(parts, ", ")
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
