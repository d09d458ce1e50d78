package stage

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// SQLiteVersion reads what tells one state of the SQLite database at path
// from another, as an opaque digest: the database file's size, mtime,
// ctime, inode and 100-byte header (the file change counter, bumped by
// every commit in the rollback-journal modes, is in it); the same stat data
// of its -journal and -wal (the -wal's ctime left out), and the -wal's
// 32-byte header (its salts change whenever the log restarts from the
// beginning); and the first 96 bytes of
// its -shm, the WAL index's header, whose change counter and last valid
// frame move with every commit in WAL mode, even one whose frames were
// written to -wal before (its stat data is left out: readers write their
// read marks to the -shm, so reading the database moves its timestamps).
//
// Any commit, checkpoint or restart of the log gives another version; the
// same version read at two moments says no process wrote to the database
// in between, provided settled is true: every timestamp read is older
// than a timestamp tick, so that a later write cannot leave them as they
// are. A version that cannot be told apart safely (a side file that
// vanished while it was read, a timestamp in the future) is not settled.
//
// Reading the version opens nothing through SQLite and takes no lock.
func SQLiteVersion(path string) (version string, settled bool, err error) {
	h := sha256.New()
	settled = true
	now := time.Now()
	for i, part := range []struct {
		suffix string
		head   int
	}{{"", 100}, {"-journal", 0}, {"-wal", 32}, {"-shm", 96}} {
		fi, head, err := readPart(path+part.suffix, part.head)
		switch {
		case errors.Is(err, errVanished):
			settled = false
			continue
		case err != nil:
			return "", false, err
		}
		var rec []byte
		rec = binary.BigEndian.AppendUint16(rec, uint16(i))
		if fi == nil { // absent
			h.Write(binary.BigEndian.AppendUint16(rec, 0xffff))
			continue
		}
		if part.suffix == "-shm" {
			// Only the header: the index is written through a mapping,
			// readers too write to it (their read marks), and its
			// timestamps move with that.
			h.Write(append(binary.BigEndian.AppendUint16(rec, uint16(len(head))), head...))
			continue
		}
		mtime := fi.ModTime()
		rec = binary.BigEndian.AppendUint64(rec, uint64(fi.Size()))
		rec = binary.BigEndian.AppendUint64(rec, uint64(mtime.UnixNano()))
		times := []time.Time{mtime}
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			rec = binary.BigEndian.AppendUint64(rec, s.Ino)
			rec = binary.BigEndian.AppendUint64(rec, uint64(s.Dev))
			if part.suffix != "-wal" {
				// A reader running as root chowns the -wal it opens to
				// the database's owner (SQLite's robustFchown), which
				// moves its ctime: the -wal's is left out.
				ctime := time.Unix(s.Ctim.Unix())
				times = append(times, ctime)
				rec = binary.BigEndian.AppendUint64(rec, uint64(ctime.UnixNano()))
			}
		}
		for _, t := range times {
			if now.Sub(t) < racyWindow {
				settled = false // recent, or in the future
			}
		}
		rec = binary.BigEndian.AppendUint16(rec, uint16(len(head)))
		h.Write(append(rec, head...))
	}
	return hex.EncodeToString(h.Sum(nil)), settled, nil
}

// errVanished: a file was there when stat'ed and gone when opened.
var errVanished = errors.New("vanished")

// readPart stats path and reads up to n bytes from its start. A missing
// file gives a nil FileInfo and no error.
func readPart(path string, n int) (fs.FileInfo, []byte, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if n == 0 {
		return fi, nil, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, errVanished
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	m, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	return fi, b[:m], nil
}
