package loopguard

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// genCase is a generated corpus case: a message built from the shape of
// a family (a provider's whole header set, a mail system's bounce, an
// autoresponder in a language), with its expected class and, for
// bounces, its kind. The families are written from providers' published
// header documentation and the formats public bounce parsers' fixtures
// show; names and addresses are made up.
type genCase struct {
	name   string
	family string
	raw    []byte
	env    Envelope
	class  Class
	kind   string // bounce kind, "" when not checked
	origID string // the bounced email's Message-ID, "" when not checked
}

var genCache []genCase

func generatedCorpus() []genCase {
	if genCache == nil {
		genCache = append(genCache, genHumans()...)
		genCache = append(genCache, genQuestions()...)
		genCache = append(genCache, genBounces()...)
		genCache = append(genCache, genAutoresponders()...)
	}
	return genCache
}

// concat joins lists into a new one (never appending into a catalogue
// entry's array).
func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// crlf turns a "\n" message into the CRLF one most MTAs send.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// ---------------------------------------------------------------------
// People, as they arrive from each provider and client.

type provider struct {
	name    string
	from    string
	path    string // envelope sender
	fields  []string
	mailer  string
	mobile  string // a second mailer: the provider's mobile client
	charset string
}

var providers = []provider{
	{"m365-cross-tenant", "Maria Rossi <maria.rossi@contoso.example>", "maria.rossi@contoso.example", concat([]string{
		"Received: from AM6PR04MB4567.eurprd04.prod.outlook.com (2603:10a6:20b:3a::12) by DB9PR04MB8412.eurprd04.prod.outlook.com with HTTPS; Mon, 1 Dec 2026 09:12:44 +0000",
		"Received: from EUR05-DB8-obe.outbound.protection.outlook.com (mail-db8eur05on2061.outbound.protection.outlook.com [40.107.20.61])\n\tby mx.acme.example (Postfix) with ESMTPS id 4XYZ12abC3z\n\tfor <support@acme.example>; Mon,  1 Dec 2026 09:12:45 +0000 (UTC)",
	}, transportFields["m365"], transportFields["arc-auth"][:5]), "Microsoft Outlook 16.0", "Outlook for iOS", "utf-8"},
	{"m365-intra-tenant", "Jan Novak <jan.novak@acme.example>", "jan.novak@acme.example", []string{
		"Received: from VI1PR08MB1234.eurprd08.prod.outlook.com (2603:10a6:803:1::15) by VI1PR08MB1234.eurprd08.prod.outlook.com with HTTPS; Mon, 1 Dec 2026 09:12:44 +0000",
		"X-MS-Exchange-Organization-AuthAs: Internal",
		"X-MS-Exchange-Organization-AuthMechanism: 04",
		"X-MS-Exchange-Organization-AuthSource: VI1PR08MB1234.eurprd08.prod.outlook.com",
		"X-MS-Has-Attach: ",
		"X-MS-Exchange-Organization-SCL: -1",
		"X-MS-TNEF-Correlator: ",
		"X-MS-Exchange-Organization-RecordReviewCfmType: 0",
		"X-MS-Exchange-Organization-Network-Message-Id: 0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6",
		"X-MS-Exchange-Transport-CrossTenantHeadersStamped: VI1PR08MB1234",
		"X-MS-Exchange-Transport-EndToEndLatency: 00:00:00.4412345",
		"X-MS-Exchange-Processed-By-BccFoldering: 15.20.8207.010",
		"X-Microsoft-Antispam-Mailbox-Delivery: ucf:0;jmr:0;auth:0;dest:I;ENG:(910001)(944506478)",
		"X-Microsoft-Antispam-Message-Info: YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo=",
		"Thread-Topic: Frage zum Angebot",
		"Thread-Index: AdtDbcdEfGhIjKlMnOpQrStUvWxYzA==",
		"Accept-Language: de-DE, en-US",
		"Content-Language: de-DE",
		"msip_labels: ",
		"X-MS-Exchange-Organization-AVStamp-Mailbox: MSFTFF;1;0;0 0 0",
	}, "Microsoft Outlook 16.0", "Outlook-Android/2.0", "utf-8"},
	{"outlook-com", "Paul Meyer <paul.meyer@outlook.com>", "paul.meyer@outlook.com", concat([]string{
		"Received: from EUR02-AM0-obe.outbound.protection.outlook.com (mail-am0eur02olkn2020.outbound.protection.outlook.com [40.92.49.20])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Y0a1b2c3d\n\tfor <support@acme.example>; Mon,  1 Dec 2026 10:01:02 +0000 (UTC)",
		"X-Originating-Email: [paul.meyer@outlook.com]",
		"X-Microsoft-Original-Message-ID: <c5d6e7f8-0a1b-2c3d-4e5f-6a7b8c9d0e1f@outlook.com>",
		"X-MS-Exchange-SLBlob-MailProps: Cq7lKM5+7GCcDvGCdfnb8b3aLDAiE1cLb+0S1+9x",
		"X-MS-PublicTrafficType: Email",
		"X-MS-TrafficTypeDiagnostic: AM7PR02MB6097:EE_|DU0PR02MB9877:EE_",
		"X-Microsoft-Antispam: BCL:0;ARA:14566002|8060799006|461199028|15080799006",
		"X-MS-Exchange-CrossTenant-Network-Message-Id: 6a7b8c9d-0e1f-2a3b-4c5d-08dd11aa22bb",
		"X-MS-Exchange-CrossTenant-AuthSource: AM7PR02MB6097.eurprd02.prod.outlook.com",
		"X-MS-Exchange-CrossTenant-AuthAs: Internal",
		"X-MS-Exchange-CrossTenant-OriginalArrivalTime: 01 Dec 2026 10:01:01.1234 (UTC)",
		"X-MS-Exchange-CrossTenant-FromEntityHeader: Hosted",
		"X-MS-Exchange-CrossTenant-Id: 84df9e7f-e9f6-40af-b435-aaaaaaaaaaaa",
		"X-MS-Exchange-CrossTenant-RMS-PersistedConsumerOrg: 00000000-0000-0000-0000-000000000000",
		"X-MS-Exchange-Transport-CrossTenantHeadersStamped: DU0PR02MB9877",
	}, transportFields["arc-auth"][:4]), "Microsoft Outlook 16.0", "Outlook for Android", "utf-8"},
	{"gmail", "Anna Schmidt <anna.schmidt1987@gmail.com>", "anna.schmidt1987@gmail.com", concat([]string{
		"Received: by mail-ej1-f41.google.com with SMTP id a640c23a62f3a-aa1e6a3f7b1so12345666b.1\n\tfor <support@acme.example>; Mon, 01 Dec 2026 01:12:44 -0800 (PST)",
		"Received: from mail-ej1-f41.google.com (mail-ej1-f41.google.com [209.85.218.41])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Y1b2c3d4e\n\tfor <support@acme.example>; Mon,  1 Dec 2026 09:12:45 +0000 (UTC)",
	}, transportFields["google"][:6], transportFields["arc-auth"][:4]), "", "", "utf-8"},
	{"google-workspace", "Lukas Weber <lukas.weber@weber-gmbh.example>", "lukas.weber@weber-gmbh.example", concat([]string{
		"Received: from mail-sor-f41.google.com (mail-sor-f41.google.com [209.85.220.41])\n\tby mx.acme.example (Postfix) with SMTPS id 4Y2c3d4e5f\n\tfor <support@acme.example>; Mon,  1 Dec 2026 09:20:01 +0000 (UTC)",
		"X-Google-DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=1e100.net; s=20230601; h=to:subject:message-id:date:from:mime-version; bh=47DEQ=; b=Xy9",
		"X-Gm-Message-State: AOJu0YwE2c3Xb5t8V7gT9kS1m2nP4qR6sU8vW0xY2zA4bC6dE8fG0hI2",
		"X-Google-Smtp-Source: AGHT+IFk3pQ8vT1m0xYw7u3Zc2n9s6Ld4b5a8Jh0eR7tV1yW2gK6fN3oP4iS9uQ0mX5zC8dB",
		"X-Received: by 2002:a05:6402:2549:b0:5d0:e877:7643 with SMTP id l9mr2154732edb.23.1764580364521; Mon, 01 Dec 2026 01:20:00 -0800 (PST)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=weber-gmbh.example; s=google; h=to:subject:message-id:date:from:mime-version; bh=47DEQ=; b=Ab3",
	}, transportFields["arc-auth"][:3]), "", "", "utf-8"},
	{"icloud", "Chloé Martin <chloe.martin@icloud.com>", "chloe.martin@icloud.com", []string{
		"Received: from st43p00im-ztdg10073201.me.com (st43p00im-ztdg10073201.me.com [17.58.63.179])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Y3d4e5f6a\n\tfor <support@acme.example>; Mon,  1 Dec 2026 09:30:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=icloud.com; s=1a1hai; t=1764581400; bh=47DEQ=; h=Content-Type:Mime-Version:Subject:Message-Id:Date:To:From; b=Qw9",
		"X-Proofpoint-ORIG-GUID: aBcDeFgHiJkLmNoPqRsTuVwXyZ012345",
		"X-Proofpoint-GUID: aBcDeFgHiJkLmNoPqRsTuVwXyZ012345",
		"X-Proofpoint-Virus-Version: vendor=baseguard engine=ICAP:2.0.293,Aquarius:18.0.1057,Hydra:6.0.680,FMLib:17.12.68.34 definitions=2026-12-01_05",
		"X-Proofpoint-Spam-Details: rule=notspam policy=default score=0 mlxlogscore=999 phishscore=0 bulkscore=0 spamscore=0 clxscore=1015 suspectscore=0 malwarescore=0 adultscore=0 mlxscore=0 classifier=spam adjust=0 reason=mlx scancount=1 engine=8.19.0-2308100000 definitions=main-2412010083",
		"X-Apple-Base-Url: x-msg://12/",
		"X-Universally-Unique-Identifier: 8C4B1D2E-3F4A-5B6C-7D8E-9F0A1B2C3D4E",
	}, "Apple Mail (2.3826.200.121)", "iPhone Mail (22B91)", "utf-8"},
	{"yahoo", "Anna B <anna_b@yahoo.com>", "anna_b@yahoo.com", []string{
		"Received: from sonic310-21.consmr.mail.ne1.yahoo.com (sonic310-21.consmr.mail.ne1.yahoo.com [66.163.186.202])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Y4e5f6a7b\n\tfor <support@acme.example>; Mon,  1 Dec 2026 09:40:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=yahoo.com; s=s2048; t=1764582000; bh=47DEQ=; h=Date:From:To:Subject:References:From:Subject:Reply-To; b=Zx8",
		"X-SONIC-DKIM-SIGN: v=1; a=rsa-sha256; c=relaxed/relaxed; d=yahoo.com; s=s2048; t=1764582000; bh=47DEQ=; b=Aa1",
		"X-YMail-OSG: 7cZ0XmIVM1kTqUZx1bqqYkMO7wUuz0ISWbH5gB2vKz0gA8Gk3hR6H7JqOg8YxJu9Z.xQwEMZ6VcW",
		"X-Sonic-MF: <anna_b@yahoo.com>",
		"X-Sonic-ID: 4b5c6d7e-8f90-4a1b-b2c3-d4e5f6a7b8c9",
		"Received: from sonic.gate.mail.ne1.yahoo.com by sonic310.consmr.mail.ne1.yahoo.com with HTTP; Mon, 1 Dec 2026 09:39:59 +0000",
	}, "WebService/1.1.23040 YMailNorrin", "WebService/1.1.23040 YahooMailIosMobile", "utf-8"},
	{"aol", "Bill Carter <billcarter55@aol.com>", "billcarter55@aol.com", []string{
		"Received: from sonic305-2.consmr.mail.bf2.yahoo.com (sonic305-2.consmr.mail.bf2.yahoo.com [74.6.133.41])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Y5f6a7b8c\n\tfor <support@acme.example>; Mon,  1 Dec 2026 09:45:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=aol.com; s=a2048; t=1764582300; bh=47DEQ=; b=Ba2",
		"X-YMail-OSG: Qw1Er2Ty3Ui4Op5As6Df7Gh8Jk9Lz0Xc",
		"X-Sonic-MF: <billcarter55@aol.com>",
		"X-Sonic-ID: 5c6d7e8f-9012-4b3c-a4d5-e6f7a8b9c0d1",
	}, "WebService/1.1.23040 AolMailNorrin", "AOL Mobile Mail", "utf-8"},
	{"proton", "Kai Nowak <kai.nowak@proton.me>", "kai.nowak@proton.me", []string{
		"Received: from mail-4316.protonmail.ch (mail-4316.protonmail.ch [185.70.43.16])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Y6a7b8c9d\n\tfor <support@acme.example>; Mon,  1 Dec 2026 09:50:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=proton.me; s=protonmail; t=1764582600; bh=47DEQ=; h=Date:To:From:Subject:Message-ID:Feedback-ID:From:To:Cc:Date:Subject:Reply-To:Feedback-ID:Message-ID:BIMI-Selector; b=Cc3",
		"Feedback-ID: 123456789:user:proton",
		"X-Pm-Message-ID: ZjAxYjRmNmE4YzJkNGU2ZjhhMGMyZTRmNmE4YzBkMmY=",
		"X-Pm-Spamscore: 0",
		"X-Pm-Origin: internal",
		"X-Pm-Content-Encryption: end-to-end",
	}, "", "", "utf-8"},
	{"fastmail", "Rosa Lind <rosa@fastmail.example>", "rosa@fastmail.example", []string{
		"Received: from fout-a1-smtp.messagingengine.com (fout-a1-smtp.messagingengine.com [103.168.172.144])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Y7b8c9d0e\n\tfor <support@acme.example>; Mon,  1 Dec 2026 09:55:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=fastmail.example; h=cc:content-type:date:from:message-id:mime-version:subject:to; s=fm1; bh=47DEQ=; b=Dd4",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=messagingengine.com; h=cc:content-type:date:feedback-id:from:message-id; s=fm1; bh=47DEQ=; b=Ee5",
		"X-ME-Sender: <xms:aBcDeFgHiJkLmNoPqRsTuVwXyZ>",
		"X-ME-Received: <xmr:aBcDeFgHiJkLmNoPqRsTuVwXyZ>",
		"X-ME-Proxy-Cause: gggruggvucftvghtrhhoucdtuddrgeefuddrfeeigdduvdegucetufdoteggodetrfdotf",
		"X-ME-Proxy: <xmx:aBcDeFgHiJkLmNoPqRsTuVwXyZ>",
		"Feedback-ID: i7f3c4d5e:Fastmail",
	}, "", "", "utf-8"},
	{"zoho", "Arjun Mehta <arjun@zohomail.example>", "arjun@zohomail.example", []string{
		"Received: from sender4-op-o12.zoho.com (sender4-op-o12.zoho.com [136.143.188.12])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Y8c9d0e1f\n\tfor <support@acme.example>; Mon,  1 Dec 2026 10:00:00 +0000 (UTC)",
		"ARC-Seal: i=1; a=rsa-sha256; t=1764583200; cv=none; d=zohomail.com; s=zohoarc; b=Ff6",
		"ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=zohomail.com; s=zohoarc; t=1764583200; h=Content-Type:Date:From:MIME-Version:Message-ID:Subject:To; bh=47DEQ=; b=Gg7",
		"ARC-Authentication-Results: i=1; mx.zohomail.com; dkim=pass header.i=zohomail.example; spf=pass smtp.mailfrom=arjun@zohomail.example; dmarc=pass header.from=<arjun@zohomail.example>",
		"X-ZohoMail-DKIM: pass",
		"Received: from mail.zoho.com by mx.zohomail.com with SMTP id 1764583199123456.789; Mon, 1 Dec 2026 02:00:00 -0800 (PST)",
		"X-Priority: Medium",
	}, "Zoho Mail", "Zoho Mail Android", "utf-8"},
	{"gmx", "Jürgen Bauer <j.bauer@gmx.de>", "j.bauer@gmx.de", []string{
		"Received: from mout.gmx.net (mout.gmx.net [212.227.17.20])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Y9d0e1f2a\n\tfor <support@acme.example>; Mon,  1 Dec 2026 10:05:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=gmx.de; s=s31663417; t=1764583500; bh=47DEQ=; h=X-UI-Sender-Class:MIME-Version:Message-ID:From:To:Subject:Content-Type:Date; b=Hh8",
		"X-UI-Sender-Class: 01bb95c1-4bf8-414a-932a-4f6e2808ef9c",
		"X-UI-Message-Type: mail",
		"X-Provags-ID: V03:K1:Xa9bC0dE1fG2hI3jK4lM5nO6pQ7rS8tU9vW0xY1zA2bC3dE4fG",
		"X-UI-Out-Filterresults: notjunk:1;V03:K0:aBcDeFgHiJk=:lMnOpQrStUvWxYz",
		"Importance: normal",
		"Sensitivity: Normal",
	}, "", "", "iso-8859-15"},
	{"webde", "Sabine Koch <sabine.koch@web.de>", "sabine.koch@web.de", []string{
		"Received: from mout.web.de (mout.web.de [212.227.15.3])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Za0e1f2a3\n\tfor <support@acme.example>; Mon,  1 Dec 2026 10:10:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=web.de; s=s29768273; t=1764583800; bh=47DEQ=; b=Ii9",
		"X-UI-Sender-Class: 814a7b36-bfc1-4dae-8640-3722d8ec6cd6",
		"X-Provags-ID: V03:K1:Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv",
		"X-UI-Out-Filterresults: notjunk:1;V03:K0:Zz9Yy8Xx7=",
	}, "WEB.DE Mail", "WEB.DE Mail App", "utf-8"},
	{"yandex", "Ivan Petrov <ivan.petrov@yandex.ru>", "ivan.petrov@yandex.ru", []string{
		"Received: from forward500a.mail.yandex.net (forward500a.mail.yandex.net [178.154.239.80])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Zb1f2a3b4\n\tfor <support@acme.example>; Mon,  1 Dec 2026 10:15:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=yandex.ru; s=mail; t=1764584100; bh=47DEQ=; h=Message-Id:Date:Subject:To:From; b=Jj0",
		"X-Yandex-Fwd: 1",
		"X-Yandex-Spam: 1",
		"X-Yandex-Front: mxfront12o.mail.yandex.net",
		"X-Yandex-TimeMark: 1764584100.567",
		"X-Yandex-Filter: 1",
	}, "Yandex Mail", "Yandex Mail for Android", "utf-8"},
	{"mailru", "Olga Smirnova <olga.smirnova@mail.ru>", "olga.smirnova@mail.ru", []string{
		"Received: from smtp49.i.mail.ru (smtp49.i.mail.ru [95.163.41.87])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Zc2a3b4c5\n\tfor <support@acme.example>; Mon,  1 Dec 2026 10:20:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; q=dns/txt; c=relaxed/relaxed; d=mail.ru; s=mail4; h=Content-Type:Message-ID:Subject:To:From:Date; bh=47DEQ=; b=Kk1",
		"X-Mailru-Src: smtp",
		"X-7564579A: 646B95376F6C166E",
		"X-77F55803: 4F1203BC0FB41BD9A5B4A8E6F67E5B4A",
		"X-Mras: Ok",
		"X-Mailru-Sender: A5480F10D64C90055A1B2C3D4E5F60718293A4B5",
	}, "Mail.Ru Mailer 1.0", "Mail.ru for Android", "koi8-r"},
	{"qq", "Li Wei <123456789@qq.com>", "123456789@qq.com", []string{
		"Received: from out203-205-221-202.mail.qq.com (out203-205-221-202.mail.qq.com [203.205.221.202])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Zd3b4c5d6\n\tfor <support@acme.example>; Mon,  1 Dec 2026 10:25:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=qq.com; s=s201512; t=1764584700; bh=47DEQ=; h=From:To:Subject:Mime-Version:Date:Message-ID; b=Ll2",
		"X-QQ-mid: xmsezb1-0t1764584700t123",
		"X-QQ-XMAILINFO: NgrW0dbQ0m+cB2rYXaBcDeFgHiJkLmNoPqRsTuVwXyZ",
		"X-QQ-XMRINFO: Nq+8W0+stu50PRdwbJxPCL0=",
		"X-QQ-STYLE: ",
		"X-QQ-FEAT: 3+5qJc0aBcDeFgHi",
		"X-QQ-SSF: 00400000000000F0",
		"X-QQ-ReplyHash: 1234567890",
	}, "QQMail 2.x", "QQMail iPhone", "gb18030"},
	{"netease-163", "Zhang Min <zhangmin@163.com>", "zhangmin@163.com", []string{
		"Received: from m16.mail.163.com (m16.mail.163.com [220.181.12.16])\n\tby mx.acme.example (Postfix) with ESMTP id 4Ze4c5d6e7\n\tfor <support@acme.example>; Mon,  1 Dec 2026 10:30:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=163.com; s=s110527; h=Date:From:Subject:Content-Type:MIME-Version:Message-ID; bh=47DEQ=; b=Mm3",
		"X-Coremail-Antispam: 1UD129KBjvJXoW7uF1DGr4fCr4rAr47KF47Arb_yoW8Kr4kpa",
		"X-Originating-IP: [114.249.23.71]",
		"X-Priority: 3",
		"X-Coremail-Locale: zh_CN",
		"X-CM-TRANSID: _____wD3X7D7TkxnABC1AA--.1234S2",
		"X-CM-SenderInfo: 5kdr0xpxdqhvlhuwqvhuwqhb",
		"X-NTES-SC: AL_Qu2aBcDeFgHiJkLmNoPq",
	}, "Coremail Webmail Server Version XT5.0.14 build 20230109(dcb5de15)", "NetEase Mail Master", "gbk"},
	{"naver", "Kim Minji <minji.kim@naver.com>", "minji.kim@naver.com", []string{
		"Received: from cvsmtppost01.nmdf.navercorp.com (cvsmtppost01.nmdf.navercorp.com [125.209.224.223])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Zf5d6e7f8\n\tfor <support@acme.example>; Mon,  1 Dec 2026 10:35:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=naver.com; s=s20171208; t=1764585300; bh=47DEQ=; h=From:To:Subject:Message-ID; b=Nn4",
		"X-Naver-ESV: BrKrpAg9HqKrHqvZFqMqa6ErKqE/Kqg9HqKr",
		"X-Session-ID: mid=202612011835_abcdefgh",
		"X-Originating-IP: 211.234.56.78",
		"X-Naver-Mail: 1",
	}, "Naver Mail 1.0", "NAVER Mail Android", "utf-8"},
	{"thunderbird-isp", "Pierre Dubois <pierre.dubois@orange.fr>", "pierre.dubois@orange.fr", []string{
		"Received: from smtp.smtpout.orange.fr (smtp-15.smtpout.orange.fr [80.12.242.15])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Zg6e7f8a9\n\tfor <support@acme.example>; Mon,  1 Dec 2026 10:40:00 +0000 (UTC)",
		"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=orange.fr; s=t20230301; t=1764585600; bh=47DEQ=; b=Oo5",
		"X-ME-Helo: [192.168.1.20]",
		"X-ME-Auth: cGllcnJlLmR1Ym9pc0BvcmFuZ2UuZnI=",
		"X-ME-Date: Mon, 01 Dec 2026 11:40:00 +0100",
		"X-ME-IP: 90.12.34.56",
		"X-Mozilla-Draft-Info: internal/draft; vcard=0; receipt=0; DSN=0; uuencode=0; attachmentreminder=0; deliveryformat=1",
	}, "", "", "utf-8"},
	{"exchange-onprem", "Tomasz Zielinski <t.zielinski@firma.example>", "t.zielinski@firma.example", concat([]string{
		"Received: from EXCH01.firma.local (10.0.0.12) by EXCH02.firma.local (10.0.0.13) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.2.1544.4; Mon, 1 Dec 2026 11:45:00 +0100",
		"Received: from mail.firma.example (mail.firma.example [198.51.100.40])\n\tby mx.acme.example (Postfix) with ESMTPS id 4Zh7f8a9b0\n\tfor <support@acme.example>; Mon,  1 Dec 2026 10:45:01 +0000 (UTC)",
		"Thread-Topic: Zamówienie 4471",
		"Thread-Index: AdtDcdEfGhIjKlMnOpQrStUvWxYzAB==",
		"X-MS-Has-Attach: ",
		"X-MS-TNEF-Correlator: ",
		"x-originating-ip: [10.0.0.55]",
		"x-ms-exchange-transport-fromentityheader: Hosted",
		"X-MS-Exchange-Organization-SCL: -1",
	}, transportFields["cisco"][:6]), "Microsoft Outlook 16.0", "", "iso-8859-2"},
}

// humanBodies are what people write; each case also quotes earlier mail
// or an automatic answer in some of the forms clients use.
var humanBodies = []string{
	"Hello,\n\nI ordered the X200 last week and the invoice shows the wrong VAT number. Could you correct it?\n\nThanks,\n%s\n",
	"Hi,\n\nthanks for the quick answer. It works now.\n\nOn Mon, 1 Dec 2026 at 09:00, Acme Support <support@acme.example> wrote:\n> We have received your request and will get back to you as soon as possible.\n> This is an automated message, please do not reply.\n\n-- \n%s\n",
	"Guten Tag,\n\nich bekomme immer diese Nachricht, wenn ich Ihnen schreibe:\n\n\"Dies ist eine automatische Antwort. Ihre Anfrage ist bei uns eingegangen.\"\n\nIst meine Mail angekommen?\n\nViele Grüße\n%s\n",
	"Hello,\n\nI got this reply:\nThank you for contacting us. Your ticket number is 44812.\nThis is an automatically generated message.\n\nBut nobody answered since. Can someone look at it?\n\n%s\n",
	"Hi team,\n\nplease see below.\n\n-----Original Message-----\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example>\nSent: Monday, December 1, 2026 9:00 AM\nSubject: Undelivered Mail Returned to Sender\n\nThis is the mail system at host mx.example. I'm sorry to have to inform you that your message could not be delivered.\n\n%s\n",
}

func genHumans() []genCase {
	var out []genCase
	n := 0
	for _, p := range providers {
		mailers := []string{p.mailer}
		if p.mobile != "" {
			mailers = append(mailers, p.mobile)
		}
		for i, body := range humanBodies {
			mailer := mailers[i%len(mailers)]
			n++
			name := displayName(p.from)
			var b strings.Builder
			for _, f := range p.fields {
				b.WriteString(f + "\n")
			}
			fmt.Fprintf(&b, "From: %s\nTo: Acme Support <support@acme.example>\n", p.from)
			subj := []string{"Invoice 2026-1188: wrong VAT number", "Re: [#4471] Login problem", "Ist meine Anfrage angekommen?", "Ticket 44812 - no answer yet", "Fwd: problem with my order"}[i]
			fmt.Fprintf(&b, "Subject: %s\nDate: Mon, 1 Dec 2026 09:12:40 +0000\nMessage-ID: <%s.%d@%s>\n", subj, p.name, i, "mail.example")
			if mailer != "" {
				if strings.HasPrefix(mailer, "Mozilla") || strings.Contains(mailer, "Cyrus") {
					fmt.Fprintf(&b, "User-Agent: %s\n", mailer)
				} else {
					fmt.Fprintf(&b, "X-Mailer: %s\n", mailer)
				}
			}
			if i == 1 {
				b.WriteString("In-Reply-To: <dm.c4471.m1@help.acme-support.example>\nReferences: <dm.c4471.m1@help.acme-support.example>\n")
			}
			text := fmt.Sprintf(body, name)
			if i%2 == 0 {
				fmt.Fprintf(&b, "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n%s", text)
			} else {
				// Most clients send multipart/alternative, the HTML
				// with the quote in a blockquote.
				html := "<html><body><div>" + strings.ReplaceAll(strings.SplitN(text, "\n\n", 3)[1], "\n", "<br>") + "</div></body></html>"
				fmt.Fprintf(&b, "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"=_alt_%d\"\n\n--=_alt_%d\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n%s\n--=_alt_%d\nContent-Type: text/html; charset=utf-8\n\n%s\n--=_alt_%d--\n",
					n, n, base64.StdEncoding.EncodeToString([]byte(text)), n, html, n)
			}
			raw := b.String()
			if n%3 == 0 {
				raw = crlf(raw)
			}
			out = append(out, genCase{name: fmt.Sprintf("gen-human-%s-%d", p.name, i), family: "human/" + p.name, raw: []byte(raw),
				env: Envelope{MailFrom: p.path, Rcpts: []string{"support@acme.example"}}, class: Human})
		}
	}
	// Forwarded by a server with SRS, and through a relay that rewrites
	// nothing.
	for i, p := range providers[:6] {
		raw := fmt.Sprintf("Received: from fwd.university.example (fwd.university.example [192.0.2.44])\n\tby mx.acme.example (Postfix) with ESMTPS id 5A%d\n\tfor <support@acme.example>; Mon,  1 Dec 2026 11:00:00 +0000 (UTC)\nX-Original-To: helpdesk@university.example\nDelivered-To: helpdesk@university.example\nX-Forwarded-To: support@acme.example\nX-Forwarded-For: helpdesk@university.example support@acme.example\nFrom: %s\nTo: helpdesk@university.example\nSubject: Question about my account\nDate: Mon, 1 Dec 2026 10:59:00 +0000\nMessage-ID: <fwd%d@mail.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nHello, I cannot log in since yesterday. Could you reset it?\nRegards\n", i, p.from, i)
		srs := "SRS0=" + fmt.Sprintf("h%02d", i) + "=TT=" + p.path[strings.IndexByte(p.path, '@')+1:] + "=" + localPart(p.path) + "@university.example"
		out = append(out, genCase{name: "gen-human-srs-" + p.name, family: "human/forwarded-srs", raw: []byte(raw),
			env: Envelope{MailFrom: srs, Rcpts: []string{"support@acme.example"}}, class: Human})
	}
	return out
}

// genQuestions are people's questions whose subjects use the words of
// automatic mail.
func genQuestions() []genCase {
	var out []genCase
	for i, subj := range transportSubjectsHuman {
		raw := fmt.Sprintf("From: Tom Berg <tom.berg@customer.example>\nTo: support@acme.example\nSubject: %s\nDate: Mon, 1 Dec 2026 12:00:00 +0000\nMessage-ID: <question%d@customer.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nHello,\n\nwhen I write to you I get an automatic answer saying:\n\"Thank you for your email. This is an automated response.\"\nIs that expected? How do I make sure my message arrived?\n\nTom\n", subj, i)
		out = append(out, genCase{name: fmt.Sprintf("gen-question-%02d", i), family: "human/question", raw: []byte(raw),
			env: Envelope{MailFrom: "tom.berg@customer.example"}, class: Human})
	}
	// People who announce their own absence in their own words, with
	// the subject an out-of-office reply has: still people.
	for i, c := range []struct{ subj, body string }{
		{"Out of office next week", "Hi,\n\nI will be out of the office next week. When I return I would like to go through the invoice with you.\n\nTom\n"},
		{"Out of Office: who covers ticket 44812?", "Hello,\n\nI am away on vacation from Monday. Can someone else take over my ticket?\n\nRegards, Tom\n"},
		{"Your acknowledgements", "Hello,\n\nevery time I write I get an automatic reply saying we have received your request, this is an automated message, please do not reply to this email. Is anyone reading my mail?\n\nTom\n"},
		{"Auto: Reparatur nach Unfall", "Auto: VW Golf, Baujahr 2015\nKennzeichen: B-XY 123\n\nGuten Tag, wann kann ich den Wagen abholen?\n\nGruß Anna\n"},
		{"Automatische Antwort einrichten", "Hallo,\n\nich bin ab Montag nicht im Büro. Wie richte ich die automatische Antwort ein?\n\nGruß Anna\n"},
	} {
		raw := fmt.Sprintf("From: Tom Berg <tom.berg@customer.example>\nTo: support@acme.example\nSubject: %s\nDate: Mon, 1 Dec 2026 12:00:00 +0000\nMessage-ID: <absence%d@customer.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s", c.subj, i, c.body)
		out = append(out, genCase{name: fmt.Sprintf("gen-human-own-absence-%d", i), family: "human/own-absence", raw: []byte(raw),
			env: Envelope{MailFrom: "tom.berg@customer.example"}, class: Human})
	}
	// A customer forwards an email as an attachment, with a complaint in
	// the subject and no text: a person's complaint, not a feedback loop's.
	fwd := "From: Tom Berg <tom.berg@customer.example>\nTo: support@acme.example\nSubject: Complaint about your service\nDate: Mon, 1 Dec 2026 12:00:00 +0000\nMessage-ID: <fwd-attach@customer.example>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"fa\"\n\n--fa\nContent-Type: text/plain; charset=utf-8\n\n\n--fa\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"Your order.eml\"\n\nFrom: Acme Shop <shop@acme.example>\nTo: tom.berg@customer.example\nSubject: Your order\nMessage-ID: <order-1@acme.example>\n\nYour order is delayed again.\n\n--fa--\n"
	out = append(out, genCase{name: "gen-human-complaint-forwarded-as-attachment", family: "human/own-absence", raw: []byte(fwd),
		env: Envelope{MailFrom: "tom.berg@customer.example"}, class: Human})
	return out
}
