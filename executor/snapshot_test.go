package executor_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/owui/owui/executor"
	"github.com/owui/owui/executor/stage"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/planner"
)

// snapHooks keeps the executor's log lines.
type snapHooks struct {
	mu       sync.Mutex
	lines    []string
	progress func()
}

func (h *snapHooks) Logf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (h *snapHooks) Progress(string, string, int64, int64) {
	if h.progress != nil {
		h.progress()
	}
}

func (h *snapHooks) saw(part string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.lines {
		if strings.Contains(l, part) {
			return true
		}
	}
	return false
}

// checkTargetMatchesManifest reads back every file of snapshot id on a
// local target and compares it with the manifest, and checks that nothing
// is left in the staging area.
func checkTargetMatchesManifest(t *testing.T, e *env, remote, id string) *manifest.Manifest {
	t.Helper()
	m := readManifest(t, remote, id)
	for _, f := range m.Files {
		sum, size, err := stage.HashFile(filepath.Join(remote, "daily", id, filepath.FromSlash(f.Path)))
		if err != nil || sum != f.SHA256 || size != f.Size {
			t.Errorf("%s on the target: sha256 %s, %d bytes, %v; the manifest says %s, %d bytes", f.Path, sum, size, err, f.SHA256, f.Size)
		}
		if f.SQLite != nil && f.SQLite.IntegrityCheck != "ok" {
			t.Errorf("%s: integrity_check %q", f.Path, f.SQLite.IntegrityCheck)
		}
	}
	if left, _ := os.ReadDir(filepath.Join(e.StateDir, "staging")); len(left) != 0 {
		t.Errorf("staging leftovers: %v", left)
	}
	return m
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

// restoreAndCompare restores snapshot id and compares every file with m.
func restoreAndCompare(t *testing.T, e *env, m *manifest.Manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := e.Restore(context.Background(), executor.RestoreOptions{Backup: "daily", Snapshot: m.Snapshot, Dir: dir}); err != nil {
		t.Fatalf("restore %s: %v", m.Snapshot, err)
	}
	for _, f := range m.Files {
		sum, _, err := stage.HashFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
		if err != nil || sum != f.SHA256 {
			t.Errorf("restored %s: %s, %v; want %s", f.Path, sum, err, f.SHA256)
		}
	}
}

// TestLocalTargetTakesStagedCopiesAndHashesWhatItCopies: on a plain local
// target the staged copies become the snapshot's files (hard links, the
// staging area is empty afterwards), uploads are hashed as they are copied,
// and every file on the target is the one its manifest entry describes.
// The second snapshot takes what did not change from the first without
// copying it, even into the staging area, and both restore.
func TestLocalTargetTakesStagedCopiesAndHashesWhatItCopies(t *testing.T) {
	data, _ := liveDataDir(t, 30)
	remote := filepath.Join(t.TempDir(), "backups")
	hooks := &snapHooks{}
	e := newEnv(t, data, remote, hooks)
	ctx := context.Background()
	day1 := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	res, _ := e.applyAt(t, ctx, day1)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	id1 := planner.SnapshotID(day1)
	m1 := checkTargetMatchesManifest(t, e, remote, id1)
	if !hooks.saw("hashing 30 of the 30 files sent from the data directory as they are copied") {
		t.Errorf("uploads not hashed on send: %q", hooks.lines)
	}
	if n := e.BytesSent(); n < m1.TotalSize() || n > m1.TotalSize()+1<<20 {
		t.Errorf("sent %d bytes, want the snapshot's %d and its manifest", n, m1.TotalSize())
	}

	// One more upload and one more chat; vector_db/ and audit.log as they were.
	up := filepath.Join(data, "uploads", "ffffffff-0000-4000-8000-000000000000_late.txt")
	if err := os.WriteFile(up, []byte("a late upload\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addChat(t, data)
	day2 := day1.Add(25 * time.Hour)
	hooks.lines = nil
	res, _ = e.applyAt(t, ctx, day2)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	id2 := planner.SnapshotID(day2)
	m2 := checkTargetMatchesManifest(t, e, remote, id2)
	if !hooks.saw("15 files unchanged since the previous snapshot were not copied") {
		t.Errorf("vector_db/ and audit.log copied again: %q", hooks.lines)
	}
	if !hooks.saw("hashing 1 of the 31 files") {
		t.Errorf("the new upload was not hashed on send: %q", hooks.lines)
	}
	for _, f := range m2.Files {
		if f.Path == "webui.db" || strings.HasPrefix(f.Path, "uploads/ffffffff") {
			continue
		}
		a := inode(t, filepath.Join(remote, "daily", id1, filepath.FromSlash(f.Path)))
		b := inode(t, filepath.Join(remote, "daily", id2, filepath.FromSlash(f.Path)))
		if a != b {
			t.Errorf("%s: not re-used from the first snapshot", f.Path)
		}
	}
	o := snapshotOutcome(t, res)
	if o.Uploaded != 2 {
		t.Errorf("second snapshot uploaded %d files, want 2 (webui.db and the new upload)", o.Uploaded)
	}
	restoreAndCompare(t, e, m1)
	restoreAndCompare(t, e, m2)
}

// TestUnstagedFileMissingFromTheTargetIsCopiedThen: a file the capture
// found unchanged (and so did not copy) that the previous snapshot on the
// target no longer holds is copied when the target needs it, and the
// snapshot is complete and correct.
func TestUnstagedFileMissingFromTheTargetIsCopiedThen(t *testing.T) {
	data, seg := liveDataDir(t, 5)
	remote := filepath.Join(t.TempDir(), "backups")
	e := newEnv(t, data, remote, nil)
	ctx := context.Background()
	day1 := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	if res, _ := e.applyAt(t, ctx, day1); res.Err() != nil {
		t.Fatal(res.Err())
	}
	rel, _ := filepath.Rel(data, filepath.Join(seg, "header.bin"))
	if err := os.Remove(filepath.Join(remote, "daily", planner.SnapshotID(day1), rel)); err != nil {
		t.Fatal(err)
	}
	day2 := day1.Add(25 * time.Hour)
	res, _ := e.applyAt(t, ctx, day2)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	checkTargetMatchesManifest(t, e, remote, planner.SnapshotID(day2))
}

// TestUnstagedFileChangedAfterTheCaptureFailsTheSnapshot: when such a file
// must be copied late and is no longer what the capture saw, the snapshot
// fails instead of mixing two moments of vector_db/.
func TestUnstagedFileChangedAfterTheCaptureFailsTheSnapshot(t *testing.T) {
	data, seg := liveDataDir(t, 40)
	remote := filepath.Join(t.TempDir(), "backups")
	hooks := &snapHooks{}
	e := newEnv(t, data, remote, hooks)
	ctx := context.Background()
	day1 := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	if res, _ := e.applyAt(t, ctx, day1); res.Err() != nil {
		t.Fatal(res.Err())
	}
	seg1 := filepath.Join(seg, "header.bin")
	rel, _ := filepath.Rel(data, seg1)
	if err := os.Remove(filepath.Join(remote, "daily", planner.SnapshotID(day1), rel)); err != nil {
		t.Fatal(err)
	}
	// Uploads are sent before vector_db/ (in path order): the first one
	// sent changes the segment after the capture.
	var once sync.Once
	hooks.progress = func() {
		once.Do(func() {
			b, err := os.ReadFile(seg1)
			if err != nil {
				t.Error(err)
				return
			}
			b[0] ^= 0xff
			if err := os.WriteFile(seg1, b, 0o644); err != nil {
				t.Error(err)
			}
		})
	}
	day2 := day1.Add(25 * time.Hour)
	res, _ := e.applyAt(t, ctx, day2)
	err := res.Err()
	if err == nil || !strings.Contains(err.Error(), "changed since the capture") {
		t.Fatalf("err = %v, want the segment changed since the capture", err)
	}
	if _, err := os.Stat(filepath.Join(remote, "daily", planner.SnapshotID(day2), manifest.FileName)); err == nil {
		t.Errorf("a manifest was written for the failed snapshot")
	}
}

// TestFailingIntegrityCheckFailsTheSnapshot: the check runs beside the
// uploads now, and a copy that fails it still fails the snapshot: no
// manifest, nothing left in the staging area.
func TestFailingIntegrityCheckFailsTheSnapshot(t *testing.T) {
	data := dataDir(t, 20)
	corruptIndex(t, filepath.Join(data, "notes.db"))
	remote := filepath.Join(t.TempDir(), "backups")
	e := newEnv(t, data, remote, nil)
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	res, _ := e.applyAt(t, ctx, now)
	err := res.Err()
	if err == nil || !strings.Contains(err.Error(), "notes.db fails integrity_check") {
		t.Fatalf("err = %v, want notes.db failing integrity_check", err)
	}
	id := planner.SnapshotID(now)
	if _, err := os.Stat(filepath.Join(remote, "daily", id, manifest.FileName)); err == nil {
		t.Errorf("a manifest was written for a snapshot with a corrupt copy")
	}
	if left, _ := os.ReadDir(filepath.Join(e.StateDir, "staging")); len(left) != 0 {
		t.Errorf("staging leftovers: %v", left)
	}
}

// corruptIndex makes a rollback-journal database whose index disagrees
// with its table: the file is a valid b-tree, so it copies, and only
// integrity_check finds the problem.
func corruptIndex(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)",
		"CREATE INDEX note_body ON note (body)",
		"INSERT INTO note (body) VALUES ('alpha'), ('beta'), ('gamma')",
		// Rewrite the table without the index noticing.
		"PRAGMA writable_schema = ON",
		"UPDATE sqlite_schema SET sql = 'CREATE INDEX note_body ON note (id)' WHERE name = 'note_body'",
		"PRAGMA writable_schema = OFF",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestUnchangedDatabaseIsNotCopied: with Open WebUI's connection to
// webui.db open (WAL mode, -wal and -shm beside it), a snapshot taken when
// no one wrote to the database since the previous one re-uses that copy
// without reading the database; a commit, even one left in -wal, makes the
// next snapshot copy it again, and that copy holds the commit. When the
// target lost the previous copy, the late copy made then is the same
// bytes, and the snapshot is complete.
func TestUnchangedDatabaseIsNotCopied(t *testing.T) {
	data := dataDir(t, 3)
	db, err := sql.Open("sqlite", filepath.Join(data, "webui.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	commit := func(body string) {
		t.Helper()
		if _, err := db.Exec("INSERT INTO chat (body) VALUES (?)", body); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // older than a timestamp tick
	}
	commit("the app is running")
	remote := filepath.Join(t.TempDir(), "backups")
	hooks := &snapHooks{}
	e := newEnv(t, data, remote, hooks)
	ctx := context.Background()
	day := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	apply := func() (*executor.Result, *manifest.Manifest, manifest.File) {
		t.Helper()
		day = day.Add(25 * time.Hour)
		hooks.lines = nil
		res, _ := e.applyAt(t, ctx, day)
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		m := checkTargetMatchesManifest(t, e, remote, planner.SnapshotID(day))
		for _, f := range m.Files {
			if f.Path == "webui.db" {
				return res, m, f
			}
		}
		t.Fatal("no webui.db in the manifest")
		return nil, nil, manifest.File{}
	}
	dbOn := func(m *manifest.Manifest) string {
		return filepath.Join(remote, "daily", m.Snapshot, "webui.db")
	}
	chats := func(m *manifest.Manifest) int64 { return restoredChats(t, e, m.Snapshot) }

	_, m1, f1 := apply()
	if f1.SQLite.SourceHoldMillis == 0 && f1.SQLite.Method == "" {
		t.Errorf("first snapshot: webui.db not copied: %+v", f1.SQLite)
	}
	res, m2, f2 := apply()
	if o := snapshotOutcome(t, res); o.Uploaded != 0 {
		t.Errorf("no-change snapshot uploaded %d files, want 0", o.Uploaded)
	}
	if !hooks.saw("1 files unchanged since the previous snapshot were not copied") {
		t.Errorf("webui.db copied again though no one wrote to it: %q", hooks.lines)
	}
	if f2.SHA256 != f1.SHA256 || inode(t, dbOn(m1)) != inode(t, dbOn(m2)) || f2.SQLite.IntegrityCheck != "ok" {
		t.Errorf("no-change snapshot's webui.db %+v is not the first one's %+v", f2, f1)
	}

	commit("one more, still in -wal")
	if fi, err := os.Stat(filepath.Join(data, "webui.db-wal")); err != nil || fi.Size() == 0 {
		t.Fatalf("the commit is not in -wal: %v, %v", fi, err)
	}
	_, m3, f3 := apply()
	if f3.SHA256 == f2.SHA256 || inode(t, dbOn(m3)) == inode(t, dbOn(m2)) {
		t.Errorf("webui.db not copied again after a commit")
	}
	if n1, n3 := chats(m1), chats(m3); n1 != 3 || n3 != 4 {
		t.Errorf("restored chats: first snapshot %d, after the commit %d; want 3, 4", n1, n3)
	}

	// The target loses the copy the next snapshot would re-use.
	if err := os.Remove(dbOn(m3)); err != nil {
		t.Fatal(err)
	}
	res, m4, f4 := apply()
	if o := snapshotOutcome(t, res); o.Uploaded != 1 {
		t.Errorf("after the target lost webui.db: %d files uploaded, want 1 (the late copy)", o.Uploaded)
	}
	if !hooks.saw("1 files unchanged since the previous snapshot were not copied") || f4.SHA256 != f3.SHA256 {
		t.Errorf("late copy: webui.db %+v, want %s found unchanged; log %q", f4, f3.SHA256, hooks.lines)
	}
	if n := chats(m4); n != 4 {
		t.Errorf("restored chats after the late copy: %d, want 4", n)
	}
}

// TestUnchangedDatabaseUnderALiveWriter: Open WebUI's connection commits
// in bursts with quiet spells between them while snapshots are taken one
// after another, some during a burst, some in a quiet spell. Every snapshot
// holds at least every chat committed before its apply started, whether
// its webui.db was copied or re-used.
func TestUnchangedDatabaseUnderALiveWriter(t *testing.T) {
	data := dataDir(t, 2)
	db, err := sql.Open("sqlite", filepath.Join(data, "webui.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var committed atomic.Int64
	committed.Store(2)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			for range 20 { // a burst
				if _, err := db.Exec("INSERT INTO chat (body) VALUES ('burst')"); err != nil {
					t.Error(err)
					return
				}
				committed.Add(1)
				time.Sleep(time.Millisecond)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(50+i%4*50) * time.Millisecond): // a quiet spell
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	remote := filepath.Join(t.TempDir(), "backups")
	hooks := &snapHooks{}
	e := newEnv(t, data, remote, hooks)
	ctx := context.Background()
	day := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	reused := 0
	for i := range 12 {
		day = day.Add(25 * time.Hour)
		hooks.lines = nil
		before := committed.Load()
		res, _ := e.applyAt(t, ctx, day)
		if err := res.Err(); err != nil {
			t.Fatal(err)
		}
		if hooks.saw("1 files unchanged since the previous snapshot were not copied") {
			reused++
		}
		if n := restoredChats(t, e, planner.SnapshotID(day)); n < before {
			t.Errorf("snapshot %d holds %d chats; %d were committed before its apply started", i, n, before)
		}
		time.Sleep(time.Duration(i%3*40) * time.Millisecond)
	}
	t.Logf("webui.db re-used by %d of 12 snapshots", reused)
}

// restoredChats restores snapshot id of daily and counts the chats in its
// webui.db.
func restoredChats(t *testing.T, e *env, id string) int64 {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := e.Restore(context.Background(), executor.RestoreOptions{Backup: "daily", Snapshot: id, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	r, err := sql.Open("sqlite", filepath.Join(dir, "webui.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var n int64
	if err := r.QueryRow("SELECT count(*) FROM chat").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
