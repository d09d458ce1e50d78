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

// MethodBackupAPI is the manifest's name for a copy made with SQLite's
// online backup API.
const MethodBackupAPI = "backup-api"

// SnapshotSQLite copies the SQLite database src to dst with SQLite's online
// backup API and checks the copy. The source is opened read-only: owui never
// writes to it, never checkpoints it, never changes its journal mode.
//
// The copy is made in one backup step: a step-by-step backup restarts
// whenever another connection commits to the source, so under a busy Open
// WebUI it never finishes. One step reads the whole database in one read
// transaction, which in WAL mode sees every commit made before it (those
// still only in -wal included) and does not block writers; in DELETE mode
// writers wait for it, up to their busy timeout.
//
// dst is written under a temporary name and renamed into place once it is a
// standalone database in journal mode DELETE, with no -wal or -shm beside it.
// The result records the source's journal mode and the copy's page count
// and integrity_check; the caller must refuse a copy whose IntegrityCheck is
// not "ok".
func SnapshotSQLite(ctx context.Context, src, dst string) (*manifest.SQLite, error) {
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
	mode, err := backupTo(ctx, src, tmp)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("snapshot sqlite %s: %w", src, err), removeDatabase(tmp))
	}
	info, err := finishCopy(ctx, tmp)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("snapshot sqlite %s: check copy: %w", src, err), removeDatabase(tmp))
	}
	info.JournalMode = mode
	// A stale -wal or -journal beside dst would be read as part of the copy.
	if err := removeSideFiles(dst); err != nil {
		return nil, errors.Join(fmt.Errorf("snapshot sqlite %s: %w", src, err), removeDatabase(tmp))
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, errors.Join(fmt.Errorf("snapshot sqlite %s: %w", src, err), removeDatabase(tmp))
	}
	return info, nil
}

// quietRetries is how often the copy of a closed WAL database is tried
// again when Open WebUI opened it during the copy.
const quietRetries = 3

// backupTo copies src into the new database dst in one backup step and
// returns the source's journal mode: "wal" or "delete" (the rollback modes
// are a connection setting; only WAL is recorded in the file).
//
// A WAL database that no process has open has no -wal file. Opening it,
// even read-only, would create -wal and -shm beside it and leave them there,
// owned by owui's user, which can lock the app out of its own database. So
// such a database is read as immutable (no locks, no side files) and the
// copy is kept only if the file did not change and no -wal appeared
// meanwhile: anyone who wrote to it in between would have had to create
// -wal, or change the file by checkpointing it on close.
func backupTo(ctx context.Context, src, dst string) (journalMode string, err error) {
	for attempt := 1; ; attempt++ {
		wal, err := isWALFile(src)
		if err != nil {
			return "", err
		}
		journalMode = "delete"
		if wal {
			journalMode = "wal"
		}
		before, closed, err := closedWAL(src, wal)
		if err != nil {
			return "", err
		}
		if err := backupOnce(ctx, src, dst, closed); err != nil {
			return "", err
		}
		if !closed {
			return journalMode, nil
		}
		_, stillClosed, err := closedWAL(src, wal)
		if err != nil {
			return "", err
		}
		after, err := os.Stat(src)
		if err != nil {
			return "", err
		}
		if stillClosed && sameVersion(before, after) {
			return journalMode, nil
		}
		if attempt == quietRetries {
			return "", fmt.Errorf("the database was opened and changed during %d copies", quietRetries)
		}
		if err := removeDatabase(dst); err != nil {
			return "", err
		}
	}
}

// closedWAL reports whether src is a WAL database with no -wal file, and
// returns its stat, waiting out the racy window of a just-modified file.
func closedWAL(src string, wal bool) (os.FileInfo, bool, error) {
	if !wal {
		return nil, false, nil
	}
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

// backupOnce opens src read-only (immutable when told) and backs it up
// into dst in one step.
func backupOnce(ctx context.Context, src, dst string, immutable bool) error {
	q := url.Values{}
	q.Set("mode", "ro")
	if immutable {
		q.Set("immutable", "1")
	}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sourceBusyTimeout.Milliseconds()))
	db, err := sql.Open("sqlite", fileURI(src, q))
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		b, ok := dc.(backuper)
		if !ok {
			return fmt.Errorf("sqlite driver connection %T has no online backup", dc)
		}
		bk, err := b.NewBackup(fileURI(dst, nil))
		if err != nil {
			return fmt.Errorf("start backup: %w", err)
		}
		return errors.Join(stepAll(ctx, bk), bk.Finish())
	})
	if err != nil {
		return err
	}
	if err := conn.Close(); err != nil {
		return err
	}
	return db.Close()
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
// database would otherwise open in WAL mode) and checks it.
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
	info := &manifest.SQLite{Method: MethodBackupAPI}
	if info.IntegrityCheck, err = integrityCheck(ctx, conn); err != nil {
		return nil, err
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&info.PageCount); err != nil {
		return nil, fmt.Errorf("read page count: %w", err)
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
