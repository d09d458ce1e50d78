package executor

import (
	"context"
	"errors"
	"fmt"

	"github.com/owui/owui/planner"
)

// Errors that refuse a prune. They guard DESIGN.md's safety rule 3 in code,
// whatever the plan says.
var (
	errPruneNewest     = errors.New("refusing to prune the newest complete snapshot")
	errPruneIncomplete = errors.New("refusing to prune a snapshot that is not known complete")
)

// prune deletes one snapshot the plan's retention removes. made and failed
// say, per target, what this run's new snapshot of the backup came to.
func (e *Env) prune(ctx context.Context, a planner.Action, obs planner.Observed, made map[string]string, failed map[string]bool) Outcome {
	o := Outcome{Action: a}
	if failed[a.Target] {
		o.Skipped = "this run's new snapshot on the target failed"
		e.hooks().Logf("%s on %s: not pruning %s: %s", a.Backup, a.Target, a.Snapshot, o.Skipped)
		return o
	}
	if err := checkPrunable(a, obs, made[a.Target]); err != nil {
		o.Err = fmt.Errorf("prune %s of %s on %s: %w", a.Snapshot, a.Backup, a.Target, err)
		return o
	}
	t, err := e.Target(ctx, a.Target)
	if err == nil {
		err = t.DeleteSnapshot(ctx, a.Backup, a.Snapshot)
	}
	if err == nil {
		err = e.Store.DeleteSnapshot(ctx, a.Backup, a.Target, a.Snapshot)
	}
	if err != nil {
		o.Err = fmt.Errorf("prune %s of %s on %s: %w", a.Snapshot, a.Backup, a.Target, err)
		return o
	}
	e.hooks().Logf("%s on %s: pruned %s (%s)", a.Backup, a.Target, a.Snapshot, a.Reason)
	return o
}

// checkPrunable refuses to prune a snapshot that is not observed complete,
// or that is the newest complete one of its backup on its target once this
// run's new snapshot (madeID, if any) is counted.
func checkPrunable(a planner.Action, obs planner.Observed, madeID string) error {
	var found bool
	newest := newestComplete(obs, a.Backup, a.Target)
	for _, s := range obs.Snapshots {
		if s.Backup == a.Backup && s.Target == a.Target && s.ID == a.Snapshot {
			found = s.Status == planner.StatusComplete
		}
	}
	if !found {
		return errPruneIncomplete
	}
	if madeID != "" && madeID > newest {
		newest = madeID
	}
	if a.Snapshot == newest {
		return errPruneNewest
	}
	return nil
}
