package model

// Lock names (store.Locks, store.Tx.Need) of the shared data this
// package keeps. The accessors that read data they may then write call
// tx.Need with the name that covers it, so a write that forgot to declare
// one is run again with it (see store.Tx.Need); docs/ARCHITECTURE.md has
// the table of who takes which.

// ConvLock covers one conversation: its record (followers, trust marks,
// thread root), its messages' index, its ping-pong counters, and the
// held emails about it (the hold queue's (person, conversation) index and
// the jobs in it while held). The pipeline's commit takes it for the
// conversation an email is appended to, a lease for the conversation of
// a held email it sends; a seen-ack takes it shared.
func ConvLock(id string) string { return "conv:" + id }

// PersonLock covers one person's record.
func PersonLock(id string) string { return "person:" + id }

// AddressLock covers one email address: which person owns it (the
// address index) and its counters in the hold queue (hard bounces,
// suppression, the per-recipient cap on automatic emails).
func AddressLock(addr string) string { return "addr:" + NormalizeEmail(addr) }

// MessageIDLock covers one email Message-ID in the indexes that map it to
// its conversation and its message (the first to claim it keeps it).
func MessageIDLock(messageID string) string { return "mid:" + canonicalMessageID(messageID) }

// EmailKeyLock covers the record of what one inbound email (EmailKey)
// became, so that it is appended once.
func EmailKeyLock(key string) string { return "appended:" + key }
