package stage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/owui/owui/internal/livewriter"
	"github.com/owui/owui/manifest"
)

// liveRows sizes the load tests' database: about 21 MB of 1,000-byte chat
// rows, large enough that a copy takes many writer commits' time.
func liveRows() int {
	switch {
	case raceEnabled:
		return 2000
	case testing.Short():
		return 5000
	}
	return 20000
}

// TestSnapshotSQLiteUnderLoad: 20 of 20 snapshots taken while a writer
// process commits as fast as it can pass integrity_check and hold the
// writer's invariant, and no commit of the writer fails. WAL is Open WebUI
// ≥ 0.9; DELETE with synchronous=FULL is 0.6.23–0.8.x and Chroma.
func TestSnapshotSQLiteUnderLoad(t *testing.T) {
	tests := map[string]struct {
		opts    livewriter.Options
		method  string
		minRate float64 // commits/s the writer must reach, or the load proves little
	}{
		"wal":              {livewriter.Options{Mode: "wal"}, MethodBackupAPI, 1000},
		"delete sync=FULL": {livewriter.Options{Mode: "delete", Synchronous: "FULL"}, MethodSharedLockCopy, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			opts := tc.opts
			opts.Path = filepath.Join(dir, "webui.db")
			opts.Rows = liveRows()
			if err := livewriter.Setup(opts.Path, opts); err != nil {
				t.Fatal(err)
			}
			w := livewriter.Start(t, opts)
			time.Sleep(200 * time.Millisecond) // let the writer reach its pace
			prev := int64(opts.Rows)
			var holds []float64
			const snapshots = 20
			for i := range snapshots {
				dst := filepath.Join(dir, "staging", fmt.Sprintf("copy%02d.db", i))
				if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
					t.Fatal(err)
				}
				info, err := SnapshotSQLite(context.Background(), opts.Path, dst)
				if err != nil {
					t.Fatalf("snapshot %d: %v", i, err)
				}
				if info.IntegrityCheck != "ok" || info.JournalMode != opts.Mode || info.Method != tc.method ||
					info.PageSize != 4096 || info.PageCount < int64(opts.Rows)/4 {
					t.Errorf("snapshot %d: %+v", i, info)
				}
				rows, err := livewriter.CheckInvariant(dst)
				if err != nil {
					t.Errorf("snapshot %d: %v", i, err)
				}
				if rows < prev {
					t.Errorf("snapshot %d holds %d rows, fewer than snapshot %d before it (%d)", i, rows, i-1, prev)
				}
				prev = rows
				holds = append(holds, info.SourceHoldMillis)
				os.Remove(dst) // keep the disk use of the test flat
			}
			s := w.Stop()
			t.Logf("writer: %v", s)
			slices.Sort(holds)
			t.Logf("source held per snapshot: median %.1f ms, max %.1f ms; last snapshot at row %d of %d",
				holds[len(holds)/2], holds[len(holds)-1], prev, s.Counter)
			if s.Failures != 0 {
				t.Errorf("%d of the writer's commits failed; first: %s", s.Failures, s.FirstFailure)
			}
			if prev <= int64(opts.Rows) || prev > s.Counter {
				t.Errorf("last snapshot at row %d: not within the writer's commits (%d..%d]", prev, opts.Rows, s.Counter)
			}
			if tc.minRate > 0 && !raceEnabled && s.CommitsPerSec < tc.minRate {
				t.Errorf("the writer reached %.0f commits/s; the test needs over %.0f", s.CommitsPerSec, tc.minRate)
			}
		})
	}
}

// TestSnapshotSQLiteDeleteHoldsLockForOneCopy: on a rollback-journal
// database, the application's writers are held up for one pass over the
// file, not for the copy's checks, and far less than the backup API holds
// them. Compared, not timed: best of three of each on the same file.
func TestSnapshotSQLiteDeleteHoldsLockForOneCopy(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "chroma.sqlite3")
	if err := livewriter.Setup(src, livewriter.Options{Mode: "delete", Rows: liveRows()}); err != nil {
		t.Fatal(err)
	}
	hold, total, backupAPI := time.Hour, time.Hour, time.Hour
	for i := range 3 {
		start := time.Now()
		info, err := SnapshotSQLite(context.Background(), src, filepath.Join(dir, fmt.Sprintf("copy%d.db", i)))
		if err != nil {
			t.Fatal(err)
		}
		total = min(total, time.Since(start))
		hold = min(hold, time.Duration(info.SourceHoldMillis*float64(time.Millisecond)))
		if info.Method != MethodSharedLockCopy {
			t.Fatalf("method %q", info.Method)
		}
		// The backup API on the same file holds SHARED for its whole run.
		bk, err := backupOnce(context.Background(), src, filepath.Join(dir, fmt.Sprintf("api%d.db", i)))
		if err != nil {
			t.Fatal(err)
		}
		backupAPI = min(backupAPI, bk)
	}
	st, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%.1f MB: lock held %v (%.0f MB/s); whole snapshot with checks %v; backup API step %v",
		float64(st.Size())/1e6, hold, float64(st.Size())/1e6/hold.Seconds(), total, backupAPI)
	if hold <= 0 || hold >= backupAPI || hold >= total {
		t.Errorf("lock held %v; want more than 0 and less than the backup API's %v and the whole snapshot's %v", hold, backupAPI, total)
	}
}

// TestSnapshotSQLiteDeleteLocksWhileCopying: while the bytes are copied, a
// writer cannot commit (the copy is one committed state), and once the
// snapshot returns it can.
func TestSnapshotSQLiteDeleteLocksWhileCopying(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "webui.db")
	l := newLiveDB(t, src, "delete", 100)
	app := openWriter(t, src)
	defer app.Close()
	if _, err := app.Exec("PRAGMA busy_timeout = 0"); err != nil {
		t.Fatal(err)
	}
	var during error
	calls := 0
	setHook(t, func(string) {
		calls++
		during = l.write(app)
	})
	if _, err := SnapshotSQLite(context.Background(), src, filepath.Join(dir, "copy.db")); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Fatalf("the copy ran under the lock %d times, want 1", calls)
	}
	if !isBusy(during) {
		t.Errorf("a commit while the copy ran returned %v; want SQLITE_BUSY", during)
	}
	if err := l.write(app); err != nil {
		t.Errorf("a commit after the snapshot: %v", err)
	}
	if n := checkCopy(t, filepath.Join(dir, "copy.db")); n != 100 {
		t.Errorf("copy holds counter %d, want 100", n)
	}
}

// TestSnapshotSQLiteDeleteChangedUnderLock: if the file changes although
// the lock is held (a file system without working locks), the copy is
// thrown away and taken again; if it keeps changing, the snapshot fails
// and leaves nothing behind.
func TestSnapshotSQLiteDeleteChangedUnderLock(t *testing.T) {
	// bump writes behind SQLite's back, as a process on another NFS client
	// would: a commit that increments the file change counter.
	bump := func(t *testing.T) func(string) {
		return func(src string) {
			f, err := os.OpenFile(src, os.O_RDWR, 0)
			if err != nil {
				t.Error(err)
				return
			}
			// A new descriptor of src closed here would drop the process's
			// POSIX locks; that is fine for this test, which only looks at
			// the bytes.
			defer f.Close()
			var b [4]byte
			if _, err := f.ReadAt(b[:], 24); err != nil {
				t.Error(err)
			}
			b[3]++
			if _, err := f.WriteAt(b[:], 24); err != nil {
				t.Error(err)
			}
		}
	}
	t.Run("once", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(dir, "webui.db")
		newLiveDB(t, src, "delete", 10)
		calls := 0
		b := bump(t)
		setHook(t, func(p string) {
			calls++
			if calls == 1 {
				b(p)
			}
		})
		if _, err := SnapshotSQLite(context.Background(), src, filepath.Join(dir, "copy.db")); err != nil {
			t.Fatal(err)
		}
		if calls != 2 {
			t.Errorf("copied %d times, want 2", calls)
		}
		checkCopy(t, filepath.Join(dir, "copy.db"))
	})
	t.Run("always", func(t *testing.T) {
		dir := t.TempDir()
		src := filepath.Join(dir, "webui.db")
		newLiveDB(t, src, "delete", 10)
		setHook(t, bump(t))
		dst := filepath.Join(dir, "copy.db")
		_, err := SnapshotSQLite(context.Background(), src, dst)
		if !errors.Is(err, errChangedUnderLock) {
			t.Fatalf("err = %v, want errChangedUnderLock", err)
		}
		if fileExists(dst) || fileExists(dst+".owui-partial") {
			t.Error("a failed snapshot left files behind")
		}
	})
}

// TestSnapshotSQLiteHotJournal: a rollback journal left by a writer that
// died mid-commit is never copied past: the snapshot is refused (the source
// is read-only to owui, so SQLite cannot roll it back) and the source is
// left as it was, for the application to recover.
func TestSnapshotSQLiteHotJournal(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "webui.db")
	newLiveDB(t, src, "delete", 200)
	makeHotJournal(t, src)
	before := stateOf(t, src)
	_, err := SnapshotSQLite(context.Background(), src, filepath.Join(dir, "copy.db"))
	if err == nil {
		t.Fatal("snapshot of a database with a hot journal succeeded")
	}
	if !isReadonlyRollback(err) {
		t.Errorf("err = %v, want SQLITE_READONLY_ROLLBACK", err)
	}
	if got := stateOf(t, src); got != before {
		t.Error("the source changed")
	}
	if !fileExists(src + "-journal") {
		t.Error("the hot journal is gone")
	}
}

// makeHotJournal leaves src with a hot journal, as a writer that died
// mid-transaction does: a transaction larger than the page cache spills
// changed pages into the file; the file and the journal are saved at that
// moment and put back after the transaction is rolled back.
func makeHotJournal(t *testing.T, src string) {
	t.Helper()
	db := openWriter(t, src, "cache_size(10)")
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE rows SET payload = randomblob(1000)"); err != nil {
		t.Fatal(err)
	}
	journal, err := os.ReadFile(src + "-journal")
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, file, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src+"-journal", journal, 0o644); err != nil {
		t.Fatal(err)
	}
}

func setHook(t *testing.T, h func(string)) {
	t.Helper()
	testHookLocked = h
	t.Cleanup(func() { testHookLocked = nil })
}

// TestSnapshotSQLiteRecordsMethod: the manifest fields for each kind of
// source.
func TestSnapshotSQLiteRecordsMethod(t *testing.T) {
	tests := map[string]struct {
		mode string
		open bool // an application holds the database open (-wal exists)
		want manifest.SQLite
	}{
		"delete":     {"delete", false, manifest.SQLite{IntegrityCheck: "ok", JournalMode: "delete", PageSize: 4096, Method: MethodSharedLockCopy}},
		"wal":        {"wal", true, manifest.SQLite{IntegrityCheck: "ok", JournalMode: "wal", PageSize: 4096, Method: MethodBackupAPI}},
		"closed wal": {"wal", false, manifest.SQLite{IntegrityCheck: "ok", JournalMode: "wal", PageSize: 4096, Method: MethodClosedCopy}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "webui.db")
			newLiveDB(t, src, tc.mode, 100)
			if tc.open {
				db := openWriter(t, src)
				defer db.Close()
				if _, err := db.Exec("UPDATE counter SET n = n"); err != nil {
					t.Fatal(err)
				}
				if !fileExists(src + "-wal") {
					t.Fatal("no -wal beside a database held open")
				}
			}
			info, err := SnapshotSQLite(context.Background(), src, filepath.Join(dir, "copy.db"))
			if err != nil {
				t.Fatal(err)
			}
			if info.PageCount < 25 || info.SourceHoldMillis <= 0 {
				t.Errorf("page count %d, hold %v ms", info.PageCount, info.SourceHoldMillis)
			}
			got := *info
			got.PageCount, got.SourceHoldMillis = 0, 0
			if got != tc.want {
				t.Errorf("info = %+v, want %+v", got, tc.want)
			}
		})
	}
}
