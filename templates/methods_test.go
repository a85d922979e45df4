package templates

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Issue 21, item 4, after the fix: no type a template can reach from
// Data has a method, so a template can call only the bounded functions
// of budget.go. (time.Time's Format doubled a string without bound, its
// Unix gave a number to range over.)
func TestDataHasNoMethods(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var visit func(reflect.Type, string)
	visit = func(ty reflect.Type, path string) {
		if seen[ty] {
			return
		}
		seen[ty] = true
		if ty.NumMethod() > 0 || reflect.PointerTo(ty).NumMethod() > 0 {
			t.Errorf("%s (%s) has methods", path, ty)
		}
		switch ty.Kind() {
		case reflect.Struct:
			for i := range ty.NumField() {
				if f := ty.Field(i); f.IsExported() {
					visit(f.Type, path+"."+f.Name)
				}
			}
		case reflect.Slice, reflect.Array, reflect.Pointer, reflect.Map:
			visit(ty.Elem(), path+"[]")
		case reflect.Interface, reflect.Func, reflect.Chan:
			t.Errorf("%s (%s): a template could reach anything through it", path, ty)
		}
	}
	visit(reflect.TypeFor[Data](), "Data")
	if len(seen) < 4 {
		t.Fatalf("visited only %v", seen)
	}
}

// bigData is a notification's data at its largest a template can see:
// 20 messages of MaxMessageText each.
func bigData() Data {
	d := Sample()
	d.Messages = nil
	for range 20 {
		d.Messages = append(d.Messages, messageData(Message{Author: "A", Time: time.Now(), Text: strings.Repeat("\x01", MaxMessageText)}))
	}
	return d
}

// The three bypasses of the review, each refused whatever the data, in
// bounded memory and before the deadline.
func TestMethodAndCompositeBypassesRefused(t *testing.T) {
	for _, c := range []struct {
		name, text, want string
		data             Data
	}{
		{"Time.Format doubling a variable", `{{$t := (index .Messages 0).Time}}{{$x := "1"}}` +
			strings.Repeat(`{{$x = $t.Format (printf "%s%s" $x $x)}}`, 40) + `{{len $x}}`, "Format", Sample()},
		{"Time.Format with its own result as layout", `{{$t := (index .Messages 0).Time}}{{$x := "1"}}` +
			strings.Repeat(`{{$x = $t.Format $x}}`, 40), "Format", Sample()},
		{"range over Time.Unix", `{{range .Messages}}{{range .Time.Unix}}{{end}}{{end}}`, "range only over .Messages", Sample()},
		{"range over a number", `{{range len .Messages}}{{end}}`, "range only over .Messages", Sample()},
		{"range over a variable", `{{$n := 1000000000000}}{{range $n}}{{end}}`, "range only over .Messages", Sample()},
		{"range over a string field", `{{range .Text}}{{end}}`, "range only over .Messages", Sample()},
		{"%v of the messages, many times", `{{printf "` + strings.Repeat("%[1]v", 2000) + `" .Messages}}`, "over 256 KiB", bigData()},
		{"%q of the whole data", `{{printf "%q" .}}`, "over 256 KiB", bigData()},
		{"%v of a message doubled", `{{$x := printf "%v" (index .Messages 0)}}` + strings.Repeat(`{{$x = printf "%v%v" $x $x}}`, 30), "over 256 KiB", bigData()},
		{"js of a composite", `{{js .Messages}}`, "over 256 KiB", bigData()},
	} {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Render(Template{Name: "x", Subject: "s", Text: c.text, HTML: "<p>h</p>"}, c.data)
			runtime.ReadMemStats(&after)
			te, ok := err.(*Error)
			if !ok || te.Part != "text" || !strings.Contains(te.Msg, c.want) {
				t.Fatalf("render: %v, want a refusal of the text part saying %q", err, c.want)
			}
			// bigData itself is 1.3 MiB; a render may make 4 MiB of strings.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
				t.Errorf("the refused render allocated %d MiB, want at most 32", alloc>>20)
			}
		})
	}
}

// Templates saved before MessageData.Time became a string keep working:
// {{.Time.Format "LAYOUT"}} in every form is a bounded call; a layout
// over MaxTimeLayout is refused.
func TestTimeFormatStillWorks(t *testing.T) {
	text := `{{range .Messages}}{{.Time.Format "2006-01-02"}}|{{.Time}}|{{end}}` +
		`{{(index .Messages 1).Time.Format "15:04"}}|{{range $m := .Messages}}{{$m.Time.Format "Jan"}}{{end}}|` +
		`{{with index .Messages 0}}{{.Time.Format "Monday" | printf "%s!"}}{{end}}`
	r, err := Render(Template{Name: "x", Subject: "s", Text: text, HTML: `{{range .Messages}}<i>{{.Time.Format "2 Jan"}}</i>{{end}}`}, Sample())
	if err != nil {
		t.Fatal(err)
	}
	if want := "2026-11-25|25 Nov 2026 09:30 UTC|2026-11-25|25 Nov 2026 09:35 UTC|09:35|NovNov|Wednesday!"; r.Text != want {
		t.Errorf("text %q, want %q", r.Text, want)
	}
	if r.HTML != "<i>25 Nov</i><i>25 Nov</i>" {
		t.Errorf("html %q", r.HTML)
	}
	long := `{{range .Messages}}{{.Time.Format "` + strings.Repeat("2006", 20) + `"}}{{end}}`
	if err := Validate(Template{Name: "x", Subject: "s", Text: long, HTML: "h"}); err == nil || !strings.Contains(err.Error(), "time layout over") {
		t.Errorf("a long layout: %v", err)
	}
}
