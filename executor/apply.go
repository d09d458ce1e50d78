package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/internal/units"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/state"
)

// Outcome is what one action of the plan came to.
type Outcome struct {
	Action planner.Action
	// Snapshot is the id made by a snapshot action.
	Snapshot string
	Files    int
	Bytes    int64
	// Uploaded and Reused count the files sent and those re-used from the
	// previous snapshot on the target; BytesUploaded is what was sent.
	Uploaded, Reused int
	BytesUploaded    int64
	Err              error
	// Skipped says why an action was not carried out (a prune whose new
	// snapshot failed, for one).
	Skipped string
	// Problems are what a verify action found wrong, one per failing file
	// or check (Err then says it failed).
	Problems []string
}

// Result is what an apply did, action by action.
type Result struct {
	Outcomes []Outcome
}

// Err joins every action's error.
func (r *Result) Err() error {
	var errs []error
	for _, o := range r.Outcomes {
		if o.Err != nil {
			errs = append(errs, o.Err)
		}
	}
	return errors.Join(errs...)
}

// Apply carries out a plan made from obs. New snapshots are stamped with
// now. Repairs come first, then each backup's snapshots (captured once, sent
// to every target), then its verifications, then its prunes, which run only
// on targets where this run's new snapshot succeeded (and passed, when it
// was verified). One failing target or backup does not stop
// the others; the joined error says what failed.
func (e *Env) Apply(ctx context.Context, plan planner.Plan, obs planner.Observed, now time.Time) *Result {
	res := &Result{}
	e.ClearStaging()
	// Nothing is written to or deleted from a prefix of a target without
	// its lease, so two machines applying one policy never prune under
	// each other.
	l, denied := e.acquireLeases(ctx, leaseKeys(plan))
	defer l.release(ctx)
	if len(denied) > 0 {
		var kept []planner.Action
		for _, a := range plan.Actions {
			if err := denied[leaseKey{a.Backup, a.Target}]; err != nil && a.Kind != planner.KindVerify {
				res.Outcomes = append(res.Outcomes, Outcome{Action: a, Err: err, Skipped: "no lease"})
				continue
			}
			kept = append(kept, a)
		}
		plan.Actions = kept
	}
	for _, a := range plan.Actions {
		if a.Kind == planner.KindRepair {
			res.Outcomes = append(res.Outcomes, e.repair(ctx, a))
		}
	}
	for _, b := range e.Policy.Backups {
		var snaps, verifies, prunes []planner.Action
		for _, a := range plan.Actions {
			if a.Backup != b.Name {
				continue
			}
			switch a.Kind {
			case planner.KindSnapshot:
				snaps = append(snaps, a)
			case planner.KindVerify:
				verifies = append(verifies, a)
			case planner.KindPrune:
				prunes = append(prunes, a)
			}
		}
		made := map[string]string{} // target → new snapshot id
		failed := map[string]bool{}
		if len(snaps) > 0 {
			for _, o := range e.snapshot(ctx, b, snaps, obs, now) {
				if o.Err == nil {
					made[o.Action.Target] = o.Snapshot
				} else {
					failed[o.Action.Target] = true
				}
				res.Outcomes = append(res.Outcomes, o)
			}
		}
		for _, a := range verifies {
			o := e.verify(ctx, a, made)
			if o.Err != nil && a.Snapshot == "" {
				// The new snapshot is broken: it replaces nothing.
				failed[a.Target] = true
				delete(made, a.Target)
			}
			res.Outcomes = append(res.Outcomes, o)
		}
		for _, a := range prunes {
			if err := l.check(ctx, leaseKey{a.Backup, a.Target}); err != nil {
				res.Outcomes = append(res.Outcomes, Outcome{Action: a, Err: fmt.Errorf("prune %s of %s on %s: %w", a.Snapshot, a.Backup, a.Target, err), Skipped: "lease lost"})
				continue
			}
			res.Outcomes = append(res.Outcomes, e.prune(ctx, a, obs, made, failed))
		}
	}
	return res
}

// ClearStaging removes what a killed run left in the staging area. The
// caller holds the state lock, so staging is its alone. The CLI calls it
// after taking the lock, whether or not the plan has work for Apply.
func (e *Env) ClearStaging() {
	if err := os.RemoveAll(e.stagingRoot()); err != nil {
		e.hooks().Logf("warning: could not clean the staging area: %v", err)
	}
}

// snapshot captures backup b once and sends it to each target of snaps.
func (e *Env) snapshot(ctx context.Context, b *config.Backup, snaps []planner.Action, obs planner.Observed, now time.Time) []Outcome {
	created := now.UTC().Truncate(time.Second)
	id := planner.SnapshotID(created)
	fail := func(err error) []Outcome {
		out := make([]Outcome, len(snaps))
		for i, a := range snaps {
			out[i] = Outcome{Action: a, Snapshot: id, Err: err}
		}
		return out
	}
	s, err := e.stage(ctx, b, id, created)
	if s != nil {
		defer os.RemoveAll(s.dir)
	}
	if err != nil {
		return fail(err)
	}
	// Every target is sent to at once, so one slow or dead target does not
	// hold the others back.
	h := e.hooks()
	out := make([]Outcome, len(snaps))
	var wg sync.WaitGroup
	for i, a := range snaps {
		wg.Go(func() {
			o := Outcome{Action: a, Snapshot: id, Files: len(s.manifest.Files), Bytes: s.manifest.TotalSize()}
			o.Err = e.sendTo(ctx, b, a.Target, s, obs, &o)
			if o.Err != nil {
				h.Logf("%s → %s: snapshot %s failed: %v", b.Name, a.Target, id, o.Err)
			} else {
				h.Logf("%s → %s: snapshot %s complete: %d files, %d uploaded (%s), %d re-used",
					b.Name, a.Target, id, o.Files, o.Uploaded, units.Bytes(o.BytesUploaded), o.Reused)
			}
			out[i] = o
		})
	}
	wg.Wait()
	return out
}

func (e *Env) sendTo(ctx context.Context, b *config.Backup, tname string, s *staged, obs planner.Observed, o *Outcome) error {
	id := s.manifest.Snapshot
	wrap := func(err error) error { return fmt.Errorf("snapshot %s of %s to %s: %w", id, b.Name, tname, err) }
	t, err := e.Target(ctx, tname)
	if err != nil {
		return wrap(err)
	}
	for _, sn := range obs.Snapshots {
		if sn.Backup != b.Name || sn.Target != tname || sn.ID != id {
			continue
		}
		if sn.Status == planner.StatusComplete {
			return wrap(errAlreadyExists)
		}
		// Leftovers under the same id (an apply killed within the same
		// second): clear them so no stale file joins the new snapshot.
		if err := t.DeleteSnapshot(ctx, b.Name, id); err != nil {
			return wrap(err)
		}
	}
	var pm *manifest.Manifest
	if prev := newestComplete(obs, b.Name, tname); prev != "" {
		if m := s.prev[tname]; m != nil && m.Snapshot == prev {
			pm = m // read while staging
		} else if m, err := t.ReadManifest(ctx, b.Name, prev); err != nil {
			e.hooks().Logf("warning: %s on %s: cannot read the manifest of %s, sending every file: %v", b.Name, tname, prev, err)
		} else {
			pm = m
		}
	}
	r, err := e.send(ctx, t, tname, s, pm)
	o.Uploaded, o.Reused, o.BytesUploaded = r.Uploaded, r.Reused, r.BytesUploaded
	if err != nil {
		// Best effort: the next apply removes what is left (no manifest).
		cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if derr := t.DeleteSnapshot(cleanCtx, b.Name, id); derr != nil {
			e.hooks().Logf("warning: could not remove the incomplete snapshot %s on %s: %v", id, tname, derr)
		}
		return wrap(err)
	}
	w := r.Manifest
	if err := e.Store.PutSnapshot(ctx, state.SnapshotRecord{
		Backup: b.Name, Target: tname, ID: id, CreatedAt: w.CreatedAt,
		Bytes: w.Bytes, Files: w.Files, Complete: true, RecordedAt: time.Now().UTC(),
		ManifestSHA256: w.SHA256, ManifestSize: w.Size, ManifestModTimeNs: unixNano(w.ModTime),
	}); err != nil {
		return wrap(fmt.Errorf("record in state: %w", err))
	}
	return nil
}

// newestComplete is the id of the newest complete snapshot of backup on
// target whose last verification did not fail: the one never pruned, and
// the base of the next incremental snapshot (a broken one would pass its
// damage on through hard links and server-side copies).
func newestComplete(obs planner.Observed, backup, tname string) string {
	var best planner.Snapshot
	for _, s := range obs.Snapshots {
		if s.Backup == backup && s.Target == tname && s.Status == planner.StatusComplete && !s.VerifyFailed &&
			(best.ID == "" || s.CreatedAt.After(best.CreatedAt)) {
			best = s
		}
	}
	return best.ID
}

// repair deletes an interrupted apply's leftovers or forgets a snapshot the
// target no longer holds.
func (e *Env) repair(ctx context.Context, a planner.Action) Outcome {
	o := Outcome{Action: a}
	switch a.Status {
	case planner.StatusIncomplete:
		t, err := e.Target(ctx, a.Target)
		if err == nil {
			err = t.DeleteSnapshot(ctx, a.Backup, a.Snapshot)
		}
		if err != nil {
			o.Err = fmt.Errorf("repair %s of %s on %s: %w", a.Snapshot, a.Backup, a.Target, err)
			return o
		}
		e.hooks().Logf("%s on %s: removed incomplete snapshot %s", a.Backup, a.Target, a.Snapshot)
	case planner.StatusMissing:
		if err := e.Store.DeleteSnapshot(ctx, a.Backup, a.Target, a.Snapshot); err != nil {
			o.Err = fmt.Errorf("repair %s of %s on %s: %w", a.Snapshot, a.Backup, a.Target, err)
			return o
		}
		e.hooks().Logf("%s on %s: forgot snapshot %s, which the target no longer holds", a.Backup, a.Target, a.Snapshot)
	default:
		o.Err = fmt.Errorf("repair %s of %s on %s: nothing to do for status %q", a.Snapshot, a.Backup, a.Target, a.Status)
	}
	return o
}
