package stage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// ErrKeptChanging is returned by CopyQuiet when every attempt saw the source
// change while it was being copied.
var ErrKeptChanging = errors.New("file kept changing while it was copied")

// racyWindow covers coarse file timestamps (a kernel tick): a write in the
// same tick as the stat before a copy would leave mtime unchanged, so a file
// modified this recently is first left to age past it.
const racyWindow = 20 * time.Millisecond

// retryDelay is the wait before the second attempt; it doubles after that.
var retryDelay = 100 * time.Millisecond

// Copied describes a file CopyQuiet copied: its size, its modification time
// (also set on the copy) and the SHA-256 of the bytes copied.
type Copied struct {
	Size     int64
	ModTime  time.Time
	SHA256   string
	Attempts int
	// Source is the source's state when it was copied: its bytes were
	// those hashed, so a hash cache may key the hash by it.
	Source SourceState
}

// SourceState is a source file's state as a capture saw it. A file changed
// since then has another size, modification time or inode: captures copy
// only files whose last change is older than a timestamp tick (racyWindow),
// so a later change cannot leave the modification time as it was.
type SourceState struct {
	Size    int64
	MtimeNs int64
	Inode   uint64
	// WAL says a SQLite file had a -wal beside it.
	WAL bool
}

func sourceStateOf(fi os.FileInfo) SourceState {
	st := SourceState{Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()}
	if s, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.Inode = s.Ino
	}
	return st
}

// CopyQuiet copies src to dst and makes sure src did not change while it was
// read: size, mtime, ctime and inode are compared before and after, and the
// byte count read must match the size. A change means another try, after a
// growing pause, up to attempts in all; then an error wrapping
// ErrKeptChanging. dst is written under a temporary name and renamed into
// place only when the copy is good; it gets src's mtime.
func CopyQuiet(ctx context.Context, src, dst string, attempts int) (Copied, error) {
	attempts = max(attempts, 1)
	delay := retryDelay
	for i := 1; i <= attempts; i++ {
		c, err := copyOnce(ctx, src, dst)
		if err == nil {
			c.Attempts = i
			return c, nil
		}
		if !errors.Is(err, errChanged) {
			return Copied{}, fmt.Errorf("copy %s: %w", src, err)
		}
		if i == attempts {
			break
		}
		if err := sleep(ctx, delay); err != nil {
			return Copied{}, fmt.Errorf("copy %s: %w", src, err)
		}
		delay *= 2
	}
	return Copied{}, fmt.Errorf("copy %s: %w (%d attempts); pause or stop the container for a consistent copy", src, ErrKeptChanging, attempts)
}

var errChanged = errors.New("changed during copy")

// afterCopyHook, when set by a test, runs between the copy and the check
// that the source did not change: a deterministic way to change it mid-copy.
var afterCopyHook func(src string)

func copyOnce(ctx context.Context, src, dst string) (_ Copied, err error) {
	in, err := os.Open(src)
	if err != nil {
		return Copied{}, err
	}
	defer in.Close()
	before, err := in.Stat()
	if err != nil {
		return Copied{}, err
	}
	if age := time.Since(before.ModTime()); age < racyWindow && age > -time.Second {
		if err := sleep(ctx, racyWindow-age); err != nil {
			return Copied{}, err
		}
		if before, err = in.Stat(); err != nil {
			return Copied{}, err
		}
	}
	tmp := dst + ".owui-partial"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return Copied{}, err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), ctxReader{ctx, in})
	if err != nil {
		return Copied{}, err
	}
	if err := out.Close(); err != nil {
		return Copied{}, err
	}
	if afterCopyHook != nil {
		afterCopyHook(src)
	}
	afterFD, err := in.Stat()
	if err != nil {
		return Copied{}, err
	}
	afterPath, err := os.Stat(src) // catches src replaced by a rename
	if err != nil {
		return Copied{}, err
	}
	if n != before.Size() || !sameVersion(before, afterFD) || !sameVersion(before, afterPath) {
		return Copied{}, errChanged
	}
	if err := os.Chtimes(tmp, time.Time{}, before.ModTime()); err != nil {
		return Copied{}, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return Copied{}, err
	}
	return Copied{Size: n, ModTime: before.ModTime(), SHA256: hex.EncodeToString(h.Sum(nil)), Source: sourceStateOf(before)}, nil
}

// sameVersion reports whether two stats are of the same, unmodified file.
func sameVersion(a, b os.FileInfo) bool {
	if a.Size() != b.Size() || !a.ModTime().Equal(b.ModTime()) {
		return false
	}
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return true
	}
	return sa.Ino == sb.Ino && sa.Dev == sb.Dev && sa.Ctim == sb.Ctim
}

// ctxReader stops a long copy when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Settled stats path and reports whether its last change is older than a
// timestamp tick: only then does its state tell any later change apart.
func Settled(path string) (SourceState, bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return SourceState{}, false, err
	}
	age := time.Since(fi.ModTime())
	return sourceStateOf(fi), age >= racyWindow, nil
}
