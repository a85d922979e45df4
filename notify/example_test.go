package notify_test

import (
	"fmt"

	"github.com/deskmail/deskmail/notify"
)

// A customer writes in an external conversation of item "i1". The agent
// who follows the conversation hears of it; the support manager sees all
// projects and asked for all customer messages; a colleague with the
// defaults who only follows the project does not; the customer, as the
// author, is never notified.
func ExampleRecipients() {
	m := &notify.MemModel{}
	manager, _ := notify.ApplyPreset(notify.DefaultSettings(), notify.PresetSupportManager)
	manager.Visibility = notify.VisibilityAllProjects
	m.PutPerson(notify.Person{ID: "ann", Kind: notify.KindCustomer})
	m.PutPerson(notify.Person{ID: "bob", Kind: notify.KindUser, Settings: notify.DefaultSettings()})
	m.PutPerson(notify.Person{ID: "cai", Kind: notify.KindUser, Settings: notify.DefaultSettings()})
	m.PutPerson(notify.Person{ID: "dee", Kind: notify.KindUser, Settings: manager})
	m.PutConversation(notify.Conversation{ID: "c1", ItemID: "i1", ProjectID: "p1", Followers: []string{"ann", "bob"}})
	m.SetProjectFollowers("p1", "cai")

	rs, err := notify.Recipients(notify.Message{ID: "m1", AuthorID: "ann", ConversationID: "c1"}, m)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rs {
		fmt.Printf("%s (%s): %s\n", r.PersonID, r.Kind, r.Reason)
	}
	// Output:
	// bob (user): customer message in followed conversation
	// dee (user): All customer messages
}

func ExampleApplyPreset() {
	s, err := notify.ApplyPreset(notify.DefaultSettings(), "nothing")
	fmt.Println(s.FromCustomers, s.FromUsers, s.FollowedInternal, s.Visibility, err)
	_, err = notify.ApplyPreset(s, "everything")
	fmt.Println(err)
	// Output:
	// none none false followed_projects <nil>
	// notify: preset: unknown value "everything" (want nothing | support_manager | support_member)
}
