package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/internal/units"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/status"
)

// KindRefresh is the action kind of a failed outcome for a target that
// could not be listed, so the run went on without it (not a planner kind:
// it is what the CLI records when it isolates a broken target).
const KindRefresh planner.Kind = "refresh"

// Run is what one apply came to, as the events are built from it.
type Run struct {
	Host string
	// Ended is when the run ended.
	Ended time.Time
	// Outcomes are the actions the apply carried out (none when it failed
	// before applying).
	Outcomes []executor.Outcome
	// Err is the run's error; when no outcome failed it is a failure outside
	// any action (reading the policy or state, refreshing the targets).
	Err error
	// Status is every backup and target after the run, for stale events;
	// nil when it could not be read.
	Status []status.Row
}

// Events returns the events of r, in the order failure, verify_failed,
// drift, stale, success; each only when it has something to say. A verify
// action that found problems is a verify_failed item, not a failure (one
// that could not run at all, such as an unreachable target, is a failure).
func Events(r Run) []Event {
	var failure, verifyFailed, drift, stale, success []Item
	for _, o := range r.Outcomes {
		a := o.Action
		if a.Kind == planner.KindRepair {
			drift = append(drift, driftItem(o))
		}
		if a.Kind == planner.KindVerify && a.Reason == planner.ReasonManifestChanged {
			drift = append(drift, Item{Backup: a.Backup, Target: a.Target, Snapshot: a.Snapshot,
				What: "the snapshot's manifest changed on the target since owui recorded it",
				Todo: fmt.Sprintf("Find out who or what writes to target %q; owui re-verified the snapshot (see verify_failed if it failed).", a.Target)})
		}
		switch {
		case o.Err != nil && a.Kind == planner.KindVerify && len(o.Problems) > 0:
			verifyFailed = append(verifyFailed, verifyFailedItem(o))
		case o.Err != nil:
			failure = append(failure, failureItem(o))
		case o.Skipped == "" && a.Kind == planner.KindSnapshot:
			success = append(success, Item{Backup: a.Backup, Target: a.Target, Snapshot: o.Snapshot,
				What: fmt.Sprintf("snapshot complete: %d files, %s uploaded, %d re-used", o.Files, units.Bytes(o.BytesUploaded), o.Reused)})
		case o.Skipped == "" && a.Kind == planner.KindPrune:
			success = append(success, Item{Backup: a.Backup, Target: a.Target, Snapshot: a.Snapshot, What: "pruned: " + a.Reason})
		}
	}
	if r.Err != nil && len(failure) == 0 && len(verifyFailed) == 0 {
		failure = append(failure, Item{
			What:  "the run failed before it could back anything up",
			Error: trimError(r.Err.Error()),
			Todo:  "Fix the cause above (the policy, the state directory, or a target that cannot be listed), check with `owui plan`, then run `owui apply` or wait for the next scheduled run.",
		})
	}
	for _, row := range r.Status {
		if row.Stale {
			stale = append(stale, staleItem(row, r.Ended))
		}
	}
	var out []Event
	add := func(kind string, items []Item) {
		if len(items) > 0 {
			out = append(out, Event{Kind: kind, Host: r.Host, Time: r.Ended, Items: items})
		}
	}
	add(config.NotifyOnFailure, failure)
	add(config.NotifyOnVerifyFailed, verifyFailed)
	add(config.NotifyOnDrift, drift)
	add(config.NotifyOnStale, stale)
	if len(failure) == 0 && len(verifyFailed) == 0 && r.Err == nil {
		add(config.NotifyOnSuccess, success)
	}
	return out
}

func failureItem(o executor.Outcome) Item {
	a := o.Action
	it := Item{Backup: a.Backup, Target: a.Target, Error: trimError(o.Err.Error())}
	switch a.Kind {
	case planner.KindSnapshot:
		it.Snapshot = o.Snapshot
		it.What = "snapshot failed; the previous snapshots are untouched and nothing was pruned"
		it.Todo = fmt.Sprintf("Check that target %q is reachable, writable and has space, and that the data directory is readable; then run `owui apply` (or wait for the next scheduled run). `owui status` shows how old the newest good snapshot is.", a.Target)
	case planner.KindPrune:
		it.Snapshot = a.Snapshot
		it.What = "prune failed; the snapshot is kept"
		it.Todo = fmt.Sprintf("Nothing is lost. Check target %q and run `owui apply` to prune again.", a.Target)
	case planner.KindRepair:
		it.Snapshot = a.Snapshot
		it.What = "cleaning up after an interrupted run failed"
		it.Todo = fmt.Sprintf("Check target %q; the next `owui apply` tries again. `owui refresh` rebuilds the state from the target.", a.Target)
	case KindRefresh:
		it.What = "owui could not reach the target, so nothing was backed up to it in this run (other targets went ahead)"
		it.Todo = fmt.Sprintf("Check that target %q is reachable and its credentials and mount are in place; then run `owui apply` (or wait for the next scheduled run). `owui status` shows how old the newest good snapshot is.", a.Target)
	default:
		it.What = string(a.Kind) + " failed"
		it.Todo = "Run `owui plan` to see what is pending, then `owui apply`."
	}
	return it
}

func driftItem(o executor.Outcome) Item {
	a := o.Action
	it := Item{Backup: a.Backup, Target: a.Target, Snapshot: a.Snapshot}
	switch a.Status {
	case planner.StatusMissing:
		it.What = "a snapshot recorded in state is gone from the target"
		it.Todo = fmt.Sprintf("Find out what deletes from target %q (a lifecycle rule, a person, a full disk?); owui forgot the snapshot and will make new ones as the policy says.", a.Target)
	default:
		it.What = "leftovers of an interrupted run were found (no manifest)"
		it.Todo = "None if owui was killed or the machine went down during a backup; owui removes them. If it keeps happening, check the logs of the scheduled runs."
	}
	return it
}

func staleItem(row status.Row, now time.Time) Item {
	it := Item{Backup: row.Backup, Target: row.Target}
	if row.Newest == nil {
		it.What = "there is no complete snapshot at all"
	} else {
		it.Snapshot = row.Newest.ID
		it.What = fmt.Sprintf("the newest complete snapshot is %s old, overdue by %s (interval %s)",
			planner.FormatAge(row.Age(now)), planner.FormatAge(row.OverdueBy(now)), planner.FormatInterval(row.Interval))
	}
	if row.LastSnapshot != nil && row.LastSnapshot.Error != "" {
		it.Error = "last attempt: " + trimError(row.LastSnapshot.Error)
	}
	it.Todo = "Check that the schedule runs (`systemctl list-timers owui-apply.timer`, or `journalctl -u owui-apply`) and what `owui status` and `owui apply` say."
	return it
}

func verifyFailedItem(o executor.Outcome) Item {
	a := o.Action
	id := a.Snapshot
	if id == "" {
		id = o.Snapshot
	}
	problems := o.Problems
	more := ""
	if len(problems) > 5 {
		problems, more = problems[:5], fmt.Sprintf(" (and %d more)", len(o.Problems)-5)
	}
	return Item{
		Backup: a.Backup, Target: a.Target, Snapshot: id,
		What:  fmt.Sprintf("the snapshot failed verification: %d problems; it is kept but no longer counts as the newest good snapshot", len(o.Problems)),
		Error: trimError(strings.Join(problems, "; ") + more),
		Todo:  fmt.Sprintf("Run `owui verify %s --target %s --read-data` to see every problem, check target %q for damage, and let `owui apply` make a new snapshot (it is due at once when the newest one is broken).", a.Backup, a.Target, a.Target),
	}
}
