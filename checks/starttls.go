package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/checks/smtpprobe"
)

func init() {
	register(Check{ID: "starttls", Applies: starttlsApplies, Run: runSTARTTLS})
	register(Check{ID: "mx-starttls", Applies: mxSTARTTLSApplies, Run: runMXSTARTTLS})
}

// starttlsRoots are the authorities certificates are judged against; nil means the
// system's. Tests trust their own self-signed certificate here.
var starttlsRoots *x509.CertPool

func starttlsApplies(t Target) (bool, string) {
	if t.SMTPHost == "" && t.RecipientDomain == "" {
		return false, "no recipient domain or --smtp-host to probe"
	}
	return true, ""
}

func mxSTARTTLSApplies(t Target) (bool, string) {
	if t.Domain == "" {
		return false, "no sending domain whose MX to probe"
	}
	return true, ""
}

// smtpTarget is one server a STARTTLS check talks to, and why.
type smtpTarget struct {
	Role   string // "recipient", "sender", "smtp-host"
	Domain string
	Host   string
	Port   int // from --smtp-host HOST:PORT; 0 means Env.SMTPPort
}

func (s smtpTarget) label() string {
	switch s.Role {
	case "recipient":
		return fmt.Sprintf("recipient %s's MX %s", s.Domain, s.Host)
	case "sender":
		return fmt.Sprintf("%s's own MX %s", s.Domain, s.Host)
	}
	return s.Host
}

// runSTARTTLS probes the recipient's MX, the path the blocked mail takes (or the host
// given with --smtp-host). The sending domain's own MX is mx-starttls, a check of its
// own, so that one silent host never holds back the other's result.
func runSTARTTLS(ctx context.Context, env *Env, t Target) Result {
	if t.SMTPHost != "" {
		return probeOne(ctx, env, smtpHostTarget(t.SMTPHost))
	}
	return probeOne(ctx, env, smtpTarget{Role: "recipient", Domain: t.RecipientDomain})
}

// runMXSTARTTLS probes the sending domain's own MX: inbound hygiene (replies and bounces
// to the sender travel there), not the path of the blocked mail.
func runMXSTARTTLS(ctx context.Context, env *Env, t Target) Result {
	return probeOne(ctx, env, smtpTarget{Role: "sender", Domain: t.Domain})
}

func probeOne(ctx context.Context, env *Env, tg smtpTarget) Result {
	d := map[string]any{"role": tg.Role}
	if tg.Domain != "" {
		d["domain"] = tg.Domain
		host, err := firstMX(ctx, env.Resolver, tg.Domain)
		if err != nil {
			return Result{Status: Error, Details: d, Summary: fmt.Sprintf("%s: no server to probe: %v", tg.Domain, err)}
		}
		tg.Host = host
	}
	d["host"] = tg.Host
	addr, err := smtpAddr(ctx, env.Resolver, tg.Host)
	if err != nil {
		return Result{Status: Error, Details: d, Summary: fmt.Sprintf("%s: no address to probe: %v", tg.label(), err)}
	}
	port := env.SMTPPort
	if tg.Port != 0 {
		port = tg.Port
	}
	if port == 0 {
		port = 25
	}
	p := smtpprobe.Probe(ctx, smtpprobe.Options{
		Host: tg.Host, Addr: net.JoinHostPort(addr.String(), strconv.Itoa(port)),
		RootCAs: starttlsRoots, Now: env.Now(), ReplyTimeout: env.SMTPReplyTimeout,
	})
	d["address"] = p.Addr
	d["outcome"] = string(p.Outcome)
	if p.Banner != "" {
		d["banner"] = p.Banner
	}
	if len(p.Extensions) > 0 {
		d["extensions"] = p.Extensions
	}
	if p.TLSVersion != "" {
		d["tls_version"] = p.TLSVersion
		d["cipher"] = p.Cipher
	}
	if p.Cert != nil {
		d["certificate"] = map[string]any{"subject": p.Cert.Subject, "names": p.Cert.Names,
			"issuer": p.Cert.Issuer, "not_after": p.Cert.NotAfter.Format("2006-01-02T15:04:05Z")}
	}
	if p.Reply != "" {
		d["reply"] = p.Reply
	}
	seenFrom := ""
	if tg.Role == "recipient" {
		d["seen_from"] = "this machine's IP, not the sending server's"
		seenFrom = " (seen from this machine's IP, not the sending server's)"
	}
	res := Result{Details: d}
	label := tg.label()
	fixOwn := fmt.Sprintf("Enable STARTTLS on %s with a certificate for %s from a public authority (Let's Encrypt is free)", tg.Host, tg.Host)
	if tg.Role == "recipient" {
		fixOwn = fmt.Sprintf("This is the recipient's server: tell postmaster@%s what was found", tg.Domain)
	}
	switch p.Outcome {
	case smtpprobe.TLSValid:
		res.Status = Pass
		res.Summary = fmt.Sprintf("%s: %s, certificate valid for %s%s", label, p.TLSVersion, tg.Host, seenFrom)
		if v := tlsVersionOf(p.TLSVersion); v != 0 && v < tls.VersionTLS12 {
			res.Status = Warn
			res.Summary = fmt.Sprintf("%s: only %s, which receivers and RFC 8996 retire%s", label, p.TLSVersion, seenFrom)
			res.Fix = "Enable TLS 1.2 and 1.3 on " + tg.Host
		}
	case smtpprobe.CertInvalid:
		res.Status, res.Fix = Warn, fixOwn
		res.Summary = fmt.Sprintf("%s: %s works but %s; opportunistic TLS still encrypts, MTA-STS or DANE senders will refuse it%s", label, p.TLSVersion, p.Problem, seenFrom)
	case smtpprobe.NotOffered, smtpprobe.HandshakeFailed:
		res.Status, res.Fix = Fail, fixOwn
		res.Summary = fmt.Sprintf("%s: %s%s", label, p.Problem, seenFrom)
	default: // unreachable, rejected, no answer: about this machine or the moment, not a verdict
		res.Status = Error
		res.Summary = fmt.Sprintf("%s: %s", label, p.Problem)
		if p.Outcome == smtpprobe.Rejected {
			res.Summary += " (this machine is not the sending server, so this says nothing about how it is treated)"
		}
	}
	return res
}

// smtpHostTarget reads --smtp-host: a name or address, with or without a port.
func smtpHostTarget(s string) smtpTarget {
	tg := smtpTarget{Role: "smtp-host"}
	s = strings.TrimSpace(s)
	if h, p, err := net.SplitHostPort(s); err == nil {
		if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
			s, tg.Port = h, n
		}
	}
	tg.Host = strings.TrimSuffix(strings.ToLower(strings.Trim(s, "[]")), ".")
	return tg
}

func tlsVersionOf(name string) uint16 {
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		if tls.VersionName(v) == name {
			return v
		}
	}
	return 0
}

// firstMX returns the most preferred exchanger of domain, or the domain itself when it
// has no MX (RFC 5321 §5.1).
func firstMX(ctx context.Context, r *resolver.Resolver, domain string) (string, error) {
	mxs, err := r.MX(ctx, domain)
	switch {
	case resolver.KindOf(err) == resolver.NoData:
		return strings.ToLower(strings.TrimSuffix(domain, ".")), nil
	case err != nil:
		return "", fmt.Errorf("MX lookup: %s", dnsTrouble(err))
	case isNullMX(mxs):
		return "", fmt.Errorf("%s publishes a null MX: it accepts no mail", domain)
	}
	return mxs[0].Host, nil
}

// smtpAddr resolves host with the run's resolver, preferring IPv4 (the probe runs from
// machines that often lack IPv6).
func smtpAddr(ctx context.Context, r *resolver.Resolver, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return a, nil
	}
	addrs, err := r.IPs(ctx, host)
	if resolver.IsNotFound(err) {
		return netip.Addr{}, fmt.Errorf("%s does not resolve (%s)", host, resolver.KindOf(err))
	}
	if err != nil {
		return netip.Addr{}, errors.New(dnsTrouble(err))
	}
	for _, a := range addrs {
		if a.Is4() {
			return a, nil
		}
	}
	return addrs[0], nil
}
