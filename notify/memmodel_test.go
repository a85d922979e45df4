package notify

import (
	"slices"
	"sync"
	"testing"
)

func TestMemModelIndexFollowsSettingChanges(t *testing.T) {
	m := &MemModel{}
	mgr, _ := ApplyPreset(DefaultSettings(), PresetSupportManager)
	m.PutPerson(Person{ID: "u1", Kind: KindUser, Settings: mgr})
	m.PutPerson(Person{ID: "c1", Kind: KindCustomer, Settings: mgr}) // not a user: never indexed
	for _, o := range []Origin{OriginCustomer, OriginUser} {
		if got, _ := m.UsersNotifiedOfAll(o); !slices.Equal(got, []string{"u1"}) {
			t.Fatalf("origin %d: %v, want [u1]", o, got)
		}
	}
	m.PutPerson(Person{ID: "u1", Kind: KindUser, Settings: DefaultSettings()})
	for _, o := range []Origin{OriginCustomer, OriginUser} {
		if got, _ := m.UsersNotifiedOfAll(o); len(got) != 0 {
			t.Fatalf("origin %d after the user went back to defaults: %v", o, got)
		}
	}
	if _, err := m.UsersNotifiedOfAll(Origin(7)); err == nil {
		t.Error("unknown origin accepted")
	}
}

// Run with -race: MemModel is shared by tests of other packages that may
// write while a pipeline reads.
func TestMemModelConcurrentReadsAndWrites(t *testing.T) {
	w := world{people: []Person{customer("cust"), user("u1")}, conv: []string{"cust", "u1"}}
	m := w.model()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 100 {
				if i%2 == 0 {
					m.PutPerson(user("u1", fromCust(FromCustomersAll)))
					m.SetItemFollowers("i1", "u1")
					continue
				}
				if _, err := Recipients(Message{ID: "m", AuthorID: "cust", ConversationID: "c1"}, m); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
