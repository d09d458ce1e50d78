package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func openTest(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenMigratesOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", ".owui")
	ctx := context.Background()
	s1 := openTest(t, dir)
	if err := s1.PutSnapshot(ctx, rec("daily", "b2", "2026-01-01T000000Z", day(1))); err != nil {
		t.Fatal(err)
	}
	s1.Close()

	s2 := openTest(t, dir) // second open: nothing to apply, data intact
	v, err := s2.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != SchemaVersion {
		t.Errorf("version = %d, want %d", v, SchemaVersion)
	}
	var n int
	if err := s2.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != SchemaVersion {
		t.Errorf("schema_migrations has %d rows, want %d", n, SchemaVersion)
	}
	var uv int
	if err := s2.db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&uv); err != nil {
		t.Fatal(err)
	}
	if uv != SchemaVersion {
		t.Errorf("user_version = %d, want %d", uv, SchemaVersion)
	}
	var mode string
	if err := s2.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	got, err := s2.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Errorf("after reopen: %d snapshots, want 1", len(got))
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	if _, err := s.db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 'x')`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), "newer than this owui") {
		t.Fatalf("Open of a newer schema: err = %v", err)
	}
}

func TestOpenConcurrent(t *testing.T) {
	dir := t.TempDir()
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := Open(dir)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func day(n int) time.Time { return time.Date(2026, 1, n, 3, 0, 0, 0, time.UTC) }

func rec(backup, target, id string, created time.Time) SnapshotRecord {
	return SnapshotRecord{Backup: backup, Target: target, ID: id, CreatedAt: created,
		Bytes: 1234, Files: 7, Complete: true, RecordedAt: created.Add(time.Minute)}
}

func TestSnapshotsCRUD(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	in := []SnapshotRecord{
		rec("weekly", "nas", "w1", day(3)),
		rec("daily", "nas", "d2", day(2)),
		rec("daily", "b2", "d2", day(2)),
		rec("daily", "b2", "d1", day(1)),
	}
	in[0].Complete = false
	in[1].CreatedAt = day(2).Add(123456789 * time.Nanosecond) // sub-second precision survives
	for _, r := range in {
		if err := s.PutSnapshot(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []SnapshotRecord{in[3], in[2], in[1], in[0]}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Snapshots (-want +got):\n%s", d)
	}

	// Upsert replaces.
	up := in[3]
	up.Bytes, up.Files = 99, 3
	if err := s.PutSnapshot(ctx, up); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSnapshot(ctx, "daily", "nas", "d2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSnapshot(ctx, "daily", "nas", "nope"); err != nil {
		t.Fatalf("deleting an unknown snapshot: %v", err)
	}
	got, err = s.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = []SnapshotRecord{up, in[2], in[0]}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("after upsert and delete (-want +got):\n%s", d)
	}

	if err := s.PutSnapshot(ctx, SnapshotRecord{Backup: "daily", Target: "b2"}); err == nil {
		t.Error("PutSnapshot without id and created_at succeeded")
	}
}

func TestReplaceTarget(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	for _, r := range []SnapshotRecord{
		rec("daily", "b2", "d1", day(1)),
		rec("daily", "b2", "d2", day(2)),
		rec("weekly", "b2", "w1", day(1)), // other backup, same target: untouched
		rec("daily", "nas", "d1", day(1)), // same backup, other target: untouched
	} {
		if err := s.PutSnapshot(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	fresh := []SnapshotRecord{rec("daily", "b2", "d2", day(2)), rec("daily", "b2", "d3", day(3)), rec("cold", "b2", "c1", day(4))}
	fresh[0].Bytes = 5
	if err := s.ReplaceTarget(ctx, "b2", []string{"daily", "cold"}, fresh); err != nil {
		t.Fatal(err)
	}
	got, err := s.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []SnapshotRecord{
		fresh[2],
		fresh[0], fresh[1],
		rec("daily", "nas", "d1", day(1)),
		rec("weekly", "b2", "w1", day(1)),
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("after ReplaceTarget (-want +got):\n%s", d)
	}

	// A record outside the refreshed scope is refused, and nothing changes.
	bad := []SnapshotRecord{rec("daily", "b2", "d9", day(9)), rec("weekly", "b2", "w9", day(9))}
	if err := s.ReplaceTarget(ctx, "b2", []string{"daily"}, bad); err == nil {
		t.Error("ReplaceTarget accepted a record of a backup it was not refreshing")
	}
	// An empty refresh of a backup empties it.
	if err := s.ReplaceTarget(ctx, "b2", []string{"daily"}, nil); err != nil {
		t.Fatal(err)
	}
	got, err = s.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = []SnapshotRecord{fresh[2], rec("daily", "nas", "d1", day(1)), rec("weekly", "b2", "w1", day(1))}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("after emptying daily on b2 (-want +got):\n%s", d)
	}
}

func TestReplaceTargetIsAtomic(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	if err := s.PutSnapshot(ctx, rec("daily", "b2", "d1", day(1))); err != nil {
		t.Fatal(err)
	}
	// An insert that fails after the delete must roll the delete back.
	if _, err := s.db.ExecContext(ctx, `CREATE TRIGGER boom BEFORE INSERT ON snapshots
WHEN NEW.id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END`); err != nil {
		t.Fatal(err)
	}
	recs := []SnapshotRecord{rec("daily", "b2", "d2", day(2)), rec("daily", "b2", "boom", day(3))}
	if err := s.ReplaceTarget(ctx, "b2", []string{"daily"}, recs); err == nil {
		t.Fatal("ReplaceTarget succeeded through a failing insert")
	}
	got, err := s.Snapshots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "d1" {
		t.Errorf("a failed ReplaceTarget changed state: %+v", got)
	}
}

func TestRuns(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	if r, err := s.LastRun(ctx, "apply"); err != nil || r != nil {
		t.Fatalf("LastRun on empty state = %v, %v", r, err)
	}
	t0 := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
	id1, err := s.StartRun(ctx, "apply", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EndRun(ctx, id1, t0.Add(time.Minute), "ok", ""); err != nil {
		t.Fatal(err)
	}
	id2, err := s.StartRun(ctx, "apply", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartRun(ctx, "refresh", t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := s.LastRun(ctx, "apply")
	if err != nil {
		t.Fatal(err)
	}
	want := &Run{ID: id2, Command: "apply", Started: t0.Add(time.Hour), Result: RunRunning}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("running LastRun (-want +got):\n%s", d)
	}
	if err := s.EndRun(ctx, id2, t0.Add(90*time.Minute), "error", "upload webui.db: connection reset"); err != nil {
		t.Fatal(err)
	}
	got, err = s.LastRun(ctx, "apply")
	if err != nil {
		t.Fatal(err)
	}
	want.Ended, want.Result, want.Error = t0.Add(90*time.Minute), "error", "upload webui.db: connection reset"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ended LastRun (-want +got):\n%s", d)
	}
	if err := s.EndRun(ctx, 999, t0, "ok", ""); err == nil {
		t.Error("EndRun of an unknown run succeeded")
	}
}

func TestHashCache(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	sum := func(c byte) string { return strings.Repeat(string(c), 64) }
	entries := []HashEntry{
		{Path: "/data/uploads/a", Size: 10, MtimeNs: 111, Inode: 1 << 63, SHA256: sum('a')}, // inode above int64 range survives
		{Path: "/data/uploads/b", Size: 20, MtimeNs: 222, Inode: 42, SHA256: sum('b')},
	}
	if err := s.StoreHashes(ctx, entries); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		path    string
		size    int64
		mtimeNs int64
		inode   uint64
		want    string
	}{
		"hit":            {"/data/uploads/a", 10, 111, 1 << 63, sum('a')},
		"size changed":   {"/data/uploads/a", 11, 111, 1 << 63, ""},
		"mtime changed":  {"/data/uploads/a", 10, 112, 1 << 63, ""},
		"inode changed":  {"/data/uploads/a", 10, 111, 7, ""},
		"unknown path":   {"/data/uploads/c", 10, 111, 1 << 63, ""},
		"other file hit": {"/data/uploads/b", 20, 222, 42, sum('b')},
	}
	idx, err := s.HashCache(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok, err := s.LookupHash(ctx, tc.path, tc.size, tc.mtimeNs, tc.inode)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("LookupHash = %q, %v; want %q", got, ok, tc.want)
			}
			got, ok = idx.Lookup(tc.path, tc.size, tc.mtimeNs, tc.inode)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("HashIndex.Lookup = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}

	// Storing again replaces the entry for the path.
	if err := s.StoreHashes(ctx, []HashEntry{{Path: "/data/uploads/a", Size: 11, MtimeNs: 333, Inode: 5, SHA256: sum('c')}}); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := s.LookupHash(ctx, "/data/uploads/a", 11, 333, 5); !ok || got != sum('c') {
		t.Errorf("after replace: %q, %v", got, ok)
	}
	if _, ok, _ := s.LookupHash(ctx, "/data/uploads/a", 10, 111, 1<<63); ok {
		t.Error("the replaced entry still hits")
	}
	if err := s.StoreHashes(ctx, []HashEntry{{Path: "/x", SHA256: "short"}}); err == nil {
		t.Error("StoreHashes accepted a malformed hash")
	}
	n, err := s.ForgetHashes(ctx, func(p string) bool { return p == "/data/uploads/b" })
	if err != nil || n != 1 {
		t.Fatalf("ForgetHashes = %d, %v; want 1", n, err)
	}
	idx, err = s.HashCache(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx) != 1 {
		t.Errorf("after ForgetHashes: %d entries, want 1", len(idx))
	}
}

func manyHashes(n int) []HashEntry {
	out := make([]HashEntry, n)
	for i := range out {
		out[i] = HashEntry{Path: fmt.Sprintf("/opt/open-webui/uploads/%08d_file.pdf", i), Size: int64(i), MtimeNs: int64(i) * 1000,
			Inode: uint64(i), SHA256: fmt.Sprintf("%064x", i)}
	}
	return out
}

func TestHashCacheTenThousand(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	entries := manyHashes(10000)
	start := time.Now()
	if err := s.StoreHashes(ctx, entries); err != nil {
		t.Fatal(err)
	}
	stored := time.Since(start)
	start = time.Now()
	idx, err := s.HashCache(ctx)
	if err != nil {
		t.Fatal(err)
	}
	loaded := time.Since(start)
	for _, e := range entries {
		if got, ok := idx.Lookup(e.Path, e.Size, e.MtimeNs, e.Inode); !ok || got != e.SHA256 {
			t.Fatalf("%s: %q, %v", e.Path, got, ok)
		}
	}
	t.Logf("10,000 hashes: stored in %v, loaded in %v", stored, loaded)
}

// BenchmarkHashCache compares loading the whole cache with one lookup per
// file, for 10,000 files.
func BenchmarkHashCache(b *testing.B) {
	ctx := context.Background()
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	entries := manyHashes(10000)
	if err := s.StoreHashes(ctx, entries); err != nil {
		b.Fatal(err)
	}
	b.Run("load-all", func(b *testing.B) {
		for b.Loop() {
			idx, err := s.HashCache(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for _, e := range entries {
				if _, ok := idx.Lookup(e.Path, e.Size, e.MtimeNs, e.Inode); !ok {
					b.Fatal("miss")
				}
			}
		}
	})
	b.Run("lookup-each", func(b *testing.B) {
		for b.Loop() {
			for _, e := range entries {
				if _, ok, err := s.LookupHash(ctx, e.Path, e.Size, e.MtimeNs, e.Inode); err != nil || !ok {
					b.Fatal("miss", err)
				}
			}
		}
	})
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			if err := s.StoreHashes(ctx, entries); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func holder(pid int) LockHolder {
	return LockHolder{PID: pid, Host: "testhost", Started: time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC), Command: "apply"}
}

func TestLockContention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := openTest(t, dir), openTest(t, dir) // two runs sharing one state
	unlockA, warn, err := a.Lock(ctx, holder(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if warn != "" {
		t.Errorf("warning on a free lock: %q", warn)
	}
	second := holder(os.Getpid() + 1)
	_, _, err = b.Lock(ctx, second)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock: err = %v, want *LockedError", err)
	}
	if !errors.Is(err, ErrLocked) {
		t.Error("LockedError does not match ErrLocked")
	}
	if d := cmp.Diff(holder(os.Getpid()), le.Holder); d != "" {
		t.Errorf("LockedError.Holder (-want +got):\n%s", d)
	}
	for _, part := range []string{fmt.Sprintf("pid %d", os.Getpid()), "testhost", "2026-03-01T03:00:00Z"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not name %q", err, part)
		}
	}
	// A holder on another host cannot be checked: locked even if that pid is
	// free here.
	if err := unlockA(); err != nil {
		t.Fatal(err)
	}
	remote := holder(deadPID(t))
	remote.Host = "otherhost"
	if _, _, err := a.Lock(ctx, remote); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Lock(ctx, second); !errors.Is(err, ErrLocked) {
		t.Errorf("lock of a dead pid on another host: err = %v, want ErrLocked", err)
	}
}

func TestLockReleaseAllowsNext(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	unlock, _, err := s.Lock(ctx, holder(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if _, held, _ := s.LockHeld(ctx); held {
		t.Error("lock still held after unlock")
	}
	unlock, warn, err := s.Lock(ctx, holder(os.Getpid()))
	if err != nil || warn != "" {
		t.Fatalf("relock: %v, %q", err, warn)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot start a process to get a dead pid: %v", err)
	}
	return cmd.Process.Pid
}

func TestLockStaleTakeoverAndUnlockOnlyOwn(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := openTest(t, dir), openTest(t, dir)
	dead := holder(deadPID(t))
	unlockDead, _, err := a.Lock(ctx, dead)
	if err != nil {
		t.Fatal(err)
	}
	live := holder(os.Getpid())
	unlockLive, warn, err := b.Lock(ctx, live)
	if err != nil {
		t.Fatalf("Lock over a stale holder: %v", err)
	}
	if !strings.Contains(warn, fmt.Sprintf("pid %d", dead.PID)) || !strings.Contains(warn, "stale") {
		t.Errorf("warning %q does not name the stale holder pid %d", warn, dead.PID)
	}
	// The run whose lock was taken over must not release its successor's.
	if err := unlockDead(); !errors.Is(err, ErrLockLost) {
		t.Errorf("unlock of a taken-over lock: err = %v, want ErrLockLost", err)
	}
	h, held, err := a.LockHeld(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !held || h.PID != live.PID {
		t.Fatalf("after the old holder's unlock: held=%v holder=%+v, want pid %d", held, h, live.PID)
	}
	if err := unlockLive(); err != nil {
		t.Fatal(err)
	}
	if _, held, _ := a.LockHeld(ctx); held {
		t.Error("lock held after its owner unlocked")
	}
}

func TestLockIsOneTransaction(t *testing.T) {
	// Many stores race for a free lock; exactly one wins.
	ctx := context.Background()
	dir := t.TempDir()
	const n = 6
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = openTest(t, dir)
	}
	type result struct {
		err error
	}
	results := make(chan result, n)
	for _, s := range stores {
		go func() {
			_, _, err := s.Lock(ctx, holder(os.Getpid()))
			results <- result{err}
		}()
	}
	wins := 0
	for range n {
		r := <-results
		switch {
		case r.err == nil:
			wins++
		case errors.Is(r.err, ErrLocked):
		default:
			t.Errorf("unexpected error: %v", r.err)
		}
	}
	if wins != 1 {
		t.Errorf("%d stores got the lock, want 1", wins)
	}
}

// TestOpenRelativeDir: --state .owui is the common case.
func TestOpenRelativeDir(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := Open(".owui")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Snapshots(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestRunActionsAndHistory(t *testing.T) {
	s := openTest(t, t.TempDir())
	ctx := context.Background()
	t0 := day(1)
	id1, err := s.StartRun(ctx, "apply", t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordActions(ctx, id1, []ActionRecord{
		{Action: "snapshot", Backup: "daily", Target: "b2", Snapshot: "a", Result: ActionOK, BytesUploaded: 10},
		{Action: "snapshot", Backup: "daily", Target: "nas", Snapshot: "a", Result: ActionOK},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.EndRun(ctx, id1, t0.Add(time.Minute), "ok", ""); err != nil {
		t.Fatal(err)
	}
	id2, err := s.StartRun(ctx, "apply", t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RecordActions(ctx, id2, []ActionRecord{
		{Action: "snapshot", Backup: "daily", Target: "b2", Snapshot: "b", Result: ActionError, Error: "connection reset"},
		{Action: "prune", Backup: "daily", Target: "b2", Snapshot: "x", Result: ActionSkipped, Error: "new snapshot failed"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.EndRun(ctx, id2, t0.Add(2*time.Hour), "error", "connection reset"); err != nil {
		t.Fatal(err)
	}

	last, err := s.LastActions(ctx, "snapshot")
	if err != nil {
		t.Fatal(err)
	}
	want := map[[2]string]ActionRecord{
		{"daily", "b2"}:  {RunID: id2, Action: "snapshot", Backup: "daily", Target: "b2", Snapshot: "b", Result: ActionError, Error: "connection reset", RunEnded: t0.Add(2 * time.Hour)},
		{"daily", "nas"}: {RunID: id1, Action: "snapshot", Backup: "daily", Target: "nas", Snapshot: "a", Result: ActionOK, RunEnded: t0.Add(time.Minute)},
	}
	if d := cmp.Diff(want, last); d != "" {
		t.Errorf("LastActions (-want +got):\n%s", d)
	}
	runs, err := s.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != id2 || runs[1].ID != id1 {
		t.Errorf("Runs = %+v, want newest first", runs)
	}
	acts, err := s.RunActions(ctx, id2)
	if err != nil || len(acts) != 2 || acts[1].Action != "prune" {
		t.Errorf("RunActions = %+v, %v", acts, err)
	}
	ok, err := s.LastSuccess(ctx, "apply")
	if err != nil || ok == nil || ok.ID != id1 {
		t.Errorf("LastSuccess = %+v, %v; want run %d (a failed run never advances it)", ok, err, id1)
	}
}

// TestHolds: holds are recorded, listed oldest first and forgotten; a hold
// of this process is its own, one of a dead pid on this host is gone, and
// one of another host never is.
func TestHolds(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	host, _ := os.Hostname()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	started := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	var ids []int64
	for _, h := range []Hold{
		{ContainerID: "c1", ContainerName: "open-webui", Action: HoldPause, PID: os.Getpid(), Host: host, Started: started},
		{ContainerID: "c2", ContainerName: "worker", Action: HoldStop, PID: dead, Host: host, Started: started},
		{ContainerID: "c3", ContainerName: "far", Action: HoldStop, PID: dead, Host: "elsewhere", Started: started},
	} {
		id, err := s.AddHold(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := s.AddHold(ctx, Hold{ContainerID: "c4", ContainerName: "x", Action: "freeze", PID: 1, Host: host, Started: started}); err == nil {
		t.Error("a hold with an unknown action was recorded")
	}
	hs, err := s.Holds(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 3 || hs[0].ContainerName != "open-webui" || hs[1].Action != HoldStop || !hs[2].Started.Equal(started) {
		t.Fatalf("holds = %+v", hs)
	}
	for i, want := range []bool{false, true, false} {
		if got := hs[i].OwnerGone(host); got != want {
			t.Errorf("%s: OwnerGone = %v, want %v", hs[i].ContainerName, got, want)
		}
	}
	// The same pid with another owner token: a restarted process that got
	// the pid of the one that made the hold.
	reused := hs[0]
	reused.owner = "earlier-process"
	if !reused.OwnerGone(host) {
		t.Error("a hold of an earlier process with this pid is not gone")
	}
	if err := s.DeleteHold(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if hs, _ := s.Holds(ctx); len(hs) != 2 {
		t.Errorf("%d holds after delete, want 2", len(hs))
	}
}

func TestVerificationsAndManifestSums(t *testing.T) {
	ctx := context.Background()
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	created := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	rec := SnapshotRecord{Backup: "daily", Target: "nas", ID: "2026-11-25T030000Z", CreatedAt: created,
		Complete: true, RecordedAt: created, ManifestSHA256: "abc", ManifestSize: 1234, ManifestModTimeNs: created.UnixNano() + 7}
	if err := st.PutSnapshot(ctx, rec); err != nil {
		t.Fatal(err)
	}
	recs, err := st.Snapshots(ctx)
	if err != nil || len(recs) != 1 || recs[0] != rec {
		t.Fatalf("snapshots = %+v, %v; want %+v, the manifest's sum, size and mtime kept", recs, err, rec)
	}
	first := VerificationRecord{Backup: "daily", Target: "nas", Snapshot: rec.ID, ManifestSHA256: "abc",
		VerifiedAt: created.Add(time.Hour), ReadData: true, OK: false, Problems: []string{"uploads/a: missing", "webui.db: bad"}}
	second := first
	second.VerifiedAt, second.OK, second.Problems, second.ReadData = created.Add(2*time.Hour), true, nil, false
	for _, v := range []VerificationRecord{second, first} {
		if err := st.PutVerification(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Verifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]VerificationRecord{first, second}, got); diff != "" {
		t.Errorf("verifications, oldest first (-want +got):\n%s", diff)
	}
	if err := st.PutVerification(ctx, VerificationRecord{Backup: "daily"}); err == nil {
		t.Error("a verification without target, snapshot and time was recorded")
	}
}

// TestSQLiteCopies: a recorded copy is found by its source path, a new
// one replaces it, a forgotten one is gone, and malformed ones are
// refused whole.
func TestSQLiteCopies(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	sum := func(c byte) string { return strings.Repeat(string(c), 64) }
	a := SQLiteCopy{Path: "/data/webui.db", Version: "v1", SHA256: sum('a')}
	b := SQLiteCopy{Path: "/data/other.db", Version: "w1", SHA256: sum('b')}
	if err := s.StoreSQLiteCopies(ctx, []SQLiteCopy{a, b}); err != nil {
		t.Fatal(err)
	}
	a2 := SQLiteCopy{Path: a.Path, Version: "v2", SHA256: sum('c')}
	if err := s.StoreSQLiteCopies(ctx, []SQLiteCopy{a2}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []SQLiteCopy{{Path: "/x", Version: "", SHA256: sum('d')}, {Path: "/x", Version: "v", SHA256: "short"}} {
		if err := s.StoreSQLiteCopies(ctx, []SQLiteCopy{{Path: "/y", Version: "v", SHA256: sum('e')}, bad}); err == nil {
			t.Errorf("StoreSQLiteCopies(%+v) = nil error", bad)
		}
	}
	if err := s.ForgetSQLiteCopy(ctx, b.Path); err != nil {
		t.Fatal(err)
	}
	got, err := s.SQLiteCopies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[a.Path] != a2 {
		t.Errorf("SQLiteCopies = %+v, want only %+v", got, a2)
	}
}
