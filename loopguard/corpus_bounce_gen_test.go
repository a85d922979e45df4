package loopguard

import (
	"fmt"
	"strings"
)

// bounceFamily is the shape of one mail system's report: its sender and
// subject, and either an RFC 3464 report (dsn) with its human-readable
// part, or a legacy text (with or without the original attached), a JSON
// notice, a complaint. %R in text is the failed recipient, %I the
// Message-ID of the bounced email.
type bounceFamily struct {
	name, from, subject string
	format              string // dsn, dsn-headers, dsn-noorig, legacy, legacy-attach, json, arf, complaint-attached
	text                string
	mta, action, status string
	diag                string
	kind                string
	class               Class
	origExtra           string // fields the reporter adds to the attached copy
	headers             string // the report's own extra fields
}

var bounceFamilies = []bounceFamily{
	{name: "postfix", from: "MAILER-DAEMON@mx.example.org (Mail Delivery System)", subject: "Undelivered Mail Returned to Sender", format: "dsn",
		text: "This is the mail system at host mx.example.org.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients. It's attached below.\n\n<%R>: host mail.example.org[192.0.2.5] said: 550 5.1.1 <%R>:\n    Recipient address rejected: User unknown in virtual mailbox table\n",
		mta:  "dns; mx.example.org", action: "failed", status: "5.1.1", diag: "smtp; 550 5.1.1 <%R>: Recipient address rejected: User unknown in virtual mailbox table", kind: KindPermanent},
	{name: "postfix-delay", from: "MAILER-DAEMON@mx.example.org (Mail Delivery System)", subject: "Delayed Mail (still being retried)", format: "dsn-headers",
		text: "This is the mail system at host mx.example.org.\n\n####################################################################\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n####################################################################\n\nYour message could not be delivered for more than 4 hour(s).\nIt will be retried until it is 5 day(s) old.\n",
		mta:  "dns; mx.example.org", action: "delayed", status: "4.4.1", diag: "", kind: KindDelayed},
	{name: "postfix-success", from: "MAILER-DAEMON@mx.example.org (Mail Delivery System)", subject: "Successful Mail Delivery Report", format: "dsn-headers",
		text: "This is the mail system at host mx.example.org.\n\nYour message was successfully delivered to the destination(s)\nlisted below.\n",
		mta:  "dns; mx.example.org", action: "relayed", status: "2.0.0", diag: "smtp; 250 2.0.0 Ok: queued as 4XYZ", kind: KindSuccess},
	{name: "exim-dsn", from: "Mail Delivery System <Mailer-Daemon@exim.example.net>", subject: "Mail delivery failed: returning message to sender", format: "dsn",
		text: "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  %R\n    host mx.example.net [192.0.2.7]\n    SMTP error from remote mail server after RCPT TO:<%R>:\n    550 5.1.1 No such user here\n",
		mta:  "dns; exim.example.net", action: "failed", status: "5.0.0", diag: "smtp; 550 5.1.1 No such user here", kind: KindPermanent},
	{name: "exim-legacy", from: "Mail Delivery System <Mailer-Daemon@old-exim.example.net>", subject: "Mail delivery failed: returning message to sender", format: "legacy",
		text: "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  %R\n    Mailbox quota exceeded\n\n------ This is a copy of the message, including all the headers. ------\n\nMessage-ID: <%I>\nSubject: [#4471] Reply\n",
		kind: KindMailboxFull},
	{name: "exim-retry-timeout", from: "Mail Delivery System <Mailer-Daemon@exim2.example.net>", subject: "Mail delivery failed: returning message to sender", format: "legacy",
		text: "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a temporary error. The following address(es) deferred:\n\n  %R\n    retry timeout exceeded\n    451 4.4.0 Temporary local problem - please try later\n\n------ This is a copy of the message, including all the headers. ------\n\nMessage-ID: <%I>\n",
		kind: KindTransient},
	{name: "sendmail", from: "Mail Delivery Subsystem <MAILER-DAEMON@sendmail.example.edu>", subject: "Returned mail: see transcript for details", format: "dsn-headers",
		text: "The original message was received at Mon, 1 Dec 2026 09:00:00 -0500\nfrom localhost [127.0.0.1]\n\n   ----- The following addresses had permanent fatal errors -----\n<%R>\n    (reason: 550 5.1.1 <%R>... User unknown)\n",
		mta:  "dns; sendmail.example.edu", action: "failed", status: "5.1.1", diag: "SMTP; 550 5.1.1 <%R>... User unknown", kind: KindPermanent},
	{name: "sendmail-legacy", from: "Mail Delivery Subsystem <MAILER-DAEMON@old.example.edu>", subject: "Returned mail: User unknown", format: "legacy",
		text: "The original message was received at Mon, 1 Dec 2026 09:00:00 -0500\n\n   ----- Transcript of session follows -----\n... while talking to mail.example.edu.:\n>>> RCPT To:<%R>\n<<< 550 5.1.1 <%R>... User unknown\n550 5.1.1 <%R>... User unknown\n\n   ----- Original message follows -----\nMessage-ID: <%I>\n",
		kind: KindPermanent},
	{name: "qmail", from: "MAILER-DAEMON@qmail.example.com", subject: "failure notice", format: "legacy",
		text: "Hi. This is the qmail-send program at qmail.example.com.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<%R>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n--- Below this line is a copy of the message.\n\nMessage-ID: <%I>\n",
		kind: KindPermanent},
	{name: "qmail-ldap-quota", from: "MAILER-DAEMON@mail.qmail-isp.example", subject: "failure notice", format: "legacy",
		text: "Hi. This is the qmail-send program at mail.qmail-isp.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<%R>:\nThe users mailfolder is over the allowed quota (size). (#5.2.2)\n",
		kind: KindMailboxFull},
	{name: "courier", from: "Courier mail server at mx.courier.example <@>", subject: "NOTICE: mail delivery status.", format: "dsn",
		text: "This is a delivery status notification from mx.courier.example,\nrunning the Courier mail server, version 1.1.\n\nThe original message was received on Mon, 01 Dec 2026 09:00:00 +0000\nfrom localhost [127.0.0.1]\n\n---------------------------------------------------------------------------\n\n                           UNDELIVERABLE MAIL\n\nYour message to the following recipients cannot be delivered:\n\n<%R>:\n    mail.example.com [192.0.2.9]:\n>>> RCPT TO:<%R>\n<<< 550 User unknown\n",
		mta:  "dns; mx.courier.example", action: "failed", status: "5.0.0", diag: "smtp; 550 User unknown", kind: KindPermanent},
	{name: "exchange2003", from: "System Administrator <postmaster@exch2003.example>", subject: "Undeliverable: [#4471] Reply", format: "dsn",
		text: "Your message did not reach some or all of the intended recipients.\n\n      Subject:\t[#4471] Reply\n      Sent:\t12/1/2026 9:00 AM\n\nThe following recipient(s) could not be reached:\n\n      %R on 12/1/2026 9:00 AM\n            The e-mail account does not exist at the organization this message was sent to.\n            <exch2003.example #5.1.1>\n",
		mta:  "dns;exch2003.example", action: "failed", status: "5.1.1", diag: "", kind: KindPermanent},
	{name: "exchange2007", from: "postmaster@exch2007.example", subject: "Undeliverable: [#4471] Reply", format: "dsn",
		text: "Delivery has failed to these recipients or distribution lists:\n\n%R\nThe recipient's e-mail address was not found in the recipient's e-mail system.\n\nDiagnostic information for administrators:\n\nGenerating server: exch2007.example\n\n%R\n#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\n",
		mta:  "dns;exch2007.example", action: "failed", status: "5.1.1", diag: "smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", kind: KindPermanent},
	{name: "exchange2016", from: "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@exch2016.example>", subject: "Undeliverable: [#4471] Reply", format: "dsn",
		text: "Delivery has failed to these recipients or groups:\n\n%R\nThe email address you entered couldn't be found.\n\nDiagnostic information for administrators:\n\nGenerating server: EXCH2016.corp.example\n\n%R\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'\n",
		mta:  "dns;EXCH2016.corp.example", action: "failed", status: "5.1.10", diag: "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", kind: KindPermanent},
	{name: "exchange2019-quota", from: "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@exch2019.example>", subject: "Undeliverable: [#4471] Reply", format: "dsn",
		text: "Your message to %R couldn't be delivered.\nThe recipient's mailbox is full and can't accept messages now.\n",
		mta:  "dns;EXCH2019.corp.example", action: "failed", status: "5.2.2", diag: "smtp;554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException", kind: KindMailboxFull},
	{name: "exchange-online", from: "Microsoft Outlook <postmaster@contoso.onmicrosoft.example>", subject: "Undeliverable: [#4471] Reply", format: "dsn",
		text: "Your message to %R couldn't be delivered.\n%R wasn't found at contoso.example.\n\nOffice 365\n\nAction Required\nUnknown To address\n\nHow to Fix It\nThe address may be misspelled or may not exist.\n",
		mta:  "dns;AM6PR04MB4567.eurprd04.prod.outlook.com", action: "failed", status: "5.1.10", diag: "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", kind: KindPermanent},
	{name: "exchange-online-delay", from: "Microsoft Outlook <postmaster@contoso.onmicrosoft.example>", subject: "Delivery delayed:[#4471] Reply", format: "dsn-headers",
		text: "Delivery is delayed to these recipients or groups:\n\n%R\n\nThis message hasn't been delivered yet. Delivery will continue to be attempted.\n",
		mta:  "dns;AM6PR04MB4567.eurprd04.prod.outlook.com", action: "delayed", status: "4.4.7", diag: "", kind: KindDelayed},
	{name: "outlook-com", from: "postmaster@outlook.com", subject: "Undeliverable: [#4471] Reply", format: "dsn",
		text: "Delivery has failed to these recipients or groups:\n\n%R\nThe recipient's mailbox is unavailable.\n",
		mta:  "dns;DB8EUR05HT123.eop-eur05.prod.protection.outlook.com", action: "failed", status: "5.5.0", diag: "smtp;550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302)", kind: KindPermanent},
	{name: "gmail", from: "Mail Delivery Subsystem <mailer-daemon@googlemail.com>", subject: "Delivery Status Notification (Failure)", format: "dsn",
		text: "** Address not found **\n\nYour message wasn't delivered to %R because the address couldn't be found, or is unable to receive mail.\n\nThe response from the remote server was:\n550 5.1.1 The email account that you tried to reach does not exist.\n",
		mta:  "dns; googlemail.com", action: "failed", status: "5.1.1", diag: "smtp; 550-5.1.1 The email account that you tried to reach does not exist.", kind: KindPermanent},
	{name: "gmail-delay", from: "Mail Delivery Subsystem <mailer-daemon@googlemail.com>", subject: "Delivery Status Notification (Delay)", format: "dsn-noorig",
		text: "** Delivery incomplete **\n\nThere was a temporary problem delivering your message to %R. Gmail will retry for 46 more hours. You'll be notified if the delivery fails permanently.\n",
		mta:  "dns; googlemail.com", action: "delayed", status: "4.4.1", diag: "smtp; The recipient server did not accept our requests to connect.", kind: KindDelayed},
	{name: "gmail-full", from: "Mail Delivery Subsystem <mailer-daemon@googlemail.com>", subject: "Delivery Status Notification (Failure)", format: "dsn",
		text: "** Message not delivered **\n\nYour message couldn't be delivered to %R because the recipient's inbox is out of storage space.\n",
		mta:  "dns; googlemail.com", action: "failed", status: "4.2.2", diag: "smtp; 452-4.2.2 The email account that you tried to reach is over quota.", kind: KindMailboxFull},
	{name: "yahoo", from: "MAILER-DAEMON@yahoo.com", subject: "Failure Notice", format: "legacy",
		text: "Sorry, we were unable to deliver your message to the following address.\n\n<%R>:\n554: delivery error: dd This user doesn't have a yahoo.com account (%R) [0] - mta1234.mail.ne1.yahoo.com\n\n--- Below this line is a copy of the message.\n\nMessage-ID: <%I>\n",
		kind: KindPermanent},
	{name: "aol", from: "Mail Delivery Subsystem <MAILER-DAEMON@aol.com>", subject: "Returned mail: see transcript for details", format: "dsn",
		text: "The original message was received at Mon, 1 Dec 2026 04:00:00 -0500\n\n   ----- The following addresses had permanent fatal errors -----\n<%R>\n    (reason: 550 MAILBOX NOT FOUND)\n",
		mta:  "dns; omr-m12.mx.aol.com", action: "failed", status: "5.0.0", diag: "smtp; 550 MAILBOX NOT FOUND", kind: KindPermanent},
	{name: "gmx", from: "Mail Delivery System <mailer-daemon@gmx.net>", subject: "Mail delivery failed: returning message to sender", format: "legacy",
		text: "This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of\nits recipients. This is a permanent error. The following address(es)\nfailed:\n\n%R:\nSMTP error from remote server for RCPT TO command, host: mx00.emig.gmx.net (212.227.15.9) reason: 550 Requested action not taken: mailbox unavailable\n",
		kind: KindPermanent},
	{name: "verizon", from: "MAILER-DAEMON@vzwpix.example", subject: "Undeliverable Message", format: "legacy",
		text: "Message could not be delivered to mobile.\nAddresses: %R\nReason: 554 delivery error: This user doesn't have an account\n",
		kind: KindPermanent},
	{name: "domino", from: "Mail Router <mailrouter@notes.example>", subject: "DELIVERY FAILURE: User jroe (%R) not listed in Domino Directory", format: "legacy-attach",
		text: "Your message\n\n  Subject: [#4471] Reply\n\nwas not delivered to:\n\n  %R\n\nbecause:\n\n  User jroe (%R) not listed in Domino Directory\n",
		kind: KindPermanent},
	{name: "groupwise", from: "gwia@gw.example", subject: "Message status - undeliverable", format: "legacy-attach",
		text: "The message that you sent was undeliverable to the following:\n\t%R (user not found)\n\nPossibly truncated original message follows:\n",
		kind: KindPermanent},
	{name: "mdaemon", from: "MDaemon@mdaemon.example", subject: "Permanent Delivery Failure", format: "legacy-attach",
		text: "The attached message had PERMANENT fatal delivery errors!\n\nAfter one or more unsuccessful delivery attempts the attached message has\nbeen removed from the mail queue on this server.\n\n--- Session Transcript ---\n Mon 2026-12-01 09:00:00: Session 12345; child 1\n Mon 2026-12-01 09:00:01: --> RCPT To:<%R>\n Mon 2026-12-01 09:00:01: <-- 550 5.1.1 <%R>: Recipient address rejected: User unknown\n--- End Transcript ---\n",
		kind: KindPermanent},
	{name: "imail", from: "Postmaster <postmaster@imail.example>", subject: "Undeliverable Mail", format: "legacy",
		text: "Unknown user: %R\n\nOriginal message follows.\n\nMessage-ID: <%I>\n",
		kind: KindPermanent},
	{name: "icewarp", from: "<postmaster@icewarp.example>", subject: "Undeliverable message", format: "legacy-attach",
		text: "The message could not be delivered to the following recipient(s):\n\n%R\nReason: 550 5.1.1 Mailbox does not exist\n",
		kind: KindPermanent},
	{name: "sun-messaging", from: "Internet Mail Delivery <postmaster@sun.example>", subject: "Delivery Notification: Delivery has failed", format: "dsn",
		text: "This report relates to a message you sent with the following header fields:\n\n  Message-id: <%I>\n  Subject: [#4471] Reply\n\nYour message cannot be delivered to the following recipients:\n\n  Recipient address: %R\n  Reason: Remote SMTP server has rejected address\n  Diagnostic code: smtp;550 5.1.1 unknown or illegal alias: %R\n",
		mta:  "dns;sun.example (tcp_intranet-daemon)", action: "failed", status: "5.1.1", diag: "smtp;550 5.1.1 unknown or illegal alias", kind: KindPermanent},
	{name: "oracle-comms", from: "Internet Mail Delivery <postmaster@oracle-comms.example>", subject: "Delivery Notification: Delivery has been delayed", format: "dsn-headers",
		text: "This report relates to a message you sent with the following header fields:\n\n  Subject: [#4471] Reply\n\nYour message has been delayed and is still awaiting delivery\nto the following recipients:\n\n  Recipient address: %R\n  Reason: Remote system is unreachable\n",
		mta:  "dns;oracle-comms.example", action: "delayed", status: "4.4.1", diag: "", kind: KindDelayed},
	{name: "kerio", from: "Kerio Connect <postmaster@kerio.example>", subject: "Undeliverable: [#4471] Reply", format: "dsn",
		text: "Your message did not reach some or all of the intended recipients.\n\n   Sent: Mon, 01 Dec 2026 09:00:00 +0000\n   Subject: [#4471] Reply\n\nThe following recipient(s) could not be reached:\n\n%R\n   Error Type: SMTP\n   Remote server (192.0.2.50) issued an error.\n   hMailServer sent: RCPT TO:<%R>\n   Remote server replied: 550 5.1.1 User unknown\n",
		mta:  "dns;kerio.example", action: "failed", status: "5.1.1", diag: "smtp;550 5.1.1 User unknown", kind: KindPermanent},
	{name: "zimbra", from: "MAILER-DAEMON@zimbra.example (Mail Delivery System)", subject: "Undelivered Mail Returned to Sender", format: "dsn",
		text: "This is the mail system at host zimbra.example.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n<%R>: mailbox for %R is full\n",
		mta:  "dns; zimbra.example", action: "failed", status: "5.2.2", diag: "x-unix; mailbox for %R is full", kind: KindMailboxFull},
	{name: "mailmarshal", from: "MailMarshal <postmaster@mm.example>", subject: "Undeliverable: [#4471] Reply", format: "legacy-attach",
		text: "MailMarshal (an automated content monitoring gateway) has\nnot delivered the attached message to the following recipient(s):\n\n   %R\n\nbecause the recipient address does not exist.\n550 5.1.1 User unknown\n",
		kind: KindPermanent},
	{name: "mfilter", from: "MAILER-DAEMON@mfilter.example", subject: "failure notice", format: "legacy",
		text: "*** ERROR ***\n\nThis is an error message from m-FILTER.\n\n<%R>:\n550 5.1.1 unknown user\n\n------ original message ------\nMessage-ID: <%I>\n",
		kind: KindPermanent},
	{name: "mcafee", from: "Postmaster <postmaster@mcafee-gw.example>", subject: "Delivery Status Notification: Failure", format: "legacy-attach",
		text: "--- The following addresses had delivery errors ---\n\n<%R> 550 5.1.1 <%R>: Recipient address rejected: User unknown in relay recipient table\n",
		kind: KindPermanent},
	{name: "barracuda", from: "MAILER-DAEMON@barracuda.example", subject: "** Message not delivered **", format: "dsn",
		text: "Your message was not delivered to %R for the following reason:\n\nRecipient address rejected: Invalid user\n",
		mta:  "dns; barracuda.example", action: "failed", status: "5.1.1", diag: "smtp; 550 5.1.1 <%R>: Recipient address rejected: Invalid user", kind: KindPermanent},
	{name: "trendmicro", from: "Postmaster <postmaster@tmes.example>", subject: "Message delivery failure", format: "legacy",
		text: "Trend Micro Email Security was unable to deliver your message.\n\nRecipient: %R\nReason: 550 5.1.1 Invalid recipient\n",
		kind: KindPermanent},
	{name: "fortimail", from: "Mail Delivery Subsystem <MAILER-DAEMON@fortimail.example>", subject: "Warning: could not send message for past 4 hours", format: "dsn-headers",
		text: "    **********************************************\n    **      THIS IS A WARNING MESSAGE ONLY      **\n    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **\n    **********************************************\n\nThe original message was received at Mon, 1 Dec 2026 05:00:00 +0000\n\n   ----- Transcript of session follows -----\n<%R>... Deferred: Connection timed out with mx.example\n",
		mta:  "dns; fortimail.example", action: "delayed", status: "4.4.1", diag: "", kind: KindDelayed},
	{name: "gateway-post_master", from: "post_master@gw.example.co.jp", subject: "Mail Delivery Error", format: "legacy",
		text: "Invalid user address\n\n550 %R... User unknown\n",
		kind: KindPermanent},
	{name: "amazon-ses-dsn", from: "MAILER-DAEMON@amazonses.com", subject: "Delivery Status Notification (Failure)", format: "dsn",
		text: "An error occurred while trying to deliver the mail to the following recipients:\n%R\n",
		mta:  "dns; a8-70.smtp-out.amazonses.com", action: "failed", status: "5.1.1", diag: "smtp; 550 5.1.1 user unknown", kind: KindPermanent},
	{name: "amazon-ses-json", from: "AWS Notifications <no-reply@sns.amazonaws.com>", subject: "AWS Notification Message", format: "json",
		text: `{"notificationType":"Bounce","bounce":{"feedbackId":"0102017ab8c3e1a5-1","bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"%R","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}],"timestamp":"2026-12-01T09:00:00.000Z","reportingMTA":"dsn; a8-70.smtp-out.amazonses.com"},"mail":{"timestamp":"2026-12-01T08:59:59.000Z","source":"support@acme.example","messageId":"0102017ab8c3e0e4-aa","destination":["%R"],"commonHeaders":{"messageId":"<%I>","subject":"[#4471] Reply"}}}`,
		kind: KindPermanent},
	{name: "amazon-ses-json-wrapped", from: "SES-EM-B <no-reply@sns.amazonaws.com>", subject: "AWS Notification Message", format: "json",
		text: "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"bounceSubType\":\"General\",\"bouncedRecipients\":[{\"emailAddress\":\"%R\",\"action\":\"failed\",\"status\":\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 user unknown\"}]},\"mail\":{\"headers\":[{\"name\":\"Message-ID\",\"value\":\"<%I>\"},{\"name\":\"!\n Content-Transfer-Encoding\",\"value\":\"base64\"}]}}",
		kind: KindPermanent},
	{name: "amazon-ses-json-complaint", from: "AWS Notifications <no-reply@sns.amazonaws.com>", subject: "AWS Notification Message", format: "json",
		text: `{"Type":"Notification","MessageId":"7c1d","TopicArn":"arn:aws:sns:eu-west-1:123:ses","Message":"{\"notificationType\":\"Complaint\",\"complaint\":{\"complainedRecipients\":[{\"emailAddress\":\"%R\"}],\"complaintFeedbackType\":\"abuse\",\"timestamp\":\"2026-12-01T09:00:00Z\"},\"mail\":{\"messageId\":\"0102\",\"commonHeaders\":{\"messageId\":\"<%I>\"}}}"}`,
		kind: KindComplaint},
	{name: "amazon-ses-json-transient", from: "AWS Notifications <no-reply@sns.amazonaws.com>", subject: "AWS Notification Message", format: "json",
		text: `{"eventType":"Bounce","bounce":{"bounceType":"Transient","bounceSubType":"MailboxFull","bouncedRecipients":[{"emailAddress":"%R","status":"4.2.2","diagnosticCode":"smtp; 452 4.2.2 mailbox full"}]},"mail":{"headers":[{"name":"Message-ID","value":"<%I>"}]}}`,
		kind: KindMailboxFull},
	{name: "sendgrid", from: "MAILER-DAEMON@sendgrid.net", subject: "Undelivered Mail Returned to Sender", format: "dsn",
		text: "This is the mail system at host o1.sendgrid.net.\n\nI'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n",
		mta:  "dns; o1.sendgrid.net", action: "failed", status: "5.0.0", diag: "smtp; 550 5.0.0 Requested action not taken: mailbox unavailable", kind: KindPermanent},
	{name: "mailgun", from: "Mailgun <mailer-daemon@mailgun.example>", subject: "Delivery Status Notification (Failure)", format: "dsn",
		text: "Delivery to the following recipient failed permanently:\n\n    %R\n\nTechnical details of permanent failure:\n550 5.1.1 The email account that you tried to reach does not exist.\n",
		mta:  "dns; mxa.mailgun.org", action: "failed", status: "5.1.1", diag: "smtp; 550 5.1.1 The email account that you tried to reach does not exist.", kind: KindPermanent},
	{name: "postmark", from: "Postmark <no-reply@postmarkapp.example>", subject: "Undelivered Mail Returned to Sender", format: "dsn",
		text: "This is the mail system at host smtp.postmarkapp.example.\n\nYour message could not be delivered to one or more recipients.\n",
		mta:  "dns; smtp.postmarkapp.example", action: "failed", status: "5.1.1", diag: "smtp; 550 5.1.1 unknown user", kind: KindPermanent},
	{name: "docomo", from: "no-reply@docomo.example.jp", subject: "メールエラー通知", format: "legacy",
		text: "以下のメールアドレスへの送信に失敗しました。\n宛先のメールアドレスが見つかりません。\n\n%R\n\nRecipient address is not found.\n",
		kind: KindPermanent},
	{name: "au-kddi", from: "MAILER-DAEMON@ezweb.example.jp", subject: "Mail Delivery Error", format: "legacy",
		text: "Your mail sent on: Mon, 01 Dec 2026 18:00:00 +0900\n     could not be delivered to the following recipient(s):\n\n<%R>: User unknown\n\nお客様が送信されたメールは、宛先不明のためお届けできませんでした。\n",
		kind: KindPermanent},
	{name: "softbank", from: "Postmaster <postmaster@softbank.example.jp>", subject: "Returned mail: see transcript for details", format: "legacy",
		text: "This is an automatically generated Delivery Status Notification.\n\nDelivery to the following recipients failed.\n\n       %R\n\n宛先のアドレスは存在しません。\n",
		kind: KindPermanent},
	{name: "mailman-error", from: "mylist-owner@lists.example.org", subject: "Your message to MyList awaits moderator approval", format: "legacy",
		text: "Your mail to 'MyList' with the subject\n\n    [#4471] Reply\n\nIs being held until the list moderator can review it for approval.\n\nThe reason it is being held:\n\n    Post by non-member to a members-only list\n",
		kind: ""},
	{name: "listserv-loop", from: "LISTSERV@lists.example.edu", subject: "Mail loop detected", format: "legacy",
		text: "A mail loop was detected for a message sent to list MYLIST.\nThe message has been rejected.\n\nMessage-ID: <%I>\n",
		kind: ""},
	{name: "fml-loop-alert", from: "2ndml-admin@lists.example.jp", subject: "Loop Alert: Duplicated Message-ID (2ndml ML)", format: "legacy",
		text:    "Duplicated Message-ID in <2ndml@lists.example.jp>.\n\n\nOriginal mail as follows:\n\n   Message-ID: <%I>\n   Subject: [#4471] Reply\n",
		headers: "X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]\n", kind: ""},
	{name: "sympa-reject", from: "sympa@lists.example.fr", subject: "Message rejected", format: "legacy",
		text: "Your message for list mylist has been rejected because you are not a member of the list.\n",
		kind: ""},
	{name: "arf-hotmail", from: "staff@hotmail.example", subject: "complaint about message from 203.0.113.9", format: "arf",
		text: "This is an email abuse report for an email message received from IP 203.0.113.9 on Mon, 01 Dec 2026 09:00:00 -0800.\n",
		kind: KindComplaint},
	{name: "complaint-attached-aol", from: "scomp@aol.example", subject: "Client TOS Notification", format: "complaint-attached",
		text: "", kind: KindComplaint},
	{name: "complaint-hotmail-legacy", from: "neko@isp-fbl.example", subject: " complaint about message from 192.0.2.222", format: "complaint-attached",
		origExtra: "X-HmXmrOriginalRecipient: " + bouncedTo + "\nX-Reporter-IP: 192.0.2.22\n", kind: KindComplaint},
	{name: "complaint-attached-isp", from: "Feedback Loop <fbl@isp.example>", subject: "Spam report", format: "complaint-attached",
		text: "The attached message was reported as spam by a user of our service.\n", kind: KindComplaint},
}

const bouncedTo = "k.tanaka@fabrikam.example"

// original is the email of deskmail that bounced.
func bouncedOriginal(id string) string {
	return "Return-Path: <bounce+j123@help.acme-support.example>\nFrom: Acme Support <reply+abc@help.acme-support.example>\nTo: " + bouncedTo +
		"\nSubject: [#4471] Reply\nDate: Mon, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <" + id + ">\nAuto-Submitted: auto-generated\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
}

func buildBounce(f bounceFamily, i int) string {
	id := fmt.Sprintf("dm.c%d.m%d@help.acme-support.example", 5000+i, 90000+i)
	text := strings.NewReplacer("%R", bouncedTo, "%I", id).Replace(f.text)
	diag := strings.NewReplacer("%R", bouncedTo).Replace(f.diag)
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from relay.example by mx.acme.example (Postfix) with ESMTPS id B%d; Mon,  1 Dec 2026 09:05:00 +0000\n", i)
	fmt.Fprintf(&b, "From: %s\nTo: bounce+j123@help.acme-support.example\nSubject: %s\nDate: Mon, 1 Dec 2026 09:05:00 +0000\nMessage-ID: <bounce%d@report.example>\n", f.from, encodeIfNeeded(f.subject), i)
	b.WriteString(f.headers)
	if f.format == "dsn-noorig" {
		// Gmail names the email in References instead.
		fmt.Fprintf(&b, "In-Reply-To: <%s>\nReferences: <%s>\n", id, id)
	}
	if i%4 == 0 {
		// Many MTAs mark their reports as automatic too; it changes
		// nothing (RFC 3834 §5, RFC 3464).
		b.WriteString("Auto-Submitted: auto-replied\n")
	}
	bd := fmt.Sprintf("=_b%d", i)
	switch f.format {
	case "dsn", "dsn-headers", "dsn-noorig":
		fmt.Fprintf(&b, "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status;\n\tboundary=\"%s\"\n\nThis is a MIME-encapsulated message.\n\n", bd)
		fmt.Fprintf(&b, "--%s\nContent-Type: text/plain; charset=utf-8\n\n%s\n", bd, text)
		fmt.Fprintf(&b, "--%s\nContent-Type: message/delivery-status\n\nReporting-MTA: %s\nArrival-Date: Mon, 1 Dec 2026 09:00:00 +0000\n\nFinal-Recipient: rfc822; %s\nOriginal-Recipient: rfc822;%s\nAction: %s\nStatus: %s\n", bd, f.mta, bouncedTo, bouncedTo, f.action, f.status)
		if diag != "" {
			fmt.Fprintf(&b, "Diagnostic-Code: %s\n", diag)
		}
		b.WriteString("\n")
		switch f.format {
		case "dsn":
			fmt.Fprintf(&b, "--%s\nContent-Type: message/rfc822\n\n%s\nHello,\n\nyour ticket was updated.\n\n", bd, bouncedOriginal(id))
		case "dsn-headers":
			fmt.Fprintf(&b, "--%s\nContent-Type: text/rfc822-headers\n\n%s\n", bd, bouncedOriginal(id))
		}
		fmt.Fprintf(&b, "--%s--\n", bd)
	case "legacy":
		fmt.Fprintf(&b, "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n%s", text)
	case "legacy-attach", "arf", "complaint-attached":
		ct := "multipart/mixed"
		if f.format == "arf" {
			ct = "multipart/report; report-type=feedback-report"
		}
		fmt.Fprintf(&b, "MIME-Version: 1.0\nContent-Type: %s; boundary=\"%s\"\n\n", ct, bd)
		if text != "" {
			fmt.Fprintf(&b, "--%s\nContent-Type: text/plain; charset=utf-8\n\n%s\n", bd, text)
		}
		if f.format == "arf" {
			fmt.Fprintf(&b, "--%s\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: Hotmail FBL\nVersion: 1\nOriginal-Rcpt-To: %s\n\n", bd, bouncedTo)
		}
		fmt.Fprintf(&b, "--%s\nContent-Type: message/rfc822\nContent-Disposition: attachment\n\n%s%s\nHello,\n\nyour ticket was updated.\n\n--%s--\n", bd, f.origExtra, bouncedOriginal(id), bd)
	case "json":
		fmt.Fprintf(&b, "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 7bit\n\n%s\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link below to unsubscribe:\nhttps://sns.eu-west-1.amazonaws.com/unsubscribe.html?SubscriptionArn=arn:aws:sns:eu-west-1:123:ses\n", text)
	}
	return b.String()
}

// encodeIfNeeded writes a non-ASCII subject as RFC 2047 words, as MTAs do.
func encodeIfNeeded(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "=?UTF-8?B?" + base64StdEncode(s) + "?="
		}
	}
	return s
}

func genBounces() []genCase {
	var out []genCase
	for i, f := range bounceFamilies {
		raw := buildBounce(f, i)
		if i%3 == 1 {
			raw = crlf(raw)
		}
		class := f.class
		if class == "" {
			class = Bounce
		}
		id := fmt.Sprintf("dm.c%d.m%d@help.acme-support.example", 5000+i, 90000+i)
		sender := addrSpec(f.from)
		if sender == "" || !strings.Contains(sender, "@") {
			sender = "postmaster@report.example"
		}
		for _, env := range []Envelope{{MailFrom: "", Rcpts: []string{"bounce+j123@help.acme-support.example"}}, {MailFrom: sender, Rcpts: []string{"bounce+j123@help.acme-support.example"}}} {
			path := "null"
			if env.MailFrom != "" {
				path = "sender"
			}
			want := class
			kind := f.kind
			if env.MailFrom == "" && class == AutoReply {
				// With the null reverse path a list manager's notice is a
				// report of the post's fate: a bounce.
				want, kind = Bounce, ""
			}
			oid := id
			if f.format == "legacy" && !strings.Contains(f.text, "%I") {
				oid = ""
			}
			out = append(out, genCase{name: "gen-bounce-" + f.name + "-" + path, family: "bounce/" + f.name, raw: []byte(raw), env: env,
				class: want, kind: kind, origID: oid})
		}
	}
	return out
}
