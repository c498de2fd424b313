package casefile

// What the receiving filter verified of a message it accepted (a filtered message's own
// Authentication-Results), kept apart from the case's DNS checks: a receiver's
// "dkim=pass header.d=… header.s=…" is a signature verified on the message, which a
// published key is not.

import (
	"slices"
	"strings"

	"github.com/unblock-mail/unblock/casefile/triage"
)

// ReceiverAuth is one result of the receiver's Authentication-Results header.
type ReceiverAuth struct {
	Authserv string `yaml:"authserv"`           // the host that added the header
	Method   string `yaml:"method"`             // spf, dkim, dmarc
	Result   string `yaml:"result"`             // pass, fail, softfail, none …
	Domain   string `yaml:"domain,omitempty"`   // spf: smtp.mailfrom; dkim: header.d; dmarc: header.from
	Selector string `yaml:"selector,omitempty"` // dkim: header.s
}

// maxReceiverAuth bounds the results kept: a few messages' verdicts, not a log's.
const maxReceiverAuth = 12

// keepReceiverAuth adds the receiver's results of a failed message's headers.
func (c *Case) keepReceiverAuth(o *triage.Original) {
	id := &c.Identifiers
	for _, a := range o.Auth {
		r := ReceiverAuth{Authserv: a.Authserv, Method: strings.ToLower(a.Method), Result: strings.ToLower(a.Result), Domain: a.Domain, Selector: a.Selector}
		if len(id.ReceiverAuth) < maxReceiverAuth && !slices.Contains(id.ReceiverAuth, r) {
			id.ReceiverAuth = append(id.ReceiverAuth, r)
		}
	}
}

// ReceiverStatements are the receiver's results in sentences, SPF, DKIM, DMARC in turn:
// "DKIM: pass (d=partner.example, s=sel2024), verified by the receiving filter
// (Authentication-Results of mx0b-00112233.pphosted.com)".
func (c *Case) ReceiverStatements() []string {
	var out []string
	for _, method := range []string{"spf", "dkim", "dmarc"} {
		for _, r := range c.Identifiers.ReceiverAuth {
			if r.Method != method {
				continue
			}
			var what string
			switch method {
			case "spf":
				what = "SPF: " + r.Result
				if r.Domain != "" {
					what += " (smtp.mailfrom " + r.Domain + ")"
				}
			case "dkim":
				what = "DKIM: " + r.Result
				var ds []string
				if r.Domain != "" {
					ds = append(ds, "d="+r.Domain)
				}
				if r.Selector != "" {
					ds = append(ds, "s="+r.Selector)
				}
				if len(ds) > 0 {
					what += " (" + strings.Join(ds, ", ") + ")"
				}
			case "dmarc":
				what = "DMARC: " + r.Result
				if r.Domain != "" {
					what += " (header.from " + r.Domain + ")"
				}
			}
			out = append(out, what+", verified by the receiving filter (Authentication-Results of "+r.Authserv+")")
		}
	}
	return out
}

// receiverVerifiedDKIM reports whether the receiver verified a DKIM signature.
func (c *Case) receiverVerifiedDKIM() bool {
	return slices.ContainsFunc(c.Identifiers.ReceiverAuth, func(r ReceiverAuth) bool { return r.Method == "dkim" && r.Result == "pass" })
}
