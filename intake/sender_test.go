package intake

import (
	"context"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

func TestDecideSender(t *testing.T) {
	agent := &model.Person{ID: "u1", Kind: notify.KindUser, Name: "Uma", Emails: []string{"u1@corp.test"}}
	bot := &model.Person{ID: "b1", Kind: notify.KindBot}
	ann := &model.Person{ID: "ann", Kind: notify.KindCustomer}
	bob := &model.Person{ID: "bob", Kind: notify.KindCustomer, Name: "Bob", Emails: []string{"bob@x.test"}}
	ext := &model.Conversation{ID: "c1", Kind: model.External}
	internal := &model.Conversation{ID: "c2", Kind: model.Internal}
	tokenFor := func(p string) threading.Match {
		return threading.Match{Conversation: "c1", Method: threading.MethodToken, Token: &threading.Token{Conversation: "c1", Recipient: p}}
	}
	refs := threading.Match{Conversation: "c1", Method: threading.MethodReferences}
	refsInternal := threading.Match{Conversation: "c2", Method: threading.MethodReferences}
	newConv := threading.Match{Method: threading.MethodNew}
	none := threading.Match{Method: threading.MethodNone, Reason: "no support address"}
	pass := auth.Result{SPF: "pass", DMARC: "pass", Aligned: true}
	fail := auth.Result{SPF: "fail", DMARC: "fail"}
	relay := auth.Result{SPF: "none", DMARC: "none", Relay: true}
	rejectFail := auth.Result{SPF: "pass", SPFDomain: "evil.test", DMARC: "fail", Policy: "reject", FromDomain: "x.test"}
	quarantineFail := auth.Result{SPF: "fail", DMARC: "fail", Policy: "quarantine", FromDomain: "x.test"}

	cases := []struct {
		name   string
		f      senderFacts
		policy string
		want   verdict
		author string
		why    string
	}{
		{"customer replies to her own token", senderFacts{From: "ann@x.test", Author: ann, Match: tokenFor("ann"), Conv: ext, Auth: fail}, "", verdictPost, "ann", ""},
		{"token of ann used by bob is quarantined", senderFacts{From: "bob@x.test", Author: bob, Match: tokenFor("ann"), Conv: ext, Auth: pass}, "", verdictQuarantine, "", "reply token for ann used by Bob <bob@x.test>"},
		{"the log names the token's owner", senderFacts{From: "bob@x.test", Author: bob, Match: tokenFor("ann"), TokenFor: &model.Person{ID: "ann", Emails: []string{"ann@x.test"}}, Conv: ext, Auth: pass}, "", verdictQuarantine, "", "reply token for ann@x.test used by Bob <bob@x.test>"},
		{"token used by a stranger is rejected under reject", senderFacts{From: "eve@x.test", Match: tokenFor("ann"), Conv: ext, Auth: pass}, PolicyReject, verdictReject, "", "unknown sender eve@x.test"},
		{"agent with aligned DKIM/SPF posts", senderFacts{From: "u1@corp.test", Author: agent, Match: tokenFor("u1"), Conv: ext, Auth: pass}, "", verdictPost, "u1", ""},
		{"agent via trusted relay posts", senderFacts{From: "u1@corp.test", Author: agent, Match: refsInternal, Conv: internal, Auth: relay}, "", verdictPost, "u1", ""},
		{"spoofed agent is quarantined even with the right token", senderFacts{From: "u1@corp.test", Author: agent, Match: tokenFor("u1"), Conv: ext, Auth: fail}, "", verdictQuarantine, "", "claims user Uma <u1@corp.test>"},
		{"spoofed bot is quarantined", senderFacts{From: "bot@corp.test", Author: bot, Match: refs, Conv: ext, Auth: fail}, "", verdictQuarantine, "", "claims bot b1"},
		{"spoofed agent to the support address is quarantined", senderFacts{From: "u1@corp.test", Author: agent, Match: newConv, Auth: fail}, "", verdictQuarantine, "", "neither SPF nor DKIM"},
		{"customer never lands in an internal conversation", senderFacts{From: "ann@x.test", Author: ann, Match: refsInternal, Conv: internal, Auth: pass}, "", verdictQuarantine, "", "internal conversation c2"},
		{"stranger never lands in an internal conversation", senderFacts{From: "eve@x.test", Match: refsInternal, Conv: internal, Auth: pass}, "", verdictQuarantine, "", "internal conversation c2"},
		{"stranger by references joins an external conversation as a new customer", senderFacts{From: "eve@x.test", Match: refs, Conv: ext, Auth: fail}, "", verdictPost, "", ""},
		{"stranger to the support address opens a conversation", senderFacts{From: "eve@x.test", Match: newConv, Auth: fail}, "", verdictOpen, "", ""},
		{"unknown address of our own domain is never made a customer", senderFacts{From: "support@example.test", Match: newConv, Auth: fail, OwnDomain: true}, "", verdictDrop, "", "own domains"},
		{"nothing matched is dropped", senderFacts{From: "eve@x.test", Match: none}, "", verdictDrop, "", "no support address"},
		{"no single From is dropped", senderFacts{Match: newConv}, "", verdictDrop, "", "no single author"},
		{"a deleted conversation is dropped", senderFacts{From: "ann@x.test", Author: ann, Match: refs}, "", verdictDrop, "", "no longer exists"},
		// Issue 21, item 6: DMARC p=reject or p=quarantine binds customers too.
		{"customer failing DMARC p=reject is quarantined even with her own token", senderFacts{From: "ann@x.test", Author: ann, Match: tokenFor("ann"), Conv: ext, Auth: rejectFail}, "", verdictQuarantine, "", "fails DMARC and x.test publishes p=reject"},
		{"customer failing DMARC p=quarantine by references is quarantined", senderFacts{From: "ann@x.test", Author: ann, Match: refs, Conv: ext, Auth: quarantineFail}, "", verdictQuarantine, "", "p=quarantine"},
		{"stranger failing DMARC p=reject opens nothing", senderFacts{From: "eve@x.test", Match: newConv, Auth: rejectFail}, PolicyReject, verdictReject, "", "p=reject"},
		{"DMARC p=none leaves the token enough", senderFacts{From: "ann@x.test", Author: ann, Match: tokenFor("ann"), Conv: ext, Auth: auth.Result{SPF: "none", DMARC: "fail", Policy: "none", FromDomain: "x.test"}}, "", verdictPost, "ann", ""},
		{"a trusted relay's word stands over our DMARC view", senderFacts{From: "ann@x.test", Author: ann, Match: tokenFor("ann"), Conv: ext, Auth: auth.Result{SPF: "none", DMARC: "fail", Policy: "reject", Relay: true}}, "", verdictPost, "ann", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			policy := tc.policy
			if policy == "" {
				policy = PolicyQuarantine
			}
			d := decideSender(tc.f, policy)
			if d.Verdict != tc.want || d.Author != tc.author || !strings.Contains(d.Why, tc.why) {
				t.Errorf("got %s author=%q why=%q; want %s author=%q why containing %q", d.Verdict, d.Author, d.Why, tc.want, tc.author, tc.why)
			}
		})
	}
}

func TestAuthTemporaryOnlyWhenUnauthenticated(t *testing.T) {
	cases := []struct {
		name string
		r    auth.Result
		want bool
	}{
		{"spf temperror", auth.Result{SPF: "temperror", DMARC: "none"}, true},
		{"dmarc temperror", auth.Result{SPF: "fail", DMARC: "temperror"}, true},
		{"dkim temperror", auth.Result{SPF: "none", DMARC: "none", DKIM: []auth.DKIM{{Domain: "x.test", Result: "temperror"}}}, true},
		{"a plain failure is final", auth.Result{SPF: "fail", DMARC: "fail"}, false},
		{"aligned despite a temperror elsewhere", auth.Result{SPF: "temperror", DMARC: "pass", Aligned: true}, false},
		{"trusted relay", auth.Result{SPF: "temperror", Relay: true}, false},
	}
	for _, c := range cases {
		if got := authTemporary(c.r); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestClaimsStaff(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Update(context.Background(), func(tx *store.Tx) error {
		model.PutPerson(tx, model.Person{ID: "ada", Kind: notify.KindUser, Emails: []string{"ada@example.test"}, Settings: notify.DefaultSettings()})
		return model.PutPerson(tx, model.Person{ID: "ann", Kind: notify.KindCustomer, Emails: []string{"ann@client.test"}, Settings: notify.DefaultSettings()})
	})
	s := &InboundStep{DB: db}
	for addr, want := range map[string]bool{"ADA@example.test": true, "ann@client.test": false, "eve@x.test": false} {
		if got, err := s.claimsStaff(context.Background(), addr); got != want || err != nil {
			t.Errorf("claimsStaff(%s) = %v, %v, want %v", addr, got, err, want)
		}
	}
}

// A store that cannot answer who the author is makes claimsStaff fail,
// so the step is retried, instead of reading "not staff" (which would
// let an agent's unauthenticated reply through the customer rules).
func TestClaimsStaffStoreErrorIsReturned(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := (&InboundStep{DB: db}).claimsStaff(context.Background(), "ada@example.test"); err == nil {
		t.Error("a closed store answered")
	}
}
