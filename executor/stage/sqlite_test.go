package stage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/owui/owui/internal/livewriter"
)

func TestMain(m *testing.M) {
	livewriter.MaybeRunChild()
	os.Exit(m.Run())
}

// liveDB is a database with an invariant a torn copy breaks: every
// transaction inserts one row and bumps the counter, so
// count(rows) == counter.n in every consistent state.
type liveDB struct {
	path    string
	commits atomic.Int64 // value of the counter after the last commit
}

func newLiveDB(t *testing.T, path, mode string, prefill int) *liveDB {
	t.Helper()
	if raceEnabled && prefill > 2000 {
		prefill = 2000
	}
	db := openWriter(t, path, "")
	defer db.Close()
	for _, q := range []string{
		"PRAGMA journal_mode = " + mode,
		"CREATE TABLE rows (id INTEGER PRIMARY KEY, payload BLOB)",
		"CREATE TABLE counter (n INTEGER NOT NULL)",
		"INSERT INTO counter VALUES (0)",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for range prefill {
		if _, err := tx.Exec("INSERT INTO rows (payload) VALUES (randomblob(1000))"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec("UPDATE counter SET n = ?", prefill); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	l := &liveDB{path: path}
	l.commits.Store(int64(prefill))
	return l
}

// openWriter opens path the way an application does: read-write, with a
// busy timeout and IMMEDIATE transactions. extra adds _pragma values.
func openWriter(t *testing.T, path string, extra ...string) *sql.DB {
	t.Helper()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	for _, p := range extra {
		if p != "" {
			q.Add("_pragma", p)
		}
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", fileURI(path, q))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// write commits one transaction.
func (l *liveDB) write(db *sql.DB) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec("INSERT INTO rows (payload) VALUES (randomblob(1000))"); err != nil {
		return err
	}
	if _, err := tx.Exec("UPDATE counter SET n = n + 1"); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	l.commits.Add(1)
	return nil
}

// startWriter commits in a loop on its own connection until stop is called.
func (l *liveDB) startWriter(t *testing.T) (stop func() error) {
	t.Helper()
	db := openWriter(t, l.path)
	var wg sync.WaitGroup
	var werr error
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := l.write(db); err != nil {
				werr = err
				return
			}
		}
	}()
	return func() error {
		close(done)
		wg.Wait()
		return errors.Join(werr, db.Close())
	}
}

// checkCopy opens a copy read-only, as restore would, and returns its
// counter after checking integrity and the invariant.
func checkCopy(t *testing.T, path string) int64 {
	t.Helper()
	hdr := make([]byte, 20)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(hdr); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if hdr[18] != 1 || hdr[19] != 1 {
		t.Errorf("copy's file format bytes = %d,%d; want 1,1 (rollback journal, standalone)", hdr[18], hdr[19])
	}
	for _, s := range sideSuffixes {
		if fileExists(path + s) {
			t.Errorf("%s left beside the copy", filepath.Base(path+s))
		}
	}
	q := url.Values{}
	q.Set("mode", "ro")
	db, err := sql.Open("sqlite", fileURI(path, q))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ic string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil {
		t.Fatal(err)
	}
	if ic != "ok" {
		t.Errorf("integrity_check of the copy = %q", ic)
	}
	var rows, n int64
	if err := db.QueryRow("SELECT (SELECT count(*) FROM rows), (SELECT n FROM counter)").Scan(&rows, &n); err != nil {
		t.Fatal(err)
	}
	if rows != n {
		t.Errorf("torn copy: %d rows but counter %d", rows, n)
	}
	return n
}

type fileState struct {
	sum   [32]byte
	size  int64
	mtime time.Time
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{sha256.Sum256(b), st.Size(), st.ModTime()}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestSnapshotSQLiteWALOnlyCommits: commits that live only in -wal (not
// checkpointed, the app still running) are in the copy, and neither the
// database file nor its -wal is touched.
func TestSnapshotSQLiteWALOnlyCommits(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "webui.db")
	l := newLiveDB(t, src, "wal", 100)
	app := openWriter(t, src, "wal_autocheckpoint(0)") // the running app; never checkpoints
	defer app.Close()
	for range 50 {
		if err := l.write(app); err != nil {
			t.Fatal(err)
		}
	}
	wal := stateOf(t, src+"-wal")
	if wal.size == 0 {
		t.Fatal("-wal is empty; the test needs commits in it")
	}
	// The database file alone lacks the last commits.
	alone := filepath.Join(t.TempDir(), "alone.db")
	if b, err := os.ReadFile(src); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(alone, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if n := counterOf(t, alone); n >= 150 {
		t.Fatalf("the database file alone already holds counter %d; the commits are not WAL-only", n)
	}

	main := stateOf(t, src)
	files := names(t, dir)
	dst := filepath.Join(t.TempDir(), "webui.db")
	info, err := SnapshotSQLite(context.Background(), src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if n := checkCopy(t, dst); n != 150 {
		t.Errorf("copy holds counter %d, want 150 (100 checkpointed + 50 only in -wal)", n)
	}
	if info.JournalMode != "wal" {
		t.Errorf("journal mode = %q, want wal", info.JournalMode)
	}
	if got := stateOf(t, src); got != main {
		t.Errorf("source database changed: %+v -> %+v", main, got)
	}
	if got := stateOf(t, src+"-wal"); got != wal {
		t.Errorf("source -wal changed: %+v -> %+v", wal, got)
	}
	if got := names(t, dir); fmt.Sprint(got) != fmt.Sprint(files) {
		t.Errorf("files beside the source changed: %v -> %v", files, got)
	}
}

func counterOf(t *testing.T, path string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", fileURI(path, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow("SELECT n FROM counter").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSnapshotSQLiteLeavesSourceAlone: with no writer, the source's bytes,
// mtime and directory are exactly as before, for a DELETE database, a WAL
// database no process has open (no -wal: opening it must not create one),
// and the real Open WebUI schema.
func TestSnapshotSQLiteLeavesSourceAlone(t *testing.T) {
	tests := map[string]func(t *testing.T, path string){
		"delete": func(t *testing.T, path string) { newLiveDB(t, path, "delete", 500) },
		"closed wal": func(t *testing.T, path string) {
			newLiveDB(t, path, "wal", 500)
			if fileExists(path + "-wal") {
				t.Fatal("closed WAL database still has -wal")
			}
		},
		"open webui 0.11.0 schema": func(t *testing.T, path string) {
			b, err := os.ReadFile(fixture(t, "webui-0.11.0-schema.db"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, setup := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "webui.db")
			setup(t, src)
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			if err := os.Chtimes(src, old, old); err != nil {
				t.Fatal(err)
			}
			before, files := stateOf(t, src), names(t, dir)
			dst := filepath.Join(t.TempDir(), "copy.db")
			info, err := SnapshotSQLite(context.Background(), src, dst)
			if err != nil {
				t.Fatal(err)
			}
			if info.IntegrityCheck != "ok" {
				t.Errorf("integrity_check = %q", info.IntegrityCheck)
			}
			if got := stateOf(t, src); got != before {
				t.Errorf("source changed: %+v -> %+v", before, got)
			}
			if got := names(t, dir); fmt.Sprint(got) != fmt.Sprint(files) {
				t.Errorf("files beside the source changed: %v -> %v", files, got)
			}
			if name == "open webui 0.11.0 schema" {
				db, err := sql.Open("sqlite", fileURI(dst, url.Values{"mode": {"ro"}}))
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				var tables int
				var head string
				if err := db.QueryRow(`SELECT (SELECT count(*) FROM sqlite_schema WHERE type = 'table'), (SELECT version_num FROM alembic_version)`).Scan(&tables, &head); err != nil {
					t.Fatal(err)
				}
				if tables != 43 || head != "f0bd01a18a3d" {
					t.Errorf("copy of the real webui.db: %d tables, alembic head %q", tables, head)
				}
			} else if n := checkCopy(t, dst); n != 500 {
				t.Errorf("copy holds counter %d, want 500", n)
			}
		})
	}
}

func TestSnapshotSQLiteClosedWALOpenedDuringCopy(t *testing.T) {
	// A WAL database no process has open is read as immutable. When the app
	// opens it and writes while that copy runs, the copy must still come out
	// consistent (SnapshotSQLite notices -wal appear and copies again the
	// normal way).
	for i := range 3 {
		dir := t.TempDir()
		l := newLiveDB(t, filepath.Join(dir, "webui.db"), "wal", 20000)
		if fileExists(l.path + "-wal") {
			t.Fatal("closed WAL database still has -wal")
		}
		started := make(chan func() error)
		go func() {
			time.Sleep(time.Duration(i*10+5) * time.Millisecond)
			started <- l.startWriter(t)
		}()
		dst := filepath.Join(t.TempDir(), "copy.db")
		_, err := SnapshotSQLite(context.Background(), l.path, dst)
		stop := <-started
		if werr := stop(); werr != nil {
			t.Fatal(werr)
		}
		if err != nil {
			t.Fatal(err)
		}
		n := checkCopy(t, dst)
		t.Logf("writer started %dms into the snapshot; copy holds counter %d of %d", i*10+5, n, l.commits.Load())
	}
}

func TestSnapshotSQLiteRefusesNonSQLite(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "webui.db")
	write(t, src, "not a database at all, despite the name")
	dst := filepath.Join(dir, "copy.db")
	if _, err := SnapshotSQLite(context.Background(), src, dst); err == nil {
		t.Fatal("SnapshotSQLite of a non-SQLite file succeeded")
	}
	if fileExists(dst) || fileExists(dst+".owui-partial") {
		t.Error("a failed snapshot left files behind")
	}
}

func TestSnapshotSQLiteReplacesStaleDestination(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "webui.db")
	newLiveDB(t, src, "delete", 10)
	dst := filepath.Join(dir, "staging", "webui.db")
	write(t, dst, "old copy")
	write(t, dst+"-journal", "stale journal that must not be applied to the new copy")
	if _, err := SnapshotSQLite(context.Background(), src, dst); err != nil {
		t.Fatal(err)
	}
	if n := checkCopy(t, dst); n != 10 {
		t.Errorf("counter %d, want 10", n)
	}
}
