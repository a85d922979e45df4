package queue

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// benchJobs is how many held jobs the benchmarks start with:
// DESKMAIL_BENCH_JOBS, default 100,000 (1,000,000 takes minutes to fill;
// see docs/PERFORMANCE.md).
func benchJobs() int {
	if n, err := strconv.Atoi(os.Getenv("DESKMAIL_BENCH_JOBS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

// filled is an env with n held jobs, one per (person, conversation):
// n/100 conversations followed by 100 customers each, one agent post in
// each. The notifications are written directly (as Post would) to make
// filling fast; Hold is the real one.
func filled(b *testing.B, n int) (*env, []model.Notification) {
	b.Helper()
	e := newEnv(b)
	convs := max(n/100, 1)
	var notes []model.Notification
	now := e.clk.Now()
	for c := 0; c < convs; c++ {
		e.update(func(tx *store.Tx) error {
			conv := fmt.Sprintf("conv%07d", c)
			var followers []string
			for p := range 100 {
				id := fmt.Sprintf("cust%03d", p)
				if c == 0 {
					if err := model.PutPerson(tx, model.Person{ID: id, Kind: "customer", Emails: []string{id + "@client.test"}, Settings: notify.DefaultSettings()}); err != nil {
						return err
					}
				}
				followers = append(followers, id)
			}
			if err := model.PutConversation(tx, &model.Conversation{ID: conv, Kind: model.External, Subject: "s", Followers: followers}); err != nil {
				return err
			}
			m := model.Message{ID: store.NewID(now), Conversation: conv, Author: "agent", Text: "hello", Created: now}
			if err := model.AppendMessage(tx, &m); err != nil {
				return err
			}
			for _, p := range followers {
				n := model.Notification{Person: p, Message: m.ID, Conversation: conv, Created: now}
				if err := model.AddNotification(tx, n); err != nil {
					return err
				}
				if err := e.q.Hold(tx, n); err != nil {
					return err
				}
				notes = append(notes, n)
			}
			return nil
		})
	}
	return e, notes
}

func reportDB(b *testing.B, e *env) {
	b.ReportMetric(float64(e.db.Size())/(1<<20), "db-MiB")
}

// BenchmarkHold: one notification joining a held job, many per commit
// (as a busy Post batch is), with benchJobs held jobs in the queue.
func BenchmarkHold(b *testing.B) {
	e, notes := filled(b, benchJobs())
	b.ResetTimer()
	i := 0
	for i < b.N {
		e.update(func(tx *store.Tx) error {
			for j := 0; j < 1000 && i+j < b.N; j++ {
				n := notes[(i+j)%len(notes)]
				n.Message = fmt.Sprintf("m%09d", i+j)
				if err := e.q.Hold(tx, n); err != nil {
					return err
				}
			}
			return nil
		})
		i += 1000
	}
	b.StopTimer()
	reportDB(b, e)
}

// BenchmarkHoldCommit: a new held job in a commit of its own (fsync bound).
func BenchmarkHoldCommit(b *testing.B) {
	e, notes := filled(b, benchJobs())
	b.ResetTimer()
	for i := range b.N {
		n := notes[i%len(notes)]
		n.Conversation = fmt.Sprintf("new%09d", i)
		e.update(func(tx *store.Tx) error { return e.q.Hold(tx, n) })
	}
}

// BenchmarkSeenAck: an ack that cancels a held job, 1000 per commit.
func BenchmarkSeenAck(b *testing.B) {
	e, notes := filled(b, max(benchJobs(), b.N))
	b.ResetTimer()
	i := 0
	for i < b.N {
		e.update(func(tx *store.Tx) error {
			for j := 0; j < 1000 && i+j < b.N; j++ {
				n := notes[(i+j)%len(notes)]
				if err := e.q.SeenAck(tx, n.Person, n.Conversation, []string{n.Message}); err != nil {
					return err
				}
			}
			return nil
		})
		i += 1000
	}
}

// BenchmarkDueScan: the worker's look at the due index when nothing is
// due yet, with benchJobs held jobs: one cursor seek.
func BenchmarkDueScan(b *testing.B) {
	e, _ := filled(b, benchJobs())
	now := e.clk.Now()
	b.ResetTimer()
	for range b.N {
		e.view(func(tx *store.Tx) error {
			ls, err := e.q.Lease(tx, now, 8, e.w.Composer)
			if len(ls) != 0 {
				b.Fatal("leased from a read transaction")
			}
			return err
		})
	}
}

// BenchmarkPipeline: hold ended -> re-check -> compose -> lease -> deliver
// (a transport that only parses) -> complete, through Worker.ProcessDue,
// 8 at a time.
func BenchmarkPipeline(b *testing.B) {
	e, _ := filled(b, max(b.N, 1000))
	e.clk.Advance(time.Hour)
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		n, err := e.w.ProcessDue(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "emails/s")
}
