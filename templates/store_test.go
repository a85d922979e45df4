package templates

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestDefaultsGolden renders every default template with Sample and
// compares with testdata/NN-NAME.golden (go test -update rewrites them).
func TestDefaultsGolden(t *testing.T) {
	for i, s := range SystemEmails {
		t.Run(s.Name, func(t *testing.T) {
			d, ok := Default(s.Name)
			if !ok {
				t.Fatal("no default")
			}
			r, err := Render(d, Sample())
			if err != nil {
				t.Fatal(err)
			}
			got := "Subject: " + r.Subject + "\n\n--- text\n" + r.Text + "\n--- html\n" + r.HTML
			path := filepath.Join("testdata", twoDigits(i+1)+"-"+s.Name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("rendered %s differs from %s:\n%s", s.Name, path, got)
			}
		})
	}
}

func twoDigits(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

func TestHTMLEscapesNames(t *testing.T) {
	d := Sample()
	d.RecipientName, d.ActorName, d.ItemTitle = "<script>alert(1)</script>", "<script>alert(1)</script>", "<script>alert(1)</script>"
	for _, s := range SystemEmails {
		tpl, _ := Default(s.Name)
		r, err := Render(tpl, d)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(r.HTML, "<script>") {
			t.Errorf("%s: HTML carries the markup of a name:\n%s", s.Name, r.HTML)
		}
	}
}

func openDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSaveRefusesBadTemplateAndKeepsOld(t *testing.T) {
	db := openDB(t)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ctx := context.Background()
	good := Template{Name: Welcome, Subject: "Hi {{.RecipientName}}", Text: "hello\n", HTML: "<p>hello</p>"}
	if err := db.Update(ctx, func(tx *store.Tx) error { _, err := Save(tx, good, now); return err }); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		t    Template
		part string
		line int
	}{
		{"does not parse", Template{Name: Welcome, Subject: "x", Text: "line 1\nline 2 {{if}}\n", HTML: "<p>x</p>"}, "text", 2},
		{"unknown field", Template{Name: Welcome, Subject: "x", Text: "a\n\n{{.Nope}}", HTML: "<p>x</p>"}, "text", 3},
		{"html unclosed action", Template{Name: Welcome, Subject: "x", Text: "a", HTML: "<p>\n{{.Org</p>"}, "html", 2},
		{"empty subject", Template{Name: Welcome, Text: "a", HTML: "b"}, "subject", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := db.Update(ctx, func(tx *store.Tx) error { _, err := Save(tx, tc.t, now); return err })
			var te *Error
			if !errors.As(err, &te) || te.Part != tc.part || te.Line != tc.line {
				t.Fatalf("err = %v (%#v), want part %s line %d", err, te, tc.part, tc.line)
			}
			_ = db.View(ctx, func(tx *store.Tx) error {
				cur, err := Get(tx, Welcome)
				if err != nil || cur.Subject != good.Subject || cur.Version != 1 {
					t.Errorf("current = %+v, %v; want the good version kept", cur, err)
				}
				return nil
			})
		})
	}
}

func TestHistoryResetAndSwitches(t *testing.T) {
	db := openDB(t)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ctx := context.Background()
	err := db.Update(ctx, func(tx *store.Tx) error {
		for _, subj := range []string{"one", "two"} {
			if _, err := Save(tx, Template{Name: Welcome, Subject: subj, Text: "t", HTML: "h"}, now); err != nil {
				return err
			}
		}
		if _, err := Reset(tx, Welcome, now); err != nil {
			return err
		}
		if err := SetEnabled(tx, Welcome, false); err != nil {
			return err
		}
		if err := SetEnabled(tx, PasswordReset, false); !errors.Is(err, ErrAlwaysOn) {
			t.Errorf("switching password_reset off: %v, want ErrAlwaysOn", err)
		}
		if _, err := Save(tx, Template{Name: "closed_notice", Subject: "Closed: {{.ItemTitle}}", Text: "{{.Text}}", HTML: "<p>{{.Text}}</p>"}, now); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(ctx, func(tx *store.Tx) error {
		h, err := History(tx, Welcome)
		if err != nil || len(h) != 3 || h[0].Subject != "one" || h[1].Subject != "two" || h[2].Note != "reset to default" {
			t.Errorf("history = %+v, %v", h, err)
		}
		cur, _ := Get(tx, Welcome)
		if d, _ := Default(Welcome); !sameContent(cur, d) || cur.Version != 3 {
			t.Errorf("after reset: %+v", cur)
		}
		if Enabled(tx, Welcome) || !Enabled(tx, PasswordReset) {
			t.Error("switches not as set")
		}
		list, _ := List(tx)
		if len(list) != len(SystemEmails)+1 || list[len(list)-1].Name != "closed_notice" || list[0].Enabled {
			t.Errorf("list = %+v", list)
		}
		return nil
	})
}
