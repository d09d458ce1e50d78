package executor_test

// Faulty remotes (issue 7, "Nothing lost under faults"): real local and S3
// targets wrapped in internal/faultfs, which fails, slows, hangs or cuts
// short what a real remote does not fail on demand.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/internal/faultfs"
	"github.com/owui/owui/internal/s3test"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/state"
)

// snapshotFiles is a faultfs match for the files of snapshots only: every
// name that does not start with "." (owui's own files under a backup, such
// as the lease, do). Tests that are about the snapshot path use it so the
// fault lands there.
const snapshotFiles = "match=[^.]*"

var t0 = time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)

// faultWorld is one data directory and one state, applied under policies
// whose targets change from run to run (healthy first, faulty later).
type faultWorld struct {
	data, stateDir string
	store          *state.Store
}

func newFaultWorld(t *testing.T, uploads int) *faultWorld {
	t.Helper()
	w := &faultWorld{data: dataDir(t, uploads), stateDir: filepath.Join(t.TempDir(), "state")}
	st, err := state.Open(w.stateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.store = st
	return w
}

// tgt is a target of the policy: its name and remote.
type tgt struct{ name, remote string }

// env returns an Env over w's data and state with backup "daily" sent to
// targets, keeping the last keepLast snapshots.
func (w *faultWorld) env(t *testing.T, keepLast int, hooks executor.Hooks, targets ...tgt) *env {
	t.Helper()
	var src strings.Builder
	fmt.Fprintf(&src, "instance \"main\" {\n  data_dir = %q\n}\n", w.data)
	var refs []string
	for _, tg := range targets {
		fmt.Fprintf(&src, "target %q {\n  remote = %q\n}\n", tg.name, tg.remote)
		refs = append(refs, "target."+tg.name)
	}
	fmt.Fprintf(&src, `backup "daily" {
  instance = instance.main
  to       = [%s]
  every    = "24h"
  keep {
    last = %d
  }
}
`, strings.Join(refs, ", "), keepLast)
	p, diags := config.Decode("test.hcl", []byte(src.String()), config.DecodeOptions{BaseDir: t.TempDir(), DefaultLocation: time.UTC})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return &env{Env: &executor.Env{
		Policy: p, Store: w.store, StateDir: w.stateDir, Hooks: hooks, Version: "test",
		// Targets without an atomic create (S3, and every faultfs
		// wrapper) wait this long to read their lease back; nothing else
		// competes for the leases here.
		LeaseSettle: time.Millisecond,
		// A target whose lease write hangs is left out after this long.
		LeaseTimeout: 2 * time.Second,
	}, policy: p}
}

// bases returns two empty remotes of kind "local" or "s3" (two prefixes of
// one bucket on a real S3 server).
func bases(t *testing.T, kind string) (string, string) {
	t.Helper()
	switch kind {
	case "local":
		dir := t.TempDir()
		return filepath.Join(dir, "one"), filepath.Join(dir, "two")
	case "s3":
		s3 := s3test.Start(t)
		return s3 + "/one", s3 + "/two"
	}
	t.Fatalf("no target kind %q", kind)
	return "", ""
}

// prepare refreshes, saves and plans at now, as the CLI does before apply.
func (e *env) prepare(t *testing.T, ctx context.Context, now time.Time) (planner.Plan, planner.Observed) {
	t.Helper()
	r, err := e.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	return planner.Make(e.policy, r.Observed, now), r.Observed
}

// onTarget returns the snapshots a fresh, fault-free look at the targets
// finds: target → id → status.
func (w *faultWorld) onTarget(t *testing.T, targets ...tgt) map[string]map[string]planner.Status {
	t.Helper()
	r, err := w.env(t, 100, nil, targets...).Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]planner.Status{}
	for _, tg := range targets {
		out[tg.name] = map[string]planner.Status{}
	}
	for _, s := range r.Observed.Snapshots {
		if s.Status != planner.StatusMissing {
			out[s.Target][s.ID] = s.Status
		}
	}
	return out
}

// recorded returns what state records as complete: target → ids.
func (w *faultWorld) recorded(t *testing.T) map[string]map[string]bool {
	t.Helper()
	recs, err := w.store.Snapshots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, r := range recs {
		if r.Complete {
			if out[r.Target] == nil {
				out[r.Target] = map[string]bool{}
			}
			out[r.Target][r.ID] = true
		}
	}
	return out
}

// waitRecorded waits until state records snapshot id on tname as
// complete, which sendTo does after the manifest is written. The limit only
// turns a hang into a failure; no test outcome depends on timing.
func (w *faultWorld) waitRecorded(t *testing.T, tname, id string) bool {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if w.recorded(t)[tname][id] {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// checkRestores restores snapshot id from tname and checks every restored
// file against the data directory (uploads byte for byte; webui.db is a
// backup-API copy, checked against the manifest by Restore itself).
func (w *faultWorld) checkRestores(t *testing.T, e *env, tname, id string) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "restored")
	res, err := e.Restore(context.Background(), executor.RestoreOptions{Backup: "daily", Target: tname, Snapshot: id, Dir: dst})
	if err != nil {
		t.Fatalf("restore %s from %s: %v", id, tname, err)
	}
	want, err := os.ReadDir(filepath.Join(w.data, "uploads"))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(res.Manifest.Files); got != len(want)+1 {
		t.Errorf("manifest of %s on %s lists %d files, want %d uploads and webui.db", id, tname, got, len(want))
	}
	for _, de := range want {
		src, _ := os.ReadFile(filepath.Join(w.data, "uploads", de.Name()))
		got, err := os.ReadFile(filepath.Join(dst, "uploads", de.Name()))
		if err != nil || string(got) != string(src) {
			t.Errorf("restored uploads/%s differs from the source (%v)", de.Name(), err)
		}
	}
}

func outcomesOf(res *executor.Result, kind planner.Kind, tname string) []executor.Outcome {
	var out []executor.Outcome
	for _, o := range res.Outcomes {
		if o.Action.Kind == kind && o.Action.Target == tname {
			out = append(out, o)
		}
	}
	return out
}

// TestFailingTargetLosesNothing is the acceptance check. Two targets
// hold two snapshots each; then one target fails every 5th write and the
// policy keeps only the last snapshot. The apply fails naming that target,
// a file and the cause; the other target gets a complete snapshot that
// restores and is pruned; the failing target loses nothing, and state
// records nothing complete for it.
func TestFailingTargetLosesNothing(t *testing.T) {
	for _, kind := range []string{"local", "s3"} {
		t.Run(kind, func(t *testing.T) {
			w := newFaultWorld(t, 12)
			goodBase, badBase := bases(t, kind)
			ctx := context.Background()
			plain := []tgt{{"good", goodBase}, {"bad", badBase}}
			for i := range 2 {
				addChat(t, w.data)
				if res, _ := w.env(t, 10, nil, plain...).applyAt(t, ctx, t0.Add(time.Duration(i)*25*time.Hour)); res.Err() != nil {
					t.Fatal(res.Err())
				}
			}
			before := w.onTarget(t, plain...)

			badRemote, faults := faultfs.Remote(t, badBase, "fail_every=5")
			e := w.env(t, 1, nil, tgt{"good", goodBase}, tgt{"bad", badRemote})
			now := t0.Add(50 * time.Hour)
			id := planner.SnapshotID(now)
			addChat(t, w.data)
			res, plan := e.applyAt(t, ctx, now)

			err := res.Err()
			if err == nil {
				t.Fatal("apply succeeded with a target failing every 5th write")
			}
			checkNamesTargetFileCause(t, err, "bad", "owuifault: injected failure")
			if strings.Contains(err.Error(), "good") {
				t.Errorf("the error mentions the healthy target: %v", err)
			}
			if faults.Stats().Failed == 0 {
				t.Fatal("no write failed on the faulty target")
			}
			for _, o := range outcomesOf(res, planner.KindSnapshot, "good") {
				if o.Err != nil {
					t.Errorf("snapshot on good: %v", o.Err)
				}
			}

			after := w.onTarget(t, plain...)
			if after["good"][id] != planner.StatusComplete {
				t.Errorf("good: new snapshot %s is %q, want complete", id, after["good"][id])
			}
			w.checkRestores(t, e, "good", id)
			if s, ok := after["bad"][id]; ok && s == planner.StatusComplete {
				t.Errorf("bad: snapshot %s looks complete after its upload failed", id)
			}
			rec := w.recorded(t)
			if rec["bad"][id] {
				t.Errorf("state records %s on bad as complete", id)
			}
			if !rec["good"][id] {
				t.Errorf("state does not record %s on good", id)
			}

			var prunedGood, keptBad int
			for _, a := range plan.Actions {
				if a.Kind != planner.KindPrune {
					continue
				}
				switch a.Target {
				case "good":
					if _, ok := after["good"][a.Snapshot]; ok {
						t.Errorf("good: %s was planned for pruning and is still there", a.Snapshot)
					}
					prunedGood++
				case "bad":
					keptBad++
				}
			}
			if prunedGood == 0 || keptBad == 0 {
				t.Fatalf("plan %+v prunes %d on good and %d on bad; the test needs both", plan.Actions, prunedGood, keptBad)
			}
			for sid, s := range before["bad"] {
				if after["bad"][sid] != s || !rec["bad"][sid] {
					t.Errorf("bad: snapshot %s was %q, is %q (recorded: %v): nothing may be pruned there", sid, s, after["bad"][sid], rec["bad"][sid])
				}
			}
			for _, o := range outcomesOf(res, planner.KindPrune, "bad") {
				if o.Skipped == "" {
					t.Errorf("prune of %s on bad was not skipped: %+v", o.Action.Snapshot, o)
				}
			}
		})
	}
}

// checkNamesTargetFileCause checks that err names target tname, a file of
// the snapshot and the cause.
func checkNamesTargetFileCause(t *testing.T, err error, tname, cause string) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, "target "+tname) {
		t.Errorf("error does not name target %s: %v", tname, msg)
	}
	if !strings.Contains(msg, "webui.db") && !strings.Contains(msg, "uploads/") && !strings.Contains(msg, manifest.FileName) {
		t.Errorf("error names no file: %v", msg)
	}
	if !strings.Contains(msg, cause) {
		t.Errorf("error does not say %q: %v", cause, msg)
	}
}

// TestTransientTargetErrorsAreRetried: a target failing every 3rd write
// once, with an error rclone classes as retriable, still gets complete
// snapshots, the first one uploaded and the second incremental (hard links
// are not possible through the wrapper; on S3 unchanged files are copied
// server-side). The counters show that retries made up for every failure.
func TestTransientTargetErrorsAreRetried(t *testing.T) {
	tests := map[string]struct {
		kind    string
		applies int
	}{
		"local":                 {kind: "local", applies: 2},
		"s3 uploads":            {kind: "s3", applies: 1},
		"s3 server-side re-use": {kind: "s3", applies: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := newFaultWorld(t, 12)
			base, _ := bases(t, tc.kind)
			remote, faults := faultfs.Remote(t, base, "transient_every=3")
			e := w.env(t, 5, nil, tgt{"flaky", remote})
			ctx := context.Background()
			for i := range tc.applies {
				addChat(t, w.data)
				res, _ := e.applyAt(t, ctx, t0.Add(time.Duration(i)*25*time.Hour))
				if err := res.Err(); err != nil {
					t.Fatalf("apply %d: %v (faults: %+v)", i+1, err, faults.Stats())
				}
			}
			st := faults.Stats()
			// A write the real remote fails on its own (rclone serve s3
			// now and then loses a race with itself) is retried too.
			if st.Transient == 0 || st.Writes != st.Succeeded+st.Transient+st.BaseErrors || st.Failed != 0 {
				t.Errorf("faults %+v: want transient failures, each made up for by a retry", st)
			}
			if st.BaseErrors > 0 {
				t.Logf("the base remote failed %d writes itself (retried)", st.BaseErrors)
			}
			on := w.onTarget(t, tgt{"flaky", base})
			for i := range tc.applies {
				id := planner.SnapshotID(t0.Add(time.Duration(i) * 25 * time.Hour))
				if on["flaky"][id] != planner.StatusComplete {
					t.Errorf("snapshot %s is %q, want complete", id, on["flaky"][id])
				}
				v, err := w.env(t, 5, nil, tgt{"flaky", base}).Verify(ctx, "daily", "flaky", id, true)
				if err != nil || !v.OK() {
					t.Errorf("verify --read-data %s: %v %v", id, err, v)
				}
			}
		})
	}
}

// TestSlowTargetDoesNotHoldBackTheOthers holds every snapshot write of one
// target (and slows each by a delay) until the other target's snapshot is
// recorded complete: with sends that waited for each other, that would
// never happen. Ordering, not wall-clock time, is what is checked.
func TestSlowTargetDoesNotHoldBackTheOthers(t *testing.T) {
	w := newFaultWorld(t, 8)
	goodBase, slowBase := bases(t, "local")
	slowRemote, slow := faultfs.Remote(t, slowBase, "delay=5ms", snapshotFiles)
	e := w.env(t, 5, nil, tgt{"good", goodBase}, tgt{"slow", slowRemote})
	ctx := context.Background()
	now := t0
	id := planner.SnapshotID(now)
	plan, obs := e.prepare(t, ctx, now)
	slow.Hold()
	defer slow.Release()
	done := make(chan *executor.Result, 1)
	go func() { done <- e.Apply(ctx, plan, obs, now) }()

	if !w.waitRecorded(t, "good", id) {
		slow.Release()
		<-done
		t.Fatal("the healthy target's snapshot did not complete while the slow target was held")
	}
	if _, err := os.Stat(filepath.Join(slowBase, "daily", id, manifest.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the slow target has its manifest while its writes are held: %v", err)
	}
	if st := slow.Stats(); st.Succeeded != 0 || st.Writes == 0 {
		t.Errorf("slow target %+v: want writes waiting, none done", st)
	}
	slow.Release()
	res := <-done
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	on := w.onTarget(t, tgt{"good", goodBase}, tgt{"slow", slowBase})
	if on["good"][id] != planner.StatusComplete || on["slow"][id] != planner.StatusComplete {
		t.Errorf("after release: %v, want %s complete on both", on, id)
	}
}

// TestHungTargetDoesNotHoldBackTheOthers: one target's writes hang until
// the apply's context ends; the context is cancelled once the other target
// is complete (as systemd's timeout or Ctrl-C would end a stuck run). The
// apply returns, the healthy snapshot stands, and the hung target has no
// complete snapshot, in state or on the target.
func TestHungTargetDoesNotHoldBackTheOthers(t *testing.T) {
	for name, match := range map[string]string{"snapshot files": snapshotFiles, "every write": ""} {
		t.Run(name, func(t *testing.T) {
			testHungTarget(t, match)
		})
	}
}

func testHungTarget(t *testing.T, match string) {
	w := newFaultWorld(t, 8)
	goodBase, hungBase := bases(t, "local")
	opts := []string{"hang=true"}
	if match != "" {
		opts = append(opts, match)
	}
	hungRemote, hung := faultfs.Remote(t, hungBase, opts...)
	e := w.env(t, 5, nil, tgt{"good", goodBase}, tgt{"hung", hungRemote})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	now := t0
	id := planner.SnapshotID(now)
	plan, obs := e.prepare(t, ctx, now)
	done := make(chan *executor.Result, 1)
	go func() { done <- e.Apply(ctx, plan, obs, now) }()

	if !w.waitRecorded(t, "good", id) {
		cancel()
		<-done
		t.Fatal("the healthy target's snapshot did not complete while the other target hung")
	}
	cancel()
	res := <-done
	if res.Err() == nil {
		t.Fatal("apply with a hung target reported success")
	}
	for _, o := range outcomesOf(res, planner.KindSnapshot, "good") {
		if o.Err != nil {
			t.Errorf("good: %v", o.Err)
		}
	}
	for _, o := range outcomesOf(res, planner.KindSnapshot, "hung") {
		if !errors.Is(o.Err, context.Canceled) && !errors.Is(o.Err, context.DeadlineExceeded) {
			t.Errorf("hung: %v, want the run's cancellation or the lease timeout", o.Err)
		}
	}
	if hung.Stats().Hung == 0 {
		t.Error("no write hung")
	}
	on := w.onTarget(t, tgt{"good", goodBase}, tgt{"hung", hungBase})
	if on["good"][id] != planner.StatusComplete {
		t.Errorf("good: %s is %q, want complete", id, on["good"][id])
	}
	if on["hung"][id] == planner.StatusComplete || w.recorded(t)["hung"][id] {
		t.Errorf("hung: %s looks complete", id)
	}
}

// TestFullOrReadOnlyTargetIsReportedAsSuch: a target whose writes fail as
// on a full disk or a read-only mount fails the apply with an error that
// says so, through errors.Is and in words, while the other target
// completes.
func TestFullOrReadOnlyTargetIsReportedAsSuch(t *testing.T) {
	faults := map[string]struct {
		opt   string
		kind  error
		words string
	}{
		"full":      {"full=true", target.ErrTargetFull, "target bad is full ("},
		"read-only": {"read_only=true", target.ErrTargetReadOnly, "target bad is read-only or refuses writes ("},
	}
	// Which writes the fault hits: the snapshot's files, or every write
	// (the lease, written first, included).
	scopes := map[string]struct {
		match string
	}{
		"snapshot files": {match: snapshotFiles},
		"every write":    {},
	}
	for fname, f := range faults {
		for sname, scope := range scopes {
			for _, kind := range []string{"local", "s3"} {
				t.Run(fname+"/"+sname+"/"+kind, func(t *testing.T) {
					opts := []string{f.opt}
					if scope.match != "" {
						opts = append(opts, scope.match)
					}
					w := newFaultWorld(t, 4)
					goodBase, badBase := bases(t, kind)
					badRemote, _ := faultfs.Remote(t, badBase, opts...)
					e := w.env(t, 5, nil, tgt{"good", goodBase}, tgt{"bad", badRemote})
					res, _ := e.applyAt(t, context.Background(), t0)
					err := res.Err()
					if !errors.Is(err, f.kind) {
						t.Fatalf("apply: %v; want an error matching %v", err, f.kind)
					}
					if !strings.Contains(err.Error(), f.words) {
						t.Errorf("apply: %v; want it to say %q", err, f.words)
					}
					on := w.onTarget(t, tgt{"good", goodBase}, tgt{"bad", badBase})
					if on["good"][planner.SnapshotID(t0)] != planner.StatusComplete {
						t.Errorf("good: %v", on["good"])
					}
				})
			}
		}
	}
}

// TestShortReadsFailRestoreAndVerify: a complete snapshot read back through
// a remote whose reads end early (silently, or with an unexpected EOF that
// rclone's re-opens cannot get past) fails restore with a clear error,
// leaving nothing restored, and fails verify --read-data naming the file.
// With match the manifest reads whole and only the data is cut short.
func TestShortReadsFailRestoreAndVerify(t *testing.T) {
	w := newFaultWorld(t, 4)
	base, _ := bases(t, "local")
	ctx := context.Background()
	if res, _ := w.env(t, 5, nil, tgt{"t", base}).applyAt(t, ctx, t0); res.Err() != nil {
		t.Fatal(res.Err())
	}
	id := planner.SnapshotID(t0)
	tests := map[string]struct {
		opts []string
		// restoreErr and verifyErr are in the error (or the verification's
		// problems) restore and verify --read-data come to.
		restoreErr, verifyErr string
	}{
		"data cut short": {
			opts:       []string{"short_reads=truncate", "match=*.txt"},
			restoreErr: "size", verifyErr: "differs from the manifest",
		},
		"data connection drops": {
			opts:       []string{"short_reads=error", "match=*.txt"},
			restoreErr: "unexpected EOF", verifyErr: "unexpected EOF",
		},
		"everything connection drops": {
			opts:       []string{"short_reads=error"},
			restoreErr: "unexpected EOF", verifyErr: "unexpected EOF",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			remote, faults := faultfs.Remote(t, base, tc.opts...)
			e := w.env(t, 5, nil, tgt{"t", remote})
			dst := filepath.Join(t.TempDir(), "restored")
			_, err := e.Restore(ctx, executor.RestoreOptions{Backup: "daily", Target: "t", Snapshot: id, Dir: dst})
			if err == nil || !strings.Contains(err.Error(), tc.restoreErr) {
				t.Errorf("restore: %v; want an error saying %q", err, tc.restoreErr)
			}
			if left, _ := os.ReadDir(dst); len(left) != 0 {
				t.Errorf("a failed restore left %v in the destination", left)
			}
			v, err := e.Verify(ctx, "daily", "t", id, true)
			var found string
			if err != nil {
				found = err.Error()
			} else {
				found = strings.Join(v.Problems, "; ")
				if v.OK() {
					t.Error("verify --read-data passed over short reads")
				}
			}
			if !strings.Contains(found, tc.verifyErr) {
				t.Errorf("verify --read-data: %q; want %q", found, tc.verifyErr)
			}
			if faults.Stats().ShortReads == 0 {
				t.Error("no read was cut short")
			}
		})
	}
}

// TestShortManifestReadsNeverLookIncomplete: a manifest read cut short on
// the way (the object is whole on the target) must not make a complete
// snapshot look incomplete, or the next apply would "repair" it, that is
// delete it.
func TestShortManifestReadsNeverLookIncomplete(t *testing.T) {
	w := newFaultWorld(t, 2)
	base, _ := bases(t, "local")
	ctx := context.Background()
	if res, _ := w.env(t, 5, nil, tgt{"t", base}).applyAt(t, ctx, t0); res.Err() != nil {
		t.Fatal(res.Err())
	}
	for _, mode := range []string{"truncate", "error"} {
		t.Run(mode, func(t *testing.T) {
			remote, _ := faultfs.Remote(t, base, "short_reads="+mode, "match="+manifest.FileName)
			e := w.env(t, 5, nil, tgt{"t", remote})
			r, err := e.Refresh(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range r.Observed.Snapshots {
				if s.Status == planner.StatusIncomplete {
					t.Errorf("snapshot %s looks incomplete after a short read of its manifest", s.ID)
				}
			}
			for _, a := range planner.Make(e.policy, r.Observed, t0.Add(time.Hour)).Actions {
				if a.Kind == planner.KindRepair {
					t.Errorf("plan would repair (delete) %s: %s", a.Snapshot, a.Reason)
				}
			}
		})
	}
}
