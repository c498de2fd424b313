package message

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/sanitize"
)

// maxARCSets is RFC 8617 §4.2.1's limit on ARC instances.
const maxARCSets = 50

func init() {
	pureTests = append(pureTests, test{"arc", testARC})
}

// receiverAuth reads the Authentication-Results the receiver wrote: the fields whose
// authserv-id is the topmost one (fields further down may be forged by the sender).
func (m *Message) receiverAuth() (string, []authres.Result, []string) {
	var id string
	var out []authres.Result
	var bad []string
	for _, v := range m.values("Authentication-Results") {
		sid, rs, err := authres.Parse(v)
		if err != nil {
			bad = append(bad, sanitize.Line(clip(v, 80))+": "+errText(err))
			continue
		}
		if id == "" {
			id = sid
		}
		if strings.EqualFold(sid, id) {
			out = append(out, rs...)
		}
	}
	return sanitize.Line(id), out, bad
}

func testAuthResults(ctx context.Context, m *Message, env *checks.Env) checks.Result {
	id, rs, bad := m.receiverAuth()
	rspf, hasRSPF := m.first("Received-Spf")
	if len(rs) == 0 && !hasRSPF {
		if len(bad) > 0 {
			return result(checks.Warn, "Authentication-Results unreadable: "+bad[0], "")
		}
		return skip("no Authentication-Results: the receiver recorded no verdict in this copy")
	}
	a := m.auth(ctx, env)
	said := map[string]string{}
	var diffs []string
	for _, r := range rs {
		switch r := r.(type) {
		case *authres.SPFResult:
			v := sanitize.Line(string(r.Value))
			said["spf"] = v
			if a.SPF != nil && v != string(a.SPF.Result) {
				diffs = append(diffs, fmt.Sprintf("spf: receiver %s, we %s", v, a.SPF.Result))
			}
		case *authres.DKIMResult:
			dom := strings.ToLower(r.Domain)
			if dom == "" {
				if _, after, ok := strings.Cut(r.Identifier, "@"); ok {
					dom = strings.ToLower(after)
				}
			}
			dom = sanitize.Line(dom)
			v := sanitize.Line(string(r.Value))
			said["dkim "+dom] = v
			for _, s := range a.Signatures {
				if s.Domain == dom && v != s.Result {
					diffs = append(diffs, fmt.Sprintf("dkim d=%s: receiver %s, we %s", dom, v, s.Result))
					break
				}
			}
		case *authres.DMARCResult:
			v := sanitize.Line(string(r.Value))
			said["dmarc"] = v
			if a.DMARC != nil && v != a.DMARC.Result {
				diffs = append(diffs, fmt.Sprintf("dmarc: receiver %s, we %s", v, a.DMARC.Result))
			}
		case *authres.ARCResult:
			said["arc"] = sanitize.Line(string(r.Value))
		}
	}
	if hasRSPF {
		if f := strings.Fields(rspf); len(f) > 0 {
			v := strings.ToLower(sanitize.Line(f[0]))
			said["received-spf"] = v
			if a.SPF != nil && len(rs) == 0 && v != string(a.SPF.Result) {
				diffs = append(diffs, fmt.Sprintf("spf (Received-SPF): receiver %s, we %s", v, a.SPF.Result))
			}
		}
	}
	keys := make([]string, 0, len(said))
	for k := range said {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+said[k])
	}
	d := map[string]any{"authserv_id": id, "receiver": said}
	if len(diffs) > 0 {
		d["differences"] = diffs
		r := result(checks.Warn, fmt.Sprintf("%s said %s; we differ: %s", orDefault(id, "the receiver"), strings.Join(parts, " "), strings.Join(diffs, "; ")),
			"a difference means DNS changed since delivery (a key rotated, SPF edited) or the copy was altered after receipt (forwarded, re-saved): test a fresh copy")
		r.Details = d
		return r
	}
	r := pass(fmt.Sprintf("%s said %s, as we compute", orDefault(id, "the receiver"), strings.Join(parts, " ")))
	r.Details = d
	return r
}

// arcSet is one ARC instance's three fields.
type arcSet struct {
	seal, sig, results int // how many of each carry this instance
	cv, sealer         string
}

func testARC(m *Message) checks.Result {
	sets := map[int]*arcSet{}
	var problems []string
	get := func(i int) *arcSet {
		if sets[i] == nil {
			sets[i] = &arcSet{}
		}
		return sets[i]
	}
	instance := func(v string) (int, bool) {
		tags, _ := tagList(v)
		n, err := strconv.Atoi(tags["i"])
		if err != nil || n < 1 || n > maxARCSets {
			return 0, false
		}
		return n, true
	}
	total := 0
	for _, f := range m.Fields {
		switch f.Name {
		case "Arc-Seal":
			total++
			i, ok := instance(f.raw)
			if !ok {
				problems = append(problems, "an ARC-Seal without a valid i=")
				continue
			}
			tags, _ := tagList(f.raw)
			s := get(i)
			s.seal++
			s.cv = strings.ToLower(sanitize.Line(tags["cv"]))
			s.sealer = strings.ToLower(sanitize.Line(tags["d"]))
			if _, hasH := tags["h"]; hasH {
				problems = append(problems, fmt.Sprintf("ARC-Seal i=%d has h=, which RFC 8617 §4.1.3 forbids", i))
			}
		case "Arc-Message-Signature":
			total++
			if i, ok := instance(f.raw); ok {
				get(i).sig++
			} else {
				problems = append(problems, "an ARC-Message-Signature without a valid i=")
			}
		case "Arc-Authentication-Results":
			total++
			// AAR carries i= first, before the authserv-id.
			v := strings.TrimSpace(f.raw)
			n := 0
			if strings.HasPrefix(v, "i=") {
				num, _, _ := strings.Cut(v[2:], ";")
				n, _ = strconv.Atoi(strings.TrimSpace(num))
			}
			if n >= 1 && n <= maxARCSets {
				get(n).results++
			} else {
				problems = append(problems, "an ARC-Authentication-Results without a valid i=")
			}
		}
	}
	if total == 0 {
		return skip("no ARC sets: the message was not forwarded by an ARC sealer (ARC matters for mail forwarded through lists and gateways)")
	}
	n := 0
	for i := range sets {
		if i > n {
			n = i
		}
	}
	var chain []string
	for i := 1; i <= n; i++ {
		s := sets[i]
		if s == nil {
			problems = append(problems, fmt.Sprintf("instance %d missing: instances must run 1…%d without gaps", i, n))
			continue
		}
		if s.seal != 1 || s.sig != 1 || s.results != 1 {
			problems = append(problems, fmt.Sprintf("instance %d has %d ARC-Seal, %d ARC-Message-Signature, %d ARC-Authentication-Results (one each required)", i, s.seal, s.sig, s.results))
		}
		want := "pass"
		if i == 1 {
			want = "none"
		}
		switch {
		case s.cv == "fail":
			problems = append(problems, fmt.Sprintf("instance %d (%s) sealed cv=fail: the chain was already broken when it arrived there", i, s.sealer))
		case s.cv != want && s.seal > 0:
			problems = append(problems, fmt.Sprintf("instance %d has cv=%s; RFC 8617 §5.1.1 requires cv=%s", i, orDefault(s.cv, "(none)"), want))
		}
		chain = append(chain, fmt.Sprintf("i=%d %s cv=%s", i, orDefault(s.sealer, "?"), orDefault(s.cv, "?")))
	}
	d := map[string]any{"instances": n, "chain": chain}
	if len(problems) > 0 {
		d["problems"] = problems
		r := result(checks.Fail, fmt.Sprintf("ARC chain of %d instances is broken: %s", n, problems[0]),
			"the sealer named is misconfigured: its ARC signing must add one complete set with the next i= and the cv= it validated")
		r.Details = d
		return r
	}
	r := pass(fmt.Sprintf("ARC chain of %d instances, structurally intact (%s); the seals' signatures are not verified here", n, strings.Join(chain, ", ")))
	r.Details = d
	return r
}
