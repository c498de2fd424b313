package message

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/sanitize"
)

func init() {
	pureTests = append(pureTests,
		test{"proofpoint-spam-details", testProofpointSpamDetails},
		test{"urldefense", testURLDefense},
		test{"microsoft-antispam", testMicrosoftAntispam},
		test{"spamassassin", testSpamAssassin},
	)
}

// --- Proofpoint URL Defense -------------------------------------------------------------

var v3Token = regexp.MustCompile(`\*(\*.)?`)

// urlDefensePath returns what follows "https://urldefense.com/" or
// "https://urldefense.proofpoint.com/", or "" when s is not a URL Defense link.
func urlDefensePath(s string) string {
	for _, p := range []string{"https://urldefense.com/", "https://urldefense.proofpoint.com/", "http://urldefense.com/", "http://urldefense.proofpoint.com/"} {
		if len(s) > len(p) && strings.EqualFold(s[:len(p)], p) {
			return s[len(p):]
		}
	}
	return ""
}

// v3Parts splits "v3/__URL__;REPLACEMENTS!…" into the URL and its replacement characters.
func v3Parts(path string) (string, string, bool) {
	rest, ok := strings.CutPrefix(path, "v3/__")
	if !ok {
		return "", "", false
	}
	end := strings.Index(rest, "__;")
	if end < 0 {
		return "", "", false
	}
	enc := rest[end+3:]
	bang := strings.IndexByte(enc, '!')
	if bang < 0 {
		return "", "", false
	}
	return rest[:end], enc[:bang], true
}

// v3RunLength maps the character after "**" to how many replacement characters the run
// stands for: A is 2, B 3 … in the order upper, lower, digits, '-', '_'.
var v3RunLength = func() map[byte]int {
	m := map[byte]int{}
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		m[alphabet[i]] = i + 2
	}
	return m
}()

// decodeURLDefense returns the original URL behind a Proofpoint URL Defense rewriting and
// its version, or "", "" when s is not one (or cannot be decoded).
func decodeURLDefense(s string) (string, string) {
	path := urlDefensePath(s)
	if path == "" {
		return "", ""
	}
	switch {
	case strings.HasPrefix(path, "v3/__"):
		target, enc, ok := v3Parts(path)
		if !ok {
			return "", ""
		}
		// The replacement characters are base64url without padding.
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
		if err != nil || !utf8.Valid(raw) {
			return "", ""
		}
		repl := []rune(string(raw))
		u, err := url.PathUnescape(target)
		if err != nil {
			u = target
		}
		pos, bad := 0, false
		out := v3Token.ReplaceAllStringFunc(u, func(tok string) string {
			n := 1
			if len(tok) == 3 {
				n = v3RunLength[tok[2]]
				if n == 0 {
					bad = true
					return tok
				}
			}
			if pos+n > len(repl) {
				bad = true
				return tok
			}
			r := string(repl[pos : pos+n])
			pos += n
			return r
		})
		if bad {
			return "", ""
		}
		return out, "urldefense-v3"
	case strings.HasPrefix(path, "v2/url?"):
		u, err := url.Parse(s)
		if err != nil {
			return "", ""
		}
		v := u.Query().Get("u")
		if v == "" {
			return "", ""
		}
		// v2 writes '%' as '-' and '/' as '_' inside u=.
		v = strings.NewReplacer("-", "%", "_", "/").Replace(v)
		t, err := url.PathUnescape(v)
		if err != nil {
			return "", ""
		}
		return t, "urldefense-v2"
	case strings.HasPrefix(path, "v1/url?"):
		u, err := url.Parse(s)
		if err != nil || u.Query().Get("u") == "" {
			return "", ""
		}
		return u.Query().Get("u"), "urldefense-v1"
	}
	return "", ""
}

// DecodeURLDefense returns the original URL behind a Proofpoint URL Defense link (v1, v2,
// v3), sanitized, and whether s was one.
func DecodeURLDefense(s string) (string, bool) {
	t, kind := decodeURLDefense(strings.TrimSpace(s))
	return sanitize.Line(t), kind != ""
}

func testURLDefense(m *Message) checks.Result {
	var decoded []map[string]string
	failed := 0
	for _, l := range m.links() {
		if strings.Contains(strings.ToLower(l.URL), "urldefense") {
			if l.Target == "" {
				failed++
				continue
			}
			decoded = append(decoded, map[string]string{"url": clip(l.URL, 120), "target": l.Target, "version": l.Rewrite})
		}
	}
	if len(decoded) == 0 && failed == 0 {
		return skip("no Proofpoint URL Defense links")
	}
	d := map[string]any{"links": decoded, "count": len(decoded)}
	if len(decoded) > 20 {
		d["links"] = decoded[:20]
	}
	if failed > 0 {
		r := result(checks.Warn, fmt.Sprintf("%d URL Defense links decoded, %d could not be (truncated or altered)", len(decoded), failed),
			"for a false-positive report, take the original URLs from the sender's copy")
		r.Details = d
		return r
	}
	r := pass(fmt.Sprintf("%d Proofpoint URL Defense links decoded, the first to %s", len(decoded), clip(decoded[0]["target"], 100)))
	r.Details = d
	return r
}

// --- X-Proofpoint-Spam-Details ---------------------------------------------------------

// proofpointScores explains the scores of X-Proofpoint-Spam-Details, each 0–100 unless
// noted: the higher, the surer the engine.
var proofpointScores = map[string]string{
	"spamscore":     "spam",
	"phishscore":    "phishing",
	"malwarescore":  "malware",
	"bulkscore":     "bulk mail",
	"adultscore":    "adult content",
	"impostorscore": "impostor (business email compromise)",
	"suspectscore":  "suspect content",
	"mlxscore":      "machine-learning spam",
}

func testProofpointSpamDetails(m *Message) checks.Result {
	v, ok := m.first("X-Proofpoint-Spam-Details")
	if !ok {
		return skip("no X-Proofpoint-Spam-Details: no Proofpoint Protection Server or Proofpoint on Demand filtered this copy")
	}
	fields := map[string]string{}
	for _, kv := range strings.Fields(v) {
		k, val, ok := strings.Cut(kv, "=")
		if ok {
			fields[strings.ToLower(sanitize.Line(k))] = sanitize.Line(val)
		}
	}
	d := map[string]any{}
	for k, val := range fields {
		d[k] = val
	}
	if reason, ok := m.first("X-Proofpoint-Spam-Reason"); ok {
		d["reason_header"] = sanitize.Line(reason)
	}
	for _, name := range []string{"X-Proofpoint-Guid", "X-Proofpoint-Orig-Guid", "X-Proofpoint-Virus-Version"} {
		if g, ok := m.first(name); ok {
			d[strings.ToLower(strings.TrimPrefix(name, "X-Proofpoint-"))] = sanitize.Line(g)
		}
	}
	if qid := m.proofpointQueueID(); qid != "" {
		d["queue_id"] = qid
	}
	rule, policy := fields["rule"], fields["policy"]
	// The scores that lean towards a verdict, highest first.
	type score struct {
		name string
		v    int
	}
	var high []score
	for k, what := range proofpointScores {
		if n, err := strconv.Atoi(fields[k]); err == nil && n >= 50 {
			high = append(high, score{what + " " + strconv.Itoa(n), n})
		}
	}
	sort.Slice(high, func(i, j int) bool {
		return high[i].v > high[j].v || high[i].v == high[j].v && high[i].name < high[j].name
	})
	var hs []string
	for _, h := range high {
		hs = append(hs, h.name)
	}
	where := fmt.Sprintf("rule=%s policy=%s", orDefault(rule, "?"), orDefault(policy, "?"))
	evidence := "for a false-positive report quote this header"
	if q, ok := d["queue_id"]; ok {
		evidence += fmt.Sprintf(", the queue ID %s", q)
	}
	if g, ok := d["guid"]; ok {
		evidence += fmt.Sprintf(" and GUID %s", g)
	}
	lr := strings.ToLower(rule)
	switch {
	case strings.Contains(lr, "notspam") || strings.Contains(lr, "safe") || strings.HasSuffix(lr, "_ok"):
		if len(hs) > 0 {
			r := result(checks.Warn, fmt.Sprintf("Proofpoint passed it (%s) but scored it high: %s", where, strings.Join(hs, ", ")),
				"nothing to report yet; these scores are what would tip it: "+evidence)
			r.Details = d
			return r
		}
		r := pass(fmt.Sprintf("Proofpoint classified it as not spam (%s, spamscore %s)", where, orDefault(fields["spamscore"], "?")))
		r.Details = d
		return r
	case rule == "":
		r := result(checks.Warn, "X-Proofpoint-Spam-Details has no rule=: cannot say what Proofpoint decided", evidence)
		r.Details = d
		return r
	}
	summary := fmt.Sprintf("Proofpoint filtered it: %s", where)
	if len(hs) > 0 {
		summary += "; deciding scores: " + strings.Join(hs, ", ")
	}
	r := result(checks.Fail, summary,
		"if this is wanted mail, the recipient's admin reports a false positive with the original .eml; "+evidence)
	r.Details = d
	return r
}

// proofpointQueueID is the queue ID of the "from pps.filterd (…ppops.net …) … ESMTP id X"
// hop: what Proofpoint support searches by.
func (m *Message) proofpointQueueID() string {
	for _, h := range m.Hops {
		if strings.Contains(h.HELO, "pps.filterd") || strings.Contains(h.RDNS, "ppops.net") || strings.Contains(h.By, "ppops.net") {
			if h.ID != "" {
				return h.ID
			}
		}
	}
	return ""
}

// --- Microsoft -------------------------------------------------------------------------

// msVerdicts explains X-Forefront-Antispam-Report's SFV and CAT values (Microsoft's
// anti-spam message headers page).
var msVerdicts = map[string]string{
	"NSPM": "not spam", "SPM": "spam", "SKS": "marked spam by a mail flow rule", "SKA": "allowed by an allow list",
	"SKB": "blocked by a block list", "SKI": "intra-organization", "SKN": "bypassed by a mail flow rule",
	"SKQ": "released from quarantine", "SFE": "allowed by the user's safe senders", "BLK": "blocked by the user's blocked senders",
	"BULK": "bulk", "DIMP": "domain impersonation", "GIMP": "mailbox intelligence impersonation",
	"HPHSH": "high confidence phishing", "HPHISH": "high confidence phishing", "HSPM": "high confidence spam",
	"MALW": "malware", "PHSH": "phishing", "SPOOF": "spoofing", "UIMP": "user impersonation",
	"AMP": "anti-malware", "SAP": "safe attachments", "OSPM": "outbound spam", "INTOS": "intra-organization phishing",
}

func testMicrosoftAntispam(m *Message) checks.Result {
	v, ok := m.first("X-Forefront-Antispam-Report")
	if !ok {
		return skip("no X-Forefront-Antispam-Report: Microsoft 365 did not filter this copy")
	}
	f := map[string]string{}
	for _, kv := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), ":")
		if ok {
			f[strings.ToUpper(sanitize.Line(k))] = sanitize.Line(strings.TrimSpace(val))
		}
	}
	if bcl := regexp.MustCompile(`BCL:(\d)`).FindStringSubmatch(strings.Join(m.values("X-Microsoft-Antispam"), ";")); bcl != nil {
		f["BCL"] = bcl[1]
	}
	d := map[string]any{}
	for k, val := range f {
		d[strings.ToLower(k)] = val
	}
	scl, _ := strconv.Atoi(orDefault(f["SCL"], "0"))
	explain := func(code string) string {
		if w, ok := msVerdicts[strings.ToUpper(code)]; ok {
			return code + " (" + w + ")"
		}
		return code
	}
	s := fmt.Sprintf("Microsoft: SCL %s, SFV %s, CAT %s", orDefault(f["SCL"], "?"), explain(orDefault(f["SFV"], "?")), explain(orDefault(f["CAT"], "?")))
	if f["BCL"] != "" {
		s += ", BCL " + f["BCL"]
	}
	cat := strings.ToUpper(f["CAT"])
	switch {
	case scl >= 5 || (cat != "" && cat != "NONE") || f["SFV"] == "SPM" || f["SFV"] == "BLK":
		r := result(checks.Fail, s+": filtered as junk",
			"the recipient's admin submits it to Microsoft as not junk (Defender submissions) with the .eml; fix what the category names")
		r.Details = d
		return r
	case f["BCL"] != "" && f["BCL"] >= "7":
		r := result(checks.Warn, s+": bulk complaint level high enough to be junked by strict policies",
			"cut complaints: clear consent, easy unsubscribe, fewer unengaged recipients")
		r.Details = d
		return r
	}
	r := pass(s)
	r.Details = d
	return r
}

// --- SpamAssassin ----------------------------------------------------------------------

var saStatus = regexp.MustCompile(`(?i)^\s*(yes|no)\b.*?score=(-?[0-9.]+).*?required=(-?[0-9.]+)`)

func testSpamAssassin(m *Message) checks.Result {
	v, ok := m.first("X-Spam-Status")
	if !ok {
		return skip("no X-Spam-Status: no SpamAssassin verdict in this copy")
	}
	mm := saStatus.FindStringSubmatch(v)
	if mm == nil {
		return result(checks.Warn, fmt.Sprintf("X-Spam-Status %q is not in SpamAssassin's form", sanitize.Line(clip(v, 80))), "")
	}
	d := map[string]any{"score": mm[2], "required": mm[3]}
	if i := strings.Index(strings.ToLower(v), "tests="); i >= 0 {
		t := v[i+6:]
		if j := strings.IndexAny(t, " \t"); j >= 0 {
			t = t[:j]
		}
		d["tests"] = strings.Split(sanitize.Line(t), ",")
	}
	s := fmt.Sprintf("SpamAssassin score %s (threshold %s)", mm[2], mm[3])
	if strings.EqualFold(mm[1], "yes") {
		r := result(checks.Fail, s+": marked as spam", "fix what the tests name; the largest scores matter most")
		r.Details = d
		return r
	}
	sc, _ := strconv.ParseFloat(mm[2], 64)
	req, _ := strconv.ParseFloat(mm[3], 64)
	if req > 0 && sc >= req*0.6 {
		r := result(checks.Warn, s+": not spam, but near the line", "fix what the tests name before it tips")
		r.Details = d
		return r
	}
	r := pass(s)
	r.Details = d
	return r
}
