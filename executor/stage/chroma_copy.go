package stage

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// fileVersion is what tells one version of a file from another. Comparable:
// two states are the same version if they are ==.
type fileVersion struct {
	size, mtimeNs, ctimeNs int64
	ino, dev               uint64
	// SQLite files: the header's file change counter (bytes 24-27), bumped
	// by every commit in rollback-journal modes, and the -wal file's size
	// and mtime, which move with every commit in WAL mode.
	counter             uint32
	walSize, walMtimeNs int64
	// rollback says the header names a rollback-journal mode (bytes 18
	// and 19 are 1), where a copy under a shared lock is the file itself.
	rollback bool
}

// readState stats path and, for a SQLite file, reads its change counter and
// stats its -wal.
func readState(path string, sqlite bool) (fileVersion, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileVersion{}, err
	}
	st := fileVersion{size: fi.Size(), mtimeNs: fi.ModTime().UnixNano()}
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.ino, st.dev, st.ctimeNs = s.Ino, uint64(s.Dev), s.Ctim.Nano()
	}
	if !sqlite {
		return st, nil
	}
	if st.counter, st.rollback, err = readSQLiteHeader(path); err != nil {
		return fileVersion{}, err
	}
	if wal, err := os.Stat(path + "-wal"); err == nil {
		st.walSize, st.walMtimeNs = wal.Size(), wal.ModTime().UnixNano()
	} else if !errors.Is(err, os.ErrNotExist) {
		return fileVersion{}, err
	}
	return st, nil
}

// readSQLiteHeader reads a SQLite database header's file change counter and
// whether its file format versions name a rollback journal.
func readSQLiteHeader(path string) (counter uint32, rollback bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	var b [28]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, false, changed("%s is shorter than a SQLite header", path)
		}
		return 0, false, err
	}
	return binary.BigEndian.Uint32(b[24:28]), b[18] == 1 && b[19] == 1, nil
}

// recent reports whether the file changed so recently that another change
// within the same timestamp tick would leave mtime as it is.
func (st fileVersion) recent() bool {
	for _, ns := range []int64{st.mtimeNs, st.walMtimeNs} {
		if ns == 0 {
			continue
		}
		if age := time.Since(time.Unix(0, ns)); age < racyWindow && age > -time.Second {
			return true
		}
	}
	return false
}

// copySparse copies the first size bytes of src to dst and returns their
// SHA-256. Only the data regions are read and written (SEEK_DATA/SEEK_HOLE
// where the system has them), so a sparse source such as Chroma's
// link_lists.bin stays sparse in the staging area; holes are hashed as the
// zeros they read as. A source shorter than size is a change. dst gets
// mtime as its modification time.
func copySparse(ctx context.Context, src, dst string, size int64, mtime time.Time) (_ string, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	h := sha256.New()
	for off := int64(0); off < size; {
		start, end := dataRegion(in, off, size)
		hashZeros(h, start-off)
		if start >= size {
			break
		}
		if _, err := in.Seek(start, io.SeekStart); err != nil {
			return "", err
		}
		if _, err := out.Seek(start, io.SeekStart); err != nil {
			return "", err
		}
		if _, err := io.CopyN(io.MultiWriter(out, h), ctxReader{ctx, in}, end-start); err != nil {
			if errors.Is(err, io.EOF) {
				return "", changed("%s shrank while it was copied", src)
			}
			return "", fmt.Errorf("copy %s: %w", src, err)
		}
		off = end
	}
	if err := out.Truncate(size); err != nil {
		return "", err
	}
	if err := os.Chtimes(dst, time.Time{}, mtime); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var zeros [64 << 10]byte

func hashZeros(w io.Writer, n int64) {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		w.Write(zeros[:k]) // a hash never fails to write
		n -= k
	}
}
