package templates

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// doubling is the template of issue 21, item 4: a string of a million
// zeros doubled in a variable n times (2.2 GB at 9 doublings before).
func doubling(start string, n int) string {
	return start + strings.Repeat(`{{$x = printf "%s%s" $x $x}}`, n) + `{{len $x}}`
}

// Issue 21, item 4: the doubling template is refused, quickly and in
// bounded memory, with its part and line, as a preview or a save.
func TestDoublingTemplateRefusedInBoundedMemory(t *testing.T) {
	for _, c := range []struct{ name, text string }{
		{"padded to a million", doubling(`{{$x := printf "%01000000d" 0}}`, 12)},
		{"a field doubled", doubling(`{{$x := .Text}}`, 40)},
		{"many variables of the largest size", `{{$x := .Text}}` + strings.Repeat(`{{$x = printf "%s%s" $x $x}}`, 12) +
			strings.Repeat(`{{$y := printf "%s%s" $x $x}}`, 100)},
		{"padding through an index", `{{printf "%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s%[1]s" (printf "%0999d%0999d%0999d%0999d%0999d%0999d%0999d%0999d%0999d%0999d%0999d%0999d%0999d%0999d%0999d" 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0)}}`},
		{"a star width", `{{printf "%*d" 1000000 0}}`},
		{"escapers of a large value", `{{$x := .Text}}` + strings.Repeat(`{{$x = html $x $x}}`, 30)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Render(Template{Name: "x", Subject: "s", Text: c.text, HTML: "<p>h</p>"}, Sample())
			runtime.ReadMemStats(&after)
			te, ok := err.(*Error)
			if !ok || te.Part != "text" || te.Line != 1 {
				t.Fatalf("render: %v, want a refusal of the text part, line 1", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("the refused render allocated %d MiB, want at most 64", alloc>>20)
			}
			if Validate(Template{Name: "x", Subject: "s", Text: c.text, HTML: "<p>h</p>"}) == nil {
				t.Error("a save would accept it")
			}
		})
	}
}

func TestBoundedFunctionsStillWork(t *testing.T) {
	r, err := Render(Template{Name: "x", Subject: `{{printf "%-8s|%.3s" .Org .Status}}`,
		Text: `{{printf "%5.1f%%" 12.25}} {{print .Assigned 3}} {{html "<b>"}} {{js "'"}} {{urlquery "a b"}}{{println}}`,
		HTML: `<p>{{printf "%s" .ItemTitle}}</p>`}, Sample())
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Example Helpdesk|clo" || r.Text != " 12.2% true 3 &lt;b&gt; \\' a+b\n" || r.HTML != "<p>Printer on fire &lt;urgent&gt;</p>" {
		t.Errorf("rendered %+v", r)
	}
}

func TestRangesNestAtMostTwoDeep(t *testing.T) {
	ok := `{{range .Messages}}{{range $.Messages}}.{{end}}{{end}}`
	if err := Validate(Template{Name: "x", Subject: "s", Text: ok, HTML: "h"}); err != nil {
		t.Errorf("two ranges: %v", err)
	}
	deep := `{{range .Messages}}{{range $.Messages}}
{{range $.Messages}}{{end}}{{end}}{{end}}`
	err := Validate(Template{Name: "x", Subject: "s", Text: deep, HTML: "h"})
	if te, ok := err.(*Error); !ok || te.Line != 2 || !strings.Contains(te.Msg, "nest") {
		t.Errorf("three ranges: %v, want refused at line 2", err)
	}
}

// A render past its deadline stops at the next function call or write.
func TestRenderStopsAtItsDeadline(t *testing.T) {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	calls := 0
	now := func() time.Time { // each look at the clock is 100 ms later
		calls++
		at = at.Add(100 * time.Millisecond)
		return at
	}
	text := strings.Repeat(`{{print "x"}}`, 1000)
	_, err := render(Template{Name: "x", Subject: "s", Text: text, HTML: "h"}, Sample(), newBudget(now))
	if err == nil || !strings.Contains(err.Error(), "took longer than") {
		t.Fatalf("render: %v, want the deadline", err)
	}
	if limit := int(RenderTimeout/(100*time.Millisecond)) + 2; calls > limit {
		t.Errorf("the clock was read %d times after the deadline passed at %d", calls, limit)
	}
}
