package templates

import "testing"

// FuzzValidate: whatever an admin saves, validation answers (an error or
// nil) without panicking, and a template it accepts renders the sample.
func FuzzValidate(f *testing.F) {
	for _, s := range SystemEmails {
		d, _ := Default(s.Name)
		f.Add(d.Subject, d.Text, d.HTML)
	}
	f.Add("{{", "{{range 9}}{{end}}", "<a href='{{.Link}}'>")
	f.Add("{{.Org", "{{define \"x\"}}{{end}}", "<script>{{.Text}}</script>")
	f.Add(`{{printf "%-20s|%5.2f" .Org 1.5}}`, `{{$x := printf "%01000000d" 0}}{{$x = printf "%s%s" $x $x}}`, `{{html .Text}}{{js .Link}}`)
	f.Add(`{{print .Messages}}`, `{{range .Messages}}{{range $.Messages}}{{range $.Messages}}{{end}}{{end}}{{end}}`, `{{printf "%[1]s%[1]s" .Text}}`)
	f.Fuzz(func(t *testing.T, subject, text, html string) {
		tpl := Template{Name: "fuzz", Subject: subject, Text: text, HTML: html}
		if Validate(tpl) != nil {
			return
		}
		if _, err := Render(tpl, Sample()); err != nil {
			t.Fatalf("accepted, then failed to render: %v", err)
		}
	})
}
