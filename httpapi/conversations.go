package httpapi

import (
	"net/http"
	"time"

	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// ConversationInput is the body of PUT /v1/conversations/{id}.
type ConversationInput struct {
	Item      string   `json:"item"`
	Kind      string   `json:"kind"`
	Subject   string   `json:"subject"`
	Followers []string `json:"followers"`
}

func (s *Server) putConversation(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	var in ConversationInput
	if !decodeJSON(w, r, MaxBodyBytes, &in) {
		return
	}
	c := model.Conversation{ID: id, Item: in.Item, Kind: in.Kind, Subject: in.Subject,
		Followers: nonNil(in.Followers), Created: s.Clock.Now()}
	var out model.Conversation
	s.put(w, r, "put conversation", func(tx *store.Tx) (bool, error) {
		_, err := model.GetConversation(tx, id)
		cc := c // Update may run fn again: start from the input each time
		if err := model.PutConversation(tx, &cc); err != nil {
			return false, err
		}
		out = cc
		return isNew(err), nil
	}, &out)
}

func (s *Server) getConversation(w http.ResponseWriter, r *http.Request) {
	s.get(w, r, "get conversation", func(tx *store.Tx, id string) (any, error) {
		c, err := model.GetConversation(tx, id)
		c.Followers = nonNil(c.Followers)
		return c, err
	})
}

// MessageInput is the body of POST /v1/conversations/{id}/messages.
type MessageInput struct {
	Author string `json:"author"`
	Text   string `json:"text"`
	HTML   string `json:"html"`
}

// PostedResponse is the answer to a posted message: the message as stored
// and who was notified, and why.
type PostedResponse struct {
	Message    model.Message   `json:"message"`
	Recipients []RecipientView `json:"recipients"`
}

// RecipientView is one recipient of a new message.
type RecipientView struct {
	Person string `json:"person"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

func postedResponse(p messaging.Posted) PostedResponse {
	out := PostedResponse{Message: p.Message, Recipients: make([]RecipientView, 0, len(p.Recipients))}
	for _, rc := range p.Recipients {
		out.Recipients = append(out.Recipients, RecipientView{Person: rc.PersonID, Kind: string(rc.Kind), Reason: string(rc.Reason)})
	}
	return out
}

// postMessage takes the path every message takes (messaging.Service.Post:
// store, recipients, notifications in one commit, then the live streams)
// and answers 201 once that commit is durable.
func (s *Server) postMessage(w http.ResponseWriter, r *http.Request) {
	conv, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	var in MessageInput
	if !decodeJSON(w, r, MaxMessageBodyBytes, &in) {
		return
	}
	if !model.ValidID(in.Author) {
		writeError(w, http.StatusBadRequest, "author", "required: the id of a person")
		return
	}
	if len(in.Text) > model.MaxTextBytes {
		writeError(w, http.StatusBadRequest, "text", "at most 1 MiB")
		return
	}
	if len(in.HTML) > model.MaxTextBytes {
		writeError(w, http.StatusBadRequest, "html", "at most 1 MiB")
		return
	}
	p, err := s.Messaging.Post(r.Context(), model.Message{Conversation: conv, Author: in.Author,
		Channel: model.ChannelWeb, Text: in.Text, HTML: in.HTML})
	if err != nil {
		s.writeStoreError(w, r, "post message", err)
		return
	}
	writeJSON(w, http.StatusCreated, postedResponse(p))
}

// Page sizes of GET /v1/conversations/{id}/messages. A message may carry
// 2 MiB of text and HTML, so a page also stops at MaxMessagesPageBytes of
// them: without it a page of 1,000 could reach 2 GiB.
const (
	DefaultMessagesLimit = 100
	MaxMessagesLimit     = 1000
	MaxMessagesPageBytes = 8 << 20
)

// MessagesResponse is the body of GET /v1/conversations/{id}/messages.
type MessagesResponse struct {
	Messages []model.Message `json:"messages"`
	// Cursor is the last message's ID: pass it as after= for the next page.
	Cursor string `json:"cursor,omitempty"`
	// More tells that messages are left after this page.
	More bool `json:"more"`
}

func (s *Server) getMessages(w http.ResponseWriter, r *http.Request) {
	conv, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	limit, ok := queryLimit(w, r, DefaultMessagesLimit, MaxMessagesLimit)
	if !ok {
		return
	}
	after := r.URL.Query().Get("after")
	if after != "" && !model.ValidID(after) {
		writeError(w, http.StatusBadRequest, "after", "not a message id")
		return
	}
	var ms []model.Message
	var more bool
	err := s.DB.View(r.Context(), func(tx *store.Tx) error {
		if _, err := model.GetConversation(tx, conv); err != nil {
			return err
		}
		var err error
		ms, more, err = model.MessagesAfter(tx, conv, after, limit, MaxMessagesPageBytes)
		return err
	})
	if err != nil {
		s.writeStoreError(w, r, "list messages", err)
		return
	}
	resp := MessagesResponse{Messages: ms, More: more}
	if ms == nil {
		resp.Messages = []model.Message{}
	}
	if n := len(ms); n > 0 {
		resp.Cursor = ms[n-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
}

// retractMessage marks a message retracted (messaging.Service.Retract): it
// stays in the history, flagged, and is never emailed afterwards.
// Retracting twice answers the same message.
func (s *Server) retractMessage(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	m, err := s.Messaging.Retract(r.Context(), id)
	if err != nil {
		s.writeStoreError(w, r, "retract message", err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// Email statuses the delivery view shows when no queue answers.
const EmailNotSent = "not_sent"

// DeliveryResponse is the body of GET /v1/messages/{id}/delivery: what the
// icons under a message in the messenger show (SPEC section 4).
type DeliveryResponse struct {
	Message    string         `json:"message"`
	Retracted  *time.Time     `json:"retracted,omitempty"`
	Recipients []DeliveryView `json:"recipients"`
}

// DeliveryView is one recipient's state of a message.
type DeliveryView struct {
	Person     string     `json:"person"`
	Reason     string     `json:"reason"`
	NotifiedAt time.Time  `json:"notified_at"`
	SeenAt     *time.Time `json:"seen_at,omitempty"`
	Email      string     `json:"email"`
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	var m model.Message
	var ns []model.Notification
	err := s.DB.View(r.Context(), func(tx *store.Tx) error {
		var err error
		if m, err = model.GetMessage(tx, id); err != nil {
			return err
		}
		ns, err = model.NotificationsOf(tx, id)
		return err
	})
	if err != nil {
		s.writeStoreError(w, r, "read delivery", err)
		return
	}
	resp := DeliveryResponse{Message: m.ID, Retracted: m.Retracted, Recipients: make([]DeliveryView, 0, len(ns))}
	for _, n := range ns {
		email := EmailNotSent
		if s.DeliveryStatus != nil {
			email = s.DeliveryStatus(r.Context(), m.ID, n.Person)
		}
		resp.Recipients = append(resp.Recipients, DeliveryView{Person: n.Person, Reason: n.Reason,
			NotifiedAt: n.Created, SeenAt: n.Seen, Email: email})
	}
	writeJSON(w, http.StatusOK, resp)
}
