package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// m365Header is the header a customer's reply from Microsoft 365 arrives
// with, another tenant to ours: Exchange Online's transport, antispam and
// cross-tenant fields (among them X-MS-Exchange-Transport-
// CrossTenantHeadersStamped, whose name contains "rss" and which once
// made every such email a feed item), ARC and authentication results.
const m365Header = `Received: from DB9PR04MB8412.eurprd04.prod.outlook.com (2603:10a6:10:2f1::12) by AM6PR04MB4567.eurprd04.prod.outlook.com with HTTPS; Mon, 1 Dec 2026 09:12:44 +0000
ARC-Seal: i=1; a=rsa-sha256; s=arcselector10001; d=microsoft.com; cv=none;
 b=kJx3m7ZpQ1vT8yW0aL5uC9sR2nB4eG6hD8fK0iM2oP4qS6tU8vW0xY2zA4bC6dE8
ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=microsoft.com;
 s=arcselector10001; h=From:Date:Subject:Message-ID:Content-Type:MIME-Version:X-MS-Exchange-AntiSpam-MessageData-ChunkCount;
 bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=P0Qx
ARC-Authentication-Results: i=1; mx.microsoft.com 1; spf=pass
 smtp.mailfrom=client.test; dmarc=pass action=none header.from=client.test;
 dkim=pass header.d=client.test; arc=none
DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=client.test;
 s=selector1; h=From:Date:Subject:Message-ID:Content-Type:MIME-Version;
 bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=Ab3dEf6g
Authentication-Results: dkim=none (message not signed)
 header.d=none;dmarc=none action=none header.from=client.test;
From: Ann Example <ann@client.test>
To: %s
Subject: RE: %s
Thread-Topic: %s
Thread-Index: AQHbQ2m0c9Z2y1Vx0kq7l3uV8e4X2Q==
Date: Mon, 1 Dec 2026 09:12:40 +0000
Message-ID: <DB9PR04MB84124E2B5C7A0F0B1C8D9E2AA1B2@DB9PR04MB8412.eurprd04.prod.outlook.com>
In-Reply-To: %s
References: %s
Accept-Language: en-US
Content-Language: en-US
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
msip_labels:
authentication-results: dkim=none (message not signed)
 header.d=none;dmarc=none action=none header.from=client.test;
x-ms-publictraffictype: Email
x-ms-traffictypediagnostic: DB9PR04MB8412:EE_|AM6PR04MB4567:EE_
x-ms-office365-filtering-correlation-id: 5c1e9f0a-3b7d-4e21-08dd-1f2a3b4c5d6e
x-microsoft-antispam: BCL:0;ARA:13230040|366016|1800799024|376014|38070700018;
x-microsoft-antispam-message-info: =?us-ascii?Q?p4VwzJ4cO1yV5m9V1Wc2bJkS0k3D8s6o2Z3RkQ1zHh8vJ?=
x-forefront-antispam-report: CIP:255.255.255.255;CTRY:;LANG:en;SCL:1;SRV:;IPV:NLI;SFV:NSPM;
 H:DB9PR04MB8412.eurprd04.prod.outlook.com;PTR:;CAT:NONE;SFS:(13230040)(366016);DIR:OUT;SFP:1102;
x-ms-exchange-antispam-messagedata-chunkcount: 1
x-ms-exchange-antispam-messagedata-0: Wm9jV1FNbE5kSGRiN1k3Y3ZVY2Z4Y2V0bUh0dUJ2dE1vQ1RxS0k3cGZ3
Content-Type: multipart/alternative;
	boundary="_000_DB9PR04MB84124E2B5C7A0F0B1C8D9E2AA1B2DB9PR04MB8412eurp_"
MIME-Version: 1.0
X-OriginatorOrg: client.test
X-MS-Exchange-CrossTenant-AuthAs: Internal
X-MS-Exchange-CrossTenant-AuthSource: DB9PR04MB8412.eurprd04.prod.outlook.com
X-MS-Exchange-CrossTenant-Network-Message-Id: 5c1e9f0a-3b7d-4e21-08dd-1f2a3b4c5d6e
X-MS-Exchange-CrossTenant-originalarrivaltime: 01 Dec 2026 09:12:44.0871 (UTC)
X-MS-Exchange-CrossTenant-fromentityheader: Hosted
X-MS-Exchange-CrossTenant-id: 72f988bf-86f1-41af-91ab-2d7cd011db47
X-MS-Exchange-CrossTenant-mailboxtype: HOSTED
X-MS-Exchange-CrossTenant-userprincipalname: 3kT7Lq+9vWbXn0aHc1bYwJp2x/UKMl3pXQf0v0a7sCQ=
X-MS-Exchange-Transport-CrossTenantHeadersStamped: AM6PR04MB4567
X-MS-Exchange-Transport-EndToEndLatency: 00:00:01.8731234
X-MS-Exchange-Processed-By-BccFoldering: 15.20.8207.010

--_000_DB9PR04MB84124E2B5C7A0F0B1C8D9E2AA1B2DB9PR04MB8412eurp_
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

The printer is still on fire, and the toner drawer will not open.

Ann

________________________________
From: Helpdesk <%s>
Sent: Monday, December 1, 2026 9:00 AM
To: Ann Example <ann@client.test>
Subject: %s

This is an automated message. Please do not reply to this email.

--_000_DB9PR04MB84124E2B5C7A0F0B1C8D9E2AA1B2DB9PR04MB8412eurp_
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html><body><div>The printer is still on fire, and the toner drawer will not open.</div><div>Ann</div>
<div id=3D"appendonsend"></div><hr><div id=3D"divRplyFwdMsg">From: Helpdesk</div>
<div>This is an automated message. Please do not reply to this email.</div></body></html>

--_000_DB9PR04MB84124E2B5C7A0F0B1C8D9E2AA1B2DB9PR04MB8412eurp_--
`

// TestM365CustomerNotifiesAndLegacyBounceIsRecorded: a customer's reply
// from Microsoft 365, with the whole header set Exchange Online adds, is a
// person's email and notifies the agent who follows the conversation; a
// legacy (qmail) bounce of an outgoing notification, sent with the null
// reverse path and marked Auto-Submitted as many MTAs do, marks that email
// bounced in the log, with its kind.
func TestM365CustomerNotifiesAndLegacyBounceIsRecorded(t *testing.T) {
	dir := t.TempDir()
	sink := newSMTPSink(t)
	seedWith(t, dir, time.Second, map[string][]string{"c1": {"Please open the toner drawer."}}, "agent@corp.test", []string{"ann", "agent"}).Close()
	d := startDaemon(t, dir, "--outbound", "relay", "--relay", sink.addr, "--relay-insecure", "--hold", "1s")
	toAnn := sink.wait(t, 1)[0]
	if toAnn.to != "ann@client.test" {
		t.Fatalf("first email went to %q, want ann@client.test", toAnn.to)
	}
	replyTo := toAnn.msg.Header.Get("Reply-To")
	subj := toAnn.msg.Header.Get("Subject")
	mid := toAnn.msg.Header.Get("Message-ID")
	reply := fmt.Sprintf(m365Header, replyTo, subj, subj, mid, mid, replyTo, subj)
	reply = strings.ReplaceAll(reply, "\n", "\r\n")

	c, err := smtp.Dial(d.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rt := replyTo[strings.IndexByte(replyTo, '<')+1 : strings.IndexByte(replyTo, '>')]
	if err := c.SendMail("ann@client.test", []string{rt}, strings.NewReader(reply)); err != nil {
		t.Fatalf("send the customer's reply: %v", err)
	}
	// The agent is notified; nobody acknowledges, so after the hold the
	// notification is emailed to the agent.
	var toAgent sinkMail
	for _, m := range sink.wait(t, 2) {
		if m.to == "agent@corp.test" {
			toAgent = m
		}
	}
	if toAgent.msg == nil {
		t.Fatal("the agent got no notification email for the customer's M365 reply")
	}
	in := parseLog(t, runCLI(t, nil, nil, "log", "--json", "--data", dir, "--direction", "in").Stdout)
	if len(in) != 1 || in[0].Class != "human" {
		t.Fatalf("incoming entries %+v, want the reply classified human", in)
	}

	// qmail's bounce of the email to ann: plain text, null reverse path.
	bounce := fmt.Sprintf("From: MAILER-DAEMON@mx.client.test\r\nTo: %s\r\nSubject: failure notice\r\n"+
		"Date: Mon, 1 Dec 2026 09:30:00 +0000\r\nMessage-ID: <qmail-bounce-1@mx.client.test>\r\nAuto-Submitted: auto-replied\r\n\r\n"+
		"Hi. This is the qmail-send program at mx.client.test.\r\n"+
		"I'm afraid I wasn't able to deliver your message to the following addresses.\r\n"+
		"This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n"+
		"<ann@client.test>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n"+
		"--- Below this line is a copy of the message.\r\n\r\nMessage-ID: %s\r\nSubject: %s\r\n\r\nPlease open the toner drawer.\r\n",
		toAnn.from, mid, subj)
	if err := c.SendMail("", []string{toAnn.from}, strings.NewReader(bounce)); err != nil {
		t.Fatalf("send the bounce: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := parseLog(t, runCLI(t, nil, nil, "log", "--json", "--data", dir, "--direction", "out", "--status", "bounced").Stdout)
		if len(out) == 1 && strings.Contains(strings.Join(out[0].EnvelopeTo, ","), "ann@client.test") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the email to ann was never marked bounced: %+v", out)
		}
		time.Sleep(50 * time.Millisecond) // polling the log of a running daemon; bounded above
	}
	bs := parseLog(t, runCLI(t, nil, nil, "log", "--json", "--data", dir, "--direction", "in", "--class", "bounce").Stdout)
	if len(bs) != 1 || !strings.Contains(bs[0].Action, "bounce recorded for outgoing email") || !strings.Contains(bs[0].Action, "permanent") {
		t.Errorf("incoming bounce entry: %+v", bs)
	}
	d.stop()
}
