package imaptest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"
)

// Client signs in as the test user over the plain listener; the test
// uses it to put mail in and look at what is left.
func (s *Server) Client() *client.Client {
	s.t.Helper()
	c, err := client.Dial(s.Addr)
	if err != nil {
		s.t.Fatalf("imaptest: dial: %v", err)
	}
	if err := c.Login(s.User, s.Password); err != nil {
		c.Logout()
		s.t.Fatalf("imaptest: login: %v", err)
	}
	return c
}

// Append adds messages to folder (created if missing).
func (s *Server) Append(folder string, msgs ...[]byte) {
	s.t.Helper()
	c := s.Client()
	defer c.Logout()
	_ = c.Create(folder) // exists already: fine
	for _, m := range msgs {
		if err := c.Append(folder, nil, time.Now(), bytes.NewReader(m)); err != nil {
			s.t.Fatalf("imaptest: append: %v", err)
		}
	}
}

// Count is the number of messages in folder (0 if it does not exist).
func (s *Server) Count(folder string) int {
	s.t.Helper()
	c := s.Client()
	defer c.Logout()
	st, err := c.Status(folder, []imap.StatusItem{imap.StatusMessages})
	if err != nil {
		return 0
	}
	return int(st.Messages)
}

// UIDValidity is folder's UIDVALIDITY.
func (s *Server) UIDValidity(folder string) uint32 {
	s.t.Helper()
	c := s.Client()
	defer c.Logout()
	st, err := c.Status(folder, []imap.StatusItem{imap.StatusUidValidity})
	if err != nil {
		s.t.Fatalf("imaptest: status %s: %v", folder, err)
	}
	return st.UidValidity
}

// Recreate deletes folder and creates it again: a new UIDVALIDITY.
func (s *Server) Recreate(folder string) {
	s.t.Helper()
	c := s.Client()
	defer c.Logout()
	if err := c.Delete(folder); err != nil {
		s.t.Fatalf("imaptest: delete %s: %v", folder, err)
	}
	if err := c.Create(folder); err != nil {
		s.t.Fatalf("imaptest: create %s: %v", folder, err)
	}
}

// Flagged lists the flags of every message in folder, in UID order.
func (s *Server) Flags(folder string) [][]string {
	s.t.Helper()
	c := s.Client()
	defer c.Logout()
	mb, err := c.Select(folder, true)
	if err != nil {
		s.t.Fatalf("imaptest: select %s: %v", folder, err)
	}
	if mb.Messages == 0 {
		return nil
	}
	set := new(imap.SeqSet)
	set.AddRange(1, mb.Messages)
	ch := make(chan *imap.Message, 16)
	done := make(chan error, 1)
	go func() { done <- c.Fetch(set, []imap.FetchItem{imap.FetchFlags, imap.FetchUid}, ch) }()
	var out [][]string
	for m := range ch {
		out = append(out, m.Flags)
	}
	if err := <-done; err != nil {
		s.t.Fatalf("imaptest: fetch flags: %v", err)
	}
	return out
}

// Fill writes messages straight into folder's Maildir with date as their
// arrival time (INTERNALDATE): thousands in a moment, where APPEND would
// take a round trip each. Dovecot sees them at its next look at the
// folder.
func (s *Server) Fill(folder string, date time.Time, msgs ...[]byte) {
	s.t.Helper()
	dir := filepath.Join(s.dir, "mail", s.User)
	if folder != "INBOX" {
		dir = filepath.Join(dir, "."+folder)
	}
	uid, gid := mailOwner()
	for _, sub := range []string{"", "cur", "new", "tmp"} {
		p := filepath.Join(dir, sub)
		if err := os.MkdirAll(p, 0o700); err != nil {
			s.t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			s.t.Fatal(err)
		}
	}
	for i, m := range msgs {
		name := filepath.Join(dir, "new", fmt.Sprintf("%d.fill%d_%d.test,S=%d", date.Unix(), time.Now().UnixNano(), i, len(m)))
		if err := os.WriteFile(name, m, 0o600); err != nil {
			s.t.Fatal(err)
		}
		if err := os.Chown(name, uid, gid); err != nil {
			s.t.Fatal(err)
		}
		if err := os.Chtimes(name, date, date); err != nil {
			s.t.Fatal(err)
		}
	}
}
