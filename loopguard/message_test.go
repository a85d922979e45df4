package loopguard

import (
	"reflect"
	"testing"

	"github.com/deskmail/deskmail/mailmsg"
)

// TestClassifyMessage: classifying the pipeline's one parse of an email
// gives the verdict Classify gives on its bytes, for every corpus email.
func TestClassifyMessage(t *testing.T) {
	g := corpusGuard()
	for _, tc := range corpus {
		raw := readCorpus(t, tc.file)
		want := g.Classify(Envelope{Offline: true}, raw)
		got := g.ClassifyMessage(Envelope{Offline: true}, mailmsg.Parse(raw, mailmsg.Limits{}))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, want %+v", tc.file, got, want)
		}
	}
}
