package executor_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/internal/s3test"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/state"
)

// dataDir makes a small Open WebUI-like data directory: a WAL-mode webui.db
// and n upload files.
func dataDir(t *testing.T, uploads int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(filepath.Join(dir, "uploads"), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "webui.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"PRAGMA journal_mode=WAL",
		"CREATE TABLE chat (id INTEGER PRIMARY KEY, body TEXT)",
		"INSERT INTO chat (body) VALUES ('hello'), ('world')",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for i := range uploads {
		name := filepath.Join(dir, "uploads", fmt.Sprintf("%08d-0000-4000-8000-000000000000_note%d.txt", i, i))
		body := fmt.Appendf(nil, "upload %d %0*d\n", i, 1000+i%3000, i)
		if err := os.WriteFile(name, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// addChat commits one more row to the data directory's webui.db.
func addChat(t *testing.T, data string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(data, "webui.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("INSERT INTO chat (body) VALUES ('one more')"); err != nil {
		t.Fatal(err)
	}
}

type env struct {
	*executor.Env
	policy *config.Policy
}

func newEnv(t *testing.T, data, remote string, hooks executor.Hooks) *env {
	t.Helper()
	return newEnvWith(t, data, remote, "", hooks)
}

// newEnvWith is newEnv with extra attributes in the backup block.
func newEnvWith(t *testing.T, data, remote, extra string, hooks executor.Hooks) *env {
	t.Helper()
	src := fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "t" {
  remote = %q
}
backup "daily" {
  instance = instance.main
  to       = [target.t]
  every    = "24h"
  keep {
    last = 5
  }
  %s
}
`, data, remote, extra)
	p, diags := config.Decode("test.hcl", []byte(src), config.DecodeOptions{BaseDir: t.TempDir(), DefaultLocation: time.UTC})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	stateDir := filepath.Join(t.TempDir(), "state")
	st, err := state.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &env{Env: &executor.Env{Policy: p, Store: st, StateDir: stateDir, Hooks: hooks, Version: "test"}, policy: p}
}

// applyAt refreshes, plans and applies as the CLI does, at now.
func (e *env) applyAt(t *testing.T, ctx context.Context, now time.Time) (*executor.Result, planner.Plan) {
	t.Helper()
	r, err := e.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	plan := planner.Make(e.policy, r.Observed, now)
	return e.Apply(ctx, plan, r.Observed, now), plan
}

func snapshotOutcome(t *testing.T, res *executor.Result) executor.Outcome {
	t.Helper()
	for _, o := range res.Outcomes {
		if o.Action.Kind == planner.KindSnapshot {
			return o
		}
	}
	t.Fatalf("no snapshot outcome in %+v", res.Outcomes)
	return executor.Outcome{}
}

// TestSecondSnapshotSendsNoUnchangedUploads: a second snapshot of an
// unchanged 2,000-file uploads/ re-uses every upload (hard link locally,
// server-side copy on S3) and sends only the database, which changed.
func TestSecondSnapshotSendsNoUnchangedUploads(t *testing.T) {
	data := dataDir(t, 2000)
	remotes := map[string]string{
		"local": filepath.Join(t.TempDir(), "backups"),
		"s3":    s3test.Start(t),
	}
	for name, remote := range remotes {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, data, remote, nil)
			ctx := context.Background()
			t0 := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
			res, _ := e.applyAt(t, ctx, t0)
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			first := snapshotOutcome(t, res)
			if first.Uploaded != 2001 || first.Reused != 0 {
				t.Fatalf("first snapshot: %d uploaded, %d re-used; want 2001, 0", first.Uploaded, first.Reused)
			}
			addChat(t, data)
			res, _ = e.applyAt(t, ctx, t0.Add(25*time.Hour))
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			second := snapshotOutcome(t, res)
			if second.Reused != 2000 || second.Uploaded != 1 {
				t.Errorf("second snapshot: %d uploaded (%d bytes), %d re-used; want 1 (webui.db), 2000",
					second.Uploaded, second.BytesUploaded, second.Reused)
			}
			t.Logf("%s: first snapshot sent %d bytes in %d files; second sent %d bytes in %d files, re-used %d",
				name, first.BytesUploaded, first.Uploaded, second.BytesUploaded, second.Uploaded, second.Reused)
		})
	}
}

// cancelAfter cancels the apply's context after n progress reports.
type cancelAfter struct {
	executor.NopHooks
	mu     sync.Mutex
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Progress(string, string, int64, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n--
	if c.n == 0 {
		c.cancel()
	}
}

// TestInterruptedApplyLeavesNoCompleteSnapshot cancels an apply mid-upload:
// nothing looks complete afterwards, and the next apply finishes the job.
func TestInterruptedApplyLeavesNoCompleteSnapshot(t *testing.T) {
	data := dataDir(t, 300)
	remote := filepath.Join(t.TempDir(), "backups")
	ctx, cancel := context.WithCancel(context.Background())
	hooks := &cancelAfter{n: 50, cancel: cancel}
	e := newEnv(t, data, remote, hooks)
	now := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	res, _ := e.applyAt(t, ctx, now)
	if res.Err() == nil {
		t.Fatal("interrupted apply reported success")
	}
	r, err := e.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Observed.Snapshots {
		if s.Status == planner.StatusComplete {
			t.Fatalf("snapshot %s looks complete after an interrupted apply", s.ID)
		}
	}
	recs, err := e.Store.Snapshots(context.Background())
	if err != nil || len(recs) != 0 {
		t.Fatalf("state after an interrupted apply: %v, %+v", err, recs)
	}
	res, _ = e.applyAt(t, context.Background(), now.Add(time.Minute))
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	r, err = e.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var complete, other int
	for _, s := range r.Observed.Snapshots {
		if s.Status == planner.StatusComplete {
			complete++
		} else {
			other++
		}
	}
	if complete != 1 || other != 0 {
		t.Errorf("after the next apply: %d complete, %d other snapshots; want 1, 0", complete, other)
	}
	if left, _ := os.ReadDir(filepath.Join(e.StateDir, "staging")); len(left) != 0 {
		t.Errorf("staging leftovers: %v", left)
	}
}

// TestPruneRefusesNewest: whatever a plan says, the newest complete snapshot
// is never pruned.
func TestPruneRefusesNewest(t *testing.T) {
	data := dataDir(t, 3)
	e := newEnv(t, data, filepath.Join(t.TempDir(), "backups"), nil)
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	if res, _ := e.applyAt(t, ctx, now); res.Err() != nil {
		t.Fatal(res.Err())
	}
	r, err := e.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := planner.SnapshotID(now)
	bad := planner.Plan{Now: now, Actions: []planner.Action{{
		Kind: planner.KindPrune, Backup: "daily", Target: "t", Snapshot: id, CreatedAt: now, Reason: "test",
	}}}
	res := e.Apply(ctx, bad, r.Observed, now.Add(time.Hour))
	if res.Err() == nil {
		t.Fatal("pruning the newest complete snapshot was not refused")
	}
	if r2, _ := e.Refresh(ctx); len(r2.Observed.Snapshots) != 1 || r2.Observed.Snapshots[0].Status != planner.StatusComplete {
		t.Fatalf("newest snapshot gone after a refused prune: %+v", r2.Observed.Snapshots)
	}
}

// TestRefreshGoesOnPastAnUnreachableTarget: a target that cannot be opened
// is reported in Unreachable, the others are listed, and Save leaves what
// state held for the unreachable one alone.
func TestRefreshGoesOnPastAnUnreachableTarget(t *testing.T) {
	data := dataDir(t, 2)
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "good" {
  remote = %q
}
target "broken" {
  remote = %q
}
backup "daily" {
  instance = instance.main
  to       = [target.good, target.broken]
  every    = "24h"
}
`, data, filepath.Join(dir, "good"), filepath.Join(blocker, "below"))
	p, diags := config.Decode("test.hcl", []byte(src), config.DecodeOptions{DefaultLocation: time.UTC})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	st, err := state.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	kept := state.SnapshotRecord{Backup: "daily", Target: "broken", ID: "2026-11-01T030000Z",
		CreatedAt: time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC), Complete: true, RecordedAt: time.Now().UTC()}
	if err := st.PutSnapshot(ctx, kept); err != nil {
		t.Fatal(err)
	}
	e := &executor.Env{Policy: p, Store: st, StateDir: filepath.Join(dir, "state")}
	r, err := e.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Unreachable["broken"]; !ok || len(r.Unreachable) != 1 || r.Err() == nil {
		t.Fatalf("Unreachable = %v, want just broken", r.Unreachable)
	}
	if _, ok := r.Backups["good"]; !ok {
		t.Errorf("the good target was not listed: %v", r.Backups)
	}
	for _, s := range r.Observed.Snapshots {
		if s.Target == "broken" {
			t.Errorf("observed a snapshot on the unreachable target: %+v", s)
		}
	}
	if err := e.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	recs, err := st.Snapshots(ctx)
	if err != nil || len(recs) != 1 || recs[0].ID != kept.ID {
		t.Errorf("state after saving the refresh = %+v, %v; want the unreachable target's record kept", recs, err)
	}
}
