package loopguard

import (
	"math/rand"
	"strings"
	"testing"
)

// TestFindTicketSameAsRegexp compares findTicket (the regular expression
// behind a prefilter) with ticketRE.FindString alone on subjects made of
// the expression's pieces, in random case, with the letters that fold to
// ASCII ones, and on every corpus case's subject.
func TestFindTicketSameAsRegexp(t *testing.T) {
	pieces := []string{"ticket", "case", "caso", "request", "incident", "req", "inc", "sr", "tkt", "anfrage", "vorgang",
		"demande", "solicitud", "richiesta", "aanvraag", "zgłoszenie", "požadavek", "no.", "nr", "number", "id", ":", "#", "##",
		"[", "]", "-", " ", "  ", "\t", "1", "12", "123", "4567", "0", "abc", "x", "\u212a", "\u017f", "é", "question", "re: ", "since", "order"}
	rnd := rand.New(rand.NewSource(27))
	var subjects []string
	for n := 0; n < 100000; n++ {
		var b strings.Builder
		for k := rnd.Intn(8); k >= 0; k-- {
			p := pieces[rnd.Intn(len(pieces))]
			if rnd.Intn(3) == 0 {
				p = strings.ToUpper(p)
			}
			b.WriteString(p)
		}
		subjects = append(subjects, b.String())
	}
	for _, c := range allCases(t) {
		m := corpusGuard().parse(c.raw)
		subjects = append(subjects, rawSubject(m), newSubject(rawSubject(m)).text)
	}
	found := 0
	for _, s := range subjects {
		got, want := findTicket(s), ticketRE.FindString(s)
		if got != want {
			t.Fatalf("findTicket(%q) = %q, ticketRE %q", s, got, want)
		}
		if got != "" {
			found++
		}
	}
	if found < 1000 {
		t.Fatalf("only %d of %d subjects hold a ticket", found, len(subjects))
	}
}
