package threading

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The per-line tests as they were before their ASCII fast paths
// (strip_ascii.go): the reference TestASCIIFastPathsSameAsBefore compares
// them with.

func mayBeDeviceSignatureRef(trimmed string) bool {
	r, _ := utf8.DecodeRuneInString(trimmed)
	if deviceSignatureFirstMap[unicode.ToLower(r)] {
		return true
	}
	tail := strings.ToLower(trimmed[max(0, len(trimmed)-40):])
	if strings.Contains(tail, "ios") || strings.Contains(tail, "android") {
		return true // outlookPromo
	}
	for _, e := range deviceSignatureEnds {
		if strings.Contains(tail, e) {
			return true
		}
	}
	return false
}

// isRuleRef is isRule before it read the runes before counting them.
func isRuleRef(trimmed string) bool {
	if utf8.RuneCountInString(trimmed) < 3 || len(trimmed) > 200 {
		return false
	}
	for _, r := range trimmed {
		if !strings.ContainsRune("-_=*~─━—", r) && r != ' ' {
			return false
		}
	}
	return strings.Trim(trimmed, "-_=*~─━— ") == "" && strings.TrimSpace(trimmed) != "--"
}

// deviceHeadPunctASCIIRef is deviceHeadPunctASCII before it looked for
// the first mark instead of building the head.
func deviceHeadPunctASCIIRef(trimmed string) bool {
	var buf [maxDeviceSignature]byte
	head := appendLowerASCII(buf[:0], trimmed)
	for _, sep := range deviceHeadSepBytes {
		if i := bytes.Index(head, sep); i > 0 {
			head = head[:i]
		}
	}
	head = bytes.TrimSpace(bytes.TrimRight(bytes.TrimSpace(head), ".。!"))
	return bytes.ContainsAny(head, ",?!;")
}

func isDeviceSignatureRef(trimmed string) bool {
	// Every one has two words at least ("iPhoneから送信" is one token but
	// over 12 bytes).
	if len(trimmed) > maxDeviceSignature || len(trimmed) < 12 {
		return false
	}
	if !mayBeDeviceSignatureRef(trimmed) {
		return false
	}
	lower := strings.ToLower(trimmed)
	head := lower
	for _, sep := range []string{"<", "(", "http", "[", "：", ": "} {
		if i := strings.Index(head, sep); i > 0 {
			head = head[:i]
		}
	}
	head = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(head), ".。!"))
	if strings.ContainsAny(head, ",?!;") {
		return false
	}
	words := countFields(head)
	if words > 12 {
		return false
	}
	headSp := head + " "
	for _, p := range deviceSignatures {
		if strings.HasPrefix(headSp, p) {
			// German puts the verb last: "Von meinem iPhone gesendet",
			// "Diese Nachricht wurde von meinem ... gesendet"; start and
			// end together allow a longer line.
			if strings.HasPrefix(p, "von mein") || strings.HasPrefix(p, "diese ") {
				return strings.HasSuffix(head, "gesendet")
			}
			return words <= 8
		}
	}
	if words > 8 {
		return false
	}
	if outlookPromo(head) && strings.Contains(lower, "http") {
		return true
	}
	for _, e := range deviceSignatureEnds {
		if strings.HasSuffix(head, e) {
			return true
		}
	}
	// "Sent from TypeApp", "Sent from Spark": an app's name, one
	// capitalized word ("Sent from home" is no signature).
	if words == 3 && strings.HasPrefix(head, "sent from ") {
		w := strings.Fields(trimmed)
		if len(w) < 3 {
			return false
		}
		r, _ := utf8.DecodeRuneInString(w[2])
		return unicode.IsUpper(r)
	}
	return false
}

func isForwardMarkerRef(trimmed string) bool {
	if len(trimmed) > 120 || len(trimmed) < 12 {
		return false
	}
	lower := turkishI(strings.ToLower(trimmed))
	if strings.Contains(lower, "--") {
		_, ok := forwardDashedSet[strings.Trim(lower, "-*_= ")]
		return ok
	}
	_, ok := forwardLineSet[strings.TrimSpace(strings.TrimRight(lower, ":： *"))]
	return ok
}

func isListFooterRef(lines []string, i int) bool {
	t := strings.TrimSpace(lines[i])
	if len(t) > 120 || len(t) < 11 || !strings.Contains(strings.ToLower(t[max(0, len(t)-24):]), "list") {
		return false
	}
	lower := strings.ToLower(t)
	found := false
	for _, w := range listFooterWords {
		if strings.HasSuffix(lower, w) {
			found = true
			break
		}
	}
	if !found {
		return false
	}
	for j := i + 1; j < len(lines) && j < i+3; j++ {
		if n := strings.TrimSpace(lines[j]); n != "" {
			return strings.Contains(n, "@") || strings.Contains(n, "http")
		}
	}
	return false
}

// TestASCIIFastPathsSameAsBefore compares isForwardMarker,
// isListFooter, mayBeDeviceSignature and isDeviceSignature with the code
// they replaced on every line of the stripper's corpora and on lines made
// of the pieces they look for, in random case, with random bytes between.
func TestASCIIFastPathsSameAsBefore(t *testing.T) {
	var lines []string
	for _, pat := range []string{"testdata/replycorpus/*/*.txt", "testdata/strip/*"} {
		files, _ := filepath.Glob(pat)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			lines = append(lines, strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")...)
		}
	}
	if len(lines) < 1000 {
		t.Fatalf("only %d corpus lines", len(lines))
	}
	var pool []string
	for _, l := range [][]string{forwardLines, forwardDashed, deviceSignatures, deviceSignatureEnds, listFooterWords, deviceHeadSeps,
		{"Hello, I have a question about my order.", "ios", "android", "Outlook", "http://x.test", "list", "@", "--", ":", "：", ",", "?", "!", ";", ".", "。", " ", "  ", "*", "_", "=", "İ", "i\u0307", "gesendet", "─", "━", "—", "~", "---", "___"}} {
		pool = append(pool, l...)
	}
	rnd := rand.New(rand.NewSource(27))
	recase := func(s string) string {
		switch rnd.Intn(3) {
		case 0:
			return strings.ToUpper(s)
		case 1:
			b := []byte(s)
			for i := range b {
				if c := b[i] | 0x20; 'a' <= c && c <= 'z' && rnd.Intn(2) == 0 {
					b[i] ^= 0x20
				}
			}
			return string(b)
		}
		return s
	}
	for n := 0; n < 60000; n++ {
		var b strings.Builder
		for k := rnd.Intn(5); k >= 0; k-- {
			switch rnd.Intn(6) {
			case 0:
				b.WriteByte(byte(rnd.Intn(128)))
			case 1:
				b.WriteByte(' ')
			default:
				b.WriteString(recase(pool[rnd.Intn(len(pool))]))
			}
		}
		lines = append(lines, b.String())
	}
	var yes [4]int
	punct := map[bool]int{}
	rules := 0
	for i, l := range lines {
		tr := strings.TrimSpace(l)
		if got, want := isRule(tr), isRuleRef(tr); got != want {
			t.Fatalf("isRule(%q) = %v, before %v", tr, got, want)
		} else if got {
			rules++
		}
		if isASCII(tr) && len(tr) <= maxDeviceSignature {
			got, want := deviceHeadPunctASCII(tr), deviceHeadPunctASCIIRef(tr)
			if got != want {
				t.Fatalf("deviceHeadPunctASCII(%q) = %v, before %v", tr, got, want)
			}
			punct[got]++
		}
		if got, want := isForwardMarker(tr), isForwardMarkerRef(tr); got != want {
			t.Fatalf("isForwardMarker(%q) = %v, before %v", tr, got, want)
		} else if got {
			yes[0]++
		}
		if got, want := mayBeDeviceSignature(tr), mayBeDeviceSignatureRef(tr); got != want {
			t.Fatalf("mayBeDeviceSignature(%q) = %v, before %v", tr, got, want)
		} else if got {
			yes[1]++
		}
		if got, want := isDeviceSignature(tr), isDeviceSignatureRef(tr); got != want {
			t.Fatalf("isDeviceSignature(%q) = %v, before %v", tr, got, want)
		} else if got {
			yes[2]++
		}
		// The line, then one of its neighbours (an address or a link
		// decides a list footer).
		ls := []string{l, lines[(i+1)%len(lines)], lines[(i+7)%len(lines)]}
		if got, want := isListFooter(ls, 0), isListFooterRef(ls, 0); got != want {
			t.Fatalf("isListFooter(%q) = %v, before %v", ls, got, want)
		} else if got {
			yes[3]++
		}
	}
	t.Logf("%d lines; true: forward marker %d, may be a device signature %d, device signature %d, list footer %d",
		len(lines), yes[0], yes[1], yes[2], yes[3])
	if rules < 20 {
		t.Errorf("isRule true on %d lines only", rules)
	}
	if punct[true] < 1000 || punct[false] < 1000 {
		t.Errorf("deviceHeadPunctASCII true on %d lines, false on %d", punct[true], punct[false])
	}
	for i, n := range yes {
		if n < 20 {
			t.Errorf("test %d true on %d lines only", i, n)
		}
	}
}

// runeMap is runeSet before it kept the ASCII runes in a table.
func runeMap(words []string, pick func(string) (rune, int)) map[rune]bool {
	m := map[rune]bool{}
	for _, w := range words {
		r, _ := pick(w)
		m[r] = true
	}
	return m
}

// TestRuneSetSameAsMap: the sets answer as the maps they replace for
// every rune (and a few values that are none).
func TestRuneSetSameAsMap(t *testing.T) {
	for _, c := range []struct {
		set *runes
		m   map[rune]bool
	}{
		{verbLastRunes, runeMap(replyVerbs, utf8.DecodeLastRuneInString)},
		{deviceSignatureFirst, runeMap(deviceSignatures, utf8.DecodeRuneInString)},
	} {
		n := 0
		for r := rune(-2); r <= unicode.MaxRune+2; r++ {
			if got, want := c.set.has(r), c.m[r]; got != want {
				t.Fatalf("has(%U) = %v, the map %v", r, got, want)
			} else if got {
				n++
			}
		}
		if n != len(c.m) {
			t.Fatalf("%d runes in the set, %d in the map", n, len(c.m))
		}
	}
}

var deviceSignatureFirstMap = runeMap(deviceSignatures, utf8.DecodeRuneInString)

// trimSpace answers as strings.TrimSpace for every byte at either end of
// a line, and for the corpora's lines.
func TestTrimSpaceSameAsStrings(t *testing.T) {
	ends := []string{"", " ", "\t", "\v", "\f", "\r", "\n", "\x00", "\x1f", "!", "a", "~", "\x7f", "\u0085", "\u00a0", "\u2000", "\u3000", "é", "\xff", "\xc2", " a "}
	for c := range 256 {
		ends = append(ends, string(rune(c)), string([]byte{byte(c)}))
	}
	for _, a := range ends {
		for _, z := range ends {
			for _, mid := range []string{"", "x", " x ", "\u00a0"} {
				s := a + mid + z
				if got, want := trimSpace(s), strings.TrimSpace(s); got != want {
					t.Fatalf("trimSpace(%q) = %q, strings.TrimSpace %q", s, got, want)
				}
			}
		}
	}
	files, _ := filepath.Glob("testdata/replycorpus/*/*.txt")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, l := range strings.Split(string(b), "\n") {
			if got, want := trimSpace(l), strings.TrimSpace(l); got != want {
				t.Fatalf("%s: trimSpace(%q) = %q, strings.TrimSpace %q", f, l, got, want)
			}
		}
	}
}
