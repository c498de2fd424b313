package triage

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-msgauth/authres"

	"github.com/unblock-mail/unblock/sanitize"
)

// DeliveredMessage is what the headers of a delivered (perhaps filtered) message say.
type DeliveredMessage struct {
	Source     string      `json:"source"`
	MessageID  string      `json:"message_id,omitempty"`
	From       string      `json:"from,omitempty"`
	Subject    string      `json:"subject,omitempty"`
	Date       time.Time   `json:"date,omitzero"`
	Hops       []Hop       `json:"hops,omitempty"` // the Received chain, newest first
	Auth       []AuthCheck `json:"authentication,omitempty"`
	Proofpoint *Proofpoint `json:"proofpoint,omitempty"`
	Links      []Link      `json:"links,omitempty"` // rewritten links, decoded
}

// Hop is one Received header.
type Hop struct {
	From string    `json:"from,omitempty"` // the name the client gave (HELO)
	RDNS string    `json:"rdns,omitempty"` // the client's reverse DNS name, as the receiver saw it
	IP   string    `json:"ip,omitempty"`
	By   string    `json:"by,omitempty"`
	With string    `json:"with,omitempty"`
	ID   string    `json:"id,omitempty"`
	At   time.Time `json:"at,omitzero"`
	TLS  bool      `json:"tls"`
}

// AuthCheck is one result of an Authentication-Results header.
type AuthCheck struct {
	Authserv string `json:"authserv,omitempty"`
	Method   string `json:"method"`
	Result   string `json:"result"`
	Domain   string `json:"domain,omitempty"`
	Selector string `json:"selector,omitempty"` // DKIM: header.s
}

// Proofpoint is what Proofpoint's headers say about the message.
type Proofpoint struct {
	Rule    string            `json:"rule,omitempty"`
	Policy  string            `json:"policy,omitempty"`
	Scores  map[string]string `json:"scores,omitempty"`
	QueueID string            `json:"queue_id,omitempty"` // from the ppops.net hop
	GUID    string            `json:"guid,omitempty"`
	Details string            `json:"spam_details,omitempty"`
	// Essentials: the small-business tier (ppe-hosted.com, "Proofpoint Essentials engine"),
	// whose false positives are reported from its Log Search, not a support case.
	Essentials bool `json:"essentials,omitempty"`
}

// Link is a link rewritten by a filter, and where it really points.
type Link struct {
	Rewritten string `json:"rewritten"`
	URL       string `json:"url"`
}

// readHeaders reads the headers (and body, for links) of a delivered message.
func (rd *Reader) readHeaders(source string, data []byte) error {
	ent, err := message.Read(bytes.NewReader(data))
	if err != nil && ent == nil {
		return &InputError{Name: source, Reason: "not a header block: " + oneLineErr(err)}
	}
	h := ent.Header
	d := DeliveredMessage{Source: sanitize.Line(source),
		MessageID: sanitize.Line(strings.TrimSpace(h.Get("Message-Id"))),
		From:      sanitize.Line(headerText(h, "From")),
		Subject:   sanitize.Line(headerText(h, "Subject")),
		Date:      parseDate(h.Get("Date")),
	}
	for _, v := range h.Values("Received") {
		d.Hops = append(d.Hops, parseReceived(v))
	}
	for _, v := range h.Values("Authentication-Results") {
		d.Auth = append(d.Auth, parseAuthResults(v)...)
	}
	pp := proofpointHeaders(h, d.Hops)
	d.Proofpoint = pp
	body, _ := readLimited(ent, 1<<20)
	d.Links = decodeLinks(string(data[:min(len(data), 64<<10)]) + "\n" + body)
	if len(d.Hops) == 0 && len(d.Auth) == 0 && pp == nil && d.MessageID == "" {
		return &InputError{Name: source, Reason: "no Received, Authentication-Results or Message-ID header: not a reply, bounce, headers or log"}
	}
	rd.report.Delivered = append(rd.report.Delivered, d)
	rd.add(deliveredFinding(d, h))
	return nil
}

func readLimited(ent *message.Entity, n int64) (string, error) {
	if mr := ent.MultipartReader(); mr != nil {
		var b strings.Builder
		for range 32 {
			p, err := mr.NextPart()
			if p == nil {
				return b.String(), err
			}
			s, _ := readLimited(p, n-int64(b.Len()))
			b.WriteString(s)
		}
		return b.String(), nil
	}
	var buf bytes.Buffer
	_, err := buf.ReadFrom(limitReader(ent, n))
	return buf.String(), err
}

type limited struct {
	e *message.Entity
	n int64
}

func limitReader(e *message.Entity, n int64) *limited { return &limited{e, n} }

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errEOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.e.Body.Read(p)
	l.n -= int64(n)
	return n, err
}

// deliveredFinding says what the delivered message's headers mean.
func deliveredFinding(d DeliveredMessage, h message.Header) Finding {
	f := Finding{Source: d.Source, Mode: Delivered, Cause: UnknownCause, Provider: "unknown",
		MessageID: d.MessageID, At: d.Date, Route: RouteFor("none", "")}
	if len(d.Hops) > 0 {
		f.At = latest(d.Hops, d.Date)
	}
	f.Sender = addressOf(headerText(h, "Return-Path"))
	// The sending IP is the client of the receiving filter's first hop; without a known
	// filter, the oldest hop from a public address.
	edge := -1
	for i := len(d.Hops) - 1; i >= 0; i-- {
		if ip := d.Hops[i].IP; ip != "" && !privateIP(ip) {
			if _, ok := FilterForHost(d.Hops[i].By); ok {
				edge = i
				break
			}
			if edge < 0 {
				edge = i
			}
		}
	}
	f.Original = originalOf(h)
	f.Original.Auth = receiverAuth(d)
	if to := f.Original.To; len(to) == 1 {
		// The one addressee is the recipient whose filter judged it.
		f.Recipient = to[0]
		if _, d, ok := strings.Cut(to[0], "@"); ok {
			f.RecipientDomain = d
		}
	}
	if edge >= 0 {
		f.Original.withHop(d.Hops[edge])
		f.SendingIP, f.IP = d.Hops[edge].IP, d.Hops[edge].IP
		// A sending IP in an ESP's shared pool (its PTR name) makes the ESP the route.
		if esp, ok := ESPForHost(d.Hops[edge].RDNS); ok {
			f.Notes = append(f.Notes, "the sending IP "+f.IP+" is in "+esp.Product+"'s pool ("+d.Hops[edge].RDNS+")")
		}
	}
	if pp := d.Proofpoint; pp != nil {
		f.Provider, f.ReceiverProvider = "proofpoint", "proofpoint"
		f.QueueID = pp.QueueID
		f.Original.Queue, f.Original.GUID = pp.QueueID, cmpOr(pp.GUID, f.Original.GUID)
		f.Original.Detail = cmpOr(sanitize.Line(pp.Details), f.Original.Detail)
		if filtered(pp, h) {
			f.Mode = Filtering
			f.Cause = Content
			f.Control = "spam-rule"
			if pp.Rule != "" {
				f.Control = "spam-rule:" + pp.Rule
			}
			f.Route = RouteFor("proofpoint-support", "")
			if pp.Essentials {
				f.Route = RouteFor("proofpoint-essentials", "")
			}
			f.Meaning = "Proofpoint accepted the message and filtered it (rule " + cmpOr(pp.Rule, "unknown") + "): a false positive goes to a support case with these headers"
		} else {
			f.Meaning = "Proofpoint delivered the message without filtering it"
		}
		f.Text = sanitize.Line(pp.Details)
	}
	for _, a := range d.Auth {
		if a.Result == "fail" || a.Result == "permerror" || (a.Method == "dmarc" && a.Result != "pass" && a.Result != "none") {
			f.Notes = append(f.Notes, a.Method+"="+a.Result+" at "+cmpOr(a.Authserv, "the receiver")+": fix authentication before asking for a review")
			if f.Mode == Filtering {
				f.Cause = Authentication
			}
		}
	}
	if f.Receiver == "" {
		// The filter that received it, whether it delivered or filtered.
		for _, hop := range d.Hops {
			if fl, ok := FilterForHost(hop.By); ok {
				f.ReceiverProvider = fl.Provider
				f.Receiver = hop.By
				break
			}
		}
	}
	for _, l := range d.Links {
		f.Notes = append(f.Notes, "link "+l.URL+" (rewritten by URL Defense)")
		if len(f.Notes) > 20 {
			break
		}
	}
	return f
}

// filtered reports whether Proofpoint's headers show the message was filtered: a spam
// verdict, a quarantine or a tagged subject.
func filtered(pp *Proofpoint, h message.Header) bool {
	r := strings.ToLower(pp.Rule)
	if r != "" && r != "notspam" && r != "safe" && !strings.HasPrefix(r, "inbound_notspam") && !strings.HasPrefix(r, "outbound_notspam") {
		return true
	}
	if s, ok := pp.Scores["spamscore"]; ok && s != "0" && len(s) > 1 {
		return true
	}
	subj := strings.ToLower(h.Get("Subject"))
	return strings.Contains(subj, "[spam") || strings.Contains(subj, "[suspected spam") || strings.Contains(subj, "[bulk")
}

func latest(hops []Hop, def time.Time) time.Time {
	for _, h := range hops {
		if !h.At.IsZero() {
			return h.At
		}
	}
	return def
}

func privateIP(s string) bool {
	a, ok := parseIPAddr(s)
	return !ok || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast()
}

// parseReceived reads one Received header: from HELO (rDNS [IP]) by host with P id X; date.
func parseReceived(v string) Hop {
	v = unfold(v)
	var hop Hop
	body, date, _ := cutLast(v, ";")
	hop.At = parseDate(date)
	lower := lowerASCII(body) // byte for byte: indexes into body
	if i := strings.Index(lower, "from "); i >= 0 {
		hop.From = sanitize.Line(hostToken(body[i+5:]))
		rest := body[i+5:]
		if j := strings.IndexByte(rest, '('); j >= 0 {
			if k := strings.IndexByte(rest[j:], ')'); k > 0 {
				comment := rest[j+1 : j+k]
				hop.IP = blockedIP(strings.ToLower(comment))
				name := hostToken(strings.TrimPrefix(strings.TrimSpace(comment), "HELO "))
				if name != "" && !strings.HasPrefix(name, "[") && strings.Contains(name, ".") {
					if _, ok := parseIP(name); !ok {
						hop.RDNS = sanitize.Line(name)
					}
				}
			}
		}
		if hop.IP == "" {
			fromPart := lower[i+5:]
			if k := strings.Index(fromPart, " by "); k >= 0 {
				fromPart = fromPart[:k]
			}
			hop.IP = blockedIP(fromPart)
		}
	}
	if i := strings.Index(lower, " by "); i >= 0 {
		hop.By = sanitize.Line(hostToken(body[i+4:]))
	} else if strings.HasPrefix(lower, "by ") {
		hop.By = sanitize.Line(hostToken(body[3:]))
	}
	if i := strings.Index(lower, " with "); i >= 0 {
		hop.With = sanitize.Line(hostToken(body[i+6:]))
	}
	if i := strings.Index(lower, " id "); i >= 0 {
		hop.ID = sanitize.Line(strings.Trim(hostToken(body[i+4:]), ";"))
	}
	w := strings.ToLower(hop.With)
	hop.TLS = strings.HasSuffix(w, "s") && strings.Contains(w, "smtp") || strings.HasSuffix(w, "sa") ||
		strings.Contains(lower, "version=tls") || strings.Contains(lower, "using tls") || strings.Contains(lower, " tls1")
	return hop
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func hostToken(s string) string {
	s = strings.TrimSpace(s)
	n := 0
	for n < len(s) && s[n] != ' ' && s[n] != '(' && s[n] != ')' && s[n] != ';' {
		n++
	}
	return s[:n]
}

func parseAuthResults(v string) []AuthCheck {
	id, results, err := authres.Parse(unfold(v))
	if err != nil {
		return nil
	}
	var out []AuthCheck
	selectors := dkimSelectors(unfold(v))
	for _, r := range results {
		var c AuthCheck
		switch r := r.(type) {
		case *authres.SPFResult:
			c = AuthCheck{Method: "spf", Result: string(r.Value), Domain: r.From}
		case *authres.DKIMResult:
			c = AuthCheck{Method: "dkim", Result: string(r.Value), Domain: r.Domain}
			if len(selectors) > 0 {
				c.Selector, selectors = sanitize.Line(selectors[0]), selectors[1:]
			}
		case *authres.DMARCResult:
			c = AuthCheck{Method: "dmarc", Result: string(r.Value), Domain: r.From}
		case *authres.IPRevResult:
			c = AuthCheck{Method: "iprev", Result: string(r.Value), Domain: r.IP}
		case *authres.ARCResult:
			c = AuthCheck{Method: "arc", Result: string(r.Value)}
		case *authres.AuthResult:
			c = AuthCheck{Method: "auth", Result: string(r.Value)}
		case *authres.GenericResult:
			c = AuthCheck{Method: r.Method, Result: string(r.Value)}
		default:
			continue
		}
		c.Authserv = sanitize.Line(id)
		c.Method, c.Result, c.Domain = sanitize.Line(c.Method), sanitize.Line(c.Result), sanitize.Line(c.Domain)
		out = append(out, c)
	}
	return out
}

// receiverAuth are the Authentication-Results added by a host that received the message
// (its authserv-id is a Received hop's "by"): what the receiver verified.
func receiverAuth(d DeliveredMessage) []AuthCheck {
	var out []AuthCheck
	for _, a := range d.Auth {
		if a.Method != "spf" && a.Method != "dkim" && a.Method != "dmarc" {
			continue
		}
		if slices.ContainsFunc(d.Hops, func(h Hop) bool { return h.By != "" && strings.EqualFold(h.By, a.Authserv) }) {
			out = append(out, a)
		}
	}
	return out
}

// dkimSelectors are the header.s of each dkim= result of an Authentication-Results value,
// in order ("" where a result has none): the parser keeps header.d, not header.s.
func dkimSelectors(v string) []string {
	var out []string
	for _, part := range strings.Split(v, ";") {
		fields := strings.Fields(part)
		if len(fields) == 0 || !strings.HasPrefix(strings.ToLower(fields[0]), "dkim=") {
			continue
		}
		sel := ""
		for _, f := range fields[1:] {
			if k, val, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "header.s") {
				sel = val
			}
		}
		out = append(out, sel)
	}
	return out
}

// proofpointHeaders reads X-Proofpoint-Spam-Details and the ppops.net hop's queue ID.
func proofpointHeaders(h message.Header, hops []Hop) *Proofpoint {
	details := unfold(h.Get("X-Proofpoint-Spam-Details"))
	guid := h.Get("X-Proofpoint-Guid")
	var pp Proofpoint
	found := details != "" || guid != "" || h.Get("X-Proofpoint-Virus-Version") != ""
	for _, v := range h.Values("X-Virus-Scanned") {
		if strings.Contains(strings.ToLower(v), "proofpoint essentials") {
			found, pp.Essentials = true, true
		}
	}
	for _, hop := range hops {
		if f, ok := FilterForHost(hop.By); ok && f.Provider == "proofpoint" && strings.Contains(strings.ToLower(f.Product), "essentials") {
			found, pp.Essentials = true, true
		}
		if strings.HasSuffix(strings.ToLower(hop.By), "ppops.net") || strings.Contains(strings.ToLower(hop.From), "pps.filterd") {
			found = true
			if pp.QueueID == "" {
				pp.QueueID = hop.ID
			}
		}
	}
	if !found {
		return nil
	}
	pp.GUID = sanitize.Line(strings.TrimSpace(guid))
	pp.Details = sanitize.Line(details)
	for _, kv := range strings.Fields(details) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		k, v = strings.ToLower(k), sanitize.Line(v)
		switch {
		case k == "rule":
			pp.Rule = v
		case k == "policy":
			pp.Policy = v
		case strings.HasSuffix(k, "score") || k == "score":
			if pp.Scores == nil {
				pp.Scores = map[string]string{}
			}
			pp.Scores[sanitize.Line(k)] = v
		}
	}
	return &pp
}

// decodeLinks finds Proofpoint URL Defense links (v1, v2, v3) and decodes them.
func decodeLinks(text string) []Link {
	var out []Link
	for _, prefix := range []string{"https://urldefense.proofpoint.com/v", "https://urldefense.com/v3/__"} {
		for i := 0; ; {
			j := strings.Index(text[i:], prefix)
			if j < 0 {
				break
			}
			start := i + j
			end := start
			for end < len(text) && text[end] > ' ' && text[end] != '"' && text[end] != '<' && text[end] != '>' && text[end] != '\'' {
				end++
			}
			raw := text[start:end]
			if u, ok := DecodeURLDefense(raw); ok && !slices.ContainsFunc(out, func(l Link) bool { return l.Rewritten == sanitize.Line(raw) }) {
				out = append(out, Link{Rewritten: sanitize.Line(raw), URL: sanitize.Line(u)})
			}
			i = end
			if len(out) >= 100 {
				return out
			}
		}
	}
	return out
}

// DecodeURLDefense returns the original URL of a Proofpoint URL Defense link.
func DecodeURLDefense(link string) (string, bool) {
	switch {
	case strings.HasPrefix(link, "https://urldefense.com/v3/__"):
		return decodeV3(strings.TrimPrefix(link, "https://urldefense.com/v3/__"))
	case strings.HasPrefix(link, "https://urldefense.proofpoint.com/v2/url?"), strings.HasPrefix(link, "https://urldefense.proofpoint.com/v1/url?"):
		q, err := url.ParseQuery(link[strings.IndexByte(link, '?')+1:])
		if err != nil {
			return "", false
		}
		u := q.Get("u")
		if u == "" {
			return "", false
		}
		if strings.Contains(link, "/v2/") {
			u = strings.NewReplacer("-", "%", "_", "/").Replace(u)
			d, err := url.PathUnescape(u)
			if err != nil {
				return "", false
			}
			u = d
		}
		return u, true
	}
	return "", false
}

// v3 links carry the URL with some characters replaced by "*" (or "**X" for a run), the
// characters themselves base64url-encoded after "__;".
func decodeV3(s string) (string, bool) {
	u, rest, ok := strings.Cut(s, "__;")
	if !ok {
		u, _, ok = strings.Cut(s, "__")
		return u, ok && u != ""
	}
	enc, _, _ := strings.Cut(rest, "!!")
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(enc, "="))
	if err != nil {
		return "", false
	}
	repl := []rune(string(raw))
	const runLen = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		if u[i] != '*' {
			b.WriteByte(u[i])
			continue
		}
		n := 1
		if i+2 < len(u) && u[i+1] == '*' {
			k := strings.IndexByte(runLen, u[i+2])
			if k < 0 {
				return "", false
			}
			n = k + 2
			i += 2
		}
		if n > len(repl) {
			return "", false
		}
		b.WriteString(string(repl[:n]))
		repl = repl[n:]
	}
	return b.String(), true
}

var errEOF = io.EOF

func parseIPAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err == nil
}
