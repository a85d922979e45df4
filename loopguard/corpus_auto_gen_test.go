package loopguard

import (
	"encoding/base64"
	"fmt"
	"strings"
)

func base64StdEncode(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// autoLang is how an autoresponder without any automation field words
// itself in one language: the prefix of its subject and its first line.
type autoLang struct {
	lang, subject, lead, text string
}

var autoLangs = []autoLang{
	{"en", "Automatic reply", "*** Automatic reply ***", "Thank you for your email. I am away until Monday."},
	{"de", "Automatische Antwort", "*** Automatische Antwort ***", "Vielen Dank für Ihre Nachricht. Ich bin bis Montag nicht im Büro."},
	{"fr", "Réponse automatique", "Réponse automatique :", "Merci pour votre message. Je suis absent jusqu'à lundi."},
	{"es", "Respuesta automática", "Respuesta automática:", "Gracias por su mensaje. Estaré fuera hasta el lunes."},
	{"it", "Risposta automatica", "Risposta automatica -", "Grazie per il messaggio. Sarò assente fino a lunedì."},
	{"pt", "Resposta automática", "Resposta automática:", "Obrigado pela sua mensagem. Estarei ausente até segunda-feira."},
	{"nl", "Automatisch antwoord", "Automatisch antwoord", "Bedankt voor uw bericht. Ik ben tot maandag afwezig."},
	{"pl", "Odpowiedź automatyczna", "Odpowiedź automatyczna:", "Dziękuję za wiadomość. Do poniedziałku jestem poza biurem."},
	{"cs", "Automatická odpověď", "Automatická odpověď", "Děkuji za zprávu. Do pondělí jsem mimo kancelář."},
	{"sk", "Automatická odpoveď", "Automatická odpoveď:", "Ďakujem za správu. Do pondelka som mimo kancelárie."},
	{"hu", "Automatikus válasz", "Automatikus válasz:", "Köszönöm a levelét. Hétfőig házon kívül vagyok."},
	{"ro", "Răspuns automat", "Răspuns automat:", "Vă mulțumesc pentru mesaj. Sunt plecat până luni."},
	{"sv", "Automatiskt svar", "Automatiskt svar:", "Tack för ditt mejl. Jag är borta till måndag."},
	{"da", "Automatisk svar", "Automatisk svar:", "Tak for din mail. Jeg er væk indtil mandag."},
	{"no", "Autosvar", "Autosvar:", "Takk for e-posten. Jeg er borte til mandag."},
	{"fi", "Automaattinen vastaus", "Automaattinen vastaus:", "Kiitos viestistäsi. Olen poissa maanantaihin asti."},
	{"et", "Automaatvastus", "Automaatvastus:", "Aitäh kirja eest. Olen esmaspäevani eemal."},
	{"lv", "Automātiskā atbilde", "Automātiskā atbilde:", "Paldies par vēstuli. Līdz pirmdienai esmu prom."},
	{"lt", "Automatinis atsakymas", "Automatinis atsakymas:", "Ačiū už laišką. Iki pirmadienio manęs nėra."},
	{"tr", "Otomatik yanıt", "Otomatik yanıt:", "Mesajınız için teşekkürler. Pazartesiye kadar ofis dışındayım."},
	{"el", "Αυτόματη απάντηση", "Αυτόματη απάντηση:", "Ευχαριστώ για το μήνυμά σας. Θα λείπω μέχρι τη Δευτέρα."},
	{"ru", "Автоматический ответ", "Автоматический ответ:", "Спасибо за письмо. Я в отпуске до понедельника."},
	{"uk", "Автоматична відповідь", "Автоматична відповідь:", "Дякую за лист. Мене не буде до понеділка."},
	{"bg", "Автоматичен отговор", "Автоматичен отговор:", "Благодаря за писмото. Ще отсъствам до понеделник."},
	{"sr", "Аутоматски одговор", "Аутоматски одговор:", "Хвала на поруци. Одсутан сам до понедељка."},
	{"hr", "Automatski odgovor", "Automatski odgovor:", "Hvala na poruci. Odsutan sam do ponedjeljka."},
	{"sl", "Samodejni odgovor", "Samodejni odgovor:", "Hvala za sporočilo. Do ponedeljka sem odsoten."},
	{"he", "תשובה אוטומטית", "תשובה אוטומטית:", "תודה על פנייתך. אני מחוץ למשרד עד יום שני."},
	{"ar", "رد تلقائي", "رد تلقائي:", "شكرا لرسالتك. أنا خارج المكتب حتى يوم الاثنين."},
	{"fa", "پاسخ خودکار", "پاسخ خودکار:", "از پیام شما سپاسگزارم. تا دوشنبه در دفتر نیستم."},
	{"th", "ตอบกลับอัตโนมัติ", "ตอบกลับอัตโนมัติ:", "ขอบคุณสำหรับอีเมล ฉันไม่อยู่จนถึงวันจันทร์"},
	{"vi", "Trả lời tự động", "Trả lời tự động:", "Cảm ơn email của bạn. Tôi vắng mặt đến thứ Hai."},
	{"id", "Balasan otomatis", "Balasan otomatis:", "Terima kasih atas email Anda. Saya cuti sampai hari Senin."},
	{"ms", "Balasan automatik", "Balasan automatik:", "Terima kasih atas e-mel anda. Saya bercuti sehingga Isnin."},
	{"hi", "स्वचालित उत्तर", "स्वचालित उत्तर:", "आपके ईमेल के लिए धन्यवाद। मैं सोमवार तक कार्यालय से बाहर हूँ।"},
	{"zh-hans", "自动回复", "自动回复：", "您好，我正在休假，周一回来后回复您。"},
	{"zh-hant", "自動回覆", "自動回覆：", "您好，我正在休假，週一回來後回覆您。"},
	{"ja", "自動応答", "【自動応答】", "メールありがとうございます。月曜日まで不在にしております。"},
	{"ko", "자동 회신", "자동 회신:", "메일 감사합니다. 월요일까지 부재중입니다."},
	{"eu", "Erantzun automatikoa", "Erantzun automatikoa:", "Eskerrik asko zure mezuagatik."},
	{"is", "Sjálfvirkt svar", "Sjálfvirkt svar:", "Takk fyrir póstinn. Ég er fjarverandi til mánudags."},
}

// splitWords writes s as RFC 2047 B words cut every n bytes, also in the
// middle of a character, as Outlook and Exchange do.
func splitWords(s string, n int) string {
	var parts []string
	for len(s) > 0 {
		k := min(n, len(s))
		parts = append(parts, "=?utf-8?B?"+base64StdEncode(s[:k])+"?=")
		s = s[k:]
	}
	return strings.Join(parts, "\n ")
}

func genAutoresponders() []genCase {
	var out []genCase
	for i, l := range autoLangs {
		subj := l.subject + ": [#4471] Frage"
		for v := 0; v < 2; v++ {
			var b strings.Builder
			fmt.Fprintf(&b, "From: Person %d <person%d@partner.example>\nTo: support@acme.example\nDate: Mon, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <auto%d.%d@partner.example>\n", i, i, i, v)
			// Encoded words split anywhere: every 5, 7, 9... bytes.
			fmt.Fprintf(&b, "Subject: %s\n", splitWords(subj, 5+2*(i%4)+v))
			b.WriteString("MIME-Version: 1.0\n")
			if v == 0 {
				fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n%s\n", base64StdEncode(l.lead+"\n\n"+l.text+"\n"))
			} else {
				fmt.Fprintf(&b, "Content-Type: text/html; charset=utf-8\n\n<html><head><style>p{margin:0}</style></head><body><p><b>%s</b></p><p>%s</p></body></html>\n", l.lead, l.text)
			}
			out = append(out, genCase{name: fmt.Sprintf("gen-auto-%s-%s", l.lang, []string{"text", "html"}[v]), family: "auto_reply/words-" + l.lang,
				raw: []byte(b.String()), env: Envelope{MailFrom: fmt.Sprintf("person%d@partner.example", i)}, class: AutoReply})
		}
	}
	// Autoresponders whose first line is no title, but whose text says
	// it is an automatic answer.
	says := []struct{ lang, subject, body string }{
		{"zh-qq", "自动回复: [#4471] 问题", "这是来自QQ邮箱的假期自动回复邮件。\n您好，我最近正在休假中，无法亲自回复您的邮件。"},
		{"ja", "自動返信: [#4471] 質問", "このメールは自動返信です。\n只今休暇中のため、ご返信が遅れます。"},
		{"ko", "자동 응답: [#4471] 질문", "이 메일은 자동 응답입니다.\n현재 휴가 중입니다."},
		{"ru", "Автоответ: [#4471] вопрос", "Здравствуйте! Это автоматический ответ.\nЯ в отпуске до понедельника."},
		{"tr", "Otomatik yanıt: [#4471] soru", "Merhaba, bu otomatik bir yanıttır.\nPazartesiye kadar tatildeyim."},
		{"ar", "رد تلقائي: [#4471] سؤال", "مرحبا، هذا رد تلقائي.\nأنا خارج المكتب حتى يوم الاثنين."},
		{"he", "תשובה אוטומטית: [#4471] שאלה", "שלום, זוהי הודעה אוטומטית.\nאני מחוץ למשרד עד יום שני."},
		{"vi", "Trả lời tự động: [#4471] câu hỏi", "Xin chào, đây là thư trả lời tự động.\nTôi đang nghỉ phép đến thứ Hai."},
		{"uk", "Автоматична відповідь: [#4471] питання", "Добрий день! Це автоматична відповідь.\nЯ у відпустці до понеділка."},
		{"el", "Αυτόματη απάντηση: [#4471] ερώτηση", "Γεια σας, αυτή είναι μια αυτόματη απάντηση.\nΕίμαι εκτός γραφείου."},
	}
	for i, a := range says {
		raw := fmt.Sprintf("From: Person <says%d@partner.example>\nTo: support@acme.example\nSubject: %s\nDate: Mon, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <says%d@partner.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n%s\n",
			i, splitWords(a.subject, 7+i%5), i, base64StdEncode("Hello,\n\n"+a.body+"\n"))
		out = append(out, genCase{name: "gen-auto-says-" + a.lang, family: "auto_reply/says-automatic-" + a.lang, raw: []byte(raw),
			env: Envelope{MailFrom: fmt.Sprintf("says%d@partner.example", i)}, class: AutoReply})
	}
	// An acknowledgement whose text opens with a line ending in a colon:
	// not a quote header, its own words.
	for i, intro := range []string{"Thank you for your message:", "Ihre Nachricht:", "Votre demande :", "您的邮件："} {
		raw := fmt.Sprintf("From: Support <support@vendor%d.example>\nTo: support@acme.example\nSubject: [Ticket#2026120110000%d] Request received\nDate: Mon, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <ack-colon%d@vendor.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s\nThis is an automated response: we have received your request and will get back to you as soon as possible.\nYour ticket number is 2026120110000%d.\n",
			i, i, i, intro, i)
		out = append(out, genCase{name: fmt.Sprintf("gen-auto-ack-colon-%d", i), family: "auto_reply/ack-opening-colon", raw: []byte(raw),
			env: Envelope{MailFrom: fmt.Sprintf("support@vendor%d.example", i)}, class: AutoReply})
	}
	// Vendors' autoresponders that carry no RFC 3834 field, each with and
	// without the null reverse path RFC 3834 §3.3 asks for.
	vendors := []struct{ name, header, subject, body string }{
		{"exchange2003-oof", "Thread-Topic: Invoice\nX-MS-Has-Attach:\nX-MS-TNEF-Correlator:\n", "Out of Office: Invoice",
			"I am away on vacation until Monday. I will be back in the office on June 1."},
		{"notes-auto", "X-MIMETrack: Serialize by Router on MAIL01/Servers/Corp(Release 9.0.1FP10) at 01/12/2026 09:00:00\n",
			"AUTO: Smith, John is out of the office (returning 05/12/2026)",
			"I am out of the office until 05/12/2026.\n\nNote: This is an automated response to your message \"Invoice\" sent on 01/12/2026.\n\nThis is the only notification you will receive while this person is away."},
		{"aol-automatic-response", "X-Mailer: OSM Client\nX-AOL-IP: 172.19.146.157\n", "Re:   Invoice (Automatic Response)",
			"Hello, I am away until 05/12/2026 and am unable to read your message."},
		{"icloud-apple-action", "X-Apple-Action: VACATION\n", "Auto reply: Invoice", "I'm travelling with limited access to email."},
		{"icloud-apple-action-localized", "X-Apple-Action: VACATION\n", "Kanikuly: Invoice", "Jsem na dovolené."},
		{"vendor-x-autoresponse", "X-Autoresponse: yes\n", "Auto reply: Invoice", "Thanks, I will answer next week."},
	}
	for _, v := range vendors {
		for _, null := range []bool{false, true} {
			if !null && v.name == "exchange2003-oof" {
				// Exchange sends its OOF with the null reverse path;
				// with a real sender and no field, an "Out of Office:"
				// subject and "I am away" text are what a person may
				// write too, and stay human.
				continue
			}
			raw := "From: Pat Doe <pat.doe@partner.example>\nTo: support@acme.example\nSubject: " + v.subject +
				"\nDate: Mon, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <" + v.name + "@partner.example>\n" + v.header +
				"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + v.body + "\n"
			env, path := Envelope{MailFrom: "pat.doe@partner.example"}, "sender"
			if null {
				env, path = Envelope{MailFrom: ""}, "null"
			}
			out = append(out, genCase{name: "gen-auto-vendor-" + v.name + "-" + path, family: "auto_reply/vendor-" + v.name,
				raw: []byte(raw), env: env, class: AutoReply})
		}
	}
	// A person asking about an autoresponder, quoting it, in a few
	// languages: human.
	for i, l := range autoLangs[:12] {
		body := "Hello,\n\nI wrote to you and got this reply:\n" + l.lead + "\n" + l.text + "\n\nHow can I reach a person?\n"
		raw := fmt.Sprintf("From: Client %d <client%d@customer.example>\nTo: support@acme.example\nSubject: Question about your %s\nDate: Mon, 1 Dec 2026 09:00:00 +0000\nMessage-ID: <ask%d@customer.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n%s", i, i, strings.ToLower(l.subject), i, body)
		out = append(out, genCase{name: "gen-human-asks-about-" + l.lang, family: "human/quotes-autoresponder", raw: []byte(raw),
			env: Envelope{MailFrom: fmt.Sprintf("client%d@customer.example", i)}, class: Human})
	}
	return out
}
