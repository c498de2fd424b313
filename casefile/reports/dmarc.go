package reports

// DMARC aggregate reports: RFC 7489 Appendix C and the RFC 9990 schema. Both are a
// <feedback> document of report_metadata, policy_published and one <record> per sending
// IP and identifier set; RFC 9990 adds a namespace, <version>, <np>, <testing>,
// <discovery_method>, <human_result> and extensions, and reporters omit optional
// elements freely. Elements are matched by local name, so any namespace or prefix reads.

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"encoding/xml"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/unblock-mail/unblock/sanitize"
)

// Counts are what receivers reported for a set of messages.
type Counts struct {
	Messages int64 `json:"messages"`
	// DMARCPass are messages with aligned SPF or aligned DKIM passing (policy_evaluated).
	DMARCPass   int64 `json:"dmarc_pass"`
	DKIMAligned int64 `json:"dkim_aligned"` // policy_evaluated dkim=pass
	SPFAligned  int64 `json:"spf_aligned"`  // policy_evaluated spf=pass
	// DKIM and SPF are the raw results (auth_results), aligned or not: a message counts
	// as DKIM pass when any signature passed.
	DKIM Tally `json:"dkim,omitzero"`
	SPF  Tally `json:"spf,omitzero"`
	// Disposition is what the receiver did under the DMARC policy: none, quarantine,
	// reject.
	Disposition Tally `json:"disposition,omitzero"`
	// Overrides are the reasons a receiver gave for not applying the policy
	// (forwarded, mailing_list, local_policy …).
	Overrides map[string]int64 `json:"overrides,omitempty"`
	Reports   int              `json:"reports"`
	Span
}

// DMARCFail are the messages that failed DMARC.
func (c *Counts) DMARCFail() int64 { return c.Messages - c.DMARCPass }

func (c *Counts) merge(o *Counts) {
	c.Messages += o.Messages
	c.DMARCPass += o.DMARCPass
	c.DKIMAligned += o.DKIMAligned
	c.SPFAligned += o.SPFAligned
	c.DKIM.merge(&o.DKIM)
	c.SPF.merge(&o.SPF)
	c.Disposition.merge(&o.Disposition)
	merge(&c.Overrides, o.Overrides)
	c.Reports += o.Reports
	c.add(o.First, o.Last)
}

// IPReport is what the DMARC aggregate reports say about one sending IP: the totals
// across receivers, then each receiver.
type IPReport struct {
	IP string `json:"ip"`
	// Domains are the From domains the mail from this IP carried (a few, not all).
	Domains   []string    `json:"domains,omitempty"`
	Total     Counts      `json:"total"`
	Receivers []*Receiver `json:"receivers"`
	byName    map[string]*Receiver
}

// Receiver is one reporting organisation's counts.
type Receiver struct {
	Name string `json:"receiver"`
	Counts
}

func (ip *IPReport) sort() {
	slices.SortFunc(ip.Receivers, func(a, b *Receiver) int {
		return cmp.Or(cmp.Compare(b.Messages, a.Messages), cmp.Compare(a.Name, b.Name))
	})
	slices.Sort(ip.Domains)
}

const maxDomainsPerIP = 8

// aggregate is one aggregate report as read.
type aggregate struct {
	org, id, domain string
	begin, end      time.Time
	rows            map[string]*ipRows
	order           []string
	omitted         int64
	badRows         int // records whose source_ip is not an IP address
}

type ipRows struct {
	Counts
	domains []string
}

// row is one <record> being read.
type row struct {
	ip, headerFrom       string
	count                int64
	disposition          string
	dkimEval, spfEval    string
	reasons              []string
	dkim, spf            []string
	spfScope, authResult string
}

// errNotAggregate marks XML that is not a DMARC aggregate report.
var errNotAggregate = errors.New("not a DMARC aggregate report")

func (in *input) readXML(rd io.Reader) {
	a, err := in.r.parseAggregate(rd)
	if err != nil {
		in.fail(in.name, "%v", err)
		return
	}
	in.found++
	if a.badRows > 0 {
		in.fail(in.name, "%d records skipped: their source_ip is not an IP address", a.badRows)
	}
	in.r.addAggregate(a)
}

// parseAggregate reads one report with a streaming decoder: nothing is held but the
// current record and the per-IP sums.
func (r *Reader) parseAggregate(rd io.Reader) (*aggregate, error) {
	dec := xml.NewDecoder(&runGuard{r: rd, delims: "<>", what: "an XML text or tag"})
	dec.Strict = true
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		enc, err := htmlindex.Get(label)
		if err != nil {
			return nil, fmt.Errorf("unknown character set %q", sanitize.Line(label))
		}
		return enc.NewDecoder().Reader(in), nil
	}
	a := &aggregate{rows: map[string]*ipRows{}}
	var (
		stack []string
		text  []byte
		rw    row
	)
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			var tb *errTooBig
			if errors.As(err, &tb) {
				return nil, tb
			}
			if len(stack) == 0 && a.org == "" {
				return nil, fmt.Errorf("not a report: XML error: %v", err)
			}
			return nil, fmt.Errorf("XML error: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			// DOCTYPE, ENTITY: a report has no use for them, and entity expansion is how
			// an XML bomb works.
			return nil, fmt.Errorf("refused: XML with a DOCTYPE or entity declaration (<!%s)", sanitize.Line(firstWord(t)))
		case xml.StartElement:
			if len(stack) == 0 && t.Name.Local != "feedback" {
				return nil, fmt.Errorf("%w: its root element is <%s>, not <feedback>", errNotAggregate, sanitize.Line(t.Name.Local))
			}
			if len(stack) >= 16 {
				return nil, fmt.Errorf("refused: XML nested more than 16 deep")
			}
			stack = append(stack, t.Name.Local)
			text = text[:0]
			if len(stack) == 2 && t.Name.Local == "record" {
				rw = row{count: -1}
			}
		case xml.CharData:
			if len(text)+len(t) <= 1024 {
				text = append(text, t...)
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != t.Name.Local {
				return nil, fmt.Errorf("XML error: </%s> closes nothing open", sanitize.Line(t.Name.Local))
			}
			if err := a.take(stack, strings.TrimSpace(string(text)), &rw); err != nil {
				return nil, err
			}
			if len(stack) == 2 && t.Name.Local == "record" {
				if !r.addRow(a, &rw) {
					a.badRows++
				}
			}
			stack = stack[:len(stack)-1]
			text = text[:0]
		}
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("XML error: the document ends inside <%s>", sanitize.Line(stack[len(stack)-1]))
	}
	if a.org == "" && a.id == "" && len(a.rows) == 0 {
		return nil, fmt.Errorf("%w: no report_metadata and no records", errNotAggregate)
	}
	if a.org == "" {
		a.org = "unnamed reporter"
	}
	return a, nil
}

func firstWord(d xml.Directive) string {
	s := strings.TrimSpace(string(d))
	if i := strings.IndexAny(s, " \t\r\n["); i > 0 {
		s = s[:i]
	}
	if len(s) > 20 {
		s = s[:20]
	}
	return s
}

// take takes the text of an element as it closes, by its path below <feedback>.
func (a *aggregate) take(stack []string, v string, rw *row) error {
	switch {
	case at(stack, "report_metadata", "org_name"):
		a.org = field(v)
	case at(stack, "report_metadata", "report_id"):
		a.id = field(v)
	case at(stack, "policy_published", "domain"):
		a.domain = strings.ToLower(field(v))
	case at(stack, "report_metadata", "date_range", "begin"), at(stack, "report_metadata", "date_range", "end"):
		t, err := unixTime(v)
		if err != nil {
			return fmt.Errorf("date_range %s %q: %v", stack[3], sanitize.Line(v), err)
		}
		if stack[3] == "begin" {
			a.begin = t
		} else {
			a.end = t
		}
	case at(stack, "record", "row", "source_ip"):
		rw.ip = v
	case at(stack, "record", "row", "count"):
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1e12 {
			return fmt.Errorf("record count %q is not a count", sanitize.Line(v))
		}
		rw.count = n
	case at(stack, "record", "identifiers", "header_from"):
		rw.headerFrom = strings.ToLower(field(v))
	case at(stack, "record", "auth_results", "dkim"):
		rw.dkim = append(rw.dkim, rw.authResult)
		rw.authResult = ""
	case at(stack, "record", "auth_results", "spf"):
		if rw.spfScope == "" || rw.spfScope == "mfrom" {
			rw.spf = append([]string{rw.authResult}, rw.spf...)
		} else {
			rw.spf = append(rw.spf, rw.authResult)
		}
		rw.authResult, rw.spfScope = "", ""
	case at(stack, "record", "row", "policy_evaluated", "disposition"):
		rw.disposition = token(v)
	case at(stack, "record", "row", "policy_evaluated", "dkim"):
		rw.dkimEval = token(v)
	case at(stack, "record", "row", "policy_evaluated", "spf"):
		rw.spfEval = token(v)
	case at(stack, "record", "auth_results", "dkim", "result"), at(stack, "record", "auth_results", "spf", "result"):
		rw.authResult = token(v)
	case at(stack, "record", "auth_results", "spf", "scope"):
		rw.spfScope = token(v)
	case at(stack, "record", "row", "policy_evaluated", "reason", "type"):
		rw.reasons = append(rw.reasons, token(v))
	}
	return nil
}

// at reports whether the open elements below <feedback> are exactly path, leaf last.
func at(stack []string, path ...string) bool {
	if len(stack) != len(path)+1 || stack[len(stack)-1] != path[len(path)-1] {
		return false
	}
	for i, p := range path[:len(path)-1] {
		if stack[i+1] != p {
			return false
		}
	}
	return true
}

// field is a text value from a report, sanitized and cut to a sane length.
func field(v string) string {
	if len(v) > 200 {
		v = v[:200]
	}
	return strings.ToValidUTF8(sanitize.Line(v), "")
}

// token is an enumerated value (a result, a disposition): lower case, and "other" when
// it is not a short word.
func token(v string) string {
	v = strings.ToLower(v)
	if v == "" {
		return ""
	}
	if len(v) > 24 {
		return "other"
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c == '_' || c == '-') {
			return "other"
		}
	}
	return v
}

func unixTime(v string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > 1e11 {
		return time.Time{}, errors.New("not seconds since 1970")
	}
	return time.Unix(n, 0).UTC(), nil
}

// addRow sums one record into the report's per-IP rows; false when its IP is not one.
func (r *Reader) addRow(a *aggregate, rw *row) bool {
	ip, ok := parseIP(rw.ip)
	if !ok {
		return false
	}
	if !r.wantIP(ip) {
		return true
	}
	n := rw.count
	if n < 0 {
		n = 1 // count is required; a reporter that leaves it out reported one message
	}
	rows := a.rows[ip]
	if rows == nil {
		if len(a.rows) >= r.opts.MaxIPs {
			a.omitted += n
			return true
		}
		rows = &ipRows{}
		a.rows[ip] = rows
		a.order = append(a.order, ip)
	}
	c := &rows.Counts
	c.Messages += n
	if rw.dkimEval == "pass" {
		c.DKIMAligned += n
	}
	if rw.spfEval == "pass" {
		c.SPFAligned += n
	}
	if rw.dkimEval == "pass" || rw.spfEval == "pass" {
		c.DMARCPass += n
	}
	c.DKIM.Add(anyPass(rw.dkim), n)
	c.SPF.Add(first(rw.spf), n)
	c.Disposition.Add(cmpOr(rw.disposition, "unreported"), n)
	for _, why := range rw.reasons {
		add(&c.Overrides, why, n)
	}
	if d := rw.headerFrom; d != "" && len(rows.domains) < maxDomainsPerIP && !slices.Contains(rows.domains, d) {
		rows.domains = append(rows.domains, d)
	}
	return true
}

// anyPass is the DKIM result a message counts under: pass if any signature passed,
// else the first result given.
func anyPass(results []string) string {
	if slices.Contains(results, "pass") {
		return "pass"
	}
	return first(results)
}

// first is the SPF result a message counts under: the MAIL FROM check, which take puts
// first, else the HELO check.
func first(results []string) string {
	if len(results) == 0 {
		return "none"
	}
	return cmpOr(results[0], "none")
}

// addAggregate sums a report into the reader, once per reporter and report id.
func (r *Reader) addAggregate(a *aggregate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := "dmarc\x00" + strings.ToLower(a.org) + "\x00" + a.id
	if a.id == "" {
		key += "\x00" + a.domain + "\x00" + a.begin.String()
	}
	if r.seen[key] {
		r.dups++
		return
	}
	r.seen[key] = true
	r.reports++
	r.omitted += a.omitted
	if !r.wantDomain(a.domain) {
		return
	}
	for _, ipText := range a.order {
		rows := a.rows[ipText]
		ip := r.dmarc[ipText]
		if ip == nil {
			if len(r.dmarc) >= r.opts.MaxIPs {
				r.omitted += rows.Messages
				continue
			}
			ip = &IPReport{IP: ipText, byName: map[string]*Receiver{}}
			r.dmarc[ipText] = ip
		}
		rows.Reports = 1
		rows.add(a.begin, a.end)
		rv := ip.byName[strings.ToLower(a.org)]
		if rv == nil {
			rv = &Receiver{Name: a.org}
			ip.byName[strings.ToLower(a.org)] = rv
			ip.Receivers = append(ip.Receivers, rv)
		}
		rv.merge(&rows.Counts)
		ip.Total.merge(&rows.Counts)
		for _, d := range rows.domains {
			if len(ip.Domains) < maxDomainsPerIP && !slices.Contains(ip.Domains, d) {
				ip.Domains = append(ip.Domains, d)
			}
		}
	}
}
