package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/auth/dnstest"
)

// The load of `bench pipeline` (the SMTP client and the test DNS server)
// runs in a child process by default, so that the CPU seconds the bench
// reads of its own process (getrusage) and its CPU profile are the
// daemon's alone. The child speaks a line protocol on its stdin and stdout:
//
//	child:  dns ADDR                 (its DNS server is up)
//	parent: smtp ADDR                (the daemon listens there: send)
//	child:  ok MESSAGE-ID UNIXNANO   (one per email answered 250)
//	child:  end FAILED [FIRST-ERROR] (all sent; DNS still answers)
//	parent: closes stdin             (the child stops its DNS server and exits)

// benchLoad is where the emails come from and the DNS answers live.
type benchLoad interface {
	DNSAddr() string
	Send(smtpAddr string) (map[string]time.Time, time.Time, int, error)
	Close() error
}

type inProcLoad struct {
	dns *dnstest.Server
	o   benchPipeOpts
}

func (l *inProcLoad) DNSAddr() string { return l.dns.Addr }
func (l *inProcLoad) Send(addr string) (map[string]time.Time, time.Time, int, error) {
	return benchSend(addr, l.o)
}
func (l *inProcLoad) Close() error { l.dns.Close(); return nil }

type childLoad struct {
	wait  func() error // the child's end
	in    io.WriteCloser
	out   *bufio.Scanner
	dns   string
	count int
}

func startBenchLoad(o benchPipeOpts) (benchLoad, error) {
	if o.inProc {
		dns, err := dnstest.Start()
		if err != nil {
			return nil, err
		}
		dns.SetDelay(o.delay)
		return &inProcLoad{dns: dns, o: o}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "bench", "pipeline-load", "--messages", strconv.Itoa(o.messages),
		"--sessions", strconv.Itoa(o.sessions), "--dns-delay", o.delay.String(),
		"--rate", strconv.FormatFloat(o.rate, 'f', -1, 64))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return newChildLoad(in, outp, cmd.Wait, o.messages)
}

// newChildLoad reads the child's first line (its DNS address) off out.
func newChildLoad(in io.WriteCloser, out io.Reader, wait func() error, count int) (*childLoad, error) {
	l := &childLoad{wait: wait, in: in, out: bufio.NewScanner(out), count: count}
	if !l.out.Scan() || !strings.HasPrefix(l.out.Text(), "dns ") {
		_ = l.Close()
		return nil, fmt.Errorf("bench load: no DNS address from the child (%v)", l.out.Err())
	}
	l.dns = strings.TrimPrefix(l.out.Text(), "dns ")
	return l, nil
}

func (l *childLoad) DNSAddr() string { return l.dns }

func (l *childLoad) Send(addr string) (map[string]time.Time, time.Time, int, error) {
	if _, err := fmt.Fprintf(l.in, "smtp %s\n", addr); err != nil {
		return nil, time.Time{}, 0, err
	}
	accepted := make(map[string]time.Time, l.count)
	var first time.Time
	for l.out.Scan() {
		f := strings.SplitN(l.out.Text(), " ", 3)
		switch {
		case f[0] == "ok" && len(f) == 3:
			ns, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil {
				return nil, time.Time{}, 0, fmt.Errorf("bench load: %q: %w", l.out.Text(), err)
			}
			at := time.Unix(0, ns)
			accepted[f[1]] = at
			if first.IsZero() || at.Before(first) {
				first = at
			}
		case f[0] == "end" && len(f) >= 2:
			failed, err := strconv.Atoi(f[1])
			if err != nil {
				return nil, time.Time{}, 0, fmt.Errorf("bench load: %q: %w", l.out.Text(), err)
			}
			if len(accepted) == 0 {
				msg := ""
				if len(f) == 3 {
					msg = f[2]
				}
				return nil, time.Time{}, failed, fmt.Errorf("no email was accepted: %s", msg)
			}
			return accepted, first, failed, nil
		default:
			return nil, time.Time{}, 0, fmt.Errorf("bench load: unexpected line %q", l.out.Text())
		}
	}
	return nil, time.Time{}, 0, fmt.Errorf("bench load: the child stopped early (%v)", l.out.Err())
}

func (l *childLoad) Close() error {
	_ = l.in.Close()
	return l.wait()
}

func newBenchPipelineLoadCmd() *cobra.Command {
	var o benchPipeOpts
	c := &cobra.Command{
		Use:    "pipeline-load",
		Short:  "The load of `bench pipeline` in a process of its own (used by it)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchPipelineLoad(os.Stdin, cmd.OutOrStdout(), o)
		},
	}
	addLoadFlags(c.Flags(), &o)
	return c
}

func runBenchPipelineLoad(in io.Reader, out io.Writer, o benchPipeOpts) error {
	dns, err := dnstest.Start()
	if err != nil {
		return err
	}
	defer dns.Close()
	dns.SetDelay(o.delay)
	w := bufio.NewWriter(out)
	fmt.Fprintf(w, "dns %s\n", dns.Addr)
	if err := w.Flush(); err != nil {
		return err
	}
	r := bufio.NewReader(in)
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "smtp ")
	if !ok {
		return fmt.Errorf("expected \"smtp ADDR\", got %q", line)
	}
	accepted, _, failed, err := benchSend(addr, o)
	for id, at := range accepted {
		fmt.Fprintf(w, "ok %s %d\n", id, at.UnixNano())
	}
	msg := ""
	if err != nil {
		msg = " " + strings.ReplaceAll(err.Error(), "\n", " ")
	}
	fmt.Fprintf(w, "end %d%s\n", failed, msg)
	if err := w.Flush(); err != nil {
		return err
	}
	// The daemon's pipeline still looks senders up: answer until the
	// parent is done with us.
	_, _ = io.Copy(io.Discard, r)
	return nil
}

// cpuTime is the user and system CPU time this process has used so far.
func cpuTime() (user, sys time.Duration, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, errors.New("getrusage: " + err.Error())
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), nil
}

// newBenchDNSCmd serves the test DNS server alone (scripts/bench-accept.sh
// points a daemon's --dns at it): it prints its address and answers every
// query after --dns-delay until stdin closes or the process is stopped.
func newBenchDNSCmd() *cobra.Command {
	var delay time.Duration
	c := &cobra.Command{
		Use:    "dns",
		Short:  "A test DNS server on 127.0.0.1 answering after --dns-delay (for the bench scripts)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dns, err := dnstest.Start()
			if err != nil {
				return err
			}
			defer dns.Close()
			dns.SetDelay(delay)
			fmt.Fprintln(cmd.OutOrStdout(), dns.Addr)
			_, _ = io.Copy(io.Discard, os.Stdin)
			return nil
		},
	}
	c.Flags().DurationVar(&delay, "dns-delay", time.Millisecond, "how long the server waits before each answer")
	return c
}
