package notify

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The fixture: conversation "c1" belongs to item "i1" in project "p1",
// unless the world says it has no item. Each test case lists the people,
// and who follows the conversation, the item and the project.

type setting func(*Settings)

func vis(v Visibility) setting         { return func(s *Settings) { s.Visibility = v } }
func fromCust(v FromCustomers) setting { return func(s *Settings) { s.FromCustomers = v } }
func usersSetting(v FromUsers) setting { return func(s *Settings) { s.FromUsers = v } }
func internalMsgs(on bool) setting     { return func(s *Settings) { s.FollowedInternal = on } }
func showCustomers(on bool) setting    { return func(s *Settings) { s.ShowFromCustomers = on } }
func presetOf(t testing.TB, name string) setting {
	return func(s *Settings) {
		var err error
		if *s, err = ApplyPreset(*s, name); err != nil {
			t.Fatal(err)
		}
	}
}

// user is a user with the default settings changed by opts.
func user(id string, opts ...setting) Person {
	s := DefaultSettings()
	for _, o := range opts {
		o(&s)
	}
	return Person{ID: id, Kind: KindUser, Settings: s}
}

// customer and bot carry default settings on purpose: Recipients must not
// read them.
func customer(id string) Person {
	return Person{ID: id, Kind: KindCustomer, Settings: DefaultSettings()}
}
func bot(id string) Person { return Person{ID: id, Kind: KindBot, Settings: DefaultSettings()} }

type world struct {
	internal bool
	noItem   bool // the conversation belongs to no item and so no project
	people   []Person
	conv     []string // followers of c1
	item     []string // followers of i1
	project  []string // followers of p1
}

func (w world) model() *MemModel {
	m := &MemModel{}
	for _, p := range w.people {
		m.PutPerson(p)
	}
	c := Conversation{ID: "c1", Internal: w.internal, ItemID: "i1", ProjectID: "p1", Followers: w.conv}
	if w.noItem {
		c.ItemID, c.ProjectID = "", ""
	}
	m.PutConversation(c)
	m.SetItemFollowers("i1", w.item...)
	m.SetProjectFollowers("p1", w.project...)
	return m
}

// recipients runs Recipients for a message by author in c1 and returns
// "id=reason" strings in the order Recipients gave them.
func (w world) recipients(t *testing.T, author string) []string {
	t.Helper()
	msg := Message{ID: "m1", AuthorID: author, ConversationID: "c1"}
	rs, err := Recipients(msg, w.model())
	if err != nil {
		t.Fatalf("Recipients: %v", err)
	}
	// The Model contract allows an index that returns too many users;
	// every answer must be the same with one that returns everybody.
	everyone := make([]string, len(w.people))
	for i, p := range w.people {
		everyone[i] = p.ID
	}
	wide, err := Recipients(msg, supersetModel{w.model(), everyone})
	if err != nil {
		t.Fatalf("Recipients with a superset index: %v", err)
	}
	if !slices.Equal(rs, wide) {
		t.Errorf("a superset index changed the answer:\n got %v\nwant %v", wide, rs)
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		if r.Kind != KindUser && r.Kind != KindCustomer {
			t.Errorf("recipient %s has kind %q", r.PersonID, r.Kind)
		}
		out[i] = fmt.Sprintf("%s=%s", r.PersonID, r.Reason)
	}
	return out
}

func sameList(got, want []string) bool {
	return strings.Join(got, "\n") == strings.Join(want, "\n")
}

// supersetModel answers UsersNotifiedOfAll with every person, bots and
// customers included, as a lazy or stale index might.
type supersetModel struct {
	*MemModel
	everyone []string
}

func (m supersetModel) UsersNotifiedOfAll(Origin) ([]string, error) { return m.everyone, nil }
