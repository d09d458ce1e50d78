package stage

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// settledVersion waits out the racy window and reads path's version,
// which must be settled then.
func settledVersion(t *testing.T, path string) string {
	t.Helper()
	time.Sleep(2 * racyWindow)
	v, settled, err := SQLiteVersion(path)
	if err != nil || !settled {
		t.Fatalf("SQLiteVersion(%s) = %q, settled %v, %v", path, v, settled, err)
	}
	return v
}

// TestSQLiteVersion: in both journal modes, with the writer's connection
// open, the version stays put while the database is only read (by a
// query, or by CopySQLite), and moves with every commit and checkpoint; a
// version read right after a write is not settled.
func TestSQLiteVersion(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"wal", "delete"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "webui.db")
			makeDB(t, src, mode)
			w, err := sql.Open("sqlite", fileURI(src, nil))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			w.SetMaxOpenConns(1)
			exec := func(q string) {
				t.Helper()
				if _, err := w.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			exec("INSERT INTO t VALUES (2)") // the writer stays open: -wal and -shm exist in WAL mode
			if mode == "wal" {
				if _, err := os.Stat(src + "-shm"); err != nil {
					t.Fatalf("no -shm beside a WAL database in use: %v", err)
				}
			}
			v1 := settledVersion(t, src)

			var n int
			if err := w.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if _, err := CopySQLite(ctx, src, filepath.Join(dir, "copy.db")); err != nil {
				t.Fatal(err)
			}
			if v := settledVersion(t, src); v != v1 {
				t.Errorf("the version moved when the database was only read")
			}

			exec("INSERT INTO t VALUES (3)")
			if _, settled, err := SQLiteVersion(src); err != nil || settled {
				t.Errorf("right after a commit: settled %v, %v; want not settled", settled, err)
			}
			v2 := settledVersion(t, src)
			if v2 == v1 {
				t.Errorf("a commit left the version as it was")
			}
			if mode == "wal" {
				exec("PRAGMA wal_checkpoint(TRUNCATE)")
				if v := settledVersion(t, src); v == v2 {
					t.Errorf("a checkpoint left the version as it was")
				}
			}
		})
	}
}

// TestSQLiteVersionReadsTheWALIndexHeader: a change to the -shm's header
// (a commit made visible in the WAL index) moves the version; a change to
// its timestamps alone does not, nor does one past the header (the
// readers' marks).
func TestSQLiteVersionReadsTheWALIndexHeader(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "webui.db")
	makeDB(t, src, "delete")
	shm := make([]byte, 32<<10)
	write(t, src+"-shm", string(shm))
	v1 := settledVersion(t, src)

	touch := time.Now().Add(-time.Hour)
	if err := os.Chtimes(src+"-shm", touch, touch); err != nil {
		t.Fatal(err)
	}
	shm[200] = 1 // a read mark
	write(t, src+"-shm", string(shm))
	if v := settledVersion(t, src); v != v1 {
		t.Errorf("the version moved with the -shm's timestamps or read marks")
	}
	shm[16] = 1 // mxFrame
	write(t, src+"-shm", string(shm))
	if v := settledVersion(t, src); v == v1 {
		t.Errorf("a new last valid frame in the -shm header left the version as it was")
	}
	if err := os.Remove(src + "-shm"); err != nil {
		t.Fatal(err)
	}
	if v := settledVersion(t, src); v == v1 {
		t.Errorf("removing the -shm left the version as it was")
	}
}
