package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// The write-ahead log of the bbolt store (see walbackend.go): two
// preallocated files, deskmail.log.0 and deskmail.log.1, used in turns.
// Each checkpoint period (an epoch, numbered from 1) appends to one file
// from its start, epoch e in file e%2. A record is one batch of the group
// commit:
//
//	u32 payload length | u32 CRC-32C of the rest | u64 epoch | payload
//
// where the CRC goes on from the previous record's (crc32.Update from
// it; from 0 for the epoch's first record): a record is valid only after
// the one that was written before it. Records carry raw emails, so the
// stale bytes past an epoch's tail can hold a well-formed record a
// sender planted, of an epoch to come; the chain makes it fail its
// check, as its writer could not know the checksum of the record that
// now precedes it (which holds fresh IDs and times).
//
// and the payload is the batch's writes in the order they were made:
//
//	1 bucket key value   put
//	2 bucket key         delete
//	3 bucket n           set the bucket's sequence to n
//
// with every string as a uvarint length and its bytes, n as a uvarint. A
// file is read from its start while records check out and carry the
// epoch of its first record: what follows (zeros of the preallocation,
// a record torn by a crash, records of an older epoch) is not of the
// epoch, and a torn record was never acknowledged (its batch is answered
// only after the record's fdatasync).

// LogFile is the name of the log files in the data folder, followed by
// ".0" or ".1".
const LogFile = "deskmail.log"

const (
	recHeader  = 16
	opPut      = 1
	opDelete   = 2
	opSequence = 3
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// maxRecord bounds a record's payload (1 GiB; a variable for tests):
// recovery reads no longer one, so a batch whose record would be longer
// fails (see walBackend.append).
var maxRecord = 1 << 30

// errBadRecord ends a file's replay: no record of the epoch starts here.
var errBadRecord = errors.New("store: bad log record")

// sealRecord fills in the header of rec, recHeader bytes left for it
// ahead of its payload: a transaction builds its record that way, so the
// batch's writes are not copied again to be logged.
func sealRecord(rec []byte, epoch uint64, prev uint32) {
	binary.LittleEndian.PutUint32(rec, uint32(len(rec)-recHeader))
	binary.LittleEndian.PutUint64(rec[8:], epoch)
	binary.LittleEndian.PutUint32(rec[4:], crc32.Update(prev, crcTable, rec[8:]))
}

// recordCRC is the CRC of the record at the start of rec (the next
// record's prev).
func recordCRC(rec []byte) uint32 { return binary.LittleEndian.Uint32(rec[4:]) }

// decodeRecord reads the record at the start of buf, chained to prev:
// its epoch, its payload (inside buf) and its whole length.
func decodeRecord(buf []byte, prev uint32) (epoch uint64, payload []byte, n int, err error) {
	if len(buf) < recHeader {
		return 0, nil, 0, errBadRecord
	}
	size := binary.LittleEndian.Uint32(buf)
	if int64(size) > int64(maxRecord) || uint64(size) > uint64(len(buf)-recHeader) {
		return 0, nil, 0, errBadRecord
	}
	n = recHeader + int(size)
	if crc32.Update(prev, crcTable, buf[8:n]) != recordCRC(buf) {
		return 0, nil, 0, errBadRecord
	}
	epoch = binary.LittleEndian.Uint64(buf[8:])
	if epoch == 0 {
		return 0, nil, 0, errBadRecord
	}
	return epoch, buf[recHeader:n], n, nil
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// appendHead starts a write: its op and its bucket.
func appendHead(buf []byte, op byte, bucket string) []byte {
	buf = append(buf, op)
	buf = binary.AppendUvarint(buf, uint64(len(bucket)))
	return append(buf, bucket...)
}

func appendPut(buf []byte, bucket string, key, value []byte) []byte {
	buf = appendHead(buf, opPut, bucket)
	return appendBytes(appendBytes(buf, key), value)
}

func appendDelete(buf []byte, bucket string, key []byte) []byte {
	buf = appendHead(buf, opDelete, bucket)
	return appendBytes(buf, key)
}

func appendSequence(buf []byte, bucket string, n uint64) []byte {
	buf = appendHead(buf, opSequence, bucket)
	return binary.AppendUvarint(buf, n)
}

// logOp is one decoded write; key and value point into the payload.
type logOp struct {
	op     byte
	bucket string
	key    []byte
	value  []byte
	n      uint64
}

func takeBytes(p []byte) ([]byte, []byte, error) {
	l, k := binary.Uvarint(p)
	if k <= 0 || l > uint64(len(p)-k) {
		return nil, nil, errBadRecord
	}
	return p[k : k+int(l) : k+int(l)], p[k+int(l):], nil
}

// decodeOps calls fn for each write of a record's payload.
func decodeOps(p []byte, fn func(logOp) error) error {
	for len(p) > 0 {
		var o logOp
		var b []byte
		var err error
		o.op = p[0]
		if b, p, err = takeBytes(p[1:]); err != nil {
			return err
		}
		o.bucket = string(b)
		switch o.op {
		case opPut:
			if o.key, p, err = takeBytes(p); err != nil {
				return err
			}
			if o.value, p, err = takeBytes(p); err != nil {
				return err
			}
		case opDelete:
			if o.key, p, err = takeBytes(p); err != nil {
				return err
			}
		case opSequence:
			n, k := binary.Uvarint(p)
			if k <= 0 {
				return errBadRecord
			}
			o.n, p = n, p[k:]
		default:
			return fmt.Errorf("%w: unknown write %d", errBadRecord, o.op)
		}
		if err := fn(o); err != nil {
			return err
		}
	}
	return nil
}

// readLogFile returns the epoch of the file's first record (0 if none)
// and the payloads of the records of that epoch, in order.
func readLogFile(buf []byte) (epoch uint64, payloads [][]byte) {
	var prev uint32
	for len(buf) > 0 {
		e, p, n, err := decodeRecord(buf, prev)
		if err != nil || (epoch != 0 && e != epoch) {
			break
		}
		epoch, prev = e, recordCRC(buf)
		payloads = append(payloads, p)
		buf = buf[n:]
	}
	return epoch, payloads
}

func logPath(dir string, i uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%s.%d", LogFile, i%2))
}

// preallocate makes the file, from bytes long now, at least size bytes
// long, writing zeros past its end (an overwrite of written blocks leaves
// the file's metadata as it is, so its fdatasync writes the data alone),
// and fsyncs it and the folder.
func preallocate(f *os.File, dir string, from, size int64, sync func(*os.File) error) error {
	if from >= size {
		return nil
	}
	zeros := make([]byte, min(1<<20, size-from))
	for off := from; off < size; {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return fmt.Errorf("preallocate %s: %w", f.Name(), err)
		}
		off += n
	}
	if err := sync(f); err != nil {
		return fmt.Errorf("%w: preallocate %s: %w", errGrowSync, f.Name(), err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("%w: preallocate %s: %w", errGrowSync, f.Name(), err)
	}
	return nil
}

// errGrowSync marks a failed fsync of the log's new length: after it the
// kernel may report later syncs of the file as successful although the
// length never reached the disk, so the log is broken, not retried (a
// failed write of the zeros, ENOSPC say, is retried by the next batch).
var errGrowSync = errors.New("store: sync of the log's new size failed")
