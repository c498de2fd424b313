// Package triage reads what a user pastes — SMTP replies, DSN bounces, mbox and Maildir
// folders of bounces, headers of delivered mail, Postfix and Exim logs, SES and SendGrid
// events — and says what failed, whose control caused it, and where the case must go.
//
// The provider knowledge (patterns, meanings, routes, what each desk asks for) is data,
// embedded from knowledge/providers/*.yaml: a new reply string or route is a one-line change there.
package triage

import "time"

// Mode is the kind of failure.
type Mode string

const (
	HardBlock   Mode = "hard-block"
	Deferral    Mode = "deferral"
	Filtering   Mode = "filtering" // accepted but filtered: a false positive
	Complaint   Mode = "complaint" // an ARF feedback report
	Delivered   Mode = "delivered"
	AutoReply   Mode = "auto-reply"
	UnknownMode Mode = "unknown"
)

// Cause is why it failed.
type Cause string

const (
	IPReputation     Cause = "ip-reputation"
	DomainReputation Cause = "domain-reputation"
	Blocklist        Cause = "blocklist"
	Authentication   Cause = "authentication"
	RecipientPolicy  Cause = "recipient-policy"
	Content          Cause = "content"
	RateLimit        Cause = "rate-limit"
	InvalidRecipient Cause = "invalid-recipient"
	TLS              Cause = "tls"
	Other            Cause = "other"
	UnknownCause     Cause = "unknown"
)

// Route is where a case goes and what that desk asks for.
type Route struct {
	Kind    string   `json:"kind"`              // proofpoint-ipcheck, cloudmark-reset … (DESIGN.md)
	Contact string   `json:"contact,omitempty"` // an address to write to
	URL     string   `json:"url,omitempty"`     // a form or lookup page, with the IP filled in
	Asks    []string `json:"asks,omitempty"`    // what the desk wants in the request
}

// Finding is one failure (or other outcome) read from the input. Every string in it has
// been sanitized where it entered.
type Finding struct {
	Source          string    `json:"source"` // file:line, "stdin:3", "mbox msg 12" …
	Mode            Mode      `json:"mode"`
	Cause           Cause     `json:"cause"`
	Provider        string    `json:"provider"`           // owner of the control: the desk to go to
	Receiver        string    `json:"receiver,omitempty"` // host or domain that answered
	Control         string    `json:"control,omitempty"`  // dynamic-reputation, cloudmark-csi …
	IP              string    `json:"ip,omitempty"`       // the IP the block is about
	SendingIP       string    `json:"sending_ip,omitempty"`
	ReplyCode       int       `json:"reply_code,omitempty"`
	EnhancedCode    string    `json:"enhanced_code,omitempty"`
	Recipient       string    `json:"recipient,omitempty"`
	RecipientDomain string    `json:"recipient_domain,omitempty"`
	Sender          string    `json:"sender,omitempty"` // envelope sender, when the input says
	MessageID       string    `json:"message_id,omitempty"`
	At              time.Time `json:"at,omitzero"`
	Text            string    `json:"text,omitempty"`  // the reply, sanitized
	Notes           []string  `json:"notes,omitempty"` // e.g. "the reply names 192.0.2.9, not the sending IP"
	Route           Route     `json:"route"`

	// Additions to the contract of DESIGN.md.
	ReceiverProvider string `json:"receiver_provider,omitempty"` // the provider operating the receiver
	Meaning          string `json:"meaning,omitempty"`           // what the reply means, for people
	Advice           string `json:"advice,omitempty"`            // what to do or send
	Stage            string `json:"stage,omitempty"`             // SMTP stage of the reply: connect, rcpt, data …
	Action           string `json:"action,omitempty"`            // the DSN's Action field
	QueueID          string `json:"queue_id,omitempty"`          // the message's ID in the log (Postfix or Exim queue ID, SES or SendGrid message ID), or a filter's queue ID (Proofpoint ppops.net hop)
	// Inbound: mail the log's own server received (its refusal of another's mail, a
	// delivery to its own mailboxes): listed, but no failure of the sender's and in no group.
	Inbound bool `json:"inbound,omitempty"`
	// Original identifies the message that failed (a bounce's returned copy, a delivered
	// message's headers): identifiers only, never a failure.
	Original *Original `json:"original,omitempty"`
}

// Group aggregates findings by provider, control and IP.
type Group struct {
	Provider string `json:"provider"`
	Control  string `json:"control,omitempty"`
	IP       string `json:"ip,omitempty"`
	Mode     Mode   `json:"mode"`
	Cause    Cause  `json:"cause"`
	Count    int    `json:"count"`
	// ByMode counts the group's findings by mode when there is more than one (a PDR delay
	// and a PDR block go to one group, whose mode is the block's).
	ByMode           map[Mode]int `json:"by_mode,omitempty"`
	FirstSeen        time.Time    `json:"first_seen,omitzero"`
	LastSeen         time.Time    `json:"last_seen,omitzero"`
	RecipientDomains []string     `json:"recipient_domains,omitempty"`
	Route            Route        `json:"route"`
	Meaning          string       `json:"meaning,omitempty"` // what the group's replies mean, for people
	Advice           string       `json:"advice,omitempty"`  // what to do or send
}
