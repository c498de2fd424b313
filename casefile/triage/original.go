package triage

import (
	"net/mail"
	"slices"
	"strings"

	"github.com/emersion/go-message"

	"github.com/unblock-mail/unblock/sanitize"
)

// Original is what the headers of the message that failed identify — the copy a bounce
// returns, or a delivered message's own headers. It gives identifiers a desk needs to
// find the message, never a failure.
type Original struct {
	From       string          `json:"from,omitempty"` // the author address (From)
	To         []string        `json:"to,omitempty"`
	ReturnPath string          `json:"return_path,omitempty"`
	MessageID  string          `json:"message_id,omitempty"`
	DKIM       []DKIMSignature `json:"dkim,omitempty"`
	// The sending host as the receiver recorded it in its Received header: the HELO name
	// and the client IP (public addresses only: a private or loopback hop is never the
	// sending IP).
	HELO   string `json:"helo,omitempty"`
	HopIP  string `json:"hop_ip,omitempty"`
	GUID   string `json:"proofpoint_guid,omitempty"` // X-Proofpoint-GUID
	Queue  string `json:"queue_id,omitempty"`        // the filter's queue ID
	Detail string `json:"spam_details,omitempty"`    // X-Proofpoint-Spam-Details: the verdict's rule and scores
	// Auth is what the receiver verified: its own Authentication-Results (spf, dkim,
	// dmarc), for a message it accepted.
	Auth []AuthCheck `json:"receiver_auth,omitempty"`
}

// DKIMSignature is the signing domain and selector of one DKIM-Signature header.
type DKIMSignature struct {
	Domain   string `json:"d"`
	Selector string `json:"s"`
}

// maxTo bounds the To addresses kept: a few identify the message; a mailing list's
// thousand do not.
const maxTo = 10

// originalOf reads the identifiers in a message's headers.
func originalOf(h message.Header) *Original {
	o := &Original{
		From:       addressIn(headerText(h, "From")),
		ReturnPath: addressOf(strings.ToLower(headerText(h, "Return-Path"))),
		MessageID:  sanitize.Line(strings.TrimSpace(headerText(h, "Message-Id"))),
		GUID:       sanitize.Line(strings.TrimSpace(headerText(h, "X-Proofpoint-GUID"))),
		Detail:     sanitize.Line(unfold(headerText(h, "X-Proofpoint-Spam-Details"))),
	}
	for _, k := range []string{"To", "Cc"} {
		if list, err := mail.ParseAddressList(headerText(h, k)); err == nil {
			for _, a := range list {
				if addr := sanitize.Line(strings.ToLower(a.Address)); len(o.To) < maxTo && !slices.Contains(o.To, addr) {
					o.To = append(o.To, addr)
				}
			}
		}
	}
	for _, sig := range h.Values("DKIM-Signature") {
		d, s := strings.ToLower(tagValue(sig, "d")), tagValue(sig, "s")
		if d != "" && s != "" {
			o.DKIM = append(o.DKIM, DKIMSignature{Domain: sanitize.Line(d), Selector: sanitize.Line(s)})
		}
	}
	return o
}

// addressIn is the address of a From header ("Name <addr>", encoded words and all), or "".
func addressIn(v string) string {
	if a, err := mail.ParseAddress(v); err == nil {
		return sanitize.Line(strings.ToLower(a.Address))
	}
	if list, err := mail.ParseAddressList(v); err == nil && len(list) > 0 {
		return sanitize.Line(strings.ToLower(list[0].Address))
	}
	return sanitize.Line(addressOf(strings.ToLower(v)))
}

// withHop records the sending host as a receiver's hop names it, when its client is a
// public address.
func (o *Original) withHop(hop Hop) {
	if o == nil || hop.IP == "" || privateIP(hop.IP) {
		return
	}
	o.HopIP = hop.IP
	if name := strings.ToLower(strings.Trim(hop.From, "[]")); name != "" && name != hop.IP {
		o.HELO = name
	}
}
