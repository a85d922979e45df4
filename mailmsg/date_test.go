package mailmsg

import (
	"math/rand/v2"
	"net/mail"
	"testing"
	"time"
)

// TestParseDateFastSameAsNetMail: parseDate's fast path gives
// net/mail.ParseDate's answer (time, location, offset) whenever it
// answers, on well-formed dates in every zone and on broken ones.
func TestParseDateFastSameAsNetMail(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 2))
	var in []string
	for range 5000 {
		d := time.Unix(rng.Int64N(4e9), 0).In(time.FixedZone("", (rng.IntN(49)-24)*1800))
		for _, l := range []string{time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 06 15:04 -0700", "Mon, _2 Jan 2006 15:04:05 -0700",
			"2 Jan 2006 15:04:05 -0700", "Mon, 02 Jan 2006 15:04:05 MST", time.RFC1123Z + " (UTC)", "Mon,  2 Jan 2006 15:04:05 -0700",
			"Mon, 2 Jan 2006 15:04:05 -0700 (MST)", "Mon, 2 Jan 2006 15:04:05 -0700(UTC)  ", "Mon, 2 Jan 2006 15:04:05 -0700 \t(Coordinated Universal Time)",
			"Mon, 2 Jan 2006 15:04:05 -0700 (UTC) (x)", "Mon, 2 Jan 2006 15:04:05 -0700 (UTC+1)", "Mon, 2 Jan 2006 15:04:05 -0700 (a (b))"} {
			s := d.Format(l)
			in = append(in, s)
			// Broken: a byte changed.
			b := []byte(s)
			const junk = "0123456789 +-:,aZ\r\n("
			b[rng.IntN(len(b))] = junk[rng.IntN(len(junk))]
			in = append(in, string(b))
		}
	}
	in = append(in, "Mon, 31 Feb 2026 10:00:00 +0000", "Xyz, 07 Dec 2026 11:15:22 +0000", "Mon, 7 Dec 2026 24:00:00 +0000",
		"Mon, 7 Dec 2026 11:15:22 +9999", "Mon, 7 Dec 2026 11:15:22 -0000", "mon, 7 dec 2026 11:15:22 +0100", "M +0100", "",
		"Mon, 7 Dec 2026 11:15:22 +0000 (UTC", "Mon, 7 Dec 2026 11:15:22 +0000 UTC)", "Mon, 7 Dec 2026 11:15:22 +0000 ()", "Mon, 7 Dec 2026 11:15:22 (UTC) +0000",
		"(UTC) Mon, 7 Dec 2026 11:15:22 +0000", "Mon, 7 Dec 2026 11:15:22 +0000 (U\\)TC)", "Mon, 7 Dec 2026 11:15:22 +0000 (UTC)x", "Mon, 7 Dec 2026 11:15:22 +0000 (\r\n UTC)")
	fast := 0
	for _, s := range in {
		want, werr := mail.ParseDate(s)
		got, ok := parseDateFast(s)
		if !ok {
			continue
		}
		fast++
		if werr != nil {
			t.Fatalf("parseDateFast(%q) = %v, net/mail: %v", s, got, werr)
		}
		_, goff := got.Zone()
		_, woff := want.Zone()
		if !got.Equal(want) || goff != woff || got.Location().String() != want.Location().String() {
			t.Fatalf("parseDateFast(%q) = %v, net/mail %v", s, got, want)
		}
	}
	if fast < len(in)/4 {
		t.Fatalf("the fast path answered %d of %d dates", fast, len(in))
	}
	// Postfix's form (smtp-source, and the Date its cleanup adds) is read
	// without net/mail's 24 failed layouts.
	if _, ok := parseDateFast("Mon, 7 Dec 2026 17:25:00 +0000 (UTC)"); !ok {
		t.Error("the fast path refused a Date with a zone comment")
	}
}

// BenchmarkParseDateWithComment is the Date Postfix writes (smtp-source's,
// and the one its cleanup adds): go test -run '^$' -bench ParseDate
// -benchmem ./mailmsg
func BenchmarkParseDateWithComment(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseDate("Mon, 7 Dec 2026 17:25:00 +0000 (UTC)"); err != nil {
			b.Fatal(err)
		}
	}
}
