package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// BenchmarkSeen measures POST /v1/seen over loopback: a real listener, a
// real bbolt file, every ack committed with fsync before its 200.
// Conversations of len messages by a customer notify users who follow
// them; acks walk through the messages in order, so every ack marks a
// notification not yet seen (marked/ack says how many it did mark on
// average). clients=1 is one web app connection sending acks one after
// another; clients=16 is sixteen at once, each for its own person, which
// the store's group commit lets share fsyncs. len=1000 shows what a long
// conversation costs: model.MarkSeen reads every message of the
// conversation up to the one acknowledged (docs/PERFORMANCE.md).
//
//	go test -run '^$' -bench BenchmarkSeen -benchtime 3000x ./httpapi
func BenchmarkSeen(b *testing.B) {
	for _, c := range []struct{ clients, len int }{{1, 20}, {16, 20}, {1, 1000}} {
		b.Run(fmt.Sprintf("clients=%d/len=%d", c.clients, c.len), func(b *testing.B) { benchSeen(b, c.clients, c.len) })
	}
}

// BenchmarkSeenPostgres is BenchmarkSeen on the PostgreSQL store (a
// database of its own, group commit under the cluster writer lock):
//
//	go test -run '^$' -bench BenchmarkSeenPostgres -benchtime 3000x ./httpapi
func BenchmarkSeenPostgres(b *testing.B) {
	for _, c := range []struct{ clients, len int }{{1, 20}, {16, 20}} {
		b.Run(fmt.Sprintf("clients=%d/len=%d", c.clients, c.len), func(b *testing.B) {
			benchSeenOn(b, c.clients, c.len, pgtest.Open(b, b.TempDir(), store.Options{}))
		})
	}
}

func benchSeen(b *testing.B, clients, convLen int) {
	db, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	benchSeenOn(b, clients, convLen, db)
}

func benchSeenOn(b *testing.B, clients, convLen int, db *store.DB) {
	people := clients
	// Ack i is person i%people's, for the (i/people)th message overall.
	convs := seedPending(b, db, people, b.N/people+1, convLen)
	clk := clock.Real{}
	s := &Server{DB: db, Token: token, Clock: clk, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Messaging: &messaging.Service{DB: db, Clock: clk, Hub: messaging.NewHub()}}
	srv := httptest.NewServer(s.Handler(false))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2}}
	defer client.CloseIdleConnections()
	before := unread(b, db, people)

	var next atomic.Int64
	ack := func() bool {
		i := int(next.Add(1) - 1)
		j := i / people
		body := fmt.Sprintf(`{"person":"u%d","conversation":"c%d","up_to":%q}`, i%people, j/convLen, convs[j/convLen][j%convLen])
		req, _ := http.NewRequest("POST", srv.URL+"/v1/seen", bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Errorf("POST /v1/seen: %d", resp.StatusCode)
			return false
		}
		return true
	}
	// RunParallel starts GOMAXPROCS x parallelism goroutines.
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((clients + procs - 1) / procs)
	b.ResetTimer()
	start := time.Now()
	if clients == 1 {
		for range b.N {
			if !ack() {
				return
			}
		}
	} else {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !ack() {
					return
				}
			}
		})
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "acks/s")
	b.ReportMetric(float64(before-unread(b, db, people))/float64(b.N), "marked/ack")
}

// seedPending stores n messages by a customer, convLen per external
// conversation c0, c1..., each notifying users u0..u(people-1), who
// follow them. It returns the message IDs by conversation, in order. It
// writes through the model directly, in large transactions: posting one
// by one would take longer than the benchmark itself.
func seedPending(b *testing.B, db *store.DB, people, n, convLen int) [][]string {
	b.Helper()
	ctx := context.Background()
	nconv := (n + convLen - 1) / convLen
	err := db.Update(ctx, func(tx *store.Tx) error {
		if err := model.PutPerson(tx, model.Person{ID: "cust", Kind: notify.KindCustomer, Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		followers := []string{"cust"}
		for i := range people {
			id := "u" + strconv.Itoa(i)
			if err := model.PutPerson(tx, model.Person{ID: id, Kind: notify.KindUser, Settings: notify.DefaultSettings()}); err != nil {
				return err
			}
			followers = append(followers, id)
		}
		for c := range nconv {
			if err := model.PutConversation(tx, &model.Conversation{ID: "c" + strconv.Itoa(c), Kind: model.External, Followers: followers}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	convs := make([][]string, nconv)
	for c := range convs {
		convs[c] = make([]string, convLen)
		for k := range convs[c] {
			convs[c][k] = store.NewID(t0.Add(time.Duration(c*convLen+k) * time.Microsecond)) // sorted as posted
		}
	}
	for c, ids := range convs {
		const batch = 500
		for lo := 0; lo < len(ids); lo += batch {
			err := db.Update(ctx, func(tx *store.Tx) error {
				for _, id := range ids[lo:min(lo+batch, len(ids))] {
					m := model.Message{ID: id, Conversation: "c" + strconv.Itoa(c), Author: "cust", Channel: model.ChannelWeb, Text: "pending", Created: t0}
					if err := model.AppendMessage(tx, &m); err != nil {
						return err
					}
					for p := range people {
						n := model.Notification{Person: "u" + strconv.Itoa(p), Message: id, Conversation: m.Conversation, Reason: "bench", Created: t0}
						if err := model.AddNotification(tx, n); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	return convs
}

func unread(b *testing.B, db *store.DB, people int) int {
	total := 0
	err := db.View(context.Background(), func(tx *store.Tx) error {
		for p := range people {
			_, n, err := model.Inbox(tx, "u"+strconv.Itoa(p), 0)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}
