package templates

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
	"time"
)

// Template is one editable email: a subject line and text and HTML
// bodies, each a Go template over Data. The text parts use text/template,
// the HTML part html/template, so every value is escaped for HTML.
type Template struct {
	Name    string    `json:"name"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	HTML    string    `json:"html"`
	Version int       `json:"version"`          // 0: the embedded default
	Updated time.Time `json:"updated,omitzero"` // when this version was saved
	Note    string    `json:"note,omitempty"`   // "reset to default" ...
}

// Rendered is a template rendered with some Data.
type Rendered struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// Limits of a template part and of what it renders.
const (
	MaxPartBytes     = 64 << 10
	MaxRenderedBytes = 1 << 20
)

// Error is a template that does not parse or render: which part, the
// line in it (0 if unknown), and the template engine's message.
type Error struct {
	Part string `json:"part"` // subject, text or html
	Line int    `json:"line,omitempty"`
	Msg  string `json:"error"`
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s, line %d: %s", e.Part, e.Line, e.Msg)
	}
	return e.Part + ": " + e.Msg
}

// The engines' messages start "template: PART:LINE:" (parse) or
// "template: PART:LINE:COL:" (execution).
var lineRE = regexp.MustCompile(`^template: [a-z]+:(\d+):(?:\d+:)? ?`)

func partError(part string, err error) *Error {
	msg := err.Error()
	e := &Error{Part: part, Msg: msg}
	if m := lineRE.FindStringSubmatchIndex(msg); m != nil {
		e.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		e.Msg = msg[m[1]:]
	}
	return e
}

type parsed struct {
	subject, text *texttemplate.Template
	html          *htmltemplate.Template
}

func compile(t Template, b *budget) (parsed, error) {
	var p parsed
	for _, part := range []struct{ name, src string }{{"subject", t.Subject}, {"text", t.Text}, {"html", t.HTML}} {
		if len(part.src) > MaxPartBytes {
			return p, &Error{Part: part.name, Msg: fmt.Sprintf("over %d bytes", MaxPartBytes)}
		}
	}
	if strings.TrimSpace(t.Text) == "" {
		return p, &Error{Part: "text", Msg: "required"}
	}
	if strings.TrimSpace(t.HTML) == "" {
		return p, &Error{Part: "html", Msg: "required"}
	}
	if t.Name != "notification" && strings.TrimSpace(t.Subject) == "" {
		return p, &Error{Part: "subject", Msg: "required"}
	}
	var err error
	funcs := b.funcs()
	if p.subject, err = texttemplate.New("subject").Option("missingkey=error").Funcs(funcs).Parse(t.Subject); err != nil {
		return p, partError("subject", err)
	}
	if p.text, err = texttemplate.New("text").Option("missingkey=error").Funcs(funcs).Parse(t.Text); err != nil {
		return p, partError("text", err)
	}
	if p.html, err = htmltemplate.New("html").Option("missingkey=error").Funcs(htmltemplate.FuncMap(funcs)).Parse(t.HTML); err != nil {
		return p, partError("html", err)
	}
	for _, c := range []struct {
		part string
		t    *texttemplate.Template
	}{{"subject", p.subject}, {"text", p.text}} {
		if err := checkBounds(c.part, trees(c.t.Templates()), c.part); err != nil {
			return p, err
		}
	}
	htmlTrees := map[string]*parse.Tree{}
	for _, h := range p.html.Templates() {
		htmlTrees[h.Name()] = h.Tree
	}
	if err := checkBounds("html", htmlTrees, "html"); err != nil {
		return p, err
	}
	return p, nil
}

func trees(ts []*texttemplate.Template) map[string]*parse.Tree {
	m := map[string]*parse.Tree{}
	for _, t := range ts {
		m[t.Name()] = t.Tree
	}
	return m
}

// limitedBuffer stops a template that writes without end at
// MaxRenderedBytes, or past the render's deadline.
type limitedBuffer struct {
	bytes.Buffer
	b *budget
}

var errTooLarge = errors.New("renders to more than 1 MiB")

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > MaxRenderedBytes {
		return 0, errTooLarge
	}
	if err := b.b.alive(); err != nil {
		return 0, err
	}
	return b.Buffer.Write(p)
}

// Render renders t with d, bounded in memory and time (budget.go). The
// subject is one line: line breaks become spaces.
func Render(t Template, d Data) (Rendered, error) {
	return render(t, d, newBudget(time.Now))
}

func render(t Template, d Data, b *budget) (Rendered, error) {
	p, err := compile(t, b)
	if err != nil {
		return Rendered{}, err
	}
	sb, tb, hb := limitedBuffer{b: b}, limitedBuffer{b: b}, limitedBuffer{b: b}
	if err := p.subject.Execute(&sb, d); err != nil {
		return Rendered{}, partError("subject", err)
	}
	if err := p.text.Execute(&tb, d); err != nil {
		return Rendered{}, partError("text", err)
	}
	if err := p.html.Execute(&hb, d); err != nil {
		return Rendered{}, partError("html", err)
	}
	subject := strings.Join(strings.Fields(sb.String()), " ")
	return Rendered{Subject: subject, Text: tb.String(), HTML: hb.String()}, nil
}

// Validate parses t and renders it with Sample: a template that passes
// renders for every event (every template sees the same Data type).
func Validate(t Template) error {
	_, err := Render(t, Sample())
	return err
}
