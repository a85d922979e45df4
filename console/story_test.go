package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/story"
)

// TestStoryTellsWhoWasEmailedAndWhyNot posts a message through the same
// path as the API (messaging with the queue's hooks), lets one recipient
// see it, and reads the story back, for all and for one person.
func TestStoryTellsWhoWasEmailedAndWhyNot(t *testing.T) {
	f := newFixture(t)
	f.update(func(tx *store.Tx) error {
		for _, p := range []model.Person{
			{ID: "agent", Kind: notify.KindUser, Name: "Agent", Emails: []string{"agent@example.test"}, Settings: notify.DefaultSettings()},
			{ID: "ann", Kind: notify.KindCustomer, Name: "Ann", Emails: []string{"ann@client.test"}, Settings: notify.DefaultSettings()},
			{ID: "bea", Kind: notify.KindCustomer, Name: "Bea", Emails: []string{"bea@client.test"}, Settings: notify.DefaultSettings()},
			{ID: "carl", Kind: notify.KindCustomer, Name: "Carl", Emails: []string{"carl@client.test"}, Settings: notify.DefaultSettings()},
		} {
			if err := model.PutPerson(tx, p); err != nil {
				return err
			}
		}
		return model.PutConversation(tx, &model.Conversation{ID: "c1", Kind: model.External, Subject: "Printer", Followers: []string{"ann", "bea"}})
	})
	q := &queue.Queue{Clock: f.clk, HoldFor: time.Minute}
	svc := &messaging.Service{DB: f.db, Clock: f.clk, OnNotify: q.Hold, OnSeen: q.SeenAck, SeenPlan: q.SeenPlan}
	ctx := context.Background()
	posted, err := svc.Post(ctx, model.Message{Conversation: "c1", Author: "agent", Channel: model.ChannelWeb, Text: "Unplug it."})
	if err != nil {
		t.Fatal(err)
	}
	id := posted.Message.ID
	f.clk.Advance(10 * time.Second)
	if _, err := svc.Seen(ctx, "bea", "c1", id); err != nil {
		t.Fatal(err)
	}
	st, err := story.BuildStory(context.Background(), f.db, id, "", f.clk.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]story.RecipientStory{}
	for _, r := range st.Recipients {
		got[r.Person] = r
	}
	if len(got) != 2 || got["ann"].Email != "held" || got["bea"].Email != "cancelled (seen)" || got["bea"].Seen == nil {
		t.Fatalf("recipients: %+v", st.Recipients)
	}
	if !strings.Contains(got["ann"].Summary, "held until") || !strings.Contains(got["bea"].Summary, "saw the message before the hold ended") {
		t.Errorf("summaries: %q / %q", got["ann"].Summary, got["bea"].Summary)
	}
	if len(got["ann"].History) == 0 || got["ann"].History[0].Status != "held" {
		t.Errorf("ann's email history: %+v", got["ann"].History)
	}
	for person, why := range map[string]string{
		"agent": "never notified of their own message",
		"carl":  "only of conversations they follow",
		"zed":   "does not know this person",
	} {
		st, err := story.BuildStory(context.Background(), f.db, id, person, f.clk.Now().Add(-time.Hour))
		if err != nil || st.NotNotified == nil || !strings.Contains(st.NotNotified.Why, why) {
			t.Errorf("why not %s: %+v %v", person, st.NotNotified, err)
		}
	}
	// The page tells the same.
	c, _ := f.session("victor")
	_, body := f.get(c, "/messages/"+id)
	contains(t, body, "Ann", "Bea", "cancelled (seen)", "held", "deskmail why --message "+id)
	_, body = f.get(c, "/messages/"+id+"?person=carl")
	contains(t, body, "carl was not notified")
	if r, _ := f.get(c, "/messages/nope"); r.StatusCode != http.StatusNotFound {
		t.Errorf("unknown message: %s", r.Status)
	}
}
