package loopguard

import "strings"

// bulkRules finds mailing lists, bulk senders and RSS-to-email items.
func bulkRules(e *evidence, m *message) {
	var found []string
	for _, name := range listFields {
		if m.header.has(name) {
			found = append(found, canonical(name))
		}
	}
	if len(found) > 0 {
		// A person's reply that went through a list is bulk too: it
		// reached deskmail because of the list, and the list has already
		// delivered it to everyone who should see it.
		e.add(Bulk, certain, "mailing list fields %s (RFC 2919, RFC 2369)", strings.Join(found, ", "))
	}
	if m.header.has("list-unsubscribe") {
		// RFC 2369 §3.2, RFC 8058. Bulk and marketing platforms add it,
		// also to "personal" one-to-one mail; a person's mail client
		// never does.
		e.add(Bulk, certain, "List-Unsubscribe: sent by a list or bulk sender (RFC 2369, RFC 8058)")
	}
	feedRules(e, m)
}

// feedRules finds RSS-to-email items: a feed reader mailing each new post
// is a subscription, like a newsletter, whether or not it adds List-*.
func feedRules(e *evidence, m *message) {
	h := m.header
	for _, name := range feedHeaders {
		if h.has(name) {
			e.once("feed", Bulk, wFeedSignal, "%s: an RSS-to-email item", canonical(name))
		}
	}
	if lp := strings.ToLower(localPart(addrSpec(h.get("from")))); lp != "" {
		if localPartIn(lp, feedSenders, false) {
			e.add(Bulk, wNoticeSender, "sender %s@ is a feed robot's", lp)
		}
	}
	for _, name := range []string{"x-mailer", "user-agent"} {
		if p := findAny(strings.ToLower(h.get(name)), feedMailers); p != "" {
			e.once("feed", Bulk, wFeedSignal, "%s names the feed service %q: an RSS-to-email item", canonical(name), p)
		}
	}
	if p := findAny(strings.ToLower(h.get("from")), feedMailers); p != "" {
		// A person may write from a feed company's domain: a hint.
		e.once("feed-from", Bulk, wFeedFrom, "From names the feed service %q", p)
	}
	if p := m.phrases().first(bFeed); p != "" {
		e.add(Bulk, wFeedPhrase, "feed item text %q", p)
	}
}

// firstWord returns the first token of a structured field, lower-cased,
// without parameters or RFC 5322 comments: "No (person)" is "no".
func firstWord(v string) string {
	v = strings.TrimSpace(v)
	end := strings.IndexAny(v, " \t;(")
	if end >= 0 {
		v = v[:end]
	}
	return strings.ToLower(v)
}

// canonical spells a lower-cased field name the usual way for reasons.
func canonical(name string) string {
	parts := strings.Split(name, "-")
	for i, p := range parts {
		switch p {
		case "id", "ms", "rss", "rt", "otrs", "fs":
			parts[i] = strings.ToUpper(p)
		case "":
		default:
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "-")
}

// clip keeps reasons readable when a field is huge.
func clip(s string) string {
	if len(s) > 120 {
		return strings.ToValidUTF8(s[:120], "") + "..."
	}
	return s
}

func strconvQuote(s string) string { return `"` + s + `"` }
