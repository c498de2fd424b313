// Command checks-eval compares unblock's SPF, DKIM and DMARC verdicts with the reference
// implementations people use (pyspf, Mail::SPF, dkimpy, mailauth) on scenarios of our
// own, each decided by RFC text, all over one loopback DNS server. See README.md.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/unblock-mail/unblock/checks"
	"github.com/unblock-mail/unblock/checks/dnstest"
	"github.com/unblock-mail/unblock/checks/message"
	"github.com/unblock-mail/unblock/checks/resolver"
	"github.com/unblock-mail/unblock/checks/spf"
)

// spfCase is one SPF scenario: the verdict RFC 7208 requires for ip and sender.
type spfCase struct {
	Name   string `json:"name"`
	IP     string `json:"ip"`
	Sender string `json:"sender"`
	HELO   string `json:"helo"`
	want   string
	rfc    string
}

const spfZone = `
late11.ev.     TXT "v=spf1 ip4:192.0.2.10 include:i1.ev include:i2.ev include:i3.ev include:i4.ev include:i5.ev include:i6.ev include:i7.ev include:i8.ev include:i9.ev include:i10.ev include:i11.ev -all"
early11.ev.    TXT "v=spf1 include:i1.ev include:i2.ev include:i3.ev include:i4.ev include:i5.ev include:i6.ev include:i7.ev include:i8.ev include:i9.ev include:i10.ev include:i11.ev ip4:192.0.2.10 -all"
latenospf.ev.  TXT "v=spf1 ip4:192.0.2.10 include:nospf.ev -all"
earlynospf.ev. TXT "v=spf1 include:nospf.ev ip4:192.0.2.10 -all"
nospf.ev.      TXT "site-verification=abc"
latevoid.ev.   TXT "v=spf1 ip4:192.0.2.10 a:gone1.ev a:gone2.ev a:gone3.ev -all"
v6void.ev.     TXT "v=spf1 a:v6a.ev a:v6b.ev a:v6c.ev ip4:192.0.2.10 -all"
v6a.ev.        AAAA 2001:db8::1
v6b.ev.        AAAA 2001:db8::2
v6c.ev.        AAAA 2001:db8::3
longmacro.ev.  TXT "v=spf1 exists:%{l}.%{l}.%{l}.%{l}.x.ev -all"
leading.ev.    TXT " v=spf1 ip4:192.0.2.10 -all"
upper.ev.      TXT "V=SPF1 ip4:192.0.2.10 -all"
two.ev.        TXT "v=spf1 ip4:192.0.2.10 -all"
two.ev.        TXT "v=spf1 ip4:192.0.2.11 -all"
mxlate.ev.     TXT "v=spf1 ip4:192.0.2.10 mx:manymx.ev -all"
mxearly.ev.    TXT "v=spf1 mx:manymx.ev ip4:192.0.2.10 -all"
looplate.ev.   TXT "v=spf1 ip4:192.0.2.10 include:looplate.ev -all"
redirall.ev.   TXT "v=spf1 -all redirect=upper.ev"
synlate.ev.    TXT "v=spf1 ip4:192.0.2.10 -all foo"
cidr33.ev.     TXT "v=spf1 ip4:192.0.2.10/33 -all"
incnx.ev.      TXT "v=spf1 include:nx.ev -all"
soft.ev.       TXT "v=spf1 ip4:198.51.100.1 ~all"
neutral.ev.    TXT "v=spf1 ip4:198.51.100.1"
existsi.ev.    TXT "v=spf1 exists:%{i}.allow.ev -all"
192.0.2.10.allow.ev. A 127.0.0.2
av6.ev.        TXT "v=spf1 a:v6a.ev ~all"
incbadlate.ev. TXT "v=spf1 ip4:192.0.2.10 include:bad.ev -all"
bad.ev.        TXT "v=spf1 ip4:198.51.100.0/33 -all"
`

func spfCases() []spfCase {
	long := strings.Repeat("a", 63)
	c := func(name, dom, want, rfc string) spfCase {
		return spfCase{Name: name, IP: "192.0.2.10", Sender: "bounce@" + dom, HELO: "mail." + dom, want: want, rfc: rfc}
	}
	lm := c("macro expansion over 253 cut from the left", "longmacro.ev", "pass", "7208 §7.3")
	lm.Sender = long + "@longmacro.ev"
	return []spfCase{
		c("11 lookups after the match", "late11.ev", "pass", "7208 §4.6.2, §4.6.4"),
		c("11 lookups before the match", "early11.ev", "permerror", "7208 §4.6.4"),
		c("include without SPF after the match", "latenospf.ev", "pass", "7208 §4.6.2, §5.2"),
		c("include without SPF before the match", "earlynospf.ev", "permerror", "7208 §5.2"),
		c("3 void lookups after the match", "latevoid.ev", "pass", "7208 §4.6.2, §4.6.4"),
		c("IPv4 client, a: names with only AAAA: 3 void lookups", "v6void.ev", "permerror", "7208 §5.3, §4.6.4"),
		lm,
		c("a space before v=spf1", "leading.ev", "none", "7208 §4.5"),
		c("V=SPF1 in upper case", "upper.ev", "pass", "7208 §4.5, §12"),
		c("two SPF records", "two.ev", "permerror", "7208 §4.5"),
		c("mx with 11 hosts after the match", "mxlate.ev", "pass", "7208 §4.6.2, §4.6.4"),
		c("mx with 11 hosts before the match", "mxearly.ev", "permerror", "7208 §4.6.4"),
		c("include loop after the match", "looplate.ev", "pass", "7208 §4.6.2"),
		c("redirect ignored when all is present", "redirall.ev", "fail", "7208 §6.1"),
		c("syntax error after the match", "synlate.ev", "permerror", "7208 §4.6"),
		c("ip4 prefix /33", "cidr33.ev", "permerror", "7208 §5.6"),
		c("include of NXDOMAIN", "incnx.ev", "permerror", "7208 §5.2"),
		c("~all", "soft.ev", "softfail", "7208 §2.6.5"),
		c("no all term", "neutral.ev", "neutral", "7208 §4.7"),
		c("exists with %{i}", "existsi.ev", "pass", "7208 §7.2"),
		c("IPv4 client, a: name with only AAAA does not match", "av6.ev", "softfail", "7208 §5.3"),
		c("syntax error in an include after the match", "incbadlate.ev", "pass", "7208 §4.6.2, §5.2"),
	}
}

func manyMX() string {
	var b strings.Builder
	for i := 1; i <= 11; i++ {
		fmt.Fprintf(&b, "i%d.ev. TXT \"v=spf1 ip4:198.51.100.%d -all\"\n", i, i)
		fmt.Fprintf(&b, "manymx.ev. MX %d mx%d.manymx.ev.\nmx%d.manymx.ev. A 198.51.100.%d\n", i, i, i, 100+i)
	}
	long := strings.Repeat("a", 63)
	b.WriteString(long + "." + long + "." + long + ".x.ev. A 127.0.0.2\n")
	return b.String()
}

// shownRight says whether the status unblock shows agrees with the RFC result: a pass is
// pass or warn (the warning is about others), neutral is warn, the rest is fail.
func shownRight(want string, st checks.Status) bool {
	switch want {
	case "pass":
		return st == checks.Pass || st == checks.Warn
	case "neutral":
		return st == checks.Warn
	}
	return st == checks.Fail
}

// msgCase is one message: the DKIM result RFC 6376 requires for each signature and the
// DMARC result RFC 7489 / RFC 9989 requires.
type msgCase struct {
	Name      string `json:"name"`
	Raw       string `json:"raw"` // base64
	IP        string `json:"ip"`
	HELO      string `json:"helo"`
	Sender    string `json:"sender"`
	wantDKIM  []string
	wantDMARC string
	rfc       string
}

type sigSpec struct {
	d, s, i string
	l       int // -1 none; -2 the whole canonical body
	extraL  int // added to the body length for l=
}

var wsp = regexp.MustCompile(`[ \t]+`)

func relaxedBody(body string) string {
	lines := strings.Split(body, "\r\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(wsp.ReplaceAllString(l, " "), " ")
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\r\n") + "\r\n"
}

func relaxedHeader(name, value string) string {
	value = strings.TrimSpace(wsp.ReplaceAllString(strings.ReplaceAll(value, "\r\n", ""), " "))
	return strings.ToLower(strings.TrimSpace(name)) + ":" + value
}

// sign writes a relaxed/relaxed rsa-sha256 DKIM-Signature (RFC 6376 §3.7) over header and
// body, with the tags go-msgauth's signer cannot write (l=, d= in upper case, any i=).
func sign(key *rsa.PrivateKey, header, body string, sp sigSpec) string {
	cb := relaxedBody(body)
	l := sp.l
	if l == -2 {
		l = len(cb) + sp.extraL
	}
	if l >= 0 && l <= len(cb) {
		cb = cb[:l]
	}
	bh := sha256.Sum256([]byte(cb))
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimSuffix(header, "\r\n"), "\r\n") {
		n, v, _ := strings.Cut(f, ":")
		fields[strings.ToLower(n)] = v
	}
	h := []string{"from", "to", "subject", "date", "message-id"}
	sig := "v=1; a=rsa-sha256; c=relaxed/relaxed; d=" + sp.d + "; s=" + sp.s + ";"
	if sp.i != "" {
		sig += " i=" + sp.i + ";"
	}
	if l >= 0 {
		sig += fmt.Sprintf(" l=%d;", l)
	}
	sig += " h=" + strings.Join(h, ":") + "; bh=" + base64.StdEncoding.EncodeToString(bh[:]) + "; b="
	var hashed strings.Builder
	for _, n := range h {
		hashed.WriteString(relaxedHeader(n, fields[n]) + "\r\n")
	}
	hashed.WriteString(relaxedHeader("DKIM-Signature", sig))
	sum := sha256.Sum256([]byte(hashed.String()))
	b, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return "DKIM-Signature: " + sig + base64.StdEncoding.EncodeToString(b) + "\r\n"
}

func keyTXT(name string, key *rsa.PrivateKey, flags string) string {
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	v := "v=DKIM1; k=rsa; " + flags + "p=" + base64.StdEncoding.EncodeToString(der)
	var parts []string
	for len(v) > 200 {
		parts = append(parts, `"`+v[:200]+`"`)
		v = v[200:]
	}
	parts = append(parts, `"`+v+`"`)
	return name + " TXT " + strings.Join(parts, " ") + "\n"
}

const msgIP = "203.0.113.9" // not authorized by any SPF record here: DMARC rests on DKIM

func msgZone(key *rsa.PrivateKey) string {
	return `example.ev. TXT "v=spf1 ip4:192.0.2.10 -all"
_dmarc.example.ev. TXT "v=DMARC1; p=reject"
_dmarc.other.ev. TXT "v=DMARC1; p=reject"
_dmarc.spc.ev. TXT " v=DMARC1; p=reject"
_dmarc.eq.ev. TXT "v = DMARC1; p=reject"
sel._domainkey.revoked.ev. TXT "v=DKIM1; k=rsa; p="
_dmarc.revoked.ev. TXT "v=DMARC1; p=quarantine"
` + keyTXT("sel._domainkey.example.ev.", key, "") + keyTXT("strict._domainkey.example.ev.", key, "t=s; ") +
		keyTXT("sel._domainkey.other.ev.", key, "") + keyTXT("sel._domainkey.spc.ev.", key, "")
}

func msgCases(key *rsa.PrivateKey, now time.Time) []msgCase {
	head := func(from string) string {
		return "Received: from mail.sender.ev (mail.sender.ev [" + msgIP + "])\r\n\tby mx.eval.test with ESMTPS; " + now.Format(time.RFC1123Z) + "\r\n" +
			"From: " + from + "\r\nTo: bob@recipient.ev\r\nSubject: Quarterly report\r\nDate: " + now.Add(-time.Minute).Format(time.RFC1123Z) +
			"\r\nMessage-ID: <q3@example.ev>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n"
	}
	const body = "The report is on the portal.\r\nRegards, Alice\r\n"
	mk := func(name, from string, sp []sigSpec, mutate func(string) string, dkimWant []string, dmarcWant, rfc string) msgCase {
		h := head(from)
		var sigs string
		for _, s := range sp {
			sigs += sign(key, h, body, s)
		}
		raw := sigs + h + "\r\n" + body
		if mutate != nil {
			raw = mutate(raw)
		}
		return msgCase{Name: name, Raw: base64.StdEncoding.EncodeToString([]byte(raw)), IP: msgIP, HELO: "mail.sender.ev",
			Sender: "bounce@sender.ev", wantDKIM: dkimWant, wantDMARC: dmarcWant, rfc: rfc}
	}
	ex := sigSpec{d: "example.ev", s: "sel", l: -1}
	return []msgCase{
		mk("good signature", "Alice <alice@example.ev>", []sigSpec{ex}, nil, []string{"pass"}, "pass", "6376 §6, 7489 §3.1"),
		mk("d= in upper case, i= in lower", "Alice <alice@example.ev>", []sigSpec{{d: "Example.EV", s: "sel", i: "alice@example.ev", l: -1}}, nil, []string{"pass"}, "pass", "4343, 6376 §3.5"),
		mk("i= in another case than d=", "Alice <alice@example.ev>", []sigSpec{{d: "example.ev", s: "sel", i: "@Mail.EXAMPLE.ev", l: -1}}, nil, []string{"pass"}, "pass", "4343, 6376 §3.5"),
		mk("t=s key, i= in a subdomain", "Alice <alice@example.ev>", []sigSpec{{d: "example.ev", s: "strict", i: "alice@mail.example.ev", l: -1}}, nil, []string{"fail"}, "fail", "6376 §3.6.1"),
		mk("t=s key, i= in d=", "Alice <alice@example.ev>", []sigSpec{{d: "example.ev", s: "strict", i: "alice@example.ev", l: -1}}, nil, []string{"pass"}, "pass", "6376 §3.6.1"),
		mk("l= with text appended", "Alice <alice@example.ev>", []sigSpec{{d: "example.ev", s: "sel", l: -2}}, func(r string) string { return r + "Click here: http://prize.example\r\n" }, []string{"pass"}, "pass", "6376 §3.5, §8.2"),
		mk("l= longer than the body", "Alice <alice@example.ev>", []sigSpec{{d: "example.ev", s: "sel", l: -2, extraL: 40}}, nil, []string{"fail"}, "fail", "6376 §3.4.5"),
		mk("body changed", "Alice <alice@example.ev>", []sigSpec{ex}, func(r string) string { return strings.Replace(r, "Regards", "Cheers", 1) }, []string{"fail"}, "fail", "6376 §3.7"),
		mk("signed header changed", "Alice <alice@example.ev>", []sigSpec{ex}, func(r string) string { return strings.Replace(r, "Quarterly", "[EXT] Quarterly", 1) }, []string{"fail"}, "fail", "6376 §3.7"),
		mk("no key at the selector", "Alice <alice@example.ev>", []sigSpec{{d: "example.ev", s: "gone", l: -1}}, nil, []string{"fail"}, "fail", "6376 §6.1.2"),
		mk("revoked key", "Alice <alice@revoked.ev>", []sigSpec{{d: "revoked.ev", s: "sel", l: -1}}, nil, []string{"fail"}, "fail", "6376 §3.6.1"),
		mk("two authors, one without a policy", "alice@example.ev, carol@nopolicy.ev", []sigSpec{ex}, nil, []string{"pass"}, "none", "7489 §6.6.1; 9989 §5.3.1"),
		mk("two authors, one failing p=reject", "alice@example.ev, erin@other.ev", []sigSpec{ex}, nil, []string{"pass"}, "fail", "7489 §6.6.1; 9989 §5.3.1"),
		mk("two authors, both signed", "alice@example.ev, erin@other.ev", []sigSpec{ex, {d: "other.ev", s: "sel", l: -1}}, nil, []string{"pass", "pass"}, "pass", "7489 §6.6.1"),
		mk("From domain in upper case", "Alice <alice@EXAMPLE.ev>", []sigSpec{ex}, nil, []string{"pass"}, "pass", "4343, 7489 §3.1"),
		mk("subdomain From, relaxed alignment", "News <news@news.example.ev>", []sigSpec{ex}, nil, []string{"pass"}, "pass", "7489 §3.1.1"),
		mk("DMARC record with a leading space", "Alice <alice@spc.ev>", []sigSpec{{d: "other.ev", s: "sel", l: -1}}, nil, []string{"pass"}, "none", "7489 §6.6.3"),
		mk("v = DMARC1 with spaces, not aligned", "Alice <alice@eq.ev>", []sigSpec{{d: "other.ev", s: "sel", l: -1}}, nil, []string{"pass"}, "fail", "7489 §6.4 grammar"),
	}
}

func runPeer(name string, args []string, input any) (map[string]any, error) {
	b, _ := json.Marshal(input)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin = bytes.NewReader(b)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	// A peer may print debugging lines (mailauth does, for l=); the result is the last.
	out = bytes.TrimSpace(out)
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("%s: %v: %.300s", name, err, out)
	}
	return res, nil
}

func main() {
	peersDir := flag.String("peers", "eval/checks/peers", "directory of the peer scripts")
	mailauthDir := flag.String("mailauth", "", "node_modules directory holding mailauth (default: $MAILAUTH_DIR or peers/node_modules)")
	flag.Parse()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		fail(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	srv, err := dnstest.New(spfZone + manyMX() + msgZone(key))
	if err != nil {
		fail(err)
	}
	defer srv.Close()
	res, err := resolver.New(resolver.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		fail(err)
	}
	env := &checks.Env{Resolver: res, Now: func() time.Time { return now }}
	ctx := context.Background()

	cases := spfCases()
	msgs := msgCases(key, now)
	if *mailauthDir != "" {
		os.Setenv("MAILAUTH_DIR", *mailauthDir)
	}
	peer := func(name string, args []string, input any) map[string]any {
		r, err := runPeer(name, args, input)
		if err != nil {
			fmt.Fprintln(os.Stderr, "peer unavailable:", err)
		}
		return r
	}
	py := peer("pyspf", []string{"/usr/bin/python3", filepath.Join(*peersDir, "pyspf_eval.py")}, map[string]any{"server": srv.Addr, "cases": cases})
	pl := peer("Mail::SPF", []string{"perl", filepath.Join(*peersDir, "mailspf_eval.pl")}, map[string]any{"server": srv.Addr, "cases": cases})
	ma := peer("mailauth", []string{"node", filepath.Join(*peersDir, "mailauth_eval.js")}, map[string]any{"server": srv.Addr, "cases": cases, "messages": msgs})
	dp := peer("dkimpy", []string{"/usr/bin/python3", filepath.Join(*peersDir, "dkimpy_eval.py")}, map[string]any{"server": srv.Addr, "messages": msgs})
	sub := func(m map[string]any, k string) map[string]any {
		if m == nil {
			return nil
		}
		v, _ := m[k].(map[string]any)
		return v
	}

	// SPF
	fmt.Println("## SPF: check_host result per scenario (RFC 7208), loopback resolver", srv.Addr)
	fmt.Println()
	fmt.Println("| scenario | RFC | want | unblock check_host | unblock status | pyspf | Mail::SPF | mailauth |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	score := map[string]int{}
	for _, c := range cases {
		v := spf.Evaluate(ctx, res, netip.MustParseAddr(c.IP), c.HELO, c.Sender)
		dom := c.Sender[strings.IndexByte(c.Sender, '@')+1:]
		st := runSPFCheck(ctx, env, netip.MustParseAddr(c.IP), dom, c.Sender)
		row := []string{c.Name, c.rfc, c.want}
		mark := func(peer, got string, ok bool) string {
			if ok {
				score[peer]++
				return got + " ✓"
			}
			return got + " ✗"
		}
		row = append(row, mark("unblock check_host", string(v.Result), string(v.Result) == c.want))
		row = append(row, mark("unblock status", string(st), shownRight(c.want, st)))
		for _, p := range []struct {
			name string
			m    map[string]any
		}{{"pyspf", py}, {"Mail::SPF", pl}, {"mailauth", sub(ma, "spf")}} {
			got, _ := p.m[c.Name].(string)
			if p.m == nil {
				row = append(row, "n/a")
				continue
			}
			row = append(row, mark(p.name, got, strings.EqualFold(got, c.want)))
		}
		fmt.Println("| " + strings.Join(row, " | ") + " |")
	}
	fmt.Println()
	for _, p := range []string{"unblock check_host", "unblock status", "pyspf", "Mail::SPF", "mailauth"} {
		fmt.Printf("- %s: %d/%d\n", p, score[p], len(cases))
	}

	// DKIM and DMARC
	fmt.Println()
	fmt.Println("## DKIM (per signature, RFC 6376) and DMARC (RFC 7489 / RFC 9989) per message")
	fmt.Println()
	fmt.Println("| message | RFC | want DKIM | unblock | dkimpy | mailauth | want DMARC | unblock | mailauth |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	mscore := map[string]int{}
	sigs := 0
	for _, m := range msgs {
		raw, _ := base64.StdEncoding.DecodeString(m.Raw)
		ud, um := unblockMessage(ctx, env, raw, m)
		sigs += len(m.wantDKIM)
		row := []string{m.Name, m.rfc, strings.Join(m.wantDKIM, ",")}
		cmp := func(peer string, got []string) string {
			ok := 0
			for i, w := range m.wantDKIM {
				if i < len(got) && (got[i] == "pass") == (w == "pass") {
					ok++
				}
			}
			mscore[peer+" dkim"] += ok
			mark := " ✓"
			if ok != len(m.wantDKIM) {
				mark = " ✗"
			}
			return strings.Join(got, ",") + mark
		}
		row = append(row, cmp("unblock", ud))
		for _, p := range []struct {
			name string
			m    map[string]any
		}{{"dkimpy", dp}, {"mailauth", sub(ma, "dkim")}} {
			if p.m == nil {
				row = append(row, "n/a")
				continue
			}
			row = append(row, cmp(p.name, anyStrings(p.m[m.Name])))
		}
		row = append(row, m.wantDMARC)
		dm := func(peer, got string) string {
			if got == m.wantDMARC {
				mscore[peer+" dmarc"]++
				return got + " ✓"
			}
			return got + " ✗"
		}
		row = append(row, dm("unblock", um))
		if md := sub(ma, "dmarc"); md != nil {
			got, _ := md[m.Name].(string)
			row = append(row, dm("mailauth", got))
		} else {
			row = append(row, "n/a")
		}
		fmt.Println("| " + strings.Join(row, " | ") + " |")
	}
	fmt.Println()
	for _, p := range []string{"unblock", "dkimpy", "mailauth"} {
		fmt.Printf("- DKIM %s: %d/%d signatures\n", p, mscore[p+" dkim"], sigs)
	}
	for _, p := range []string{"unblock", "mailauth"} {
		fmt.Printf("- DMARC %s: %d/%d messages\n", p, mscore[p+" dmarc"], len(msgs))
	}
}

func anyStrings(v any) []string {
	xs, _ := v.([]any)
	var out []string
	for _, x := range xs {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// runSPFCheck runs the spf check as `unblock check` does and returns the status it shows.
func runSPFCheck(ctx context.Context, env *checks.Env, ip netip.Addr, domain, sender string) checks.Status {
	skip := map[string]bool{}
	for _, id := range checks.IDs() {
		skip[id] = id != "spf"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for r := range checks.Run(ctx, env, checks.Target{IP: ip, Domain: domain, EnvelopeSender: sender}, skip) {
		if r.ID == "spf" {
			return r.Status
		}
	}
	return ""
}

// unblockMessage returns unblock's DKIM result per signature and its DMARC result.
func unblockMessage(ctx context.Context, env *checks.Env, raw []byte, m msgCase) ([]string, string) {
	skip := map[string]bool{}
	for _, id := range checks.IDs() {
		skip[id] = true
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, ch, err := message.Check(ctx, env, raw, checks.Target{IP: netip.MustParseAddr(m.IP), HELO: m.HELO, EnvelopeSender: m.Sender}, skip)
	if err != nil {
		return nil, "crash: " + err.Error()
	}
	var dk []string
	dm := ""
	for r := range ch {
		switch r.ID {
		case "message/dkim":
			if sigs, ok := r.Details["signatures"].([]map[string]any); ok {
				for _, s := range sigs {
					v, _ := s["result"].(string)
					dk = append(dk, v)
				}
			}
		case "message/dmarc":
			if v, ok := r.Details["verdict"].(*message.DMARCVerdict); ok {
				dm = v.Result
			} else {
				dm = string(r.Status)
			}
		}
	}
	return dk, dm
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "checks-eval:", err)
	os.Exit(2)
}
