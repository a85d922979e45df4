// Package notify decides who is notified of a new message: the rules of
// SPEC section 2 and the user settings of section 3. It is pure: no I/O, no
// clock, no store types. What it needs to know about people, conversations
// and followers it asks through Model, a small interface that the caller
// (the store, or MemModel in tests) provides.
//
// The main entry is Recipients. For a message M by author A in conversation
// C it returns one Recipient per person to notify, with the reason, sorted
// by person ID:
//
//   - A is never a recipient, whatever A follows.
//   - Bots are never recipients: they have no inbox.
//   - A customer is a recipient only when C is external and the customer
//     follows C ("follows" always means C itself or C's item).
//   - A user is a recipient only if the user may see C (follows C, follows
//     C's project, or has visibility "all projects") and the user's
//     settings ask for this kind of message: see the table in SPEC section
//     2 and the Reason constants. A user with "Show From customers" off is
//     not notified of messages in external conversations the user does not
//     follow.
//
// Following a project gives visibility, not notifications: a project
// follower hears of a conversation's messages only through a setting that
// asks for all of them ("All customer messages", "All replies to
// customers").
//
// Settings holds a user's choices; DefaultSettings and ApplyPreset give the
// defaults and the three presets. Every enum marshals to and from JSON as a
// string and refuses unknown values with a *FieldError naming the field.
package notify
