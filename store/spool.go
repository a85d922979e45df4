package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The spool holds message bodies too large to keep inline in bbolt. On
// PostgreSQL it is the bodies table instead (see spool_pg.go): the file is
// only a local buffer until Commit stores it where every node can read it.
// A body
// is written to a temporary file, fsynced, renamed into place and the folder
// fsynced before the record that points at it is committed, so a committed
// pointer always names a complete file. A crash between the rename and the
// commit leaves an orphan file, which SweepSpool removes.

const (
	spoolDir    = "spool"
	spoolTmpDir = "spool/tmp"
)

// File is the part of *os.File the spool writes through; tests swap it to
// make writes fail (chasquid's safeio does the same).
type File interface {
	io.Writer
	Sync() error
	Close() error
	Name() string
}

// CreateTemp makes a temporary spool file; it is a variable so tests can
// inject failing files.
var CreateTemp = func(dir string) (File, error) { return os.CreateTemp(dir, "in-*") }

// SpoolWriter is an unfinished spool file.
type SpoolWriter struct {
	db  *DB
	f   File
	err error
}

// NewSpoolWriter starts a spool file.
func (db *DB) NewSpoolWriter() (*SpoolWriter, error) {
	dir := filepath.Join(db.dir, spoolTmpDir)
	if db.pg != nil && db.dir == "" {
		dir = os.TempDir() // a node-less command (db copy): only a buffer
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool folder: %w", err)
	}
	f, err := CreateTemp(dir)
	if err != nil {
		return nil, fmt.Errorf("create spool file: %w", err)
	}
	return &SpoolWriter{db: db, f: f}, nil
}

func (w *SpoolWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	if err != nil {
		w.err = fmt.Errorf("write spool file: %w", err)
	}
	return n, w.err
}

// Commit fsyncs the file and moves it to its final name (a spool key).
func (w *SpoolWriter) Commit(name string) error {
	if w.err != nil {
		w.Abort()
		return w.err
	}
	if err := w.f.Sync(); err != nil {
		w.Abort()
		return fmt.Errorf("sync spool file: %w", err)
	}
	if err := w.f.Close(); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("close spool file: %w", err)
	}
	if w.db.pg != nil {
		defer os.Remove(w.f.Name())
		return w.db.pg.storeBody(name, w.f.Name())
	}
	dst, err := w.db.spoolPath(name)
	if err != nil {
		os.Remove(w.f.Name())
		return err
	}
	if err := os.Rename(w.f.Name(), dst); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("move spool file: %w", err)
	}
	return syncDir(filepath.Dir(dst))
}

// Abort discards the file.
func (w *SpoolWriter) Abort() {
	w.f.Close()
	os.Remove(w.f.Name())
}

func (db *DB) spoolPath(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("bad spool name %q", name)
	}
	return filepath.Join(db.dir, spoolDir, name), nil
}

// OpenSpool opens a committed spool file.
func (db *DB) OpenSpool(name string) (io.ReadCloser, error) {
	if db.pg != nil {
		return db.pg.openBody(name)
	}
	p, err := db.spoolPath(name)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// RemoveSpool deletes a spool file; a missing file is not an error.
func (db *DB) RemoveSpool(name string) error {
	if db.pg != nil {
		return db.pg.removeBody(name)
	}
	p, err := db.spoolPath(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// SweepSpool removes temporary files and spool files for which keep returns
// false (no committed record points at them). It returns how many it removed.
func (db *DB) SweepSpool(keep func(name string) bool) (int, error) {
	n := 0
	tmp := filepath.Join(db.dir, spoolTmpDir)
	if ents, err := os.ReadDir(tmp); err == nil {
		for _, e := range ents {
			if os.Remove(filepath.Join(tmp, e.Name())) == nil {
				n++
			}
		}
	}
	if db.pg != nil {
		m, err := db.pg.sweepBodies(keep)
		return n + m, err
	}
	ents, err := os.ReadDir(filepath.Join(db.dir, spoolDir))
	if errors.Is(err, os.ErrNotExist) {
		return n, nil
	}
	if err != nil {
		return n, fmt.Errorf("read spool: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() || keep(e.Name()) {
			continue
		}
		if os.Remove(filepath.Join(db.dir, spoolDir, e.Name())) == nil {
			n++
		}
	}
	return n, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// WriteFileAtomic writes a small file so that a crash leaves either the old
// content or the new, never a part: temp file, fsync, rename, fsync folder.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}
