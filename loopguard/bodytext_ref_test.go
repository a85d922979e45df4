package loopguard

// The loop guard's text functions as they were before their fast paths
// (docs/PERFORMANCE.md, branch pipecpu): the tests compare the new ones
// with these on the corpora and on generated lines.

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/deskmail/deskmail/mailmsg"
)

func oldOwnText(b []byte) (string, []string) {
	var out strings.Builder
	var lead []string
	inQuote := false
	for len(b) > 0 && out.Len() < maxWordsScan {
		line, rest := cutLine(b)
		b = rest
		t := bytes.TrimSpace(line)
		if len(t) > 0 && (t[0] == '>' || strings.HasPrefix(string(t), "＞")) {
			continue
		}
		if len(t) == 0 {
			inQuote = false
			continue
		}
		if inQuote {
			continue
		}
		low := strings.ToLower(string(t))
		if oldIsQuoteMarker(low) || oldQuotedHeaderBlock(low, rest) {
			break
		}
		if quoteIntro(low) {
			// "I got this reply:" - the lines up to the next blank line
			// are what the person got, not what they write.
			inQuote = true
		}
		low = oldDropQuoted(low)
		var lb strings.Builder
		oldWriteNormal(&lb, low)
		l := strings.TrimSpace(lb.String())
		if l == "" {
			continue
		}
		if len(lead) < maxLeadLines {
			lead = append(lead, l)
		}
		out.WriteString(l)
		out.WriteByte(' ')
	}
	s := out.String()
	if len(s) > maxWordsScan {
		s = strings.ToValidUTF8(s[:maxWordsScan], "")
	}
	return s, lead
}

func oldDropQuoted(line string) string {
	for _, q := range inlineQuoteIntros {
		if i := strings.Index(line, q); i >= 0 {
			line = line[:i]
		}
	}
	for _, q := range quotePairs {
		for n := 0; n < 20; n++ {
			i := strings.Index(line, q[0])
			if i < 0 {
				break
			}
			j := strings.Index(line[i+len(q[0]):], q[1])
			if j < 0 {
				break
			}
			line = line[:i] + " " + line[i+len(q[0])+j+len(q[1]):]
		}
	}
	return line
}

func oldQuotedHeaderBlock(low string, rest []byte) bool {
	if !hasAnyPrefix(low, quoteFromWords) {
		return false
	}
	for i := 0; i < 4 && len(rest) > 0; i++ {
		line, next := cutLine(rest)
		rest = next
		l := strings.ToLower(strings.TrimSpace(string(line)))
		if hasAnyPrefix(l, quoteSentWords) {
			return true
		}
	}
	return false
}

func oldIsQuoteMarker(low string) bool {
	for _, q := range quoteMarkers {
		if strings.HasPrefix(low, q) {
			return true
		}
	}
	// Outlook's separator above the quoted header block.
	if len(low) >= 20 && strings.Trim(low, "_") == "" {
		return true
	}
	// "On Mon, 1 Dec 2026, Ann <a@b> wrote:" and its translations.
	if len(low) < 300 {
		for _, w := range quoteHeaderEnds {
			if strings.HasSuffix(low, w) {
				return true
			}
		}
	}
	// "-----Original Message-----" in other languages.
	if strings.HasPrefix(low, "--") || strings.HasPrefix(low, "——") {
		return findAny(low, separatorWords) != ""
	}
	return false
}

func oldWriteNormal(b *strings.Builder, s string) {
	space := false
	for _, r := range s {
		switch {
		case r == '\u2019' || r == '\u2018':
			r = '\''
		case r == utf8.RuneError:
			continue
		}
		if unicode.IsSpace(r) || r == '\u00a0' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
}

// TestOwnTextSameAsBefore compares the text functions with their
// versions before the fast paths on every part of every corpus case and
// on generated lines made of the words the functions look for.
func TestOwnTextSameAsBefore(t *testing.T) {
	var texts [][]byte
	for _, c := range allCases(t) {
		texts = append(texts, c.raw)
		for _, p := range newMessage(mailmsg.Parse(bareCR(c.raw), mailmsg.Limits{})).parts {
			texts = append(texts, p.content)
		}
	}
	rng := rand.New(rand.NewPCG(27, 1))
	texts = append(texts, generatedTexts(rng, 20000)...)
	for i, b := range texts {
		s, lead := ownText(b)
		ws, wlead := oldOwnText(b)
		if s != ws || !slices.Equal(lead, wlead) {
			t.Fatalf("text %d %q:\nownText  %q %q\nbefore   %q %q", i, clipForLog(b), s, lead, ws, wlead)
		}
		for line := range strings.Lines(string(b)) {
			low := strings.ToLower(strings.TrimSpace(line))
			if got, want := isQuoteMarker(low), oldIsQuoteMarker(low); got != want {
				t.Fatalf("isQuoteMarker(%q) = %v, before %v", low, got, want)
			}
			if got, want := dropQuoted(low), oldDropQuoted(low); got != want {
				t.Fatalf("dropQuoted(%q) = %q, before %q", low, got, want)
			}
			if got, want := quotedHeaderBlock(low, b), oldQuotedHeaderBlock(low, b); got != want {
				t.Fatalf("quotedHeaderBlock(%q) = %v, before %v", low, got, want)
			}
			var sb strings.Builder
			oldWriteNormal(&sb, low)
			if got, want := string(appendNormal(nil, low)), strings.TrimLeftFunc(sb.String(), unicode.IsSpace); got != want {
				t.Fatalf("appendNormal(%q) = %q, before %q", low, got, want)
			}
			if smtpReplyRE.MatchString(low) && !mayHoldSMTPReply(low) {
				t.Fatalf("mayHoldSMTPReply(%q) = false, but smtpReplyRE matches", low)
			}
		}
	}
}

// TestInlineQuoteIntrosStartWithSpace: hasInlineIntro looks for the
// intros at the spaces of a line.
func TestInlineQuoteIntrosStartWithSpace(t *testing.T) {
	for _, q := range inlineQuoteIntros {
		if len(q) < 2 || q[0] != ' ' {
			t.Errorf("inline quote intro %q does not start with a space", q)
		}
	}
}

func clipForLog(b []byte) []byte { return b[:min(len(b), 300)] }

// generatedTexts makes n texts of a few lines each from the words the
// text functions look for, in upper and lower case, with odd spaces,
// quotation marks, digits and broken UTF-8 between them.
func generatedTexts(rng *rand.Rand, n int) [][]byte {
	var words []string
	for _, l := range [][]string{quoteMarkers, quoteIntroWords, inlineQuoteIntros, quoteFromWords, quoteSentWords,
		quoteHeaderEnds, separatorWords, mailPrograms} {
		words = append(words, l...)
	}
	for _, q := range quotePairs {
		words = append(words, q[0], q[1])
	}
	words = append(words, " ", "  ", "\t", "\u00a0", "\u2003", "\u2019", "\u2018", "\ufffd", "\xff", "\xe2\x80", ">", "＞",
		"________________________", "--", "——", ":", "：", "550 5.1.1 user unknown", "451-4.7.1", "hello", "I", "Wrote:",
		"From: Ann", "Sent: Monday", "\r\n", "\n", "\n\n", "on mon, ann wrote:", "x", "ÄÖÜ", "İ", "ß", "ǅ")
	out := make([][]byte, n)
	for i := range out {
		var b []byte
		for k := rng.IntN(30); k >= 0; k-- {
			w := words[rng.IntN(len(words))]
			if rng.IntN(4) == 0 {
				w = strings.ToUpper(w)
			}
			b = append(b, w...)
			if rng.IntN(3) == 0 {
				b = append(b, "\n"[:rng.IntN(2)]...)
			}
		}
		out[i] = b
	}
	return out
}
