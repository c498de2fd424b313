package resolver

import (
	"context"
	"errors"
	"net"
	"os"

	"github.com/miekg/dns"
)

// exchange sends one question over the wire: each server in turn, each attempt with its
// own timeout, UDP first and TCP when the answer is truncated. SERVFAIL and REFUSED move
// on to the next server; the last one's verdict stands.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, string, error) {
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, "", &Error{Name: name, Type: qtype, Kind: Timeout, Err: ctx.Err()}
	}
	n := r.inFlight.Add(1)
	for {
		m := r.maxSeen.Load()
		if n <= m || r.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	defer func() {
		r.inFlight.Add(-1)
		<-r.slots
	}()

	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.RecursionDesired = true
	q.SetEdns0(ednsBufferSize, false)

	var last *Error
	for attempt := 0; attempt < r.attempts; attempt++ {
		for _, server := range r.servers {
			if ctx.Err() != nil {
				return nil, server, &Error{Name: name, Type: qtype, Kind: Timeout, Server: server, Err: ctx.Err()}
			}
			msg, err := r.ask(ctx, q, server)
			if err != nil {
				last = &Error{Name: name, Type: qtype, Kind: netKind(err), Server: server, Err: err}
				continue
			}
			switch msg.Rcode {
			case dns.RcodeSuccess, dns.RcodeNameError:
				return msg, server, nil
			case dns.RcodeServerFailure:
				last = &Error{Name: name, Type: qtype, Kind: ServFail, Server: server}
			case dns.RcodeRefused:
				last = &Error{Name: name, Type: qtype, Kind: Refused, Server: server}
			default:
				last = &Error{Name: name, Type: qtype, Kind: Malformed, Server: server,
					Err: errors.New("rcode " + dns.RcodeToString[msg.Rcode])}
			}
		}
		if last != nil && last.Kind != Timeout && last.Kind != Network {
			break // a server's verdict: asking again will not change it
		}
	}
	return nil, last.Server, last
}

func (r *Resolver) ask(ctx context.Context, q *dns.Msg, server string) (*dns.Msg, error) {
	r.sent.Add(1)
	c := &dns.Client{Net: "udp", Timeout: r.timeout, UDPSize: ednsBufferSize}
	qctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	msg, _, err := c.ExchangeContext(qctx, q, server)
	if err == nil && msg.Truncated {
		r.sent.Add(1)
		c.Net = "tcp"
		msg, _, err = c.ExchangeContext(qctx, q, server)
	}
	if err == nil && msg.Id != q.Id {
		return nil, errors.New("answer id mismatch")
	}
	return msg, err
}

func netKind(err error) Kind {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return Timeout
	case errors.As(err, &ne) && ne.Timeout():
		return Timeout
	case errors.Is(err, dns.ErrShortRead), errors.Is(err, dns.ErrId):
		return Malformed
	}
	return Network
}
