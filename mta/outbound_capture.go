package mta

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

// CaptureDir is the folder of captured email in the data folder.
const CaptureDir = "outbox-capture"

// Capture is the zero-config transport: each email becomes an .eml file
// in Dir (written atomically: temp file, fsync, rename), with a
// Return-Path and an X-Deskmail-Envelope-To header recording its envelope,
// and nothing leaves the machine.
type Capture struct{ Dir string }

// Deliver implements queue.Transport.
func (c *Capture) Deliver(_ context.Context, from, to string, msg []byte) (queue.Result, error) {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return queue.Result{}, fmt.Errorf("capture folder: %w", err)
	}
	name := queue.ParseVERP(from)
	if name == "" {
		name = store.NewID(time.Now())
	}
	path := filepath.Join(c.Dir, name+".eml")
	head := "Return-Path: <" + sanitizeAddr(from) + ">\r\nX-Deskmail-Envelope-To: " + sanitizeAddr(to) + "\r\n"
	if err := store.WriteFileAtomic(path, append([]byte(head), msg...), 0o600); err != nil {
		return queue.Result{}, fmt.Errorf("capture: %w", err)
	}
	return queue.Result{Captured: true, Reply: "captured to " + path}, nil
}

func sanitizeAddr(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f || c == '<' || c == '>' {
			b[i] = '_'
		}
	}
	return string(b)
}
