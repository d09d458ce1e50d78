package planner

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/owui/owui/config"
)

// Repair reasons, one per observed status that needs a repair.
const (
	ReasonIncomplete = "delete leftovers of an interrupted apply (no manifest)"
	ReasonMissing    = "state records it complete but the target has no manifest: forget it"
	// ReasonManifestChanged is the reason of the verify action a drifted
	// manifest gets.
	ReasonManifestChanged = "manifest changed on the target since owui recorded it: re-verify, reading the data"
	// NoteAdopted is the note on a snapshot found on the target that state
	// did not record.
	NoteAdopted = "found on the target but not in state (made outside owui, or by another state directory): adopted"
)

// MaxGrace caps how early an `every` snapshot may come due; see Grace.
const MaxGrace = 30 * time.Minute

// Grace is how much younger than `every` the newest complete snapshot may be
// while a new one is already due: every/10, at most MaxGrace. Without it a
// timer that fires a few seconds before the newest snapshot is a full period
// old would find nothing due, and the backup would skip a whole period.
func Grace(every time.Duration) time.Duration {
	return min(every/10, MaxGrace)
}

// Make returns what an apply at now does to make the targets match the
// policy, given the observed snapshots. For every backup and each of its
// targets it plans:
//
//   - a repair for each incomplete snapshot (leftovers of an interrupted
//     apply) and each missing one (in state, gone from the target);
//   - a snapshot when one is due (see due);
//   - a prune for each complete snapshot retention does not keep, counting
//     the snapshot this plan creates, so that a plan made right after the
//     apply has nothing to do. The newest complete snapshot is pruned only
//     when a new one is due (the executor also runs prunes only after that
//     new snapshot succeeded).
//
// Snapshots of backups or targets the policy no longer names are left alone.
// Actions are sorted by address: backup name, target in policy order, kind
// (repair, snapshot, prune), then snapshot ID. Make is pure: now is the only
// clock it reads.
func Make(p *config.Policy, obs Observed, now time.Time) Plan {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	type key struct{ backup, target string }
	byTarget := map[key][]Snapshot{}
	for _, s := range obs.Snapshots {
		k := key{s.Backup, s.Target}
		byTarget[k] = append(byTarget[k], s)
	}

	out := Plan{Now: now}
	order := map[key]int{} // target's position in its backup's `to`
	for _, b := range p.Backups {
		for i, t := range b.To {
			k := key{b.Name, t}
			if _, dup := order[k]; dup {
				continue
			}
			order[k] = i
			var win *Window
			if w, ok := obs.Windows[b.Name]; ok {
				win = &w
			}
			pt := planTarget(b, t, byTarget[k], win, loc, now)
			out.Actions = append(out.Actions, pt.actions...)
			out.Kept = append(out.Kept, pt.kept...)
			out.Notes = append(out.Notes, pt.notes...)
			if pt.verify != nil {
				out.Verification = append(out.Verification, *pt.verify)
			}
		}
	}

	slices.SortStableFunc(out.Actions, func(a, b Action) int {
		return cmp.Or(
			cmp.Compare(a.Backup, b.Backup),
			cmp.Compare(order[key{a.Backup, a.Target}], order[key{b.Backup, b.Target}]),
			cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)),
			cmp.Compare(a.Snapshot, b.Snapshot),
		)
	})
	slices.SortStableFunc(out.Kept, func(a, b Kept) int {
		return cmp.Or(
			cmp.Compare(a.Backup, b.Backup),
			cmp.Compare(order[key{a.Backup, a.Target}], order[key{b.Backup, b.Target}]),
		)
	})
	return out
}

// kindOrder is the order of actions on one backup and target: clean up
// first, then snapshot, then verify (the new snapshot too), then prune what
// the new snapshot replaces.
func kindOrder(k Kind) int {
	switch k {
	case KindRepair:
		return 0
	case KindSnapshot:
		return 1
	case KindVerify:
		return 2
	case KindPrune:
		return 3
	default:
		return 4
	}
}

// targetPlan is what planTarget decides for one backup on one target.
type targetPlan struct {
	actions []Action
	kept    []Kept
	notes   []Note
	verify  *VerifyState
}

// planTarget plans one backup on one target. Snapshots whose last
// verification failed stay candidates for retention but do not count as the
// newest complete one: a new snapshot comes due as if they did not exist,
// and the newest good snapshot is the one never pruned.
func planTarget(b *config.Backup, target string, snaps []Snapshot, win *Window, loc *time.Location, now time.Time) targetPlan {
	var out targetPlan
	var complete, good []Snapshot
	for _, s := range snaps {
		switch s.Status {
		case StatusComplete:
			complete = append(complete, s)
			if !s.VerifyFailed {
				good = append(good, s)
			}
			switch s.Drift {
			case DriftChanged:
				out.actions = append(out.actions, Action{
					Kind: KindVerify, Backup: s.Backup, Target: s.Target, Snapshot: s.ID, CreatedAt: s.CreatedAt,
					ReadData: true, Reason: ReasonManifestChanged,
				})
			case DriftAdded:
				out.notes = append(out.notes, Note{Backup: s.Backup, Target: s.Target, Snapshot: s.ID, Text: NoteAdopted})
			}
		case StatusIncomplete:
			out.actions = append(out.actions, repairAction(s, ReasonIncomplete))
		case StatusMissing:
			out.actions = append(out.actions, repairAction(s, ReasonMissing))
		}
	}

	newest, haveNewest := newestOf(good)
	isDue, why := due(b, target, newest, haveNewest, loc, now)
	if isDue {
		if broken, ok := newestOf(complete); ok && broken.VerifyFailed {
			why = fmt.Sprintf("snapshot %s failed verification and does not count; %s", broken.ID, why)
		}
	}
	candidates := complete
	if isDue {
		out.actions = append(out.actions, Action{Kind: KindSnapshot, Backup: b.Name, Target: target, Reason: why + "; " + WindowReason(b.Consistency, win)})
		created := now.UTC().Truncate(time.Second)
		candidates = append(slices.Clip(complete), Snapshot{
			Backup: b.Name, Target: target, ID: SnapshotID(created), CreatedAt: created, Status: StatusComplete,
		})
	}
	if a, ok := drill(b, target, good, newest, haveNewest, isDue, now); ok && !drifted(out.actions, a.Snapshot) {
		out.actions = append(out.actions, a)
	}
	out.verify = verifyState(b, target, complete)

	kept, removed := Retain(candidates, b.Keep, loc)
	planned := ""
	if isDue {
		planned = candidates[len(candidates)-1].ID
	}
	for i := range kept {
		kept[i].Planned = isDue && kept[i].Snapshot == planned
	}
	out.kept = kept
	for _, s := range removed {
		if isDue && s.ID == planned {
			// Only possible when an existing snapshot is dated after now
			// (clock skew): there is nothing to prune yet.
			continue
		}
		// Safety rule 3: the newest good complete snapshot stays unless this
		// plan makes a newer one.
		if !isDue && haveNewest && s.ID == newest.ID {
			out.kept = append(out.kept, Kept{Backup: b.Name, Target: target, Snapshot: s.ID, CreatedAt: s.CreatedAt,
				Reasons: []string{"newest good snapshot (newer ones failed verification)"}})
			continue
		}
		out.actions = append(out.actions, Action{
			Kind: KindPrune, Backup: b.Name, Target: target,
			Snapshot: s.ID, CreatedAt: s.CreatedAt, Status: s.Status,
			Reason: "not kept by " + FormatKeep(b.Keep),
		})
	}
	return out
}

func repairAction(s Snapshot, reason string) Action {
	return Action{
		Kind: KindRepair, Backup: s.Backup, Target: s.Target,
		Snapshot: s.ID, CreatedAt: s.CreatedAt, Status: s.Status, Reason: reason,
	}
}

// CaptureReason says how a snapshot of a backup with the given consistency
// mode is captured; it ends the reason of every snapshot action.
func CaptureReason(consistency string) string {
	switch consistency {
	case config.ConsistencyPause:
		return "capture paused: the container is paused only while files are copied locally, not during the upload"
	case config.ConsistencyStop:
		return "capture stopped: the container is stopped only while files are copied locally, not during the upload"
	default:
		return "capture online: SQLite files copied in one read transaction each, vector_db/ copied whole and re-tried if it changes during the copy"
	}
}

// newestOf returns the newest snapshot, by the same order Retain uses.
func newestOf(snaps []Snapshot) (Snapshot, bool) {
	if len(snaps) == 0 {
		return Snapshot{}, false
	}
	list := slices.Clone(snaps)
	sortNewestFirst(list)
	return list[0], true
}

// due reports whether backup b needs a new snapshot on target at now, and
// why, as a full sentence with the figures:
//
//   - no complete snapshot yet: due;
//   - every: due when the newest complete snapshot is at least
//     every - Grace(every) old;
//   - schedule: due when the first schedule slot after the newest complete
//     snapshot (in the policy's time zone) is not after now. Cron and
//     systemd timers fire at or after a slot, never before, so schedules
//     need no grace.
//
// A backup with neither (the config decoder rejects that) is due only when
// it has no complete snapshot.
func due(b *config.Backup, target string, newest Snapshot, haveNewest bool, loc *time.Location, now time.Time) (bool, string) {
	if !haveNewest {
		return true, fmt.Sprintf("no complete snapshot of %s on %s yet", b.Name, target)
	}
	switch {
	case b.Every > 0:
		age := now.Sub(newest.CreatedAt)
		if age < b.Every-Grace(b.Every) {
			return false, ""
		}
		why := fmt.Sprintf("newest complete snapshot %s is %s old (every %s", newest.ID, FormatAge(age), FormatInterval(b.Every))
		if age < b.Every {
			why += fmt.Sprintf(", due up to %s early", FormatInterval(Grace(b.Every)))
		}
		return true, why + ")"
	case b.Cron != nil:
		slot := b.Cron.Next(newest.CreatedAt.In(loc))
		if slot.IsZero() || slot.After(now) {
			return false, ""
		}
		return true, fmt.Sprintf("schedule %q slot %s, the first after newest complete snapshot %s, has passed",
			b.Schedule, slot.In(loc).Format(time.RFC3339), newest.ID)
	}
	return false, ""
}

// FormatAge renders an age in hours and minutes, e.g. "25h0m" or "45m";
// ages under a minute are rendered in seconds.
func FormatAge(d time.Duration) string {
	if d < 0 {
		return "-" + FormatAge(-d)
	}
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if h == 0 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

// FormatInterval renders a duration without zero parts, e.g. "24h", "1h30m"
// or "90s".
func FormatInterval(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var sb strings.Builder
	if d < 0 {
		sb.WriteByte('-')
		d = -d
	}
	h, m := d/time.Hour, d%time.Hour/time.Minute
	s := d % time.Minute
	if h > 0 {
		fmt.Fprintf(&sb, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&sb, "%dm", m)
	}
	if s > 0 {
		sb.WriteString(s.String())
	}
	return sb.String()
}

// FormatKeep renders a keep policy as its HCL block, on one line, e.g.
// `keep { daily = 7, weekly = 4 }`. Unlimited counts are rendered as -1,
// the value config.Keep holds for them.
func FormatKeep(k *config.Keep) string {
	if keepEmpty(k) {
		return "keep {}"
	}
	var parts []string
	for _, r := range []struct {
		name string
		n    int
	}{
		{"last", k.Last}, {"hourly", k.Hourly}, {"daily", k.Daily},
		{"weekly", k.Weekly}, {"monthly", k.Monthly}, {"yearly", k.Yearly},
	} {
		if r.n != 0 {
			parts = append(parts, fmt.Sprintf("%s = %d", r.name, r.n))
		}
	}
	if !withinZero(k.Within) {
		parts = append(parts, fmt.Sprintf("within = %q", FormatWithin(k.Within)))
	}
	return "keep { " + strings.Join(parts, ", ") + " }"
}
