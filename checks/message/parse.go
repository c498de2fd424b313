package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"golang.org/x/net/publicsuffix"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/sanitize"
)

// Field is one header field as it stands in the message, top to bottom.
type Field struct {
	Name  string // canonical case (Dkim-Signature)
	Value string // unfolded, sanitized for display
	raw   string // unfolded, as received: for parsers only, never shown
	field []byte // the whole field as received (name, folding, CRLF): for signatures
}

// Message is a parsed message: what the tests read. Build it with Parse.
type Message struct {
	opts Options
	raw  []byte

	// Fields are the header fields, top to bottom (capped at MaxHeaderBytes).
	Fields    []Field
	header    textproto.Header
	headerErr error // why header parsing stopped early, if it did
	headerLen int   // bytes of the header section, blank line included
	body      []byte

	// Hops are the parsed Received fields, top (the last hop, nearest the reader) first.
	Hops []Hop
	// Sending is the index in Hops of the hop that received the message from the sender's
	// systems, or -1.
	Sending int

	structure *structure // the MIME walk, made once
	linkList  []Link     // links found in the text, made once

	base       checks.Target // what the caller already knew (Check)
	authOnce   sync.Once
	authResult *Auth
}

// Hop is one Received field.
type Hop struct {
	HELO  string     // what the client said in HELO/EHLO
	RDNS  string     // the reverse name the receiving host found ("" when unknown)
	IP    netip.Addr // the client's address
	By    string     // the receiving host
	With  string     // the protocol (ESMTPS, ESMTP, SMTP, LMTP …)
	TLS   string     // the TLS version or cipher noted, if any
	ID    string
	Time  time.Time // zero when the date is missing or unreadable
	Field string    // the whole field, sanitized
}

// Encrypted reports whether the hop was made over TLS.
func (h Hop) Encrypted() bool {
	w := strings.ToUpper(h.With)
	return h.TLS != "" || strings.HasSuffix(w, "S") || strings.HasSuffix(w, "SA") ||
		strings.Contains(w, "HTTPS")
}

// Parse reads raw as a message. It never fails: what could not be read is reported by the
// tests. The header section is read up to MaxHeaderBytes.
func Parse(raw []byte, opts Options) *Message {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	// A message saved from an mbox starts with the envelope line "From sender date": it is
	// not part of the message (and would break its signatures).
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	m := &Message{opts: opts, raw: raw, Sending: -1}
	hdr := raw
	if len(hdr) > MaxHeaderBytes {
		hdr = hdr[:MaxHeaderBytes]
	}
	br := bufio.NewReaderSize(bytes.NewReader(hdr), 4096)
	h, err := textproto.ReadHeader(br)
	m.header = h
	m.headerLen = len(hdr) - br.Buffered()
	if err != nil {
		m.headerErr = err
		if len(raw) > MaxHeaderBytes && m.headerLen >= MaxHeaderBytes-4096 {
			m.headerErr = fmt.Errorf("header section larger than %d KB: read stopped there", MaxHeaderBytes>>10)
		}
		// The body is what follows the first blank line, if any.
		m.headerLen = headerEnd(raw)
	} else {
		// Trust our own blank-line scan: bufio may have read ahead.
		m.headerLen = headerEnd(raw)
	}
	if m.headerLen > len(raw) {
		m.headerLen = len(raw)
	}
	m.body = raw[m.headerLen:]
	fs := h.Fields()
	m.Fields = make([]Field, 0, fs.Len())
	for fs.Next() {
		v := fs.Value()
		b, _ := fs.Raw()
		m.Fields = append(m.Fields, Field{Name: fs.Key(), Value: sanitize.Line(v), raw: v, field: b})
	}
	for _, f := range m.Fields {
		if f.Name == "Received" {
			m.Hops = append(m.Hops, parseReceived(f.raw))
		}
	}
	m.Sending = m.sendingHop()
	return m
}

// headerEnd returns the offset where the body starts: after the first empty line.
func headerEnd(raw []byte) int {
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		return 2
	}
	if bytes.HasPrefix(raw, []byte("\n")) {
		return 1
	}
	i := bytes.Index(raw, []byte("\n\r\n"))
	j := bytes.Index(raw, []byte("\n\n"))
	switch {
	case i < 0 && j < 0:
		return len(raw)
	case i >= 0 && (j < 0 || i < j):
		return i + 3
	default:
		return j + 2
	}
}

// NotAMessage says why raw cannot be read as a message at all, or nil.
func (m *Message) NotAMessage() error {
	if len(m.raw) == 0 {
		return errors.New("message is empty")
	}
	if len(m.Fields) == 0 {
		line := m.raw
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		if len(line) > 60 {
			line = line[:60]
		}
		return fmt.Errorf("not a message: no header fields (first line %q)", sanitize.Line(string(line)))
	}
	return nil
}

// values returns the raw values of every field named name (canonical case), top first.
func (m *Message) values(name string) []string {
	var out []string
	for _, f := range m.Fields {
		if f.Name == name {
			out = append(out, f.raw)
		}
	}
	return out
}

// first returns the raw value of the first field named name.
func (m *Message) first(name string) (string, bool) {
	for _, f := range m.Fields {
		if f.Name == name {
			return f.raw, true
		}
	}
	return "", false
}

// From returns the From addresses, or an error saying why they cannot be read.
func (m *Message) From() ([]*mail.Address, error) {
	v, ok := m.first("From")
	if !ok {
		return nil, errors.New("no From field")
	}
	return mail.ParseAddressList(v)
}

// FromDomain is the domain of the (first) From address, lower case, or "".
func (m *Message) FromDomain() string {
	as, err := m.From()
	if err != nil || len(as) == 0 {
		return ""
	}
	return domainOf(as[0].Address)
}

// FromDomains is every distinct domain of the From addresses, lower case, in order.
func (m *Message) FromDomains() []string {
	as, err := m.From()
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range as {
		if d := domainOf(a.Address); d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// EnvelopeSender is the Return-Path address ("" for none or the null sender).
func (m *Message) EnvelopeSender() string {
	v, ok := m.first("Return-Path")
	if !ok {
		return ""
	}
	v = strings.TrimSpace(v)
	v = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
	if a, err := mail.ParseAddress("<" + v + ">"); err == nil {
		return sanitize.Line(a.Address)
	}
	return ""
}

// recipientDomain is where the message was delivered: Delivered-To, X-Original-To, then To.
func (m *Message) recipientDomain() string {
	for _, name := range []string{"Delivered-To", "X-Original-To"} {
		if v, ok := m.first(name); ok {
			if d := domainOf(strings.Trim(strings.TrimSpace(v), "<>")); d != "" {
				return d
			}
		}
	}
	if v, ok := m.first("To"); ok {
		if as, err := mail.ParseAddressList(v); err == nil && len(as) > 0 {
			return domainOf(as[0].Address)
		}
	}
	return ""
}

// domainOf returns the lower-case domain of an address, sanitized, or "".
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(addr[i+1:]), "."))
	d = strings.Trim(d, "<>[] ")
	if d == "" || strings.ContainsAny(d, " \t\r\n\"") {
		return ""
	}
	return sanitize.Line(d)
}

// orgDomain is the organisational domain (public suffix plus one label), or d itself.
func orgDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	o, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return o
}

// Target fills what base leaves empty with the identities the message carries.
func (m *Message) Target(base checks.Target) checks.Target {
	t := base
	if m.Sending >= 0 {
		h := m.Hops[m.Sending]
		if !t.IP.IsValid() && h.IP.IsValid() {
			t.IP = h.IP
		}
		if t.HELO == "" && h.HELO != "" && !strings.HasPrefix(h.HELO, "[") {
			t.HELO = h.HELO
		}
	}
	if t.EnvelopeSender == "" {
		t.EnvelopeSender = m.EnvelopeSender()
	}
	if t.Domain == "" {
		t.Domain = m.FromDomain()
		if t.Domain == "" {
			t.Domain = domainOf(t.EnvelopeSender)
		}
	}
	if t.RecipientDomain == "" {
		t.RecipientDomain = m.recipientDomain()
	}
	if len(t.Selectors) == 0 {
		for _, s := range m.Signatures() {
			if strings.EqualFold(s.Domain, t.Domain) && s.Selector != "" && !contains(t.Selectors, s.Selector) {
				t.Selectors = append(t.Selectors, s.Selector)
			}
		}
	}
	return t
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
