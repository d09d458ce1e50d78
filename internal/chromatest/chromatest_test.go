package chromatest_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/executor/stage"
	"github.com/owui/owui/internal/chromatest"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/state"
)

// TestLiveChromaSnapshotRestoresAMomentOfTheCapture is the real-Chroma round
// trip: a Chroma server writes to vector_db/ while owui snapshots the data
// directory online; each snapshot is restored into a fresh directory, and a
// new Chroma server opened there must hold exactly a state the source held
// at some moment of that capture: the same collections, every record intact,
// the same counts, and the same nearest neighbours for fixed queries.
//
// Online capture copies vector_db/ when it holds still and retries when it
// did not, so it needs quiet moments: with a writer that pauses a second
// after each burst of three add requests, as Open WebUI pauses between
// uploads, every snapshot must succeed, even when it starts mid-burst (the
// retries span about 1.5 s).
// With a writer that never pauses, a snapshot may instead fail with
// ErrKeptChanging, but whatever it keeps must still be one moment.
func TestLiveChromaSnapshotRestoresAMomentOfTheCapture(t *testing.T) {
	chromatest.Require(t)
	data := filepath.Join(t.TempDir(), "data")
	src := chromatest.Start(t, filepath.Join(data, "vector_db"))
	// Past Chroma's 1,000-record sync threshold the vectors of "docs" live
	// in the HNSW segment's .bin files, which must match chroma.sqlite3.
	began := time.Now()
	fill := chromatest.StartWriter(t, src, chromatest.WriterOptions{})
	fill.WaitFor(t, "docs past 1,500 records", func(s chromatest.State) bool { return s.Counts["docs"] >= 1500 })
	fill.Stop()
	t.Logf("filled in %s", time.Since(began).Round(time.Millisecond))

	e := newEnv(t, data, filepath.Join(t.TempDir(), "backups"))
	now := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		pace     chromatest.WriterOptions
		captures int
		// mayFail allows a capture to give up because the files never held
		// still.
		mayFail bool
	}{
		{name: "bursts", pace: chromatest.WriterOptions{Burst: 3, Pause: time.Second}, captures: 5},
		{name: "continuous", pace: chromatest.WriterOptions{}, captures: 2, mayFail: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var caps []capture
			w := chromatest.StartWriter(t, src, tc.pace)
			for i := range tc.captures {
				now = now.Add(25 * time.Hour)
				// Start right after an add request, most likely mid-burst.
				next := w.Mark().Seen
				w.WaitFor(t, "a new state", func(s chromatest.State) bool { return s.Seq >= next })
				c := capture{dir: filepath.Join(t.TempDir(), fmt.Sprintf("restored-%d", i))}
				c.from = w.Mark()
				id, err := e.snapshotAt(t, now)
				c.to = w.Mark()
				if err != nil {
					if tc.mayFail && errors.Is(err, stage.ErrKeptChanging) {
						t.Logf("capture %d gave up after %s: %v", i, c.to.At.Sub(c.from.At).Round(time.Millisecond), err)
						continue
					}
					t.Fatalf("snapshot at %s: %v", now.Format(time.RFC3339), err)
				}
				c.id = id
				if _, err := e.Restore(context.Background(), executor.RestoreOptions{Backup: "daily", Snapshot: id, Dir: c.dir}); err != nil {
					t.Fatalf("restore %s: %v", id, err)
				}
				// verify --read-data's cross-checks must accept real Chroma data.
				v, err := e.Verify(context.Background(), "daily", e.policy.Backups[0].To[0], id, true)
				if err != nil || !v.OK() {
					t.Fatalf("verify --read-data of %s: %v %v", id, err, v.Problems)
				}
				caps = append(caps, c)
			}
			states := w.Stop()
			last := states[len(states)-1]
			t.Logf("writer: %d states, ending at %v", len(states), last.Counts)
			// The harness itself: the source answers as the writer last saw it.
			if _, err := chromatest.Match(src.Probe(t), []chromatest.State{last}); err != nil {
				t.Fatalf("the source server disagrees with the writer's last state: %v", err)
			}
			for _, c := range caps {
				c.check(t, states)
			}
		})
	}
}

// capture is one snapshot taken while the writer ran, and where it was
// restored.
type capture struct {
	id       string
	from, to chromatest.Mark
	dir      string
}

// check opens a new Chroma server on the restored vector_db/ and requires it
// to hold one of the states of the capture window.
func (c capture) check(t *testing.T, states []chromatest.State) {
	t.Helper()
	vdb := filepath.Join(c.dir, "vector_db")
	if n := segmentFiles(t, vdb); n == 0 {
		t.Errorf("snapshot %s: no HNSW segment files restored under %s", c.id, vdb)
	}
	window := chromatest.Window(states, c.from, c.to)
	if len(window) == 0 {
		t.Fatalf("snapshot %s: no writer state in its capture window", c.id)
	}
	took := c.to.At.Sub(c.from.At).Round(time.Millisecond)
	began := time.Now()
	restored := chromatest.Start(t, vdb)
	r := restored.Probe(t)
	restored.Kill()
	checked := time.Since(began).Round(time.Millisecond)
	s, err := chromatest.Match(r, window)
	if err != nil {
		t.Errorf("snapshot %s, taken in %s while the writer went through states %d–%d, restores no state of the capture:\n%v",
			c.id, took, window[0].Seq, window[len(window)-1].Seq, err)
		return
	}
	t.Logf("snapshot %s: %s capture, states %d–%d possible; restored state %d %v (server start and probe %s)",
		c.id, took, window[0].Seq, window[len(window)-1].Seq, s.Seq, s.Counts, checked)
}

// segmentFiles counts the HNSW data files under a restored vector_db/.
func segmentFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "data_level0.bin" {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

type env struct {
	*executor.Env
	policy *config.Policy
}

// newEnv is an executor for one online backup of data to a local target.
func newEnv(t *testing.T, data, remote string) *env {
	t.Helper()
	src := fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "t" {
  remote = %q
}
backup "daily" {
  instance    = instance.main
  to          = [target.t]
  every       = "24h"
  consistency = "online"
}
`, data, remote)
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
	return &env{Env: &executor.Env{Policy: p, Store: st, StateDir: stateDir, Hooks: testHooks{t}, Version: "test"}, policy: p}
}

// snapshotAt refreshes, plans and applies as the CLI does, at now, and
// returns the id of the snapshot it made, or the apply's error.
func (e *env) snapshotAt(t *testing.T, now time.Time) (string, error) {
	t.Helper()
	ctx := context.Background()
	r, err := e.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	res := e.Apply(ctx, planner.Make(e.policy, r.Observed, now), r.Observed, now)
	if err := res.Err(); err != nil {
		return "", err
	}
	for _, o := range res.Outcomes {
		if o.Action.Kind == planner.KindSnapshot {
			return o.Snapshot, nil
		}
	}
	t.Fatalf("apply at %s made no snapshot: %+v", now.Format(time.RFC3339), res.Outcomes)
	return "", nil
}

// testHooks sends the executor's log to the test log.
type testHooks struct{ t *testing.T }

func (h testHooks) Logf(format string, args ...any) { h.t.Logf(format, args...) }

func (testHooks) Progress(string, string, int64, int64) {}

var _ executor.Hooks = testHooks{}

// TestTornVectorDBIsDetected checks the oracle of the round trip: a
// vector_db/ whose chroma.sqlite3 and segment files come from two moments
// either makes Chroma fail or holds none of the written states.
func TestTornVectorDBIsDetected(t *testing.T) {
	chromatest.Require(t)
	dir := t.TempDir()
	live := filepath.Join(dir, "live")
	src := chromatest.Start(t, live)
	var states []chromatest.State
	copies := make([]string, 2)
	for i := range copies {
		// Each pass persists the "docs" index several times over.
		w := chromatest.StartWriter(t, src, chromatest.WriterOptions{})
		first := w.Mark().Seen
		w.WaitFor(t, "ten more states", func(s chromatest.State) bool { return s.Seq >= first+10 })
		states = append(states, w.Stop()...)
		copies[i] = filepath.Join(dir, fmt.Sprintf("copy-%d", i))
		if err := os.CopyFS(copies[i], os.DirFS(live)); err != nil {
			t.Fatal(err)
		}
	}
	tests := map[string]struct{ sqlite, segments string }{
		"old segments, new sqlite": {sqlite: copies[1], segments: copies[0]},
		"new segments, old sqlite": {sqlite: copies[0], segments: copies[1]},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			torn := filepath.Join(t.TempDir(), "vector_db")
			if err := os.CopyFS(torn, os.DirFS(tc.segments)); err != nil {
				t.Fatal(err)
			}
			db, err := os.ReadFile(filepath.Join(tc.sqlite, "chroma.sqlite3"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(torn, "chroma.sqlite3"), db, 0o644); err != nil {
				t.Fatal(err)
			}
			s := chromatest.Start(t, torn)
			r, err := s.Inspect(context.Background())
			if err != nil {
				t.Logf("detected: the server fails: %v", firstLine(err.Error()))
				return
			}
			if m, err := chromatest.Match(r, states); err == nil {
				t.Fatalf("a torn vector_db/ passes as state %d %v", m.Seq, m.Counts)
			} else {
				t.Logf("detected: %v", firstLine(err.Error()))
			}
		})
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
