package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/checks/dialer"
	"github.com/unblock-mail/unblock/checks/mtasts"
	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/sanitize"
)

func init() {
	register(Check{ID: "mta-sts", Applies: needDomain, Run: runMTASTS})
	register(Check{ID: "tls-rpt", Applies: needDomain, Run: runTLSRPT})
}

// mtastsClient fetches MTA-STS policies; nil means one that resolves names with the
// run's resolver. Tests point it at an httptest server.
var mtastsClient *http.Client

func policyClient(env *Env) *http.Client {
	if mtastsClient != nil {
		return mtastsClient
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:                  nil,
		TLSHandshakeTimeout:    5 * time.Second,
		MaxResponseHeaderBytes: 16 << 10,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ips, err := env.Resolver.IPs(ctx, host)
			if err != nil {
				return nil, err
			}
			var last error
			for _, ip := range ips {
				c, err := dialer.Dial(ctx, network, net.JoinHostPort(ip.String(), port), 0)
				if err == nil {
					return c, nil
				}
				last = err
			}
			return nil, last
		},
	}}
}

// runMTASTS reads the sending domain's MTA-STS record and policy and matches the
// policy's mx patterns against its MX: with mode enforce, an MX the policy does not
// cover refuses mail from every sender that honours MTA-STS.
func runMTASTS(ctx context.Context, env *Env, t Target) Result {
	dom := strings.ToLower(strings.TrimSuffix(t.Domain, "."))
	d := map[string]any{"domain": dom}
	// Ask now what later steps need, so the run is not three round trips deep here; the
	// resolver's cache hands the answers over.
	go env.Resolver.MX(ctx, dom)
	go env.Resolver.IPs(ctx, "mta-sts."+dom)
	txts, err := env.Resolver.TXT(ctx, "_mta-sts."+dom)
	if err != nil && !resolver.IsNotFound(err) {
		return Result{Status: Error, Details: d, Summary: "the MTA-STS record could not be checked: " + dnsTrouble(err)}
	}
	var recs []string
	for _, s := range txts {
		if mtasts.IsRecord(s) {
			recs = append(recs, s)
		}
	}
	if len(recs) == 0 {
		return Result{Status: Warn, Details: d,
			Summary: "no MTA-STS record: optional, but without it senders cannot insist on TLS to " + dom,
			Fix:     fmt.Sprintf("Serve a policy at %s and publish _mta-sts.%s. IN TXT \"v=STSv1; id=%s\"", mtasts.PolicyURL(dom), dom, env.Now().UTC().Format("20060102T150405"))}
	}
	d["records"] = recs
	if len(recs) > 1 {
		return Result{Status: Fail, Details: d,
			Summary: fmt.Sprintf("%d MTA-STS records: senders ignore them all (RFC 8461 §3.1)", len(recs)),
			Fix:     "Keep one _mta-sts." + dom + " TXT record"}
	}
	rec, err := mtasts.ParseRecord(recs[0])
	if err != nil {
		return Result{Status: Fail, Details: d, Summary: sanitize.Line(err.Error()),
			Fix: fmt.Sprintf("Publish _mta-sts.%s. IN TXT \"v=STSv1; id=%s\"", dom, env.Now().UTC().Format("20060102T150405"))}
	}
	d["id"] = rec.ID
	d["url"] = mtasts.PolicyURL(dom)
	host := "mta-sts." + dom
	if _, err := env.Resolver.IPs(ctx, host); err != nil {
		if resolver.IsNotFound(err) {
			return Result{Status: Fail, Details: d,
				Summary: host + " does not resolve: the policy cannot be fetched, so senders act as if there were none",
				Fix:     "Publish an address for " + host + " and serve the policy there over HTTPS"}
		}
		return Result{Status: Error, Details: d, Summary: "the policy host could not be resolved: " + dnsTrouble(err)}
	}
	pol, raw, err := mtasts.FetchPolicy(ctx, policyClient(env), dom)
	if raw != "" {
		d["policy_text"] = raw
	}
	if err != nil {
		var cv *tls.CertificateVerificationError
		var he x509.HostnameError
		var ua x509.UnknownAuthorityError
		var ci x509.CertificateInvalidError
		switch {
		case errors.Is(err, mtasts.ErrRedirect), errors.Is(err, mtasts.ErrTooLarge), errors.Is(err, mtasts.ErrStatus), errors.Is(err, mtasts.ErrPolicy):
			return Result{Status: Fail, Details: d, Summary: "the MTA-STS policy is unusable: " + sanitize.Line(err.Error()),
				Fix: fmt.Sprintf("Serve the policy at %s directly (200, text/plain, no redirect), for example:\n%s", mtasts.PolicyURL(dom), examplePolicy(ctx, env, dom))}
		case errors.As(err, &cv), errors.As(err, &he), errors.As(err, &ua), errors.As(err, &ci):
			return Result{Status: Fail, Details: d, Summary: "the policy host's certificate is not valid: " + sanitize.Line(err.Error()),
				Fix: "Serve " + host + " with a certificate for " + host + " from a public authority"}
		}
		return Result{Status: Error, Details: d, Summary: "the MTA-STS policy could not be fetched from here: " + sanitize.Line(err.Error())}
	}
	d["policy"] = map[string]any{"mode": string(pol.Mode), "mx": pol.MX, "max_age": pol.MaxAge}
	if pol.Mode == mtasts.None {
		return Result{Status: Warn, Details: d, Summary: "MTA-STS policy mode none: the policy is switched off"}
	}
	hosts, err := mxHostsOf(ctx, env.Resolver, dom)
	if err != nil {
		return Result{Status: Error, Details: d, Summary: fmt.Sprintf("MTA-STS policy mode %s, but the MX to match it against could not be checked: %v", pol.Mode, err)}
	}
	var unmatched []string
	matches := map[string]any{}
	for _, h := range hosts {
		ok := pol.Matches(h)
		matches[h] = ok
		if !ok {
			unmatched = append(unmatched, h)
		}
	}
	d["mx_match"] = matches
	if len(unmatched) > 0 {
		fix := fmt.Sprintf("Add mx: %s to the policy (and change the id in _mta-sts.%s)", strings.Join(unmatched, ", mx: "), dom)
		if pol.Mode == mtasts.Enforce {
			return Result{Status: Fail, Details: d, Fix: fix,
				Summary: fmt.Sprintf("MTA-STS mode enforce, but MX %s matches no mx line of the policy (%s): senders that honour MTA-STS refuse to deliver there", strings.Join(unmatched, ", "), strings.Join(pol.MX, ", "))}
		}
		return Result{Status: Warn, Details: d, Fix: fix,
			Summary: fmt.Sprintf("MTA-STS mode testing, and MX %s matches no mx line of the policy (%s): it would fail under enforce", strings.Join(unmatched, ", "), strings.Join(pol.MX, ", "))}
	}
	return Result{Status: Pass, Details: d,
		Summary: fmt.Sprintf("MTA-STS mode %s, id %s; every MX (%s) matches the policy", pol.Mode, rec.ID, strings.Join(hosts, ", "))}
}

// mxHostsOf is the hosts an MTA-STS policy must cover: the MX, or the domain itself
// when it has none.
func mxHostsOf(ctx context.Context, r *resolver.Resolver, dom string) ([]string, error) {
	mxs, err := r.MX(ctx, dom)
	if resolver.KindOf(err) == resolver.NoData {
		return []string{dom}, nil
	}
	if err != nil {
		return nil, errors.New(dnsTrouble(err))
	}
	var hosts []string
	for _, mx := range mxs {
		if mx.Host != "" {
			hosts = append(hosts, mx.Host)
		}
	}
	return hosts, nil
}

func examplePolicy(ctx context.Context, env *Env, dom string) string {
	p := mtasts.Policy{Version: "STSv1", Mode: mtasts.Testing, MaxAge: 604800}
	hosts, _ := mxHostsOf(ctx, env.Resolver, dom)
	p.MX = hosts
	if len(p.MX) == 0 {
		p.MX = []string{"mail." + dom}
	}
	return strings.ReplaceAll(p.String(), "\r\n", "\n")
}

// tlsrptCorrected is a near-miss TLS-RPT record with its version written as senders
// read it: first, with no space before it or around "=".
func tlsrptCorrected(txt string) string {
	var rest []string
	for _, f := range strings.Split(txt, ";") {
		f = strings.TrimSpace(f)
		if f == "" || strings.EqualFold(strings.Join(strings.Fields(strings.ReplaceAll(f, "=", " = ")), ""), "v=TLSRPTv1") {
			continue
		}
		rest = append(rest, f)
	}
	return strings.Join(append([]string{"v=TLSRPTv1"}, rest...), "; ")
}

// runTLSRPT reads the domain's SMTP TLS reporting record: where senders report TLS
// failures they meet delivering to it.
func runTLSRPT(ctx context.Context, env *Env, t Target) Result {
	dom := strings.ToLower(strings.TrimSuffix(t.Domain, "."))
	d := map[string]any{"domain": dom}
	txts, err := env.Resolver.TXT(ctx, "_smtp._tls."+dom)
	if err != nil && !resolver.IsNotFound(err) {
		return Result{Status: Error, Details: d, Summary: "the TLS-RPT record could not be checked: " + dnsTrouble(err)}
	}
	var recs, near []string
	for _, s := range txts {
		switch {
		case mtasts.IsTLSRPT(s):
			recs = append(recs, s)
		case mtasts.IsTLSRPTNearMiss(s):
			near = append(near, s)
		}
	}
	fix := fmt.Sprintf("Publish _smtp._tls.%s. IN TXT \"v=TLSRPTv1; rua=mailto:tls-reports@%s\"", dom, dom)
	switch {
	case len(recs) == 0 && len(near) > 0:
		d["record"] = near[0]
		if rec, err := mtasts.ParseTLSRPT(tlsrptCorrected(near[0])); err == nil {
			fix = fmt.Sprintf("Publish _smtp._tls.%s. IN TXT %q instead", dom, rec.String())
		}
		return Result{Status: Fail, Details: d, Fix: fix,
			Summary: fmt.Sprintf("the TLS-RPT record at _smtp._tls.%s does not begin with \"v=TLSRPTv1\", so senders discard it (RFC 8460 §3)", dom)}
	case len(recs) == 0:
		return Result{Status: Warn, Details: d, Fix: fix,
			Summary: "no TLS-RPT record: optional, but without it nobody tells you when senders fail to reach " + dom + " over TLS"}
	case len(recs) > 1:
		d["records"] = recs
		return Result{Status: Fail, Details: d, Fix: "Keep one _smtp._tls." + dom + " TXT record",
			Summary: fmt.Sprintf("%d TLS-RPT records: senders ignore them all (RFC 8460 §3)", len(recs))}
	}
	d["record"] = recs[0]
	rec, err := mtasts.ParseTLSRPT(recs[0])
	if err != nil {
		return Result{Status: Fail, Details: d, Summary: sanitize.Line(err.Error()), Fix: fix}
	}
	d["rua"] = rec.RUA
	return Result{Status: Pass, Details: d, Summary: "TLS-RPT reports go to " + strings.Join(rec.RUA, ", ")}
}
