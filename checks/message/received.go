package message

import (
	"net/mail"
	"net/netip"
	"regexp"
	"strings"

	"github.com/unblock-mail/unblock/sanitize"
)

// receivedClauses are the keywords of RFC 5321 §4.4's Received grammar.
var receivedClauses = map[string]bool{"from": true, "by": true, "via": true, "with": true, "id": true, "for": true}

// tlsNote finds the TLS version MTAs write into a Received comment: Postfix "(using
// TLSv1.3 with cipher …)", Gmail "(version=TLS1_3 cipher=…)", Exchange "(version=TLS1_2,
// cipher=…)", Exim "(TLS1.3)".
var tlsNote = regexp.MustCompile(`(?i)\b(TLS ?v?1[._]?[0-3]|SSLv3|using TLS[^)]*|encrypted SMTP)`)

// parseReceived reads one Received field value. It is lenient: MTAs write many dialects,
// and what it cannot place is left empty.
func parseReceived(v string) Hop {
	h := Hop{Field: sanitize.Line(v)}
	clauses := v
	if i := strings.LastIndexByte(v, ';'); i >= 0 {
		clauses = v[:i]
		if t, err := mail.ParseDate(strings.TrimSpace(v[i+1:])); err == nil {
			h.Time = t.UTC()
		}
	}
	if m := tlsNote.FindString(clauses); m != "" {
		h.TLS = sanitize.Line(m)
	}
	toks := tokenize(clauses)
	var cur string
	for i, tok := range toks {
		low := strings.ToLower(tok)
		if !strings.HasPrefix(tok, "(") && receivedClauses[low] {
			cur = low
			continue
		}
		switch cur {
		case "from":
			if strings.HasPrefix(tok, "(") {
				readFromComment(&h, tok)
			} else if h.HELO == "" {
				h.HELO = sanitize.Line(strings.ToLower(strings.TrimSuffix(tok, ".")))
				if a, ok := bracketIP(tok); ok && !h.IP.IsValid() {
					h.IP = a
				}
			} else if a, ok := bracketIP(tok); ok && !h.IP.IsValid() {
				h.IP = a
			}
		case "by":
			if h.By == "" && !strings.HasPrefix(tok, "(") {
				h.By = sanitize.Line(strings.ToLower(strings.TrimSuffix(tok, ".")))
			}
		case "with":
			if h.With == "" && !strings.HasPrefix(tok, "(") {
				h.With = sanitize.Line(tok)
			}
		case "id":
			if h.ID == "" && !strings.HasPrefix(tok, "(") {
				h.ID = sanitize.Line(tok)
			}
		}
		_ = i
	}
	return h
}

// readFromComment reads "(rdns [ip])", "([ip] helo=name)", "(unknown [ip])" and the like.
func readFromComment(h *Hop, c string) {
	inner := strings.TrimSuffix(strings.TrimPrefix(c, "("), ")")
	words := strings.Fields(inner)
	// qmail: "from RDNS (HELO name) (IP)".
	if len(words) == 2 && strings.EqualFold(words[0], "helo") {
		if h.HELO != "" && !strings.HasPrefix(h.HELO, "[") && h.RDNS == "" {
			h.RDNS = h.HELO
		}
		h.HELO = sanitize.Line(strings.ToLower(strings.TrimSuffix(words[1], ".")))
		return
	}
	for _, w := range words {
		w = strings.Trim(w, ",;")
		if a, ok := bracketIP(w); ok {
			if !h.IP.IsValid() {
				h.IP = a
			}
			continue
		}
		lw := strings.ToLower(w)
		switch {
		case strings.HasPrefix(lw, "helo="):
			// Exim: "from RDNS ([IP] helo=HELO)": the name before the comment is the
			// verified reverse name, the client's HELO is here.
			if h.HELO != "" && !strings.HasPrefix(h.HELO, "[") && h.RDNS == "" {
				h.RDNS = h.HELO
			}
			h.HELO = sanitize.Line(strings.TrimSuffix(lw[5:], "."))
		case strings.Count(lw, ":") >= 2 || looksIPv4(lw):
			if a, err := netip.ParseAddr(strings.TrimPrefix(lw, "ipv6:")); err == nil && !h.IP.IsValid() {
				h.IP = a.Unmap()
			}
		case h.RDNS == "" && (strings.Contains(lw, ".") || lw == "unknown") && !strings.ContainsAny(lw, "=()[]"):
			h.RDNS = sanitize.Line(strings.TrimSuffix(lw, "."))
		}
	}
}

func looksIPv4(s string) bool {
	return strings.Count(s, ".") == 3 && strings.Trim(s, "0123456789.") == ""
}

// bracketIP reads "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func bracketIP(s string) (netip.Addr, bool) {
	s = strings.Trim(s, ",;()")
	if !strings.HasPrefix(s, "[") {
		return netip.Addr{}, false
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if len(s) > 5 && strings.EqualFold(s[:5], "ipv6:") {
		s = s[5:]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// tokenize splits a Received value into words and whole (nested) comments.
func tokenize(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			depth, j := 0, i
			for ; j < len(s); j++ {
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if j >= len(s) {
				j = len(s) - 1
			}
			out = append(out, s[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '(' && s[j] != '\r' && s[j] != '\n' {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

// public reports an address a receiver on the Internet could have seen.
func public(a netip.Addr) bool {
	return a.IsValid() && !a.IsLoopback() && !a.IsPrivate() && !a.IsLinkLocalUnicast() &&
		!a.IsUnspecified() && !a.IsMulticast() && !cgnat.Contains(a)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// sendingHop finds the hop at which the message entered the recipient's systems: walking
// down from the top, hops whose client is inside the recipient's systems (a private or
// loopback address, or a host in a recipient domain) are internal; the first hop from a
// public address outside them is the sender's. The address the receiver's own SPF
// verdict names (Received-SPF client-ip=) wins when it matches a hop.
func (m *Message) sendingHop() int {
	if len(m.Hops) == 0 {
		return -1
	}
	if ip, ok := m.receivedSPFClient(); ok {
		for i, h := range m.Hops {
			if h.IP == ip {
				return i
			}
		}
	}
	inside := map[string]bool{}
	for _, d := range m.opts.RecipientDomains {
		inside[orgDomain(d)] = true
	}
	if d := m.recipientDomain(); d != "" {
		inside[orgDomain(d)] = true
	}
	if by := m.Hops[0].By; by != "" && strings.Contains(by, ".") {
		inside[orgDomain(by)] = true
	}
	for i, h := range m.Hops {
		if !public(h.IP) {
			continue
		}
		name := h.RDNS
		if name == "" {
			name = h.HELO
		}
		if name != "" && inside[orgDomain(name)] && i+1 < len(m.Hops) {
			// A relay inside the recipient's systems; unless it is the last hop we have.
			continue
		}
		return i
	}
	return -1
}

// receivedSPFClient reads client-ip= from the topmost Received-SPF field.
func (m *Message) receivedSPFClient() (netip.Addr, bool) {
	v, ok := m.first("Received-Spf")
	if !ok {
		return netip.Addr{}, false
	}
	i := strings.Index(strings.ToLower(v), "client-ip=")
	if i < 0 {
		return netip.Addr{}, false
	}
	s := v[i+len("client-ip="):]
	if j := strings.IndexAny(s, "; \t"); j >= 0 {
		s = s[:j]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
