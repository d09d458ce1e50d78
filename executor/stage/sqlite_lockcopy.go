package stage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	// errNotRollback: the source turned out to be in WAL mode once locked.
	errNotRollback = errors.New("database switched to WAL mode")
	// errChangedUnderLock: the file changed although a SHARED lock was
	// held, which only a file system without working POSIX locks (some
	// network file systems) or a process ignoring SQLite's locking allows.
	errChangedUnderLock = errors.New("database changed while locked; is it on a file system without working locks?")
)

// copyChunk is how much copySharedLocked copies between checks of ctx:
// large enough to keep copy_file_range in big requests.
const copyChunk = 64 << 20

// testHookLocked, when set by a test, runs while sharedLockCopy holds the
// lock, after the bytes are copied and before the change check.
var testHookLocked func(src string)

// sharedLockCopy copies the rollback-journal database src into the new file
// dst under a SHARED lock and returns how long the lock was held.
//
// SQLite's locking makes this a consistent copy: a writer must hold
// EXCLUSIVE, which waits for every SHARED lock to go, before it writes to
// the database file (its changes wait in its journal and page cache until
// then), so while the lock is held the file is one committed state. Taking
// SHARED runs SQLite's hot-journal check, so a journal left by a crash is
// rolled back first (or the read-only open refuses) instead of copied past.
//
// Everything that can happen before the lock does: opening both files,
// creating dst. Under the lock there is one sequential pass over the file
// (io.Copy between two files: copy_file_range on Linux, no user-space
// copy), a check that the header's file change counter (offset 24) and the
// size are what they were when the lock was taken, and nothing else. The
// copy is checked after the lock is released.
//
// POSIX locks belong to a process, not to a descriptor: closing any
// descriptor of the file drops every lock this process holds on it. So the
// descriptor opened here is closed only after the transaction has ended, and
// no other connection of this process may hold a lock on src meanwhile
// (owui opens sources only here).
func sharedLockCopy(ctx context.Context, src, dst string) (time.Duration, error) {
	db, conn, err := openSource(ctx, src)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	defer conn.Close()
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	// Runs after conn's transaction has ended; see the doc comment.
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	defer out.Close()

	if _, err := conn.ExecContext(ctx, `BEGIN`); err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	// A deferred transaction takes its lock at its first read.
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&n); err != nil {
		conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		if isReadonlyRollback(err) {
			return 0, fmt.Errorf("take shared lock: a hot journal is beside the database (a writer died mid-commit); owui only reads the source, so let the application open it once to roll the journal back: %w", err)
		}
		return 0, fmt.Errorf("take shared lock: %w", err)
	}
	locked := time.Now()
	copyErr := copyLocked(ctx, src, in, out)
	// Whatever happened, release at once: the application is waiting.
	_, endErr := conn.ExecContext(context.WithoutCancel(ctx), `COMMIT`)
	hold := time.Since(locked)
	if err := errors.Join(copyErr, endErr); err != nil {
		return 0, err
	}
	if err := out.Close(); err != nil {
		return 0, err
	}
	return hold, nil
}

// copyLocked is the part of sharedLockCopy that runs under the lock.
func copyLocked(ctx context.Context, src string, in, out *os.File) error {
	pst, err := os.Stat(src)
	if err != nil {
		return err
	}
	before, err := dbVersionOf(in)
	if err != nil {
		return err
	}
	if !os.SameFile(before.stat, pst) {
		return fmt.Errorf("%w: %s was replaced", errChangedUnderLock, src)
	}
	if before.hdr[18] == 2 || before.hdr[19] == 2 {
		return errNotRollback
	}
	var copied int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := io.CopyN(out, in, copyChunk)
		copied += n
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("copy: %w", err)
		}
	}
	if testHookLocked != nil {
		testHookLocked(src)
	}
	after, err := dbVersionOf(in)
	if err != nil {
		return err
	}
	if copied != before.stat.Size() || !before.same(after) {
		return errChangedUnderLock
	}
	return nil
}

// dbVersion is what identifies one state of a database file.
type dbVersion struct {
	stat os.FileInfo
	hdr  [100]byte
}

func dbVersionOf(f *os.File) (dbVersion, error) {
	var v dbVersion
	if _, err := f.ReadAt(v.hdr[:], 0); err != nil {
		return v, fmt.Errorf("read header: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		return v, err
	}
	v.stat = st
	return v, nil
}

// same compares the file change counter (header offset 24), which every
// commit in a rollback-journal mode increments, and the size. mtime is not
// compared: it may have coarse granularity, and the counter is exact.
func (v dbVersion) same(w dbVersion) bool {
	return bytes.Equal(v.hdr[24:28], w.hdr[24:28]) && v.stat.Size() == w.stat.Size()
}

// isReadonlyRollback reports SQLITE_READONLY_ROLLBACK: a read-only
// connection found a hot journal it may not roll back.
func isReadonlyRollback(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_READONLY_ROLLBACK
}
