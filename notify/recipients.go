package notify

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNotFound is what a Model returns (wrapped or not) for an unknown person
// or conversation, and what Recipients returns, wrapped, when the author or
// the conversation of a message is unknown. Compare with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrCustomerInInternal is returned, wrapped, for a message whose author is
// a customer in an internal conversation. Internal conversations are
// between users only (SPEC section 1); such a message means a check failed
// upstream, and fanning it out to users as an internal message would let a
// customer speak where only colleagues may.
var ErrCustomerInInternal = errors.New("customer author in an internal conversation")

// Kind is what a person is.
type Kind string

const (
	KindUser     Kind = "user"     // a member of the organisation (an agent); has Settings
	KindCustomer Kind = "customer" // someone the organisation helps
	KindBot      Kind = "bot"      // posts messages, is never notified
)

// Person is what Recipients needs of a person: the kind, and for users the
// settings.
type Person struct {
	ID       string
	Kind     Kind
	Settings Settings // read for users only
}

// Conversation is what Recipients needs of a conversation. ProjectID is the
// project of the conversation's item (the caller resolves it); both are
// empty for a conversation outside any item.
type Conversation struct {
	ID        string
	Internal  bool     // between users only; false means external (users and customers)
	ItemID    string   // optional
	ProjectID string   // optional; the item's project
	Followers []string // person IDs following the conversation itself
}

// Message is a new message to fan out.
type Message struct {
	ID             string
	AuthorID       string
	ConversationID string
}

// Origin is who wrote a message, as the settings table sees it.
type Origin int

const (
	// OriginCustomer: written by a customer; "From customers" decides.
	OriginCustomer Origin = iota
	// OriginUser: written by a user or a bot; in an external conversation
	// "From users and bot" decides.
	OriginUser
)

// Model is what Recipients reads. The store implements it; MemModel is an
// in-memory one for tests. An implementation backed by a database should
// answer all calls of one Recipients from one read transaction, so the
// answer is computed on one consistent snapshot.
//
// Recipients never enumerates every person. Followers of the conversation
// and of its item are read directly. The only users who can be notified
// without following are those with a setting that asks for every message
// of a kind ("All customer messages", "All replies to customers"); the
// store keeps them as a small index, and Recipients checks each one's
// visibility, reading the project's followers at most once and only if one
// of them needs it. So the cost of a message is proportional to its
// followers plus those few "all" users, not to the size of the
// organisation, and internal conversations never touch the index at all.
type Model interface {
	// Person returns the person, or an error wrapping ErrNotFound.
	Person(id string) (Person, error)
	// Conversation returns the conversation, or an error wrapping
	// ErrNotFound.
	Conversation(id string) (Conversation, error)
	// ItemFollowers returns the person IDs following the item; none for
	// an unknown item.
	ItemFollowers(itemID string) ([]string, error)
	// ProjectFollowers returns the user IDs following the project; none for
	// an unknown project.
	ProjectFollowers(projectID string) ([]string, error)
	// UsersNotifiedOfAll returns the IDs of users whose settings ask for
	// every message of that origin in the external conversations they may
	// see: From customers = All customer messages (OriginCustomer), or
	// From users and bot = All replies to customers (OriginUser). A
	// superset is harmless (Recipients checks the settings again); a
	// missing user misses notifications.
	UsersNotifiedOfAll(o Origin) ([]string, error)
}

// Reason says why a person is a recipient, in words an operator reads in
// `deskmail explain` and the delivery view.
type Reason string

const (
	// Customers, in an external conversation.
	ReasonFollowsConversation Reason = "follows conversation"
	ReasonFollowsItem         Reason = "follows item"

	// Users, message from a customer.
	ReasonAllCustomerMessages Reason = "All customer messages"
	ReasonMyConversation      Reason = "customer message in followed conversation" // Only from my conversations

	// Users, message from a user or bot in an external conversation.
	ReasonAllReplies      Reason = "All replies to customers"
	ReasonFollowedReplies Reason = "followed reply to customers" // Followed replies to customers

	// Users, internal conversation.
	ReasonFollowedInternal Reason = "followed internal message"
)

// Recipient is one person to notify of a message, and why.
type Recipient struct {
	PersonID string
	Kind     Kind // KindUser or KindCustomer, never KindBot
	Reason   Reason
}

// via is how a person follows the conversation.
type via uint8

const (
	viaNone via = iota
	viaConversation
	viaItem
)

// Recipients returns the people to notify of msg, sorted by person ID, each
// with the reason. See the package documentation for the rules.
//
// An unknown author or conversation is an error wrapping ErrNotFound. A
// follower the model does not know (a person deleted since) is skipped, so
// one dangling reference does not silence a conversation. A user whose
// settings hold an unknown value is treated as having chosen "none" for
// it: a bad record loses that user's notifications, not everyone's.
func Recipients(msg Message, m Model) ([]Recipient, error) {
	author, err := m.Person(msg.AuthorID)
	if err != nil {
		return nil, fmt.Errorf("notify: message %q: author %q: %w", msg.ID, msg.AuthorID, err)
	}
	if err := author.Kind.Validate(); err != nil {
		return nil, fmt.Errorf("notify: message %q: author %q: %w", msg.ID, msg.AuthorID, err)
	}
	conv, err := m.Conversation(msg.ConversationID)
	if err != nil {
		return nil, fmt.Errorf("notify: message %q: conversation %q: %w", msg.ID, msg.ConversationID, err)
	}
	if conv.Internal && author.Kind == KindCustomer {
		return nil, fmt.Errorf("notify: message %q: author %q, conversation %q: %w",
			msg.ID, msg.AuthorID, conv.ID, ErrCustomerInInternal)
	}
	origin := OriginUser
	if author.Kind == KindCustomer {
		origin = OriginCustomer
	}

	follows, err := followersOf(conv, m)
	if err != nil {
		return nil, fmt.Errorf("notify: message %q: %w", msg.ID, err)
	}
	delete(follows, author.ID) // rule 1: never the author

	out := make([]Recipient, 0, len(follows))
	for id, v := range follows {
		p, err := m.Person(id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("notify: message %q: follower %q: %w", msg.ID, id, err)
		}
		if r, ok := forFollower(p, v, conv.Internal, origin); ok {
			out = append(out, r)
		}
	}

	if !conv.Internal {
		// Internal messages reach followers only; only external ones can
		// reach users who do not follow.
		more, err := nonFollowers(conv, origin, author.ID, follows, m)
		if err != nil {
			return nil, fmt.Errorf("notify: message %q: %w", msg.ID, err)
		}
		out = append(out, more...)
	}

	slices.SortFunc(out, func(a, b Recipient) int { return strings.Compare(a.PersonID, b.PersonID) })
	return out, nil
}

// followersOf returns everyone who follows conv, itself or through its item.
// Following the conversation itself wins as the recorded way.
func followersOf(conv Conversation, m Model) (map[string]via, error) {
	var item []string
	if conv.ItemID != "" {
		var err error
		item, err = m.ItemFollowers(conv.ItemID)
		if err != nil {
			return nil, fmt.Errorf("followers of item %q: %w", conv.ItemID, err)
		}
	}
	follows := make(map[string]via, len(conv.Followers)+len(item))
	for _, id := range item {
		follows[id] = viaItem
	}
	for _, id := range conv.Followers {
		follows[id] = viaConversation
	}
	return follows, nil
}

// forFollower applies the rules to a person who follows the conversation.
// Following C makes C visible, so visibility never stops a follower, and
// "Show From customers" only concerns conversations the user does not
// follow.
func forFollower(p Person, v via, internal bool, origin Origin) (Recipient, bool) {
	switch p.Kind {
	case KindCustomer:
		if internal {
			return Recipient{}, false // rule 2: never an internal message
		}
		reason := ReasonFollowsConversation
		if v == viaItem {
			reason = ReasonFollowsItem
		}
		return Recipient{PersonID: p.ID, Kind: KindCustomer, Reason: reason}, true
	case KindUser:
		reason, ok := userReason(p.Settings, internal, origin, true)
		return Recipient{PersonID: p.ID, Kind: KindUser, Reason: reason}, ok
	default: // bots and unknown kinds have no inbox
		return Recipient{}, false
	}
}

// userReason is the settings table of SPEC section 2 for a user who may
// see the conversation.
func userReason(s Settings, internal bool, origin Origin, follows bool) (Reason, bool) {
	if internal {
		return ReasonFollowedInternal, follows && s.FollowedInternal
	}
	if !follows && !s.ShowFromCustomers {
		return "", false
	}
	if origin == OriginCustomer {
		switch s.FromCustomers {
		case FromCustomersAll:
			return ReasonAllCustomerMessages, true
		case FromCustomersMine:
			return ReasonMyConversation, follows
		}
		return "", false
	}
	switch s.FromUsers {
	case FromUsersAll:
		return ReasonAllReplies, true
	case FromUsersFollowed:
		return ReasonFollowedReplies, follows
	}
	return "", false
}

// nonFollowers finds the users who do not follow the external conversation
// but are notified anyway: those whose setting asks for every message of
// this origin and who may see the conversation.
func nonFollowers(conv Conversation, origin Origin, authorID string, follows map[string]via, m Model) ([]Recipient, error) {
	ids, err := m.UsersNotifiedOfAll(origin)
	if err != nil {
		return nil, fmt.Errorf("users notified of all: %w", err)
	}
	var (
		out            []Recipient
		projectFollows map[string]bool // read once, on first need
	)
	for _, id := range ids {
		if id == authorID {
			continue
		}
		if _, ok := follows[id]; ok {
			continue // already decided as a follower
		}
		p, err := m.Person(id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", id, err)
		}
		if p.Kind != KindUser {
			continue
		}
		reason, ok := userReason(p.Settings, false, origin, false)
		if !ok {
			continue
		}
		if p.Settings.Visibility != VisibilityAllProjects {
			if p.Settings.Visibility != VisibilityFollowedProjects || conv.ProjectID == "" {
				continue
			}
			if projectFollows == nil {
				if projectFollows, err = followerSet(conv.ProjectID, m); err != nil {
					return nil, err
				}
			}
			if !projectFollows[id] {
				continue // rule 3: may not see C
			}
		}
		out = append(out, Recipient{PersonID: id, Kind: KindUser, Reason: reason})
	}
	return out, nil
}

func followerSet(projectID string, m Model) (map[string]bool, error) {
	ids, err := m.ProjectFollowers(projectID)
	if err != nil {
		return nil, fmt.Errorf("followers of project %q: %w", projectID, err)
	}
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	return set, nil
}
