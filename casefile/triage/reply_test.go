package triage

import (
	"context"
	"strings"
	"testing"
)

// replyCase is one reply and what triage must read from it. Empty fields are not checked.
type replyCase struct {
	name     string
	text     string
	mode     Mode
	cause    Cause
	provider string
	receiver string // a substring of Receiver or ReceiverProvider
	control  string
	ip       string
	code     int
	enhanced string
	route    string
}

// Every row of PROVIDERS.md, as quoted there and reworded the way real servers reword,
// truncate and fold them.
var providerCases = []replyCase{
	// Proofpoint Dynamic Reputation, every form of the lookup URL and IP.
	{name: "pdr banner", text: "554 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.7",
		mode: HardBlock, cause: IPReputation, provider: "proofpoint", control: "dynamic-reputation", ip: "198.51.100.7", code: 554, route: "proofpoint-ipcheck"},
	{name: "pdr rcpt reworded", text: "host mx0b-00190b01.pphosted.com[148.163.150.4] said: 550 5.7.0 Rejected: see <https://ipcheck.proofpoint.com/?ip=203.0.113.44> for details (in reply to RCPT TO command)",
		mode: HardBlock, cause: IPReputation, provider: "proofpoint", receiver: "pphosted.com", control: "dynamic-reputation", ip: "203.0.113.44", enhanced: "5.7.0", route: "proofpoint-ipcheck"},
	{name: "pdr old url", text: "554 5.7.0 Blocked - see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.2.10",
		cause: IPReputation, provider: "proofpoint", ip: "192.0.2.10", route: "proofpoint-ipcheck"},
	{name: "pdr bare ?IP", text: "550 5.7.0 Mail from 192.0.2.33 refused by Proofpoint Reputation Services. SENDER please see and take action: https://support.proofpoint.com/dnsbl-lookup.cgi?192.0.2.33",
		cause: IPReputation, provider: "proofpoint", ip: "192.0.2.33"},
	{name: "pdr bare ?IP other wording", text: "550 5.7.0 Your server 192.0.2.34 is refused; look it up at https://support.proofpoint.com/dnsbl-lookup.cgi?192.0.2.34 please",
		cause: IPReputation, provider: "proofpoint", ip: "192.0.2.34"},
	{name: "pdr prs", text: "550 5.7.1 Service unavailable; client [198.51.100.80] blocked using prs.proofpoint.com",
		cause: IPReputation, provider: "proofpoint", ip: "198.51.100.80", control: "dynamic-reputation"},
	{name: "pdr by name", text: "550 5.7.1 Service unavailable; client [2001:db8::25] blocked using Proofpoint Dynamic Reputation",
		cause: IPReputation, provider: "proofpoint", ip: "2001:db8::25"},
	{name: "pdr deferral", text: "421 Deferred - see https://ipcheck.proofpoint.com/?ip=192.0.2.50",
		mode: Deferral, cause: IPReputation, provider: "proofpoint", ip: "192.0.2.50", route: "wait"},
	{name: "pdr deferral reworded", text: "451 4.7.1 Temporarily deferred, see https://ipcheck.proofpoint.com/?ip=192.0.2.51 and try later",
		mode: Deferral, provider: "proofpoint", route: "wait"},
	{name: "pdr from icloud", text: "host mx01.mail.icloud.com[17.57.154.6] said: 554 5.7.1 Blocked - see https://ipcheck.proofpoint.com/?ip=203.0.113.9 (in reply to end of DATA command)",
		provider: "proofpoint", receiver: "icloud", cause: IPReputation, ip: "203.0.113.9", route: "proofpoint-ipcheck"},
	// Cloudmark CSI.
	{name: "cloudmark reset-request", text: "550 5.7.1 Service unavailable; client [192.0.2.77] blocked using Cloudmark Sender Intelligence (Visit http://csi.cloudmark.com/reset-request/?ip=192.0.2.77 to request a reset)",
		cause: IPReputation, provider: "cloudmark", control: "cloudmark-csi", ip: "192.0.2.77", route: "cloudmark-reset"},
	{name: "cloudmark zone", text: "554 5.7.1 client [198.51.100.3] rejected, listed at csi.cloudmark.com",
		cause: IPReputation, provider: "cloudmark", ip: "198.51.100.3", route: "cloudmark-reset"},
	// Proofpoint's other replies.
	{name: "pp dmarc reject", text: "550 5.7.0 Local Policy Violation - DMARC Reject",
		cause: Authentication, provider: "proofpoint", control: "dmarc-policy", route: "fix-authentication"},
	{name: "pp dmarc per policy", text: "550 5.7.0 Email rejected per sender's DMARC policy",
		cause: Authentication, route: "fix-authentication"},
	{name: "pp dmarc from host", text: "host mx0a-0011.pphosted.com[192.0.2.1] said: 550 5.7.1 Message refused, DMARC policy of example.com says reject",
		cause: Authentication, provider: "proofpoint", control: "dmarc-policy"},
	{name: "essentials invalid", text: "550 5.7.1 <bob@example.com>: Recipient address rejected: User email address is marked as invalid.",
		cause: InvalidRecipient, provider: "proofpoint", route: "fix-recipient"},
	{name: "essentials invalid reworded", text: "550 5.1.1 <ann@example.org>: this address is marked as invalid by the recipient",
		cause: InvalidRecipient, provider: "proofpoint"},
	{name: "relaying denied", text: "host mx0a-00069f02.pphosted.com[192.0.2.2] said: 550 5.7.1 Relaying denied",
		cause: RecipientPolicy, provider: "proofpoint", control: "relay"},
	{name: "pphosted user unknown", text: "host mx0c-00082601.pphosted.com[192.0.2.4] said: 550 5.1.1 User Unknown (in reply to RCPT TO command)",
		cause: InvalidRecipient, provider: "proofpoint", route: "fix-recipient"},
	{name: "pphosted no such user", text: "mx0a-00069f02.pphosted.com: 550 5.1.1 <x@example.com>: no such mailbox here",
		cause: InvalidRecipient, provider: "proofpoint"},
	{name: "address verification", text: "421 4.1.1 <x@example.com>: Recipient address rejected: Address verification in progress",
		mode: Deferral, control: "address-verification", route: "wait"},
	{name: "essentials banner", text: "554 5.7.1 mx1-us1.ppe-hosted.com PPE Hosted ESMTP Server: connection refused, see https://ipcheck.proofpoint.com/?ip=192.0.2.61",
		provider: "proofpoint", receiver: "ppe-hosted.com", ip: "192.0.2.61", route: "proofpoint-ipcheck"},
	{name: "essentials policy", text: "host mx2-us1.ppe-hosted.com[148.163.129.50] said: 550 5.7.1 Message rejected by policy (in reply to end of DATA command)",
		provider: "proofpoint", receiver: "ppe-hosted.com", cause: RecipientPolicy},
	// Microsoft.
	{name: "ms 606", text: "550 5.7.606 Access denied, banned sending IP [203.0.113.5]. To request removal from this list please visit https://sender.office.com/ and follow the directions. For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 (AS16012609)",
		mode: HardBlock, cause: IPReputation, provider: "microsoft", control: "microsoft-ip-blocklist", ip: "203.0.113.5", enhanced: "5.7.606", route: "microsoft-delist"},
	{name: "ms 649 reworded", text: "host example-com.mail.protection.outlook.com[52.101.1.1] said: 550 5.7.649 Access denied, IP [192.0.2.19] is banned. Visit sender.office.com",
		cause: IPReputation, provider: "microsoft", ip: "192.0.2.19", route: "microsoft-delist"},
	{name: "ms 511", text: "550 5.7.511 Access denied, banned sender[192.0.2.66]. To request removal from this list, forward this message to delist@microsoft.com.",
		cause: IPReputation, provider: "microsoft", ip: "192.0.2.66", route: "microsoft-delist-mail"},
	{name: "ms 650", text: "451 4.7.650 The mail server [192.0.2.70] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S843)",
		mode: Deferral, cause: IPReputation, provider: "microsoft", ip: "192.0.2.70", route: "wait"},
	{name: "ms 513", text: "550 5.7.513 Access denied, the message was blocked by example.org using Customer Block list (AS16012607)",
		cause: RecipientPolicy, provider: "microsoft", control: "customer-block-list", route: "recipient-admin"},
	{name: "ms 513 reworded", text: "550 5.7.513 Service unavailable, sender is on the recipient organisation's block list",
		cause: RecipientPolicy, provider: "microsoft", control: "customer-block-list"},
	{name: "ms 507", text: "550 5.7.507 Access denied, rejected by recipient",
		cause: RecipientPolicy, provider: "microsoft", route: "recipient-admin"},
	{name: "outlook s3150", text: "550 5.7.1 Unfortunately, messages from [198.51.100.12] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.",
		cause: IPReputation, provider: "microsoft", ip: "198.51.100.12", route: "outlook-support"},
	{name: "outlook rp-001", text: "host outlook-com.olc.protection.outlook.com[52.101.8.33] said: 550 5.7.1 Service unavailable, Client host [192.0.2.91] blocked using Outlook.com's RBL; RP-001",
		cause: IPReputation, provider: "microsoft", ip: "192.0.2.91", route: "outlook-support"},
	{name: "outlook sc-001", text: "550 SC-001 (BAY004-MC1F41) Unfortunately, messages from 192.0.2.92 weren't sent. Please contact your Internet service provider.",
		cause: IPReputation, provider: "microsoft", ip: "192.0.2.92"},
	{name: "outlook dy-001", text: "550 DY-001 (COL004-MC1F7) Unfortunately, messages from 192.0.2.93 weren't sent.",
		cause: IPReputation, provider: "microsoft"},
	{name: "outlook ou-001 spamhaus", text: "550 OU-001 (SNT004-MC1F35) Unfortunately, messages from 192.0.2.94 weren't sent. Please contact your Internet service provider. You can also refer your provider to http://mail.live.com",
		cause: Blocklist, provider: "spamhaus", receiver: "microsoft", route: "spamhaus"},
	{name: "outlook 515", text: "550 5.7.515 Access denied, sending domain example.com does not meet the required authentication level.",
		cause: Authentication, provider: "microsoft", route: "fix-authentication"},
	// Gmail.
	{name: "gmail 4.7.28 multiline", text: "421-4.7.28 [192.0.2.120      15] Our system has detected an unusual rate of\n421-4.7.28 unsolicited mail originating from your IP address. To protect our\n421-4.7.28 users from spam, mail sent from your IP address has been temporarily\n421 4.7.28 rate limited. https://support.google.com/mail/?p=UnsolicitedRateLimitError x1si123 - gsmtp",
		mode: Deferral, provider: "google", control: "unsolicited-rate", ip: "192.0.2.120", code: 421, enhanced: "4.7.28", route: "wait"},
	{name: "gmail 5.7.26 dmarc", text: "550-5.7.26 Unauthenticated email from example.com is not accepted due to\n550-5.7.26 domain's DMARC policy. Please contact the administrator of\n550-5.7.26 example.com domain if this was a legitimate mail.\n550 5.7.26 https://support.google.com/mail/answer/2451690 a1si1 - gsmtp",
		mode: HardBlock, cause: Authentication, provider: "google", control: "dmarc-policy", code: 550, enhanced: "5.7.26", route: "fix-authentication"},
	{name: "gmail 5.7.26 reworded", text: "550 5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM. - gsmtp",
		cause: Authentication, provider: "google", control: "spf-dkim"},
	{name: "gmail 4.7.27 spf", text: "421 4.7.27 Your email has been rate limited because SPF authentication didn't pass for this message. - gsmtp",
		cause: Authentication, provider: "google", control: "spf"},
	{name: "gmail 4.7.30 dkim", text: "421 4.7.30 Your email has been rate limited because DKIM authentication didn't pass for this message. - gsmtp",
		cause: Authentication, provider: "google", control: "dkim"},
	{name: "gmail 4.7.32 alignment", text: "550 5.7.32 Your email has been rejected because the From: header isn't aligned with either the authenticated SPF or DKIM organizational domain. - gsmtp",
		cause: Authentication, provider: "google", control: "dmarc-alignment"},
	{name: "gmail 4.7.23 ptr", text: "421 4.7.23 The sending IP address for this message doesn't have a PTR record. - gsmtp",
		cause: Authentication, provider: "google", control: "ptr"},
	{name: "gmail 5.7.25 ptr", text: "550 5.7.25 [192.0.2.9] The IP address sending this message does not have a PTR record setup. - gsmtp",
		cause: Authentication, provider: "google", control: "ptr", ip: "192.0.2.9"},
	{name: "gmail 4.7.29 tls", text: "421 4.7.29 Your email has been rate limited because this message wasn't sent over a TLS connection. - gsmtp",
		cause: TLS, provider: "google", control: "tls-required"},
	{name: "gmail gcdp", text: "550 5.7.1 This message violates example.com email policy. p7si - gcdp",
		cause: RecipientPolicy, provider: "google", control: "admin-rule", route: "recipient-admin"},
	// Yahoo and AOL.
	{name: "yahoo tss04", text: "421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
		mode: Deferral, cause: IPReputation, provider: "yahoo", receiver: "yahoo", ip: "192.0.2.25", route: "yahoo-sender-support"},
	{name: "yahoo tss04 reworded", text: "421 4.7.0 [TSS04] Deferred: too much mail from 192.0.2.26 recently - see https://senders.yahooinc.com/error-codes",
		mode: Deferral, provider: "yahoo", ip: "192.0.2.26"},
	{name: "yahoo tss09", text: "553 5.7.2 [TSS09] All messages from 192.0.2.27 will be permanently deferred; Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes",
		mode: HardBlock, cause: IPReputation, provider: "yahoo", ip: "192.0.2.27", route: "yahoo-sender-support"},
	{name: "yahoo bl21", text: "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.28, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes",
		cause: Blocklist, provider: "spamhaus", receiver: "yahoo", ip: "192.0.2.28", route: "spamhaus"},
	{name: "yahoo bl23", text: "553 5.7.1 [BL23] Connections not accepted from IP addresses on Spamhaus XBL; see https://postmaster.yahooinc.com/error-codes [192.0.2.29]",
		cause: Blocklist, provider: "spamhaus", receiver: "yahoo", ip: "192.0.2.29"},
	{name: "yahoo ph01", text: "554 Message not allowed - [PH01] Email not accepted for policy reasons. Please visit https://postmaster.yahooinc.com/error-codes",
		cause: Content, provider: "yahoo", route: "yahoo-sender-support"},
	// Apple iCloud.
	{name: "icloud cs01", text: "550 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137",
		cause: RecipientPolicy, provider: "apple", receiver: "apple", route: "apple-postmaster"},
	{name: "icloud hme1", text: "554 5.7.1 [HME1] This message was blocked for failing both SPF and DKIM authentication checks.",
		cause: Authentication, provider: "apple", control: "spf-dkim"},
	// Mimecast.
	{name: "mimecast ct ip", text: "550 Local CT IP Reputation - (reject) https://community.mimecast.com/docs/DOC-1369#550 [abcdEFGH.uk123]",
		cause: IPReputation, provider: "mimecast", route: "recipient-admin"},
	{name: "mimecast user entry", text: "550 Envelope blocked - User Entry - https://community.mimecast.com/docs/DOC-1369#550",
		cause: RecipientPolicy, provider: "mimecast", control: "user-block-entry", route: "recipient-admin"},
	{name: "mimecast greylisting", text: "451 Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451",
		mode: Deferral, provider: "mimecast", control: "greylisting", route: "wait"},
	{name: "mimecast dmarc", text: "550 DMARC Sender Invalid - envelope rejected - https://community.mimecast.com/docs/DOC-1369#550",
		cause: Authentication, provider: "mimecast", control: "dmarc-policy"},
	{name: "mimecast tls", text: "553 This route requires encryption (TLS) - https://community.mimecast.com/docs/DOC-1369#553",
		cause: TLS, provider: "mimecast", route: "recipient-admin"},
	// Barracuda, Cisco, Spamhaus, Trend Micro, Symantec.
	{name: "barracuda", text: "554 5.7.1 Service unavailable; Client host [192.0.2.140] blocked using b.barracudacentral.org; http://www.barracudanetworks.com/reputation/?pr=1&ip=192.0.2.140",
		cause: Blocklist, provider: "barracuda", ip: "192.0.2.140", route: "barracuda-removal"},
	{name: "cisco poor reputation", text: "554 Your access to this mail system has been rejected due to the sending MTA's poor reputation. If you believe that this failure is in error, please contact the intended recipient via alternate means.",
		cause: IPReputation, provider: "cisco", route: "talos"},
	{name: "cisco sbrs", text: "550 5.7.1 SBRS score too low for 192.0.2.150",
		cause: IPReputation, provider: "cisco", ip: "192.0.2.150", route: "talos"},
	{name: "spamhaus zen", text: "554 5.7.1 Service unavailable; Client host [192.0.2.160] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.160",
		cause: Blocklist, provider: "spamhaus", ip: "192.0.2.160", route: "spamhaus"},
	{name: "trend micro", text: "550 5.7.1 Mail from 192.0.2.170 blocked by Trend Micro Email Reputation Service.",
		cause: IPReputation, provider: "trendmicro", ip: "192.0.2.170", route: "trendmicro-ers"},
	{name: "symantec", text: "553 Message filtered. Refer to the Troubleshooting page at http://www.symanteccloud.com/troubleshooting for more information. (#5.7.1)",
		cause: Content, provider: "symantec", route: "symantec-ipremoval"},
}

func TestClassifyReplyProviders(t *testing.T) {
	for _, c := range providerCases {
		t.Run(c.name, func(t *testing.T) { checkReply(t, ClassifyReply(c.text), c) })
	}
}

func checkReply(t *testing.T, f Finding, c replyCase) {
	t.Helper()
	bad := func(field string, got, want any) {
		t.Errorf("%s = %v, want %v\n  text: %s\n  finding: %+v", field, got, want, c.text, f)
	}
	if c.mode != "" && f.Mode != c.mode {
		bad("mode", f.Mode, c.mode)
	}
	if c.cause != "" && f.Cause != c.cause {
		bad("cause", f.Cause, c.cause)
	}
	if c.provider != "" && f.Provider != c.provider {
		bad("provider", f.Provider, c.provider)
	}
	if c.receiver != "" && !strings.Contains(f.Receiver+" "+f.ReceiverProvider, c.receiver) {
		bad("receiver", f.Receiver+"/"+f.ReceiverProvider, c.receiver)
	}
	if c.control != "" && f.Control != c.control {
		bad("control", f.Control, c.control)
	}
	if c.ip != "" && f.IP != c.ip {
		bad("ip", f.IP, c.ip)
	}
	if c.code != 0 && f.ReplyCode != c.code {
		bad("reply code", f.ReplyCode, c.code)
	}
	if c.enhanced != "" && f.EnhancedCode != c.enhanced {
		bad("enhanced code", f.EnhancedCode, c.enhanced)
	}
	if c.route != "" && f.Route.Kind != c.route {
		bad("route", f.Route.Kind, c.route)
	}
	if f.Route.Kind == "" {
		bad("route", "(empty)", "a route")
	}
}

// Replies worded unlike any example still land by their stable parts: hosts, URLs,
// codes and tokens.
func TestClassifyReplyReworded(t *testing.T) {
	cases := []replyCase{
		{name: "yahoo policy by url", text: "554 5.7.9 Message not accepted for policy reasons. See https://postmaster.yahooinc.com/error-codes",
			provider: "yahoo", cause: RecipientPolicy, route: "yahoo-sender-support"},
		{name: "outlook quoting spamhaus", text: "host outlook-com.olc.protection.outlook.com[52.101.1.1] said: 550 5.7.1 Service unavailable, Client host [192.0.2.9] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.9 (AS3130).",
			provider: "spamhaus", receiver: "outlook", ip: "192.0.2.9", route: "spamhaus"},
		{name: "icloud reputation", text: "550 5.7.1 Your message to x@icloud.com was rejected: sender IP 192.0.2.4 has a bad reputation",
			provider: "apple", cause: IPReputation, ip: "192.0.2.4", route: "apple-postmaster"},
		{name: "gmail domain reputation", text: "550-5.7.1 [192.0.2.5] Gmail has detected that this message is likely suspicious due to the very low reputation of the sending domain. - gsmtp",
			provider: "google", cause: DomainReputation},
		{name: "spamcop", text: "550 5.7.1 Connection refused - 192.0.2.5 is listed on bl.spamcop.net", cause: Blocklist, ip: "192.0.2.5", provider: "spamcop"},
		{name: "french reputation", text: "<ivan@example.fr>: l'hôte mx.example.fr[203.0.113.20] a répondu : 550 5.7.1 Service refusé, votre adresse IP 192.0.2.62 est bloquée pour mauvaise réputation", cause: IPReputation, ip: "192.0.2.62", provider: "unknown"},
		{name: "gmail full", text: "452 4.2.2 The recipient's inbox is out of storage space. - gsmtp", mode: Deferral, cause: Other, provider: "google"},
		{name: "gmail 4.7.0 unusual rate", text: "421-4.7.0 [192.0.2.7      15] Our system has detected an unusual rate of\n421-4.7.0 unsolicited mail originating from your IP address. To protect our\n421 4.7.0 users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp",
			mode: Deferral, provider: "google", cause: IPReputation, ip: "192.0.2.7", control: "unsolicited-rate"},
		{name: "eop 5.7.708", text: "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP. AS(7230) [DM6NAM12FT012.eop-nam12.prod.protection.outlook.com]",
			provider: "microsoft", cause: IPReputation},
		{name: "mimecast spam", text: "554 5.7.1 Spam message rejected by Mimecast", provider: "mimecast", cause: Content, route: "recipient-admin"},
		{name: "pdr folded", text: "550 5.7.0\n  Blocked - see\n  https://ipcheck.proofpoint.com/?ip=192.0.2.200", provider: "proofpoint", ip: "192.0.2.200"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkReply(t, ClassifyReply(strings.ReplaceAll(c.text, `\n`, "\n")), c) })
	}
}

// Replies no table knows keep provider unknown; mode and cause come from the codes.
func TestClassifyReplyUnknown(t *testing.T) {
	cases := []replyCase{
		{name: "bare code", text: "550 5.1.1 <nobody@example.net>... Mailbox unknown", mode: HardBlock, cause: InvalidRecipient, provider: "unknown", route: "fix-recipient"},
		{name: "opaque 5.7.1", text: "554 5.7.1 Rejected by the gremlins", mode: HardBlock, cause: RecipientPolicy, provider: "unknown"},
		{name: "opaque deferral", text: "451 4.3.0 Try again in a while", mode: Deferral, cause: Other, provider: "unknown", route: "wait"},
		{name: "no codes", text: "something went wrong", mode: UnknownMode, cause: UnknownCause, provider: "unknown", route: "none"},
		{name: "three-digit detail", text: "550 5.7.999 Unknown vendor code", enhanced: "5.7.999", provider: "unknown"},
		{name: "exchange quoted", text: "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'",
			cause: InvalidRecipient, enhanced: "5.1.10", code: 550},
		{name: "exim quoted", text: "SMTP error from remote mail server after end of data:\n    550 5.7.1 Message rejected as spam",
			cause: Content, code: 550, enhanced: "5.7.1"},
		{name: "ipv6 bracket", text: "550 5.7.1 Client host [2001:db8:1::5] blocked", ip: "2001:db8:1::5", cause: IPReputation},
		{name: "ipv6 literal", text: "550 5.7.1 Mail from IPv6:2001:db8::9 refused", ip: "2001:db8::9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkReply(t, ClassifyReply(c.text), c) })
	}
}

// The IP a reply names is not the receiver's, and a different one is said.
func TestClassifyReplyIP(t *testing.T) {
	f := ClassifyReply("host mx.example.net[192.0.2.1] said: 554 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.2")
	if f.IP != "198.51.100.2" {
		t.Errorf("IP = %q, want the blocked one, not the receiver's", f.IP)
	}
	f = classify("554 Your access to this mail system has been rejected due to the sending MTA's poor reputation.", "198.51.100.4")
	if f.IP != "198.51.100.4" || f.Route.URL != "https://talosintelligence.com/reputation_center/lookup?search=198.51.100.4" {
		t.Errorf("a block naming no IP is about the sending IP: %+v", f)
	}
	f = classify("554 Blocked - see https://ipcheck.proofpoint.com/?ip=198.51.100.2", "198.51.100.3")
	if len(f.Notes) == 0 || !strings.Contains(f.Notes[0], "198.51.100.2") {
		t.Errorf("no note that the reply names another IP: %+v", f.Notes)
	}
}

// Escape sequences in a reply never reach the finding raw.
func TestClassifyReplySanitizes(t *testing.T) {
	f := ClassifyReply("550 5.7.1 \x1b[31mred\x1b[0m blocked\x07 \u202e")
	for _, s := range []string{f.Text, f.Receiver, f.IP, f.Control} {
		if strings.ContainsAny(s, "\x1b\x07\u202e") {
			t.Errorf("raw control in %q", s)
		}
	}
}

func BenchmarkClassifyReply(b *testing.B) {
	text := "host mx0a-00069f02.pphosted.com[148.163.150.4] said: 550 5.7.0 Mail from 192.0.2.33 refused by Proofpoint Reputation Services. SENDER please see and take action: https://support.proofpoint.com/dnsbl-lookup.cgi?192.0.2.33 (in reply to RCPT TO command)"
	b.ReportAllocs()
	for b.Loop() {
		ClassifyReply(text)
	}
}

func BenchmarkClassifyReplyGeneric(b *testing.B) {
	text := "550-5.1.1 The email account that you tried to reach does not exist. Please try\n550-5.1.1 double-checking the recipient's email address for typos or\n550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser x1si - gsmtp"
	b.ReportAllocs()
	for b.Loop() {
		ClassifyReply(text)
	}
}

func FuzzClassifyReply(f *testing.F) {
	for _, c := range providerCases {
		f.Add(c.text)
	}
	_, rows := readTSV(f, "testdata/replies/sisimai-diagnostic-texts.tsv")
	for i, row := range rows {
		if i%7 == 0 && len(row) > 6 {
			f.Add(row[6])
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := ClassifyReply(s)
		if r.Mode == "" || r.Cause == "" || r.Provider == "" || r.Route.Kind == "" {
			t.Fatalf("incomplete finding %+v", r)
		}
		for _, v := range []string{r.Text, r.Receiver, r.IP, r.EnhancedCode} {
			if strings.ContainsAny(v, "\x1b\u009b\r\n") {
				t.Fatalf("raw control in %q", v)
			}
		}
	})
}

// Every provider of PROVIDERS.md has a table, and every table's rules compile.
func TestTables(t *testing.T) {
	have := map[string]int{}
	for _, tb := range Tables() {
		have[tb.Provider] += len(tb.Rules)
	}
	for _, p := range strings.Fields("proofpoint cloudmark microsoft google yahoo apple mimecast barracuda cisco spamhaus trendmicro symantec unknown") {
		if have[p] == 0 {
			t.Errorf("no rules for %s", p)
		}
	}
	if err := loadRules(); err != nil {
		t.Fatal(err)
	}
}

// TestRoutesAndAdvice: the public lists route to their owners, and the advice follows
// what the reply says must happen: a TLS requirement and a size limit are the sender's to
// fix, and a Gmail block (no desk) says what lifts it.
func TestRoutesAndAdvice(t *testing.T) {
	for _, c := range []struct {
		name, text, provider, route, url, advice string
	}{
		{"mailspike", "554 5.7.1 Service unavailable; Client host [192.0.2.8] listed in bl.mailspike.net", "mailspike", "mailspike", "https://mailspike.org/", ""},
		{"uceprotect", "550 5.7.1 Your IP 192.0.2.9 is listed in dnsbl-1.uceprotect.net", "uceprotect", "uceprotect", "https://www.uceprotect.net/en/rblcheck.php?ipr=192.0.2.9", ""},
		{"spamcop", "554 5.7.1 Rejected: client [192.0.2.7] blocked using bl.spamcop.net; see https://www.spamcop.net/bl.shtml?192.0.2.7", "spamcop", "spamcop", "https://www.spamcop.net/bl.shtml?192.0.2.7", ""},
		{"starttls", "530 5.7.0 Must issue a STARTTLS command first", "unknown", "none", "", "STARTTLS"},
		{"size", "552 5.3.4 Message size exceeds fixed maximum message size", "unknown", "none", "", "smaller"},
		{"gmail-block", "550-5.7.1 [192.0.2.4] Our system has flagged this message as likely unsolicited\n550 5.7.1 mail. https://support.google.com/mail/?p=UnsolicitedMessageError - gsmtp", "google", "wait", "", "no delist form"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := ClassifyReply(c.text)
			if f.Provider != c.provider || f.Route.Kind != c.route || f.Route.URL != c.url || !strings.Contains(f.Advice, c.advice) {
				t.Errorf("%s %s route %s %q advice %q", f.Provider, f.Control, f.Route.Kind, f.Route.URL, f.Advice)
			}
			if d, _ := DeskFor(f.Route.Kind); strings.Contains(d.Name, "retry") || strings.Contains(d.Name, "nothing to do") {
				t.Errorf("desk %q reads as if nothing were to be done or as a retry", d.Name)
			}
		})
	}
}

// TestGaveUpDeferral: a DSN whose MTA gave up on a deferral (Action: failed over a 421)
// is not one to wait out: it goes where the block would, and says the mail was lost.
func TestGaveUpDeferral(t *testing.T) {
	eml := "From: MAILER-DAEMON@out.example.com\nTo: news@example.com\nSubject: Undelivered Mail\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nThe message could not be delivered for 5 days.\n" +
		"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; out.example.com\n\nFinal-Recipient: rfc822; ann@customer.example\n" +
		"Action: failed\nStatus: 4.7.1\nDiagnostic-Code: smtp; 421 Deferred - see https://ipcheck.proofpoint.com/?ip=198.51.100.5\n--b--\n"
	rep, err := Read(context.Background(), "dsn.eml", strings.NewReader(eml), Options{})
	if err != nil || len(rep.Findings) != 1 {
		t.Fatalf("%v, %d findings", err, len(rep.Findings))
	}
	f := rep.Findings[0]
	if f.Route.Kind != "proofpoint-ipcheck" || f.Action != "failed" || len(f.Notes) == 0 || !strings.Contains(f.Notes[0], "gave up") {
		t.Errorf("mode %s route %s action %s notes %q", f.Mode, f.Route.Kind, f.Action, f.Notes)
	}
}

// TestQuotedTextKeepsItsSpeaker: the text of a quoted reply starts with who said it, not
// with half of it ("Remote host said:", not "host said:"), nor with a space.
func TestQuotedTextKeepsItsSpeaker(t *testing.T) {
	long := strings.Repeat("I'm afraid I wasn't able to deliver your message to the following addresses. ", 2)
	for text, want := range map[string]string{
		long + "<nina@example.net>:\n203.0.113.30 does not like recipient.\nRemote host said: 550 5.1.1 no such user": "Remote host said: 550 5.1.1",
		long + "<ivan@example.fr>: le serveur a répondu : 550 5.7.1 Service refusé":                                   "a répondu : 550 5.7.1",
	} {
		f := ClassifyReply(text)
		if !strings.HasPrefix(f.Text, want) {
			t.Errorf("text %q, want it to start with %q", f.Text, want)
		}
	}
}
