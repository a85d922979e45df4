package threading

// The words mail clients write around a quoted message, per language,
// lowercased. They were gathered from the clients themselves (Gmail,
// Outlook desktop/web/mobile, Apple Mail, Thunderbird, Yahoo, GMX/Web.de,
// Mail.ru, Yandex, Seznam, Onet, QQ/Foxmail) and checked against the lists
// of the public reply trimmers (Discourse's email_reply_trimmer, talon,
// github's and Crisp's email-reply-parser). Languages: en, de, fr, es, pt,
// it, nl, sv, da, no/nb, fi, pl, cs, ru, uk, tr, zh, ja, ko, vi; the
// reply verbs, header names and device signatures also in ro, el, hu,
// ar, ca (some of them only).

// ReplyMarkerPrefix starts the marker line that notification emails
// carry above everything else, e.g. "##- Please type your reply above
// this line -##" (templates/notification). The prefix is what the
// stripper looks for first; replyMarkerPhrases catch a marker whose
// prefix a client mangled, in every language a template may be written in.
const ReplyMarkerPrefix = "##-"

var replyMarkerPhrases = []string{
	"reply above this line", "oberhalb dieser zeile", "über dieser zeile",
	"au-dessus de cette ligne", "encima de esta línea", "por encima de esta línea",
	"boven deze regel", "sopra questa riga", "sopra questa linea", "acima desta linha",
	"ovanför denna rad", "ovanför den här raden", "over denne linje", "over denne linjen",
	"tämän rivin yläpuolelle", "powyżej tej linii", "nad tímto řádkem",
	"выше этой строки", "над цим рядком", "вище цього рядка", "bu satırın üstüne",
	"在此行上方", "在此線上方", "この行より上", "이 줄 위에",
}

// replyVerbs are the "wrote" of attributions ("On <date>, <name> wrote:").
var replyVerbs = []string{
	"wrote", "writes", "schrieb", "geschrieben", "a écrit", "a ecrit", "escribió",
	"escreveu", "scritto", "schreef", "het volgende geschreven", "skrev", "kirjoitti",
	"napisał", "napisala", "napisała", "pisze", "napsal", "napsala", "написал",
	"написала", "написав", "написала", "пишет", "пише", "yazdı", "写道", "寫道",
	"のメッセージ", "のメール", "書きました", "작성", "님이 작성", "napisana przez", "đã viết",
	"a scris", "έγραψε", "írta", "كتب", "escribieron", "ha escrit", "va escriure",
}

// attributionStarts begin the attributions that name the date first.
var attributionStarts = []string{
	"on ", "at ", "am ", "le ", "el ", "em ", "no dia ", "a ", "il ", "in data ", "op ",
	"den ", "dnia ", "w dniu ", "dne ", "wiadomość napisana przez ", "в ", "у ", "пн", "вт", "ср", "чт", "пт", "сб", "нд", "вс",
	"在 ", "于 ", "vào ",
}

// messageNouns name a message, lowercased: a short phrase framed by
// dashes that holds one is the separator above the original
// (isOriginalMessage).
var messageNouns = []string{
	"message", "e-mail", "email", "mail", "courriel", "correo", "e-post", "e-postmeddelande", "sähköposti", "nachricht", "besked", "meddelelse", "melding", "meddelande",
	"mensaje", "mensagem", "messaggio", "bericht", "viesti", "wiadomość", "zpráva", "správa", "üzenet",
	"сообщение", "письмо", "повідомлення", "лист", "ileti", "mesaj", "mesajı", "thư", "邮件", "郵件",
	"メッセージ", "메시지",
}

// originalMessage are Outlook's separators between reply and original,
// lowercased, without the dashes around them.
var originalMessage = []string{
	"original message", "original email", "reply message", "ursprüngliche nachricht",
	"originalnachricht", "original-nachricht", "ursprüngliche e-mail", "message d'origine", "message d’origine",
	"message original", "mensaje original", "oorspronkelijk bericht", "origineel bericht",
	"messaggio originale", "mensagem original", "ursprungligt meddelande", "originalmeddelande",
	"oprindelig meddelelse", "original meddelelse", "opprinnelig melding", "originalmelding",
	"alkuperäinen viesti", "wiadomość oryginalna", "oryginalna wiadomość", "původní zpráva",
	"původní e-mail", "исходное сообщение", "оригинальное сообщение", "початкове повідомлення",
	"вихідне повідомлення", "оригінальне повідомлення", "orijinal ileti", "özgün ileti",
	"orijinal mesaj", "原始邮件", "原始郵件", "原始信件", "元のメッセージ", "オリジナル メッセージ",
	"원본 메시지",
}

// forwardMarkers head a forwarded message: dashed lines ("----------
// Forwarded message ---------") by their inner words, and Apple Mail's
// "Begin forwarded message:" lines by their start.
var (
	forwardDashed = []string{
		"forwarded message", "forwarded e-mail", "forwarded email", "weitergeleitete nachricht",
		"message transféré", "mensaje reenviado", "mensagem encaminhada", "mensagem reencaminhada",
		"messaggio inoltrato", "doorgestuurd bericht", "vidarebefordrat meddelande",
		"videresendt meddelelse", "videresendt besked", "videresendt melding", "välitetty viesti",
		"wiadomość przekazana dalej", "przekazana wiadomość", "přeposlaná zpráva",
		"пересылаемое сообщение", "пересланное сообщение", "пересланий лист",
		"переслане повідомлення", "yönlendirilmiş ileti", "iletilen ileti", "転送されたメッセージ",
		"转发的邮件", "已轉寄郵件", "轉寄的郵件", "전달된 메시지",
	}
	forwardLines = []string{
		"begin forwarded message", "anfang der weitergeleiteten nachricht",
		"début du message réexpédié", "début du message transféré", "inicio del mensaje reenviado",
		"comienzo del mensaje reenviado", "início da mensagem reencaminhada",
		"início da mensagem encaminhada", "inizio messaggio inoltrato", "begin doorgestuurd bericht",
		"början av vidarebefordrat meddelande", "vidarebefordrat brev", "start på videresendt besked",
		"videresendt melding", "välitetty viesti alkaa", "początek przekazywanej wiadomości",
		"začátek přeposílané zprávy", "начало переадресованного сообщения",
		"начало пересылаемого сообщения", "转发的邮件开始", "転送されたメッセージ",
	}
)

// Header fields of a quoted or forwarded message's header block, by
// class, lowercased, without the colon.
const (
	hFrom = 1 << iota
	hDate
	hTo
	hSubject
)

var headerClasses = func() map[string]int {
	m := map[string]int{}
	add := func(class int, keys ...string) {
		for _, k := range keys {
			m[k] = class
		}
	}
	add(hFrom, "from", "von", "de", "expéditeur", "van", "da", "fra", "från", "od", "nadawca", "lähettäjä",
		"от", "від", "kimden", "feladó", "发件人", "寄件者", "寄件人", "差出人", "보낸 사람", "odesílatel")
	add(hDate, "sent", "date", "gesendet", "datum", "envoyé", "enviado", "enviado el", "enviada em",
		"enviada", "fecha", "verzonden", "verstuurd", "inviato", "data", "sendt", "dato", "skickat",
		"lähetetty", "päivämäärä", "wysłano", "wysłane", "odesláno", "отправлено", "дата",
		"надіслано", "gönderildi", "tarih", "elküldve", "dátum", "gönderilme", "发送时间", "日期", "寄件日期", "送信日時",
		"日付", "날짜", "보낸 날짜")
	add(hTo, "to", "an", "à", "a", "para", "aan", "til", "till", "vastaanottaja", "do", "adresat", "odbiorca", "komu",
		"кому", "kime", "címzett", "másolat", "收件人", "收件者", "宛先", "받는 사람", "cc", "kopie", "kopia", "копия",
		"копія", "bilgi", "抄送", "副本", "dw", "cc.", "destinataire", "répondre à", "reply-to")
	add(hSubject, "subject", "betreff", "objet", "sujet", "asunto", "onderwerp", "oggetto", "assunto",
		"emne", "ämne", "aihe", "temat", "předmět", "тема", "konu", "tárgy", "主题", "主旨", "件名", "제목")
	return m
}()

// deviceSignatures start the one-line signatures phone and web clients
// add ("Sent from my iPhone"), lowercased.
var deviceSignatures = []string{
	"sent from my ", "sent from outlook", "sent from mail for windows", "sent from mail", "sent from yahoo mail",
	"sent from the all new aol", "sent from aol", "sent with proton mail", "sent from proton mail",
	"sent from samsung", "sent from my samsung", "sent via ", "sent using ", "sent with airmail",
	"sent from mailspring", "sent from superhuman", "sent from gmail mobile", "sent from gmx",
	"sent from zoho mail", "sent from fastmail", "get outlook for ", "get outlook.com",
	"gesendet von ", "gesendet mit ", "gesendet vom ", "von meinem ", "von meiner ", "outlook für ",
	"diese nachricht wurde von ",
	"envoyé de mon ", "envoyé depuis mon ", "envoyé depuis ", "envoyé à partir de ",
	"envoyé avec ", "obtenir outlook pour ", "télécharger outlook pour ",
	"enviado desde mi ", "enviado de mi ", "enviado desde ", "obtener outlook para ",
	"enviado do meu ", "enviado de meu ", "enviado a partir do ", "enviado do ",
	"obter o outlook para ", "baixe o outlook para ", "inviato da ", "inviato dal mio ",
	"inviato con ", "scarica outlook per ", "verzonden vanaf mijn ", "verstuurd vanaf mijn ",
	"verzonden met ", "verzonden vanuit ", "verstuurd vanaf ", "verzonden vanaf ",
	"outlook voor ", "skickat från min ", "skickat från ", "hämta outlook för ",
	"sendt fra min ", "sendt fra ", "hent outlook til ", "få outlook til ",
	"hanki outlook ", "wysłane z mojego ", "wysłane z ", "wysłano z ", "pobierz outlook ",
	"odesláno z ", "odeslané z ", "stáhněte si outlook", "отправлено с ", "отправлено из ",
	"отправлено через ", "скачайте outlook ", "загрузите outlook ", "надіслано з ",
	"надіслано через ", "відправлено з ", "发自我的", "从我的", "發自我的", "從我的",
	"發送自", "发送自", "trimis de pe ", "trimis cu ", "στάλθηκε από ", "εστάλη από ", "أرسلت من ",
}

// deviceSignatureEnds end the ones whose verb comes last: Turkish
// "iPhone'umdan gönderildi", Finnish "Lähetetty iPhonesta", Japanese
// "iPhoneから送信", Korean "iPhone에서 보냄". (German "Von meinem iPhone
// gesendet" is matched by its start and end together.)
var deviceSignatureEnds = []string{
	"umdan gönderildi", "ımdan gönderildi", "imden gönderildi", "imdan gönderildi",
	"iphonesta", "iphonestani", "laitteesta", "puhelimesta", "から送信", "から送信しました",
	"에서 보냄", "에서 보낸 메일", "ról küldve", "ről küldve",
}

// ReplyMarker is the marker line of the default templates (English, as
// they are); a translated template keeps ReplyMarkerPrefix and the
// phrase of its language (replyMarkerPhrases).
const ReplyMarker = "##- Please type your reply above this line -##"
