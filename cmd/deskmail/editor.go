package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// readInput returns what a command saves: the file given ("-": standard
// input, at most 1 MiB), or, with none, what the user wrote in $EDITOR in
// a private temporary file named name, which starts as current() (the
// thing's current version). Templates and automations are edited so.
func readInput(file, name string, current func() ([]byte, error)) (string, error) {
	switch file {
	case "-":
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
		return string(b), err
	case "":
	default:
		b, err := os.ReadFile(file)
		return string(b), err
	}
	editor := os.Getenv("EDITOR")
	if editor == "" {
		return "", errors.New("set $EDITOR or give --file")
	}
	start, err := current()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "deskmail-edit-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, start, 0o600); err != nil {
		return "", err
	}
	c := exec.Command("sh", "-c", editor+` "$1"`, "editor", f)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := c.Run(); err != nil {
		return "", fmt.Errorf("editor: %w", err)
	}
	b, err := os.ReadFile(f)
	return string(b), err
}
