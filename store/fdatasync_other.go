//go:build !linux

package store

import "os"

// fdatasync is fsync where the system has no fdatasync.
func fdatasync(f *os.File) error { return f.Sync() }

func dropCache(*os.File) {}

// writeAt writes b and then pad at off.
func writeAt(f *os.File, b, pad []byte, off int64) error {
	if _, err := f.WriteAt(b, off); err != nil {
		return err
	}
	_, err := f.WriteAt(pad, off+int64(len(b)))
	return err
}
