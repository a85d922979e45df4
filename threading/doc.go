// Package threading decides which conversation an inbound email belongs
// to, and gives outbound email what it needs to find its way back.
//
// Outbound, every notification email carries three things (SPEC section 6):
//
//   - a Reply-To of the form reply+TOKEN@DOMAIN, where TOKEN is a signed,
//     case-insensitive encoding of (conversation, recipient, version); see
//     [Keyring.ReplyAddress]. The Keyring holds the server secret, made on
//     first start in the data folder, and old secrets after a [Keyring.Rotate].
//   - a Message-ID of deskmail's own scheme ([Keyring.MessageID]) and
//     In-Reply-To, References, Thread-Topic and Thread-Index headers
//     ([BuildThreadHeaders]) that keep one conversation in one thread in
//     Gmail, Outlook, Apple Mail and Thunderbird.
//   - a subject tag such as "[#1234]" ([FormatTag], [ThreadSubject]).
//
// Inbound, [Matcher.Match] applies them in order of trust: a valid token in
// a recipient, then In-Reply-To/References known to the index, then a
// subject tag (only for a sender who already follows that conversation),
// else a new conversation when the mail went to a support address. The
// store is reached through the small [Index] interface declared here.
//
// [StripText] and [StripHTML] cut quoted earlier messages and signatures
// from the body that becomes the conversation message, keeping the quotes
// inline answers need and a forwarded email with its note; [SplitText]
// and [SplitHTML] also return what was cut. The caller keeps the full
// original.
//
// Everything here is pure (no network, no clock of its own); the only
// file it touches is the keyring in the data folder. docs/THREADING.md
// describes the formats byte by byte.
package threading
