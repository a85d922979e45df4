package store

import (
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fdatasync writes the file's data (and the metadata needed to read it
// back, not its times) to the disk.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// dropCache drops the file's pages from the page cache. The log is
// preallocated (and read at recovery) in large writes and reads, which
// leave it cached in large folios: a record written into one then dirties
// the whole folio, and its fdatasync writes up to a megabyte for a 5 KB
// record (measured: 1,053,818 bytes written per record, 9,632 once the
// pages are dropped and the records' writes cache them page by page).
func dropCache(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// writeAt writes b and then pad at off in one pwritev.
func writeAt(f *os.File, b, pad []byte, off int64) error {
	bufs := [][]byte{b, pad}
	for len(bufs) > 0 {
		n, err := unix.Pwritev(int(f.Fd()), bufs, off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		off += int64(n)
		for len(bufs) > 0 && n >= len(bufs[0]) {
			n -= len(bufs[0])
			bufs = bufs[1:]
		}
		if len(bufs) > 0 {
			bufs[0] = bufs[0][n:]
		}
	}
	return nil
}
