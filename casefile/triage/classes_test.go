package triage

import (
	"context"
	"strings"
	"testing"
)

// Each class of misreading issue 10 names, pinned with inputs written for this test
// (worded unlike any single fixture): the code's published meaning before the registry's
// words, the registry's code before vague words.
func TestReplyClasses(t *testing.T) {
	cases := []struct {
		class, text string
		mode        Mode
		cause       Cause
		provider    string
	}{
		{"google 4.2.1 is rate", "450-4.2.1 This recipient gets mail faster than we let through;\n450 4.2.1 resend later - gsmtp", Deferral, RateLimit, "google"},
		{"4.2.1 rate words without google", "450 4.2.1 Recipient is receiving mail too quickly, come back in an hour", Deferral, RateLimit, ""},
		{"microsoft 4.7.5xx throttling", "451 4.7.550 Please try again later from [198.51.100.4] (S77719) [AM6EUR05FT020.eop-eur05.prod.protection.outlook.com]", Deferral, IPReputation, "microsoft"},
		{"microsoft 4.7.6xx throttling", "451 4.7.650 The mail server [198.51.100.5] has been temporarily rate limited due to IP reputation.", Deferral, IPReputation, "microsoft"},
		{"microsoft 451 5.7.6xx throttling", "451 5.7.633 (AS22) please retry later", Deferral, IPReputation, "microsoft"},
		{"microsoft banned list is its own", "550 5.7.615 Access denied, IP [203.0.113.6] is banned; see sender.office.com", HardBlock, IPReputation, "microsoft"},
		{"x.7.9 authentication", "535 5.7.9 Mechanism PLAIN refused: too weak for this server", HardBlock, Authentication, ""},
		{"yahoo tss05", "421 4.7.0 [TSS05] Deferring mail from 192.0.2.60: unexpected volume", Deferral, IPReputation, "yahoo"},
		{"tenant allow/block list", "550 5.7.1 Sender ann@shop.example is on this organisation's Tenant Allow/Block List", HardBlock, RecipientPolicy, "microsoft"},
		{"ip called spam", "554 5.7.1 Connection refused: your server 192.0.2.61 is a spam source", HardBlock, IPReputation, ""},
		{"ip called spammer", "550 Your IP 192.0.2.62 belongs to a known spammer", HardBlock, IPReputation, ""},
		{"trend micro ers", "550 5.7.1 Mail from 192.0.2.63 rejected by Trend Micro ERS (ERS-RBL)", HardBlock, IPReputation, "trendmicro"},
		{"trend micro ers deferral token", "451 4.7.1 <x@example.net>: Recipient address rejected: ERS-DUL", Deferral, IPReputation, "trendmicro"},
		{"x.3.0 not policy", "451 4.3.0 Message refused: temporary local problem", Deferral, Other, ""},
		{"x.5.0 not policy", "550 5.5.0 Not allowed: pipelining violation", HardBlock, Other, ""},
		{"spam verdict with spf in passing", "550 5.7.1 Rejected as spam (score 9.1; tests: SPF_FAIL_SOFT, NO_PTR, URI_SHORT)", HardBlock, Content, ""},
		{"spam verdict with ptr", "554 Message identified as SPAM; your PTR record looked generic too", HardBlock, Content, ""},
		{"over quota is other", "552 5.2.2 Mailbox over its storage allowance, user cannot take more mail", HardBlock, Other, ""},
		{"quota words 4xx is other", "452 4.2.2 User quota exceeded - try later", Deferral, Other, ""},
		{"quota words only", "user's mail folder is full", UnknownMode, Other, ""},
		{"unknown user words only", "This address is not known to our mail system", UnknownMode, InvalidRecipient, ""},
		{"unknown host words only", "the domain far.example could not resolve to any mail host", UnknownMode, InvalidRecipient, ""},
		{"a sending limit is rate", "450 4.2.1 Daily relay limit reached for this account, try tomorrow", Deferral, RateLimit, ""},
		{"a malformed message is content", "554 5.6.0 Your message is malformed and cannot be accepted", HardBlock, Content, ""},
		{"a malformed dns reply is not content", "Name service error for name=far.example type=MX: Malformed or unexpected name server reply", UnknownMode, InvalidRecipient, ""},
		{"rfc 5321's local error is the receiver's", "451 Requested action aborted: local error in processing", Deferral, Other, ""},
		{"a relay quota is the sender's limit", "550 You have used up the daily relay quota for 198.51.100.0/24", HardBlock, RateLimit, ""},
		{"a mailbox quota is not", "552 5.2.2 Over quota: mailbox holds 2 GB", HardBlock, Other, ""},
		{"a listed address is the receiver's own list", "550 The sender address news@shop.example is on our blacklist", HardBlock, RecipientPolicy, ""},
		{"a listed ip is a blocklist", "554 Your IP 192.0.2.70 is blacklisted at dnsbl.example.net", HardBlock, Blocklist, ""},
		{"a full mailbox in french", "550 5.2.2 Boîte aux lettres pleine", HardBlock, Other, ""},
		{"a full mailbox in german", "452 Postfach ist voll, bitte später", Deferral, Other, ""},
		{"a closed account", "550 Recipient rejected: account closed since 2024", HardBlock, InvalidRecipient, ""},
		{"microsoft's headline words", "Your message to joe@far.example couldn't be delivered. joe wasn't found at far.example.", UnknownMode, InvalidRecipient, ""},
		{"a domain that does not exist in DNS", "DNS Error: DNS type 'mx' lookup of far.example responded with code NXDOMAIN", UnknownMode, InvalidRecipient, ""},
		{"a temporary server error", "451 4.7.0 Temporary server error. Please try again later. PRX5", Deferral, Other, ""},
		{"exim's local problem", "451 Temporary local problem - please try later", Deferral, Other, ""},
		{"an internal error is the receiver's", "550 Internal error while storing the message, not accepted", HardBlock, Other, ""},
	}
	for _, c := range cases {
		f := ClassifyReply(c.text)
		if f.Mode != c.mode || f.Cause != c.cause || (c.provider != "" && f.Provider != c.provider) {
			t.Errorf("%s: %q\n  got %s/%s/%s (%s), want %s/%s/%s", c.class, c.text, f.Mode, f.Cause, f.Provider, f.Control, c.mode, c.cause, c.provider)
		}
	}
	// A number after a success is not a failed reply (Exchange's delivery report).
	delivered := "250 2.6.0 <m-1@sender.example> [InternalId=9, Hostname=MBX1.example.net] 46845 bytes in 0.231, 554 KB/sec Queued mail for delivery"
	if f := ClassifyReply(delivered); f.Mode != Delivered || f.ReplyCode != 250 {
		t.Errorf("%q: %s %d, want delivered 250", delivered, f.Mode, f.ReplyCode)
	}
}

// Plain-text delay notices are deferrals (RFC 3464 "delayed") whatever alarming words
// they also hold; a bounce that has given up is not; the quoted original names nobody
// who failed.
func TestDelayNoticesAndQuotedOriginal(t *testing.T) {
	delay := `From: Mail Delivery Subsystem <MAILER-DAEMON@out.sender.example>
To: ann@sender.example
Subject: Message delivery postponed
Date: Tue, 01 Dec 2026 11:00:00 +0000

Your message to <joe@full.example> could not be delivered yet: the mailbox
is full (552 5.2.2). This is not a final failure; we will keep trying for
another 4 days and tell you if the delivery fails permanently.
`
	final := strings.Replace(delay, "This is not a final failure; we will keep trying for\nanother 4 days and tell you if the delivery fails permanently.", "We have given up.", 1)
	quoted := `From: MAILER-DAEMON@mail.sender.example (Mail Delivery System)
To: sam@sender.example
Subject: Undelivered Mail Returned to Sender
Date: Tue, 01 Dec 2026 12:00:00 +0000

I could not deliver your message.

<gone@far.example>: host mx.far.example[203.0.113.90] said: 550 nobody by
    that name here (in reply to RCPT TO command)

Return-Path: <sam@sender.example>
Received: from laptop (dsl.isp.example [192.0.2.200])
	by mail.sender.example with ESMTPSA id 4Z9; Tue, 01 Dec 2026 11:59:00 +0000
From: Sam <sam@sender.example>
To: gone@far.example, Team <team@sender.example>
Cc: boss@other.example
Message-ID: <q-1@sender.example>
Subject: 550 denied figures

Figures attached.
`
	for _, c := range []struct {
		name, text string
		mode       Mode
		cause      Cause
		rcpts      []string
	}{
		{"delay", delay, Deferral, Other, []string{"joe@full.example"}},
		{"given up", final, HardBlock, Other, []string{"joe@full.example"}},
		{"quoted original", quoted, HardBlock, InvalidRecipient, []string{"gone@far.example"}},
	} {
		for _, eol := range []string{"\n", "\r\n", "\r"} {
			rep, err := Read(context.Background(), c.name, strings.NewReader(strings.ReplaceAll(c.text, "\n", eol)), Options{})
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			var rcpts []string
			for _, f := range rep.Findings {
				rcpts = append(rcpts, f.Recipient)
			}
			if len(rep.Findings) == 0 || rep.Findings[0].Mode != c.mode || rep.Findings[0].Cause != c.cause || strings.Join(rcpts, " ") != strings.Join(c.rcpts, " ") {
				t.Errorf("%s (%q): findings %+v, want %s/%s for %v", c.name, eol, rep.Findings, c.mode, c.cause, c.rcpts)
			}
		}
	}
	if f := readString(t, "q", quoted, Options{}).Findings[0]; f.MessageID != "<q-1@sender.example>" || f.Sender != "sam@sender.example" {
		t.Errorf("quoted original: identifiers %q %q", f.MessageID, f.Sender)
	}
}

// A session transcript's replies that succeeded (a STARTTLS offered, a recipient
// accepted) are not the failure, and the sender it names is not a failed recipient; a
// recipient whose line holds its own reply is not read with the next one's.
func TestTranscriptsAndRecipientLines(t *testing.T) {
	transcript := `From: MAILER-DAEMON@gw.sender.example
To: postmaster@gw.sender.example
Subject: Postfix SMTP server: errors from relay.sender.example[192.0.2.70]

Transcript of session follows.

 Out: 220 gw.sender.example ESMTP
 In:  EHLO relay.sender.example
 Out: 250-gw.sender.example
 Out: 250-STARTTLS
 Out: 250 SMTPUTF8
 In:  MAIL FROM:<news@sender.example> SIZE=4096
 Out: 250 2.1.0 Ok
 In:  RCPT TO:<kim@far.example>
 Out: 250 2.1.5 Ok
 In:  DATA
 Out: 354 End data with <CR><LF>.<CR><LF>
 Out: 452 4.3.1 Insufficient system storage
 In:  QUIT
 Out: 221 2.0.0 Bye
`
	sendmail := `From: Mail Delivery Subsystem <MAILER-DAEMON@relay.sender.example>
To: ann@sender.example
Subject: Returned mail: see transcript for details

   ----- Transcript of session follows -----
554 <lou@one.example>... Remote protocol error: connection reset during data
550 two.example (smtp)... 550 Host unknown
554 <max@two.example>... 550 Host unknown (Authoritative answer from name server)
While talking to mx.three.example:
>>> RCPT To:<ned@three.example>
<<< 550 5.1.1 <ned@three.example>: Recipient unknown
550 <ned@three.example>... User unknown
`
	exchange := `From: postmaster@sender.example
To: ann@sender.example
Subject: Undeliverable: plans

Delivery has failed to these recipients or groups:

joe@far.example
kim@far.example

Diagnostic information for administrators:

Generating server: mail.sender.example

joe@far.example
Remote Server returned '550 5.7.23 The message was rejected because of Sender Policy Framework violation'

kim@far.example
Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'
`
	forwarded := "From: Ann <ann@sender.example>\nTo: help@isp.example\nSubject: Fwd: Delivery Status Notification (Failure)\n\n" +
		"Can you help?\n\n---------- Forwarded message ---------\nFrom: Mail Delivery Subsystem <mailer-daemon@mail.example>\n" +
		"Date: Tue, 1 Dec 2026 at 09:00\nSubject: Delivery Status Notification (Failure)\nTo: <ann@sender.example>\n\n\n" +
		"Your message wasn't delivered to joe@far.example.\n\nThe response from the remote server was:\n550 5.1.1 no such mailbox here\n"
	for _, c := range []struct {
		name, text string
		want       []string // recipient mode cause, per finding
	}{
		{"transcript", transcript, []string{"kim@far.example deferral other"}},
		{"a bounce forwarded inline", forwarded, []string{"joe@far.example hard-block invalid-recipient"}},
		{"the mention that holds the reply", exchange, []string{"joe@far.example hard-block authentication", "kim@far.example hard-block invalid-recipient"}},
		{"sendmail lines", sendmail, []string{"lou@one.example hard-block unknown", "max@two.example hard-block invalid-recipient", "ned@three.example hard-block invalid-recipient"}},
	} {
		rep := readString(t, c.name, c.text, Options{})
		var got []string
		for _, f := range rep.Findings {
			got = append(got, f.Recipient+" "+string(f.Mode)+" "+string(f.Cause))
		}
		if strings.Join(got, "; ") != strings.Join(c.want, "; ") {
			t.Errorf("%s:\n  got  %v\n  want %v", c.name, got, c.want)
		}
	}
}

// Reports that are not bounces: an ARF report about several recipients is one complaint
// per recipient (RFC 5965 §3.2); a provider's complaint in its own format (the reported
// message attached, a subject calling it a complaint) and an Amazon SES complaint mailed
// as JSON are complaints; automatic replies are known by their subject's many spellings;
// delivery-status fields written into the text part are read as a DSN's.
func TestReportsThatAreNotBounces(t *testing.T) {
	arf := "From: fbl@isp.example\r\nTo: fbl@sender.example\r\nSubject: FBL report\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=feedback-report; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nA complaint.\r\n" +
		"--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\nSource-IP: 192.0.2.80\r\n" +
		"Original-Rcpt-To: one@isp.example\r\nOriginal-Rcpt-To: two@isp.example\r\nOriginal-Rcpt-To: three@isp.example\r\n\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: news@sender.example\r\nTo: one@isp.example\r\nSubject: Sale\r\n\r\nSale.\r\n--b--\r\n"
	own := "From: reports@mailbox.example\r\nTo: abuse@sender.example\r\nSubject: Spam report: message from 192.0.2.81\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=m\r\n\r\n" +
		"--m\r\nContent-Type: message/rfc822\r\n\r\nFrom: news@sender.example\r\nTo: reader@mailbox.example\r\nMessage-ID: <n-7@sender.example>\r\nSubject: News\r\n\r\nNews.\r\n--m--\r\n"
	ses := "From: AWS Notifications <no-reply@sns.amazonaws.com>\nTo: ops@sender.example\nSubject: AWS Notification Message\n\n" +
		`{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"reader@mailbox.example"}],` +
		`"timestamp":"2026-11-30T10:00:00.000Z","feedbackId":"f-1","complaintFeedbackType":"abuse"},` + "!\n " +
		`"mail":{"timestamp":"2026-11-30T09:59:00.000Z","source":"news@sender.example","messageId":"m-1","destination":["reader@mailbox.example"]}}` + "\n"
	workmail := "From: MAILER-DAEMON@mail.example\nTo: ann@sender.example\nSubject: Delivery failure\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/mixed; boundary=w\n\n--w\nContent-Type: text/plain\n\n" +
		"We could not deliver to these recipients:\njoe@slow.example\n\nReport:\n\nReporting-MTA: dns; out.mail.example\n\n" +
		"Action: failed\nFinal-Recipient: rfc822; joe@slow.example\nDiagnostic-Code: smtp; 554 4.4.7 Message expired: no answer for 3 days\nStatus: 4.4.7\n\n" +
		"--w\nContent-Type: message/rfc822\n\nFrom: ann@sender.example\nTo: joe@slow.example\nSubject: Hi\n\nHi.\n--w--\n"
	contents := "From: postmaster@mail.example\nTo: ann@sender.example\nSubject: Message Delivery Failure\n\n" +
		"The following recipient could not be reached:\n\n\tRecipient: pat@nowhere.example\n\tReason Code: Invalid Domain Name\n\n" +
		"Message contents follow:\n\nReceived: from pc ([192.0.2.9]) by mail.example; Tue, 1 Dec 2026 10:00:00 +0000\nFrom: ann@sender.example\nTo: pat@nowhere.example\nSubject: spam filter content policy\n"
	mixed := "From: MAILER-DAEMON@out.sender.example\nTo: ann@sender.example\nSubject: Delivery report\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=d\n\n--d\nContent-Type: text/plain\n\nReport.\n" +
		"--d\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; out.sender.example\n\n" +
		"Final-Recipient: rfc822; ok@far.example\nAction: relayed\nStatus: 2.0.0\n\n" +
		"Final-Recipient: rfc822; gone@far.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user\n\n" +
		"Final-Recipient: rfc822; also@far.example\nAction: delivered\nStatus: 2.0.0\n\n" +
		"Final-Recipient: rfc822; full@far.example\nAction: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552 5.2.2 over quota\n\n--d--\n"
	auto := func(subject string) string {
		return "From: joe@far.example\nTo: ann@sender.example\nSubject: " + subject + "\n\nBack on Monday.\n"
	}
	for _, c := range []struct {
		name, text string
		want       []string // recipient mode, per finding
	}{
		{"arf with three recipients", arf, []string{"one@isp.example complaint", "two@isp.example complaint", "three@isp.example complaint"}},
		{"complaint in a provider's own format", own, []string{"reader@mailbox.example complaint"}},
		{"ses complaint mailed as json", ses, []string{"reader@mailbox.example complaint"}},
		{"dsn fields in the text part", workmail, []string{"joe@slow.example deferral"}},
		{"failed recipients first, in report order", mixed, []string{"gone@far.example hard-block", "full@far.example hard-block", "ok@far.example delivered", "also@far.example delivered"}},
		{"copy introduced by 'contents follow'", contents, []string{"pat@nowhere.example hard-block"}},
		{"auto reply", auto("Auto Reply: Hi"), []string{" auto-reply"}},
		{"auto_response", auto("auto_response re: Hi"), []string{" auto-reply"}},
		{"automatic response", auto("Automatic Response"), []string{" auto-reply"}},
		{"outlook's german prefix", auto("Automatische Antwort: Hi"), []string{" auto-reply"}},
	} {
		rep := readString(t, c.name, c.text, Options{})
		var got []string
		for _, f := range rep.Findings {
			got = append(got, f.Recipient+" "+string(f.Mode))
		}
		if strings.Join(got, "; ") != strings.Join(c.want, "; ") {
			t.Errorf("%s:\n  got  %v\n  want %v", c.name, got, c.want)
		}
	}
	if f := readString(t, "contents", contents, Options{}).Findings[0]; f.Cause != InvalidRecipient {
		t.Errorf("copy introduced by 'contents follow': cause %s (%s), want invalid-recipient: the copy's subject is not the reason", f.Cause, f.Control)
	}
	if f := readString(t, "own", own, Options{}).Findings[0]; f.IP != "192.0.2.81" || f.MessageID != "<n-7@sender.example>" {
		t.Errorf("complaint in a provider's format: IP %q, message %q", f.IP, f.MessageID)
	}
}

// A reply that names the original's sender and not the recipient is about the sender,
// whatever stage it came at; the same words naming the recipient are about the recipient.
func TestReplyAboutTheSender(t *testing.T) {
	bounce := func(reply string) string {
		return "From: Mail Delivery System <MAILER-DAEMON@out.sender.example>\nTo: ann@sender.example\nSubject: Mail delivery failed\n\n" +
			"A message that you sent could not be delivered to one or more of its recipients.\n\n" +
			"  joe@far.example\n    host mx.far.example [203.0.113.30]\n    SMTP error from remote mail server after end of data:\n    " + reply + "\n"
	}
	for _, c := range []struct {
		reply   string
		cause   Cause
		control string
	}{
		{"550 5.1.0 <ann@sender.example>: address not known in DNS", Authentication, "sender-address"},
		{"550 5.1.0 <joe@far.example>: address not known here", InvalidRecipient, "recipient-validation"},
		{"550 5.1.1 User unknown; refused mail from ann@sender.example", InvalidRecipient, "recipient-validation"},
	} {
		f := readString(t, "b", bounce(c.reply), Options{}).Findings[0]
		if f.Recipient != "joe@far.example" || f.Cause != c.cause || f.Control != c.control {
			t.Errorf("%q: %s %s/%s, want %s/%s", c.reply, f.Recipient, f.Cause, f.Control, c.cause, c.control)
		}
	}
}
