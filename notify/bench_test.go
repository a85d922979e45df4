package notify

import (
	"fmt"
	"testing"
)

// benchModel is an organisation around busy items: conversation "ext"
// (external) has 1,000 followers, 600 on the conversation and 400 through
// its item, 30% customers, with varied settings; "int" (internal) has the
// ~700 users and bots among them; 50 more
// users have an "all" setting without following (half of them follow the
// project, half see all projects), and the project has 500 followers.
func benchModel() *MemModel {
	m := &MemModel{}
	presetNames := []string{"", PresetNothing, PresetSupportManager, PresetSupportMember}
	var extConv, intConv, item, project []string
	for i := range 1000 {
		id := fmt.Sprintf("p%04d", i)
		p := Person{ID: id, Kind: KindUser, Settings: DefaultSettings()}
		switch {
		case i%10 < 3: // 30% customers
			p.Kind = KindCustomer
		case i%97 == 0:
			p.Kind = KindBot
		default:
			if name := presetNames[i%4]; name != "" {
				p.Settings, _ = ApplyPreset(p.Settings, name)
			}
			p.Settings.ShowFromCustomers = i%7 != 0
			if i%11 == 0 {
				p.Settings.FromUsers = FromUsersNone
			}
			if i%5 == 0 {
				p.Settings.Visibility = VisibilityAllProjects
			}
		}
		m.PutPerson(p)
		if i < 600 {
			extConv = append(extConv, id)
		} else {
			item = append(item, id)
		}
		if p.Kind != KindCustomer {
			intConv = append(intConv, id)
		}
		if i%2 == 0 && p.Kind == KindUser {
			project = append(project, id)
		}
	}
	for i := range 50 {
		id := fmt.Sprintf("m%02d", i)
		s, _ := ApplyPreset(DefaultSettings(), PresetSupportManager)
		if i%2 == 0 {
			s.Visibility = VisibilityAllProjects
		} else {
			project = append(project, id)
		}
		m.PutPerson(Person{ID: id, Kind: KindUser, Settings: s})
	}
	m.PutPerson(Person{ID: "author-customer", Kind: KindCustomer})
	m.PutPerson(Person{ID: "author-user", Kind: KindUser, Settings: DefaultSettings()})
	m.PutConversation(Conversation{ID: "ext", ItemID: "i1", ProjectID: "p1", Followers: extConv})
	m.PutConversation(Conversation{ID: "int", Internal: true, ItemID: "i2", ProjectID: "p1", Followers: intConv[:min(600, len(intConv))]})
	m.SetItemFollowers("i1", item...)
	m.SetItemFollowers("i2", intConv[min(600, len(intConv)):]...)
	m.SetProjectFollowers("p1", project...)
	return m
}

func BenchmarkRecipients(b *testing.B) {
	m := benchModel()
	cases := []struct {
		name string
		msg  Message
	}{
		{"external/customer_message", Message{ID: "m1", AuthorID: "author-customer", ConversationID: "ext"}},
		{"external/user_reply", Message{ID: "m2", AuthorID: "author-user", ConversationID: "ext"}},
		{"internal", Message{ID: "m3", AuthorID: "author-user", ConversationID: "int"}},
	}
	for _, c := range cases {
		conv, _ := m.Conversation(c.msg.ConversationID)
		items, _ := m.ItemFollowers(conv.ItemID)
		followers := len(conv.Followers) + len(items)
		b.Run(c.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				rs, err := Recipients(c.msg, m)
				if err != nil {
					b.Fatal(err)
				}
				n = len(rs)
			}
			b.ReportMetric(float64(n), "recipients/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(followers), "ns/follower")
		})
	}
}
