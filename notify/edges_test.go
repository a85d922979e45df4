package notify

import (
	"errors"
	"strings"
	"testing"
)

func TestRecipientsEdgeCases(t *testing.T) {
	all := vis(VisibilityAllProjects)
	tests := []struct {
		name   string
		w      world
		author string
		want   []string
	}{
		{
			name:   "a customer author who follows the conversation and the item is not notified",
			w:      world{people: []Person{customer("cust"), user("u1")}, conv: []string{"cust", "u1"}, item: []string{"cust"}},
			author: "cust",
			want:   []string{"u1" + rMine},
		},
		{
			name: "a user author who follows and has every setting at All is not notified",
			w: world{people: []Person{customer("cust"), user("agent", all, presetOf(t, PresetSupportManager))},
				conv: []string{"cust", "agent"}, item: []string{"agent"}, project: []string{"agent"}},
			author: "agent",
			want:   []string{"cust" + rFollowsConv},
		},
		{
			name:   "a user author who does not follow but has All replies is not notified",
			w:      world{people: []Person{customer("cust"), user("agent", all, usersSetting(FromUsersAll))}, conv: []string{"cust"}},
			author: "agent",
			want:   []string{"cust" + rFollowsConv},
		},
		{
			name:   "a customer following an internal conversation is not notified",
			w:      world{internal: true, people: []Person{user("agent"), customer("cust"), customer("cust2"), user("u1")}, conv: []string{"agent", "cust", "u1"}, item: []string{"cust2"}},
			author: "agent",
			want:   []string{"u1" + rInternal},
		},
		{
			name:   "a customer who does not follow an external conversation is not notified",
			w:      world{people: []Person{user("agent"), customer("cust"), customer("other")}, conv: []string{"agent", "cust"}, project: []string{"other"}},
			author: "agent",
			want:   []string{"cust" + rFollowsConv},
		},
		{
			name:   "a customer author notifies the other customers who follow, by conversation or item",
			w:      world{people: []Person{customer("cust"), customer("cust2"), customer("cust3")}, conv: []string{"cust", "cust2"}, item: []string{"cust3"}},
			author: "cust",
			want:   []string{"cust2" + rFollowsConv, "cust3" + rFollowsItem},
		},
		{
			name:   "a person following both the conversation and its item is listed once, as a conversation follower",
			w:      world{people: []Person{user("agent"), customer("cust")}, conv: []string{"agent", "cust"}, item: []string{"cust", "cust"}},
			author: "agent",
			want:   []string{"cust" + rFollowsConv},
		},
		{
			name:   "visibility followed projects with All customer messages, not following the project: not notified",
			w:      world{people: []Person{customer("cust"), user("u1", fromCust(FromCustomersAll)), user("u2")}, conv: []string{"cust"}, project: []string{"u2"}},
			author: "cust",
			want:   []string{},
		},
		{
			name:   "a project follower with Only from my conversations sees but does not follow: not notified",
			w:      world{people: []Person{customer("cust"), user("u1")}, conv: []string{"cust"}, project: []string{"u1"}},
			author: "cust",
			want:   []string{},
		},
		{
			name:   "item follower and conversation follower are both followers",
			w:      world{people: []Person{customer("cust"), user("u1"), user("u2")}, conv: []string{"cust", "u1"}, item: []string{"u2"}},
			author: "cust",
			want:   []string{"u1" + rMine, "u2" + rMine},
		},
		{
			name:   "a conversation without an item: only all-projects users see it without following",
			w:      world{noItem: true, people: []Person{customer("cust"), user("u1", fromCust(FromCustomersAll)), user("u2", all, fromCust(FromCustomersAll)), user("u3")}, conv: []string{"cust"}, item: []string{"u3"}, project: []string{"u1"}},
			author: "cust",
			want:   []string{"u2" + rAllCust},
		},
		{
			name:   "a bot author is treated as a user: customers following are notified, the bot is not",
			w:      world{people: []Person{bot("bot"), customer("cust"), user("u1")}, conv: []string{"bot", "cust", "u1"}},
			author: "bot",
			want:   []string{"cust" + rFollowsConv, "u1" + rFollowedRep},
		},
		{
			name: "a customer or bot with All settings and all-projects visibility is not a user: not notified without following",
			w: world{people: []Person{user("agent"), {ID: "cust", Kind: KindCustomer, Settings: user("", vis(VisibilityAllProjects), presetOf(t, PresetSupportManager)).Settings},
				{ID: "bot", Kind: KindBot, Settings: user("", vis(VisibilityAllProjects), presetOf(t, PresetSupportManager)).Settings}}, conv: []string{"agent"}, project: []string{"cust", "bot"}},
			author: "agent",
			want:   []string{},
		},
		{
			name:   "bots are never notified, even when they follow",
			w:      world{people: []Person{customer("cust"), bot("bot1"), bot("bot2")}, conv: []string{"cust", "bot1"}, item: []string{"bot2"}, project: []string{"bot1"}},
			author: "cust",
			want:   []string{},
		},
		{
			name:   "a follower the model does not know is skipped",
			w:      world{people: []Person{customer("cust"), user("u1")}, conv: []string{"cust", "ghost", "u1"}, item: []string{"ghost2"}},
			author: "cust",
			want:   []string{"u1" + rMine},
		},
		{
			name: "a user whose setting holds an unknown value is treated as none for it",
			w: world{people: []Person{customer("cust"), user("u1", fromCust("bogus")), user("u2"), user("u3", vis("bogus"), fromCust(FromCustomersAll))},
				conv: []string{"cust", "u1", "u2"}, project: []string{"u3"}},
			author: "cust",
			want:   []string{"u2" + rMine},
		},
		{
			name: "recipients are sorted by person id whatever the follower order",
			w: world{people: []Person{user("agent"), customer("c9"), customer("c10"), user("b"), user("a", all, usersSetting(FromUsersAll)), user("z")},
				conv: []string{"z", "agent", "c9"}, item: []string{"c10", "b"}},
			author: "agent",
			want:   []string{"a" + rAllReplies, "b" + rFollowedRep, "c10" + rFollowsItem, "c9" + rFollowsConv, "z" + rFollowedRep},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.w.recipients(t, tt.author); !sameList(got, tt.want) {
				t.Errorf("recipients:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestRecipientsPresets checks each preset (and the defaults) against every
// kind of message and every way a user can relate to the conversation.
// Each string has one letter per relation, in the order of relations:
// y = notified, - = not.
func TestRecipientsPresets(t *testing.T) {
	relations := []string{"follows conversation", "follows item", "follows project", "sees all projects", "cannot see"}
	messages := []string{"customer message", "user reply", "bot reply", "internal"}
	want := map[string]map[string]string{
		PresetNothing:        {"customer message": "-----", "user reply": "-----", "bot reply": "-----", "internal": "-----"},
		PresetSupportManager: {"customer message": "yyyy-", "user reply": "yyyy-", "bot reply": "yyyy-", "internal": "yy---"},
		PresetSupportMember:  {"customer message": "yy---", "user reply": "yy---", "bot reply": "yy---", "internal": "yy---"},
		"defaults":           {"customer message": "yy---", "user reply": "yy---", "bot reply": "yy---", "internal": "yy---"},
	}
	for preset, byMsg := range want {
		for _, msg := range messages {
			for i, rel := range relations {
				t.Run(preset+"/"+msg+"/"+rel, func(t *testing.T) {
					opts := []setting{}
					if preset != "defaults" {
						opts = append(opts, presetOf(t, preset))
					}
					if rel == "sees all projects" {
						opts = append(opts, vis(VisibilityAllProjects))
					}
					w := world{
						internal: msg == "internal",
						people:   []Person{customer("cust"), user("agent"), bot("bot"), user("u", opts...)},
						conv:     []string{"agent"},
					}
					if !w.internal {
						w.conv = append(w.conv, "cust")
					}
					switch rel {
					case "follows conversation":
						w.conv = append(w.conv, "u")
					case "follows item":
						w.item = []string{"u"}
					case "follows project":
						w.project = []string{"u"}
					}
					author := map[string]string{"customer message": "cust", "user reply": "agent", "bot reply": "bot", "internal": "agent"}[msg]
					notified := false
					for _, r := range w.recipients(t, author) {
						notified = notified || strings.HasPrefix(r, "u=")
					}
					if wantY := byMsg[msg][i] == 'y'; notified != wantY {
						t.Errorf("notified = %v, want %v", notified, wantY)
					}
				})
			}
		}
	}
}

// failingModel fails the calls named in fail with errBoom, to check that
// trouble reading the model is reported, not mistaken for "no followers".
type failingModel struct {
	*MemModel
	fail string
}

var errBoom = errors.New("disk on fire")

func (f failingModel) Person(id string) (Person, error) {
	if f.fail == "Person:"+id {
		return Person{}, errBoom
	}
	return f.MemModel.Person(id)
}

func (f failingModel) ItemFollowers(id string) ([]string, error) {
	if f.fail == "ItemFollowers" {
		return nil, errBoom
	}
	return f.MemModel.ItemFollowers(id)
}

func (f failingModel) ProjectFollowers(id string) ([]string, error) {
	if f.fail == "ProjectFollowers" {
		return nil, errBoom
	}
	return f.MemModel.ProjectFollowers(id)
}

func (f failingModel) UsersNotifiedOfAll(o Origin) ([]string, error) {
	if f.fail == "UsersNotifiedOfAll" {
		return nil, errBoom
	}
	return f.MemModel.UsersNotifiedOfAll(o)
}

func TestRecipientsErrors(t *testing.T) {
	w := world{
		people: []Person{customer("cust"), user("u1"), user("u2", fromCust(FromCustomersAll)), {ID: "odd", Kind: "robot"}},
		conv:   []string{"cust", "u1"}, project: []string{"u2"},
	}
	internal := w
	internal.internal = true
	tests := []struct {
		name   string
		m      Model
		msg    Message
		target error
	}{
		{"unknown author", w.model(), Message{ID: "m1", AuthorID: "nobody", ConversationID: "c1"}, ErrNotFound},
		{"unknown conversation", w.model(), Message{ID: "m1", AuthorID: "cust", ConversationID: "c404"}, ErrNotFound},
		{"customer author in an internal conversation", internal.model(), Message{ID: "m1", AuthorID: "cust", ConversationID: "c1"}, ErrCustomerInInternal},
		{"author of unknown kind", w.model(), Message{ID: "m1", AuthorID: "odd", ConversationID: "c1"}, nil},
		{"follower read fails", failingModel{w.model(), "Person:u1"}, Message{ID: "m1", AuthorID: "cust", ConversationID: "c1"}, errBoom},
		{"item followers read fails", failingModel{w.model(), "ItemFollowers"}, Message{ID: "m1", AuthorID: "cust", ConversationID: "c1"}, errBoom},
		{"all-users index read fails", failingModel{w.model(), "UsersNotifiedOfAll"}, Message{ID: "m1", AuthorID: "cust", ConversationID: "c1"}, errBoom},
		{"project followers read fails", failingModel{w.model(), "ProjectFollowers"}, Message{ID: "m1", AuthorID: "cust", ConversationID: "c1"}, errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := Recipients(tt.msg, tt.m)
			if err == nil {
				t.Fatalf("Recipients = %v, want an error", rs)
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.target)
			}
			if !strings.Contains(err.Error(), `"m1"`) {
				t.Errorf("err = %v, want it to name the message", err)
			}
		})
	}
}

func TestRecipientsInternalConversationNeverReadsTheAllUsersIndex(t *testing.T) {
	w := world{internal: true, people: []Person{user("agent"), user("u1")}, conv: []string{"agent", "u1"}}
	m := failingModel{w.model(), "UsersNotifiedOfAll"}
	if _, err := Recipients(Message{ID: "m1", AuthorID: "agent", ConversationID: "c1"}, m); err != nil {
		t.Fatalf("internal message read the index: %v", err)
	}
	m.fail = "ProjectFollowers"
	if _, err := Recipients(Message{ID: "m1", AuthorID: "agent", ConversationID: "c1"}, m); err != nil {
		t.Fatalf("internal message read the project followers: %v", err)
	}
}
