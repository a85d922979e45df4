package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/deskmail/deskmail/gateway"
)

// errNoDaemon means no daemon answers on the data folder's control socket,
// so the command may open the data folder itself.
var errNoDaemon = errors.New("no running daemon")

// controlClient talks HTTP to a running daemon over its control socket.
func controlClient(dataDir string, timeout time.Duration) *http.Client {
	sock := filepath.Join(dataDir, gateway.SocketName)
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
		},
	}
}

// controlDo sends a request to the daemon; errNoDaemon when none listens.
func controlDo(dataDir string, timeout time.Duration, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(method, "http://deskmail"+path, body)
	if err != nil {
		return nil, err
	}
	resp, err := controlClient(dataDir, timeout).Do(req)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, errNoDaemon
		}
		return nil, fmt.Errorf("talk to the running daemon: %w", err)
	}
	return resp, nil
}
