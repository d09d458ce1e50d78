package stage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/owui/owui/manifest"
)

// sourceBusyTimeout is how long the backup waits for a writer's lock on the
// source, matching Open WebUI's own busy timeout.
const sourceBusyTimeout = 5 * time.Second

// busyRetries is how often a backup step that still finds the source
// locked after the busy timeout is tried again.
const busyRetries = 3

// backuper is the part of modernc.org/sqlite's connection that starts an
// online backup.
type backuper interface {
	NewBackup(dstURI string) (*sqlite.Backup, error)
}

// Methods recorded in the manifest.
const (
	// MethodBackupAPI is a copy made with SQLite's online backup API, in
	// one step: WAL-mode sources.
	MethodBackupAPI = "backup-api"
	// MethodSharedLockCopy is a byte copy of the file made in one
	// sequential pass under a SHARED lock: rollback-journal sources.
	MethodSharedLockCopy = "shared-lock-copy"
	// MethodClosedCopy is a byte copy of a WAL database that no process
	// has open (no -wal beside it), kept only if the file did not change
	// and no -wal appeared during the copy.
	MethodClosedCopy = "closed-wal-copy"
)

// SnapshotSQLite copies the SQLite database src to dst with CopySQLite
// and checks the copy with CheckSQLite before it is renamed into place: on
// return the result's IntegrityCheck is set, and the caller must refuse a
// copy whose IntegrityCheck is not "ok".
func SnapshotSQLite(ctx context.Context, src, dst string) (*manifest.SQLite, error) {
	return snapshotSQLite(ctx, src, dst, true)
}

// CopySQLite copies the SQLite database src to dst, consistently, and
// leaves the copy's integrity_check to the caller (CheckSQLite): the check
// reads the whole copy and is the slow part, so it can run after a quiet
// window, beside the uploads. The result's IntegrityCheck is empty.
//
// The source is opened read-only: owui never writes to it, never
// checkpoints it, never changes its journal mode.
//
// How it copies depends on the source's journal mode, because the two
// modes make a reader cost the application different things:
//
//   - Rollback journal (DELETE, TRUNCATE, PERSIST: Open WebUI 0.6.23–0.8.x,
//     Chroma). A reader's SHARED lock keeps every writer from committing,
//     and the application gives up after its busy timeout (5 s in Open
//     WebUI). So the lock is held for exactly one sequential pass over the
//     file: take SHARED (which also makes SQLite roll back a hot journal
//     first, or refuse), copy the file's bytes with the kernel's
//     copy_file_range where it can, check that the header's file change
//     counter and the size did not move, release. See sharedLockCopy.
//   - WAL (Open WebUI ≥ 0.9). Readers never block writers, so the copy
//     uses the online backup API in one step: one read transaction that
//     sees every commit made before it, those still only in -wal included.
//     A step-by-step backup restarts whenever another connection commits,
//     so under a busy Open WebUI it never finishes; one step always does.
//     While the read transaction is open no checkpoint can reset -wal past
//     it, so -wal grows by whatever the application writes meanwhile: the
//     growth is bounded by the transaction's duration, SourceHoldMillis.
//     A WAL database that no process has open (no -wal) is not opened at
//     all but copied as it is (see backupTo), so that no -wal or -shm is
//     created beside it.
//
// Either way dst is written under a temporary name, turned into a
// standalone database in journal mode DELETE with no -wal or -shm beside
// it, and renamed into place; on error nothing is left. After that owui
// never writes to dst again, so its bytes can be hashed, checked and sent
// at the same time. The result records the source's journal mode, the
// method, how long the source was held, and the copy's page count and page
// size.
func CopySQLite(ctx context.Context, src, dst string) (*manifest.SQLite, error) {
	return snapshotSQLite(ctx, src, dst, false)
}

func snapshotSQLite(ctx context.Context, src, dst string, check bool) (*manifest.SQLite, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	src, err := filepath.Abs(src)
	if err != nil {
		return nil, fmt.Errorf("snapshot sqlite %s: %w", src, err)
	}
	if ok, err := IsSQLite(src); err != nil {
		return nil, fmt.Errorf("snapshot sqlite %s: %w", src, err)
	} else if !ok {
		return nil, fmt.Errorf("snapshot sqlite %s: not a SQLite database", src)
	}
	dst, err = filepath.Abs(dst)
	if err != nil {
		return nil, fmt.Errorf("snapshot sqlite %s: %w", src, err)
	}
	tmp := dst + ".owui-partial"
	if err := removeDatabase(tmp); err != nil {
		return nil, fmt.Errorf("snapshot sqlite %s: %w", src, err)
	}
	c, err := copySource(ctx, src, tmp)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("snapshot sqlite %s: %w", src, err), removeDatabase(tmp))
	}
	info, err := finishCopy(ctx, tmp)
	if err == nil && check {
		info.IntegrityCheck, err = CheckSQLite(ctx, tmp)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("snapshot sqlite %s: check copy: %w", src, err), removeDatabase(tmp))
	}
	info.JournalMode = c.journalMode
	info.Method = c.method
	info.SourceHoldMillis = float64(c.hold.Microseconds()) / 1000
	// A stale -wal or -journal beside dst would be read as part of the copy.
	if err := removeSideFiles(dst); err != nil {
		return nil, errors.Join(fmt.Errorf("snapshot sqlite %s: %w", src, err), removeDatabase(tmp))
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, errors.Join(fmt.Errorf("snapshot sqlite %s: %w", src, err), removeDatabase(tmp))
	}
	return info, nil
}

// copied says how copySource made its copy.
type copied struct {
	journalMode string // "wal" or "delete"
	method      string
	hold        time.Duration // how long the source was locked or read
}

// copySource copies src into the new file dst by the method its journal
// mode calls for. The mode is read from the header (offsets 18 and 19: 2
// means WAL; the rollback modes are a connection setting and read as
// "delete"), and checked again under the lock: an application opening an
// old database may switch it to WAL in between.
func copySource(ctx context.Context, src, dst string) (copied, error) {
	for attempt := 1; ; attempt++ {
		wal, err := isWALFile(src)
		if err != nil {
			return copied{}, err
		}
		if wal {
			method, hold, err := backupTo(ctx, src, dst)
			return copied{journalMode: "wal", method: method, hold: hold}, err
		}
		hold, err := sharedLockCopy(ctx, src, dst)
		if err == nil {
			return copied{journalMode: "delete", method: MethodSharedLockCopy, hold: hold}, nil
		}
		retry := errors.Is(err, errNotRollback) || errors.Is(err, errChangedUnderLock) || isBusy(err)
		if !retry || attempt == busyRetries {
			return copied{}, err
		}
		if err := removeDatabase(dst); err != nil {
			return copied{}, err
		}
		if err := sleep(ctx, time.Duration(attempt)*100*time.Millisecond); err != nil {
			return copied{}, err
		}
	}
}

// quietRetries is how often the copy of a closed WAL database is tried
// again when Open WebUI opened it during the copy.
const quietRetries = 3

// backupTo copies the WAL database src into the new database dst in one
// backup step and returns the method and how long the step's read
// transaction lasted.
//
// A WAL database that no process has open has no -wal file: every commit
// is in the database file itself (the last connection checkpointed it on
// close), as after a clean stop of the container. Opening it, even
// read-only, would create -wal and -shm beside it and leave them there,
// owned by owui's user, which can lock the app out of its own database. So
// such a database is not opened at all: its bytes are copied as they are
// (copy_file_range; what the backup API reads from an immutable database
// is the same pages, at several times the cost), and the copy is kept only
// if the file did not change and no -wal appeared meanwhile: anyone who
// wrote to it in between would have had to create -wal, or change the
// file by checkpointing it on close.
func backupTo(ctx context.Context, src, dst string) (string, time.Duration, error) {
	for attempt := 1; ; attempt++ {
		before, closed, err := closedWAL(src)
		if err != nil {
			return "", 0, err
		}
		if !closed {
			hold, err := backupOnce(ctx, src, dst)
			return MethodBackupAPI, hold, err
		}
		hold, err := copyClosed(ctx, src, dst)
		if err != nil {
			return "", 0, err
		}
		_, stillClosed, err := closedWAL(src)
		if err != nil {
			return "", 0, err
		}
		after, err := os.Stat(src)
		if err != nil {
			return "", 0, err
		}
		if stillClosed && sameVersion(before, after) {
			return MethodClosedCopy, hold, nil
		}
		if attempt == quietRetries {
			return "", 0, fmt.Errorf("the database was opened and changed during %d copies", quietRetries)
		}
		if err := removeDatabase(dst); err != nil {
			return "", 0, err
		}
	}
}

// copyClosed copies the bytes of src, a database no process has open, to
// the new file dst and returns how long it took.
func copyClosed(ctx context.Context, src, dst string) (time.Duration, error) {
	start := time.Now()
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		_, err := io.CopyN(out, in, copyChunk)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("copy: %w", err)
		}
	}
	if err := out.Close(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// closedWAL reports whether the WAL database src has no -wal file, and
// returns its stat, waiting out the racy window of a just-modified file.
func closedWAL(src string) (os.FileInfo, bool, error) {
	if _, err := os.Lstat(src + "-wal"); err == nil {
		return nil, false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	st, err := os.Stat(src)
	if err != nil {
		return nil, false, err
	}
	if age := time.Since(st.ModTime()); age >= 0 && age < racyWindow {
		time.Sleep(racyWindow - age)
	}
	return st, true, nil
}

// isWALFile reads the database header's file format versions (offsets 18
// and 19): 2 means WAL, 1 a rollback journal.
func isWALFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var hdr [20]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return false, fmt.Errorf("read header: %w", err)
	}
	return hdr[18] == 2 || hdr[19] == 2, nil
}

// backupOnce opens src read-only and backs it up into dst in one step. It
// returns the duration of that step, which is the source's read
// transaction.
func backupOnce(ctx context.Context, src, dst string) (time.Duration, error) {
	db, conn, err := openSource(ctx, src)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	defer conn.Close()
	// The copy is a scratch file until finishCopy has checked it: no
	// journal and no fsync while the source's read transaction is open.
	dstQ := url.Values{}
	dstQ.Add("_pragma", "journal_mode(OFF)")
	dstQ.Add("_pragma", "synchronous(OFF)")
	var hold time.Duration
	err = conn.Raw(func(dc any) error {
		b, ok := dc.(backuper)
		if !ok {
			return fmt.Errorf("sqlite driver connection %T has no online backup", dc)
		}
		bk, err := b.NewBackup(fileURI(dst, dstQ))
		if err != nil {
			return fmt.Errorf("start backup: %w", err)
		}
		start := time.Now()
		err = stepAll(ctx, bk)
		hold = time.Since(start)
		return errors.Join(err, bk.Finish())
	})
	if err != nil {
		return 0, err
	}
	if err := conn.Close(); err != nil {
		return 0, err
	}
	return hold, db.Close()
}

// openSource opens one read-only connection to src with the application's
// busy timeout.
func openSource(ctx context.Context, src string) (*sql.DB, *sql.Conn, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sourceBusyTimeout.Milliseconds()))
	db, err := sql.Open("sqlite", fileURI(src, q))
	if err != nil {
		return nil, nil, fmt.Errorf("open source: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("open source: %w", err)
	}
	return db, conn, nil
}

// stepAll runs the backup to completion in single all-pages steps, trying a
// step again when the source stayed locked past the busy timeout.
func stepAll(ctx context.Context, bk *sqlite.Backup) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		more, err := bk.Step(-1)
		switch {
		case err == nil && !more:
			return nil
		case err == nil:
			continue
		case isBusy(err) && attempt < busyRetries:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
			}
		default:
			return fmt.Errorf("backup step: %w", err)
		}
	}
}

func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code() & 0xff
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// finishCopy turns the fresh copy into a standalone rollback-journal
// database (the backup copies the source's header, so a copy of a WAL
// database would otherwise open in WAL mode) and reads its page count and
// page size. It is the last write to the copy.
func finishCopy(ctx context.Context, path string) (*manifest.SQLite, error) {
	db, err := sql.Open("sqlite", fileURI(path, nil))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var mode string
	if err := conn.QueryRowContext(ctx, `PRAGMA journal_mode = DELETE`).Scan(&mode); err != nil {
		return nil, fmt.Errorf("set journal mode: %w", err)
	}
	if mode != "delete" {
		return nil, fmt.Errorf("set journal mode: still %q", mode)
	}
	info := &manifest.SQLite{}
	if err := conn.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&info.PageCount); err != nil {
		return nil, fmt.Errorf("read page count: %w", err)
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&info.PageSize); err != nil {
		return nil, fmt.Errorf("read page size: %w", err)
	}
	if err := conn.Close(); err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	for _, s := range sideSuffixes {
		if _, err := os.Lstat(path + s); err == nil {
			return nil, fmt.Errorf("%s is left beside the copy", filepath.Base(path+s))
		}
	}
	return info, nil
}

// CheckSQLite runs PRAGMA integrity_check on the database at path, a copy
// of owui's own that nothing writes to any more, and returns "ok" or the
// problems found (at most 20), joined by "; ". It opens the copy read-only
// and immutable: no lock, no journal, no side file, no write, so the copy
// can be hashed and sent while it is checked.
func CheckSQLite(ctx context.Context, path string) (string, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("immutable", "1")
	db, err := sql.Open("sqlite", fileURI(path, q))
	if err != nil {
		return "", fmt.Errorf("integrity_check: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", fmt.Errorf("integrity_check: %w", err)
	}
	defer conn.Close()
	res, err := integrityCheck(ctx, conn)
	if err != nil {
		return "", err
	}
	if err := conn.Close(); err != nil {
		return "", err
	}
	return res, db.Close()
}

// integrityCheck returns "ok" or the problems found, joined by "; ".
func integrityCheck(ctx context.Context, conn *sql.Conn) (string, error) {
	rows, err := conn.QueryContext(ctx, `PRAGMA integrity_check(20)`)
	if err != nil {
		return "", fmt.Errorf("integrity_check: %w", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return "", fmt.Errorf("integrity_check: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("integrity_check: %w", err)
	}
	return strings.Join(msgs, "; "), nil
}

// removeDatabase removes a database file of owui's own making and its side
// files. Missing files are fine.
func removeDatabase(path string) error {
	return errors.Join(removeFile(path), removeSideFiles(path))
}

func removeSideFiles(path string) error {
	var errs []error
	for _, s := range sideSuffixes {
		errs = append(errs, removeFile(path+s))
	}
	return errors.Join(errs...)
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// fileURI makes a SQLite URI for path. Escaping keeps a '?' or '#' in the
// path from being read as the start of the query.
func fileURI(path string, q url.Values) string {
	// A relative path would read as the URI's authority.
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)}
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
