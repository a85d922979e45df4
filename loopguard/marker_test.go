package loopguard

import (
	"fmt"
	"strings"
	"testing"
)

func ownMail(id, marker string) []byte {
	return []byte(fmt.Sprintf("From: ACME Support <support@acme-support.example>\nTo: someone@example.org\nSubject: [#1] hello\nMessage-ID: <%s>\n%s: %s\n\nhello\n", id, MarkerHeader, marker))
}

func TestMarker(t *testing.T) {
	old := New(Options{Secrets: [][]byte{[]byte("old")}})
	rotated := New(Options{Secrets: [][]byte{[]byte("new"), []byte("old")}})
	other := New(Options{Secrets: [][]byte{[]byte("someone else")}})
	const id = "dm.c1.m2@help.acme-support.example"

	tests := []struct {
		name   string
		signer *Guard
		id     string // Message-ID the marker is computed for
		mailID string // Message-ID the email carries
		check  *Guard
		want   Class
	}{
		{"own mail comes back", rotated, id, id, rotated, Looping},
		{"signed before a key rotation", old, id, id, rotated, Looping},
		{"marker copied onto another message", rotated, id, "other@example.org", rotated, Human},
		{"marker from another installation", other, id, id, rotated, Human},
		{"angle brackets do not matter", rotated, "<" + id + ">", id, rotated, Looping},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.signer.Marker(tc.id)
			if !strings.HasPrefix(m, "v1.") {
				t.Fatalf("marker %q", m)
			}
			v := tc.check.Classify(Envelope{MailFrom: "x@example.org"}, ownMail(tc.mailID, m))
			if v.Class != tc.want {
				t.Errorf("class %s, want %s: %v", v.Class, tc.want, v.Reasons)
			}
		})
	}
}

func TestMarkerWithoutSecret(t *testing.T) {
	g := New(Options{})
	if m := g.Marker("a@b"); m != "" {
		t.Errorf("Marker without a secret = %q, want empty", m)
	}
	if g.verifyMarker("v1.AAAA", "a@b") {
		t.Error("verified a marker without any secret")
	}
}

func TestMarkerIsStable(t *testing.T) {
	g := New(Options{Secrets: [][]byte{[]byte("k")}})
	if g.Marker("<a@b>") != g.Marker("a@b") || g.Marker("a@b") == g.Marker("a@c") {
		t.Error("marker must depend on the Message-ID only, without <>")
	}
}

// TestBounceOfOwnMail checks that a DSN whose attached original carries a
// valid marker says so, and one without does not: the outbound side can
// then refuse forged bounces.
func TestBounceOfOwnMail(t *testing.T) {
	g := corpusGuard()
	dsn := string(readCorpus(t, "24-postfix-dsn-user-unknown.eml"))
	const idLine = "Message-ID: <dm.c1502.m77812@help.acme-support.example>\n"
	if !strings.Contains(dsn, idLine) {
		t.Fatal("corpus file changed")
	}
	signed := strings.Replace(dsn, idLine, idLine+MarkerHeader+": "+g.Marker("dm.c1502.m77812@help.acme-support.example")+"\n", 1)
	forged := strings.Replace(dsn, idLine, idLine+MarkerHeader+": v1.AAAAAAAAAAAAAAAAAAAAAA\n", 1)
	for _, tc := range []struct {
		name string
		raw  string
		want bool
	}{{"signed original", signed, true}, {"forged marker", forged, false}, {"no marker", dsn, false}} {
		v := g.Classify(Envelope{}, []byte(tc.raw))
		if v.Class != Bounce || v.Bounce == nil {
			t.Fatalf("%s: %s", tc.name, v.Class)
		}
		if v.Bounce.OwnMail != tc.want {
			t.Errorf("%s: OwnMail = %v, want %v", tc.name, v.Bounce.OwnMail, tc.want)
		}
	}
}
