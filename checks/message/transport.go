package message

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/checks"
)

// maxHops is where a receiver decides a message loops: RFC 5321 §6.3 suggests at least
// 100; Postfix's hopcount_limit and Exchange's default are 50 and 30.
const (
	hopsWarn  = 20
	hopsFail  = 30
	delayWarn = 30 * time.Minute
)

func init() {
	pureTests = append(pureTests,
		test{"received", testReceived},
		test{"sending-hop", testSendingHop},
		test{"hop-count", testHopCount},
		test{"hop-delay", testHopDelay},
		test{"tls-hops", testTLSHops},
		test{"helo-rdns", testHELORDNS},
	)
}

func testReceived(m *Message) checks.Result {
	if len(m.Hops) == 0 {
		return result(checks.Warn, "no Received fields: this copy was never relayed (a draft or a sent-folder copy), so the sending IP cannot be read from it",
			"use the copy as the recipient received it (with all its headers)")
	}
	var unreadable []int
	for i, h := range m.Hops {
		// qmail's "(qmail 123 invoked from network); DATE" names no host by design.
		note := strings.HasPrefix(strings.TrimSpace(h.Field), "(")
		if (h.By == "" && h.HELO == "" && !h.IP.IsValid() && !note) || h.Time.IsZero() {
			unreadable = append(unreadable, i+1)
		}
	}
	hops := make([]map[string]any, 0, len(m.Hops))
	for _, h := range m.Hops {
		e := map[string]any{"by": h.By, "with": h.With}
		if h.HELO != "" {
			e["helo"] = h.HELO
		}
		if h.RDNS != "" {
			e["rdns"] = h.RDNS
		}
		if h.IP.IsValid() {
			e["ip"] = h.IP.String()
		}
		if !h.Time.IsZero() {
			e["at"] = h.Time.Format(time.RFC3339)
		}
		if h.TLS != "" {
			e["tls"] = h.TLS
		}
		hops = append(hops, e)
	}
	d := map[string]any{"hops": hops}
	if len(unreadable) > 0 {
		r := result(checks.Warn, fmt.Sprintf("%d Received fields, some without a readable host or date (hop %d)", len(m.Hops), unreadable[0]),
			"Received fields should read \"from HELO (rDNS [IP]) by HOST with ESMTPS id ID; DATE\" (RFC 5321 §4.4)")
		r.Details = d
		return r
	}
	r := pass(fmt.Sprintf("%d Received fields, all readable", len(m.Hops)))
	r.Details = d
	return r
}

func testSendingHop(m *Message) checks.Result {
	if len(m.Hops) == 0 {
		return skip("no Received fields (see message/received)")
	}
	if m.Sending < 0 {
		return result(checks.Warn, "no hop from a public address: the sending IP cannot be read from this copy",
			"use the copy as the recipient received it, or give --ip")
	}
	h := m.Hops[m.Sending]
	d := map[string]any{"hop": m.Sending + 1, "ip": h.IP.String(), "helo": h.HELO, "rdns": h.RDNS, "by": h.By}
	r := pass(fmt.Sprintf("sent from %s (HELO %s) to %s, hop %d of %d", h.IP, orDefault(h.HELO, "?"), orDefault(h.By, "?"), m.Sending+1, len(m.Hops)))
	r.Details = d
	return r
}

func testHopCount(m *Message) checks.Result {
	n := len(m.Hops)
	switch {
	case n > hopsFail:
		return result(checks.Fail, fmt.Sprintf("%d hops: receivers take this for a mail loop and bounce it (Exchange stops at 30)", n),
			"find the forwarding loop between the hops listed and break it")
	case n > hopsWarn:
		return result(checks.Warn, fmt.Sprintf("%d hops: near where receivers decide mail loops", n),
			"shorten the relay chain")
	}
	return pass(fmt.Sprintf("%d hops, far from loop detection", n))
}

func testHopDelay(m *Message) checks.Result {
	if len(m.Hops) < 2 {
		return skip("fewer than two Received fields with dates")
	}
	var worst time.Duration
	worstAt := -1
	backwards := 0
	for i := 0; i+1 < len(m.Hops); i++ {
		a, b := m.Hops[i+1].Time, m.Hops[i].Time // b received after a
		if a.IsZero() || b.IsZero() {
			continue
		}
		d := b.Sub(a)
		if d < -5*time.Minute {
			backwards++
		}
		if d > worst {
			worst, worstAt = d, i
		}
	}
	if worstAt < 0 {
		return pass("no delay between hops")
	}
	from := m.Hops[worstAt+1].By
	to := m.Hops[worstAt].By
	d := map[string]any{"worst_seconds": int(worst.Seconds()), "from": from, "to": to}
	if worst > delayWarn {
		r := result(checks.Warn, fmt.Sprintf("%s at %s before %s took it: the message waited in a queue (a deferral, greylisting or a slow filter)", roundDur(worst), orDefault(from, "?"), orDefault(to, "?")),
			"look in the logs of "+orDefault(from, "the earlier hop")+" for deferrals (4xx replies) at that time")
		r.Details = d
		return r
	}
	s := fmt.Sprintf("longest wait between hops %s", worst.Round(time.Second))
	if backwards > 0 {
		s += fmt.Sprintf(" (%d hops with clocks out of step)", backwards)
	}
	r := pass(s)
	r.Details = d
	return r
}

func testTLSHops(m *Message) checks.Result {
	var plain []string
	n := 0
	for i, h := range m.Hops {
		if !public(h.IP) {
			// Internal hops (loopback filters, private relays, hops that name no client)
			// never crossed the Internet.
			continue
		}
		if strings.EqualFold(h.With, "local") || strings.HasPrefix(strings.ToUpper(h.With), "LMTP") {
			continue
		}
		n++
		if !h.Encrypted() {
			plain = append(plain, fmt.Sprintf("hop %d %s → %s with %s", i+1, orDefault(h.HELO, h.IP.String()), orDefault(h.By, "?"), orDefault(h.With, "?")))
		}
	}
	if n == 0 {
		return skip("no hop between public hosts")
	}
	if len(plain) > 0 {
		r := result(checks.Fail, fmt.Sprintf("%d of %d hops over the Internet without TLS: %s", len(plain), n, plain[0]),
			"enable STARTTLS on the sending MTA (Gmail marks unencrypted mail with a red padlock; some receivers require TLS)")
		r.Details = map[string]any{"plaintext": plain}
		return r
	}
	return pass(fmt.Sprintf("every one of %d hops over the Internet used TLS", n))
}

func testHELORDNS(m *Message) checks.Result {
	var bad []string
	checked := 0
	for i, h := range m.Hops {
		if !public(h.IP) || h.HELO == "" {
			continue
		}
		if h.RDNS == "" {
			// This MTA does not record the reverse name (Exchange, many appliances).
			continue
		}
		checked++
		helo := strings.ToLower(h.HELO)
		switch {
		case h.RDNS == "unknown":
			bad = append(bad, fmt.Sprintf("hop %d: %s has no reverse DNS (HELO %s)", i+1, h.IP, helo))
		case strings.HasPrefix(helo, "["):
			bad = append(bad, fmt.Sprintf("hop %d: HELO is the address literal %s, rDNS %s", i+1, helo, h.RDNS))
		case !strings.Contains(helo, "."):
			bad = append(bad, fmt.Sprintf("hop %d: HELO %s is not a fully qualified name (rDNS %s)", i+1, helo, h.RDNS))
		case helo != h.RDNS && orgDomain(helo) != orgDomain(h.RDNS):
			bad = append(bad, fmt.Sprintf("hop %d: HELO %s, rDNS %s", i+1, helo, h.RDNS))
		}
		if _, err := netip.ParseAddr(helo); err == nil {
			bad = append(bad, fmt.Sprintf("hop %d: HELO is a bare IP %s", i+1, helo))
		}
	}
	if checked == 0 {
		return skip("no hop from a public address records both HELO and reverse DNS")
	}
	if len(bad) > 0 {
		st := checks.Warn
		if m.Sending >= 0 && strings.HasPrefix(bad[0], fmt.Sprintf("hop %d:", m.Sending+1)) {
			st = checks.Fail
		}
		r := result(st, fmt.Sprintf("%d hops whose HELO and reverse DNS disagree: %s", len(bad), bad[0]),
			"set each MTA's HELO name to the PTR name of its address, and that name's A record back to the address")
		r.Details = map[string]any{"hops": bad}
		return r
	}
	return pass(fmt.Sprintf("HELO matches reverse DNS on %d public hops", checked))
}
