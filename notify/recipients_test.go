package notify

import (
	"testing"
)

// Reasons, short, for the tables below.
const (
	rFollowsConv = "=" + string(ReasonFollowsConversation)
	rFollowsItem = "=" + string(ReasonFollowsItem)
	rAllCust     = "=" + string(ReasonAllCustomerMessages)
	rMine        = "=" + string(ReasonMyConversation)
	rAllReplies  = "=" + string(ReasonAllReplies)
	rFollowedRep = "=" + string(ReasonFollowedReplies)
	rInternal    = "=" + string(ReasonFollowedInternal)
)

// TestRecipientsSpecTable walks the table of SPEC section 2 row by row,
// then rule 4's "Show From customers" sentence. In external conversations
// the customer "cust" follows, so each case also checks that customers and
// users are decided independently.
func TestRecipientsSpecTable(t *testing.T) {
	all := vis(VisibilityAllProjects)
	tests := []struct {
		name   string
		w      world
		author string
		want   []string
	}{
		// From a customer, C external: "From customers" decides.
		{
			name:   "customer message, All customer messages, notifies a user who does not follow but sees all projects",
			w:      world{people: []Person{customer("cust"), user("u1", all, fromCust(FromCustomersAll))}, conv: []string{"cust"}},
			author: "cust",
			want:   []string{"u1" + rAllCust},
		},
		{
			name:   "customer message, All customer messages, notifies a user who sees the conversation through a followed project",
			w:      world{people: []Person{customer("cust"), user("u1", fromCust(FromCustomersAll))}, conv: []string{"cust"}, project: []string{"u1"}},
			author: "cust",
			want:   []string{"u1" + rAllCust},
		},
		{
			name:   "customer message, All customer messages, notifies a follower with that reason",
			w:      world{people: []Person{customer("cust"), user("u1", fromCust(FromCustomersAll))}, conv: []string{"cust", "u1"}},
			author: "cust",
			want:   []string{"u1" + rAllCust},
		},
		{
			name:   "customer message, Only from my conversations, notifies a user following the conversation",
			w:      world{people: []Person{customer("cust"), user("u1")}, conv: []string{"cust", "u1"}},
			author: "cust",
			want:   []string{"u1" + rMine},
		},
		{
			name:   "customer message, Only from my conversations, notifies a user following the item",
			w:      world{people: []Person{customer("cust"), user("u1")}, conv: []string{"cust"}, item: []string{"u1"}},
			author: "cust",
			want:   []string{"u1" + rMine},
		},
		{
			name:   "customer message, Only from my conversations, skips a user who sees all projects but does not follow",
			w:      world{people: []Person{customer("cust"), user("u1", all)}, conv: []string{"cust"}},
			author: "cust",
			want:   []string{},
		},
		{
			name:   "customer message, No customer messages, skips even a follower",
			w:      world{people: []Person{customer("cust"), user("u1", all, fromCust(FromCustomersNone))}, conv: []string{"cust", "u1"}, item: []string{"u1"}},
			author: "cust",
			want:   []string{},
		},

		// From a user or bot, C external: "From users and bot" decides.
		{
			name:   "user reply, All replies to customers, notifies a user who does not follow but sees all projects",
			w:      world{people: []Person{customer("cust"), user("agent"), user("u1", all, usersSetting(FromUsersAll))}, conv: []string{"cust", "agent"}},
			author: "agent",
			want:   []string{"cust" + rFollowsConv, "u1" + rAllReplies},
		},
		{
			name:   "user reply, All replies to customers, notifies a user who follows the project",
			w:      world{people: []Person{customer("cust"), user("agent"), user("u1", usersSetting(FromUsersAll))}, conv: []string{"cust", "agent"}, project: []string{"u1"}},
			author: "agent",
			want:   []string{"cust" + rFollowsConv, "u1" + rAllReplies},
		},
		{
			name:   "user reply, Followed replies to customers, notifies a follower",
			w:      world{people: []Person{customer("cust"), user("agent"), user("u1")}, conv: []string{"cust", "agent", "u1"}},
			author: "agent",
			want:   []string{"cust" + rFollowsConv, "u1" + rFollowedRep},
		},
		{
			name:   "user reply, Followed replies to customers, skips a visible user who does not follow",
			w:      world{people: []Person{customer("cust"), user("agent"), user("u1", all)}, conv: []string{"cust", "agent"}, project: []string{"u1"}},
			author: "agent",
			want:   []string{"cust" + rFollowsConv},
		},
		{
			name:   "user reply, No replies to customers, skips even a follower",
			w:      world{people: []Person{customer("cust"), user("agent"), user("u1", usersSetting(FromUsersNone))}, conv: []string{"cust", "agent", "u1"}},
			author: "agent",
			want:   []string{"cust" + rFollowsConv},
		},
		{
			name:   "bot reply counts as from users and bot: All replies notifies a non-follower",
			w:      world{people: []Person{customer("cust"), bot("bot"), user("u1", all, usersSetting(FromUsersAll), fromCust(FromCustomersNone))}, conv: []string{"cust"}},
			author: "bot",
			want:   []string{"cust" + rFollowsConv, "u1" + rAllReplies},
		},
		{
			name:   "bot reply counts as from users and bot: No replies skips a follower with All customer messages",
			w:      world{people: []Person{customer("cust"), bot("bot"), user("u1", usersSetting(FromUsersNone), fromCust(FromCustomersAll))}, conv: []string{"cust", "u1"}},
			author: "bot",
			want:   []string{"cust" + rFollowsConv},
		},

		// C internal: "Followed internal messages" decides.
		{
			name:   "internal, Followed internal on, notifies conversation and item followers",
			w:      world{internal: true, people: []Person{user("agent"), user("u1"), user("u2")}, conv: []string{"agent", "u1"}, item: []string{"u2"}},
			author: "agent",
			want:   []string{"u1" + rInternal, "u2" + rInternal},
		},
		{
			name: "internal, Followed internal on, skips a visible non-follower even with all other settings at All",
			w: world{internal: true, people: []Person{user("agent"), user("u1", all, presetOf(t, PresetSupportManager))},
				conv: []string{"agent"}, project: []string{"u1"}},
			author: "agent",
			want:   []string{},
		},
		{
			name:   "internal, Followed internal off, skips a follower",
			w:      world{internal: true, people: []Person{user("agent"), user("u1", internalMsgs(false))}, conv: []string{"agent", "u1"}, item: []string{"u1"}},
			author: "agent",
			want:   []string{},
		},
		{
			name:   "internal, bot author notifies followers with internal on",
			w:      world{internal: true, people: []Person{bot("bot"), user("u1")}, conv: []string{"u1"}},
			author: "bot",
			want:   []string{"u1" + rInternal},
		},

		// "Show From customers" off: no external conversation U does not follow.
		{
			name:   "show From customers off skips a non-follower with All customer messages",
			w:      world{people: []Person{customer("cust"), user("u1", all, showCustomers(false), fromCust(FromCustomersAll))}, conv: []string{"cust"}},
			author: "cust",
			want:   []string{},
		},
		{
			name:   "show From customers off skips a non-follower with All replies to customers",
			w:      world{people: []Person{customer("cust"), user("agent"), user("u1", showCustomers(false), usersSetting(FromUsersAll))}, conv: []string{"cust", "agent"}, project: []string{"u1"}},
			author: "agent",
			want:   []string{"cust" + rFollowsConv},
		},
		{
			name:   "show From customers off keeps a follower's customer messages",
			w:      world{people: []Person{customer("cust"), user("u1", showCustomers(false), fromCust(FromCustomersAll)), user("u2", showCustomers(false))}, conv: []string{"cust", "u1"}, item: []string{"u2"}},
			author: "cust",
			want:   []string{"u1" + rAllCust, "u2" + rMine},
		},
		{
			name:   "show From customers off keeps a follower's followed replies",
			w:      world{people: []Person{customer("cust"), user("agent"), user("u1", showCustomers(false))}, conv: []string{"cust", "agent", "u1"}},
			author: "agent",
			want:   []string{"cust" + rFollowsConv, "u1" + rFollowedRep},
		},
		{
			name:   "show From customers off does not touch internal messages",
			w:      world{internal: true, people: []Person{user("agent"), user("u1", showCustomers(false))}, conv: []string{"agent", "u1"}},
			author: "agent",
			want:   []string{"u1" + rInternal},
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
