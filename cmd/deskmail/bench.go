package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/config"
)

func init() { subcommands = append(subcommands, newBenchCmd) }

type benchOpts struct {
	addr     string
	sessions int
	messages int
	duration time.Duration
	size     int64
	from     string
	rcpt     string
	newConn  bool
}

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Load tools that drive a running daemon over loopback"}
	var o benchOpts
	smtpCmd := &cobra.Command{
		Use:   "smtp",
		Short: "Send messages over N concurrent SMTP sessions and report rate and latency",
		Long: "Send messages over N concurrent SMTP sessions and report accepted messages/s\n" +
			"and the latency from the final \".\" to the server's reply (p50, p99, max).\n" +
			"It stops after --messages or --duration, whichever comes first.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchSMTP(cmd.OutOrStdout(), os.Stderr, o)
		},
	}
	f := smtpCmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:2525", "SMTP address of the daemon (loopback)")
	f.IntVar(&o.sessions, "sessions", 10, "concurrent sessions")
	f.IntVar(&o.messages, "messages", 10000, "messages to send in all")
	f.DurationVar(&o.duration, "duration", 60*time.Second, "stop after this long")
	o.size = 5000
	f.Var(config.Size(&o.size), "size", "message size (5KB, 1MiB, 2048)")
	f.StringVar(&o.from, "from", "bench@example.org", "envelope sender")
	f.StringVar(&o.rcpt, "rcpt", "support@localhost", "recipient (an address the daemon accepts: a support address)")
	f.BoolVar(&o.newConn, "new-conn", false, "a new connection per message (as smtp-source does by default)")
	cmd.AddCommand(smtpCmd, newBenchPipelineCmd(), newBenchPipelineLoadCmd(), newBenchDNSCmd(), newBenchPGWaitCmd())
	return cmd
}

// benchMessage builds a message of about n bytes with a unique Message-ID.
func benchMessage(n int, id string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Bench <bench@example.org>\r\nTo: <bench@localhost>\r\nSubject: bench %s\r\n"+
		"Message-ID: <%s@bench.example.org>\r\nDate: %s\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\n", id, id, time.Now().Format(time.RFC1123Z))
	line := strings.Repeat("lorem ipsum dolor sit amet ", 3)[:76] + "\r\n"
	for b.Len() < n {
		b.WriteString(line)
	}
	return b.Bytes()
}

func runBenchSMTP(out, progress io.Writer, o benchOpts) error {
	size := o.size
	if o.sessions <= 0 || o.messages <= 0 {
		return errors.New("--sessions and --messages must be positive")
	}
	var (
		next     atomic.Int64
		accepted atomic.Int64
		failed   atomic.Int64
		mu       sync.Mutex
		lat      []time.Duration
		firstErr error
	)
	fail := func(err error) { // counts a failure, keeps the first error
		failed.Add(1)
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	deadline := time.Now().Add(o.duration)
	start := time.Now()
	run := fmt.Sprintf("%x", start.UnixNano())
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				el := time.Since(start).Seconds()
				fmt.Fprintf(progress, "\r%6.0fs  accepted %d  failed %d  %.0f msg/s   ", el, accepted.Load(), failed.Load(), float64(accepted.Load())/el)
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < o.sessions; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *smtp.Client
			var err error
			local := make([]time.Duration, 0, o.messages/o.sessions+1)
			defer func() {
				if c != nil {
					c.Quit()
				}
				mu.Lock()
				lat = append(lat, local...)
				mu.Unlock()
			}()
			for time.Now().Before(deadline) {
				i := next.Add(1)
				if i > int64(o.messages) {
					return
				}
				if c == nil {
					if c, err = smtp.Dial(o.addr); err == nil {
						err = c.Hello("bench.example.org")
					}
					if err != nil {
						fail(err)
						c = nil
						time.Sleep(10 * time.Millisecond) // back off before redialling a refusing server
						continue
					}
				}
				d, err := sendOne(c, o, benchMessage(int(size), fmt.Sprintf("%s.%d", run, i)))
				if err != nil {
					fail(err)
					c.Close()
					c = nil
					continue
				}
				accepted.Add(1)
				local = append(local, d)
				if o.newConn {
					c.Quit()
					c = nil
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	elapsed := time.Since(start)
	fmt.Fprintln(progress)
	pct := quantiles(lat, time.Microsecond)
	fmt.Fprintf(out, "sessions %d  size %d B  new-conn %v\n", o.sessions, size, o.newConn)
	fmt.Fprintf(out, "accepted %d  failed %d  in %.2fs  =>  %.0f msg/s\n",
		accepted.Load(), failed.Load(), elapsed.Seconds(), float64(accepted.Load())/elapsed.Seconds())
	fmt.Fprintf(out, "latency final \".\" -> 250:  p50 %s  p90 %s  p99 %s  max %s\n",
		pct(0.50), pct(0.90), pct(0.99), pct(1))
	if firstErr != nil {
		fmt.Fprintf(out, "first error: %v\n", firstErr)
	}
	if accepted.Load() == 0 {
		return errors.New("no message was accepted")
	}
	return nil
}

// sendOne runs one transaction and returns the time from the final "." to
// the reply.
func sendOne(c *smtp.Client, o benchOpts, msg []byte) (time.Duration, error) {
	if err := c.Mail(o.from, nil); err != nil {
		return 0, err
	}
	if err := c.Rcpt(o.rcpt, nil); err != nil {
		return 0, err
	}
	w, err := c.Data()
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(msg); err != nil {
		return 0, err
	}
	t := time.Now() // Close sends the final "." and waits for the reply
	if err := w.Close(); err != nil {
		return 0, err
	}
	return time.Since(t), nil
}

// quantiles sorts lat and returns its quantile function, each value
// rounded to round (0 when lat is empty).
func quantiles(lat []time.Duration, round time.Duration) func(p float64) time.Duration {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))].Round(round)
	}
}
