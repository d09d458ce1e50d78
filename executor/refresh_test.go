package executor_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/owui/owui/internal/faultfs"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/planner"
)

// TestRefreshReadsOnlyChangedManifests: a refresh does not read the
// manifests the applies wrote (state recorded their sums, sizes and
// modification times) while their objects keep that size and time. The
// target is wrapped so that reading any manifest fails: the refresh still
// sees every snapshot complete. A manifest rewritten on the target is
// read again, and its change is seen.
func TestRefreshReadsOnlyChangedManifests(t *testing.T) {
	for _, kind := range []string{"local", "s3"} {
		t.Run(kind, func(t *testing.T) { testRefreshReads(t, kind) })
	}
}

func testRefreshReads(t *testing.T, kind string) {
	w := newFaultWorld(t, 5)
	base, _ := bases(t, kind)
	e := w.env(t, 10, nil, tgt{"t", base})
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		now := t0.Add(time.Duration(i) * 25 * time.Hour)
		addChat(t, w.data)
		if res, _ := e.applyAt(t, ctx, now); res.Err() != nil {
			t.Fatal(res.Err())
		}
		ids = append(ids, planner.SnapshotID(now))
	}
	unreadable, faults := faultfs.Remote(t, base, "short_reads=error", "match="+manifest.FileName)
	r, err := w.env(t, 10, nil, tgt{"t", unreadable}).Refresh(ctx)
	if err != nil || r.Err() != nil {
		t.Fatalf("refresh: %v, %v", err, r.Err())
	}
	complete := 0
	for _, s := range r.Observed.Snapshots {
		if s.Status == planner.StatusComplete && s.Drift == "" {
			complete++
		}
	}
	if complete != 3 {
		t.Errorf("refresh without reading manifests: %+v, want the 3 snapshots complete", r.Observed.Snapshots)
	}
	if st := faults.Stats(); st.Reads != 0 {
		t.Errorf("%d manifests read, want none", st.Reads)
	}
	if recs := r.Records["t"]; len(recs) != 3 || recs[0].Files == 0 || recs[0].Bytes == 0 || recs[0].ManifestSHA256 == "" {
		t.Errorf("records %+v, want the 3 with their sizes and sums kept", recs)
	}
	if kind != "local" {
		return
	}

	// Rewritten (same content, one more byte): read again, and seen as a
	// change. Through the wrapper that read fails, and the target is
	// reported, not its snapshot repaired away.
	p := filepath.Join(base, "daily", ids[1], manifest.FileName)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err = w.env(t, 10, nil, tgt{"t", unreadable}).Refresh(ctx); err != nil || r.Unreachable["t"] == nil {
		t.Errorf("refresh with the rewritten manifest unreadable: %v, unreachable %v; want the target reported", err, r.Unreachable)
	}
	r, err = e.Refresh(ctx)
	if err != nil || r.Err() != nil {
		t.Fatalf("refresh: %v, %v", err, r.Err())
	}
	for _, s := range r.Observed.Snapshots {
		want := planner.Drift("")
		if s.ID == ids[1] {
			want = planner.DriftChanged
		}
		if s.Status != planner.StatusComplete || s.Drift != want {
			t.Errorf("snapshot %s: %s, drift %q; want complete, drift %q", s.ID, s.Status, s.Drift, want)
		}
	}
}
