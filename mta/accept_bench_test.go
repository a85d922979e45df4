package mta

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/store"
)

// BenchmarkAcceptSMTP is the accept alone, as the daemon runs it and as
// scripts/bench-accept.sh drives it with smtp-source: ten clients, a
// connection per message (greeting, EHLO, MAIL, RCPT, DATA, 5 KB, QUIT),
// the session limits and the listener's, the receiver on a real bbolt
// file with its fsync, the log at warn. No pipeline runs behind it.
// Its allocations, CPU profile and system calls are the accept path's:
//
//	go test -run '^$' -bench AcceptSMTP -benchmem -benchtime 3000x ./mta
func BenchmarkAcceptSMTP(b *testing.B) {
	var commits atomic.Int64
	db, err := store.Open(b.TempDir(), store.Options{Observe: func(time.Duration, int, error) { commits.Add(1) }})
	if err != nil {
		b.Fatal(err)
	}
	recv := &inbound.Receiver{DB: db, Clock: clock.Real{}, Hostname: "mx.test", Backlog: &inbound.Backlog{}, Activity: &inbound.Activity{}}
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := New(Config{Domains: []string{"localhost"}, MaxConnsPerIP: 1000}, recv, log)
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeSMTP(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		_ = db.Close()
	}()
	addr := ln.Addr().String()
	body := strings.Repeat(strings.Repeat("x", 78)+"\r\n", 5000/80)
	var n atomic.Int64
	b.SetParallelism(5) // 10 clients on 2 cores
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	commits.Store(0)
	b.RunParallel(func(pb *testing.PB) {
		var script []byte
		for pb.Next() {
			i := n.Add(1)
			script = fmt.Appendf(script[:0], "EHLO client.test\r\nMAIL FROM:<customer@example.org>\r\nRCPT TO:<support@localhost>\r\nDATA\r\n"+
				"From: <customer@example.org>\r\nTo: <support@localhost>\r\nSubject: A question about my order\r\nMessage-ID: <%d.bench@example.org>\r\n\r\n%s.\r\nQUIT\r\n", i, body)
			if err := acceptOne(addr, script); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e3, "cpu-us/op")
	b.ReportMetric(float64(commits.Load())/float64(b.N), "commits/op")
}

// cpuTime is the process's CPU time (user and system), server and
// clients together.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// acceptOne sends one message as smtp-source does, a command at a time
// (it waits for each reply), and checks the 250 after the data.
func acceptOne(addr string, script []byte) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	reply := func(want string) error {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return err
			}
			if !strings.HasPrefix(line, want) {
				return fmt.Errorf("got %q, want %s", line, want)
			}
			if len(line) < 4 || line[3] != '-' {
				return nil
			}
		}
	}
	if err := reply("220"); err != nil {
		return err
	}
	// EHLO, MAIL, RCPT, DATA one at a time; the data, ".", then QUIT.
	wants := []string{"250", "250", "250", "354"}
	rest := script
	for _, w := range wants {
		i := bytes.Index(rest, []byte("\r\n")) + 2
		if _, err := c.Write(rest[:i]); err != nil {
			return err
		}
		rest = rest[i:]
		if err := reply(w); err != nil {
			return err
		}
	}
	end := len(rest) - len("QUIT\r\n")
	if _, err := c.Write(rest[:end]); err != nil {
		return err
	}
	if err := reply("250"); err != nil {
		return err
	}
	if _, err := c.Write(rest[end:]); err != nil {
		return err
	}
	return reply("221")
}
