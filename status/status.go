// Package status computes, for every backup and target of a policy, where it
// stands: its newest complete snapshot and that snapshot's age (the recovery
// point at risk), when the next snapshot is due, whether it is overdue, what
// the last run did and how much the target stores. It is pure: callers pass
// state's records and the time.
package status

import (
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/state"
)

// Row is the status of one backup on one target.
type Row struct {
	Backup string
	Target string
	// Interval is the backup's every, or the schedule's period after the
	// newest snapshot (the gap between the next two slots).
	Interval time.Duration
	// Newest is the newest complete snapshot; nil when there is none.
	Newest *state.SnapshotRecord
	// NewestVerified is the newest complete snapshot whose last
	// verification passed, verified at VerifiedAt (ReadData: by reading the
	// data); nil when none has (see AddVerified).
	NewestVerified *state.SnapshotRecord
	VerifiedAt     time.Time
	ReadData       bool
	// NextDue is when the planner next finds a snapshot due (now when there
	// is no snapshot at all).
	NextDue time.Time
	// Deadline is when the next snapshot should exist: newest + every, or
	// the first schedule slot after the newest. Zero without a snapshot.
	Deadline time.Time
	// Stale is true when the snapshot is overdue by more than Interval (or
	// there is no complete snapshot at all): what status exits non-zero on.
	Stale bool
	// Snapshots and StoredBytes count the complete snapshots the target
	// holds for this backup, as state records them.
	Snapshots   int
	StoredBytes int64
	// LastSnapshot is the outcome of the last snapshot action on this pair;
	// nil when there has been none.
	LastSnapshot *state.ActionRecord
}

// Age is how old the newest complete snapshot is at now (zero without one).
func (r Row) Age(now time.Time) time.Duration {
	if r.Newest == nil {
		return 0
	}
	return now.Sub(r.Newest.CreatedAt)
}

// OverdueBy is how far now is past the deadline (zero when not overdue).
func (r Row) OverdueBy(now time.Time) time.Duration {
	if r.Deadline.IsZero() || !now.After(r.Deadline) {
		return 0
	}
	return now.Sub(r.Deadline)
}

// Compute returns a row per backup and target of p, in policy order.
// snaps are state's snapshot records; last is state's LastActions("snapshot").
func Compute(p *config.Policy, snaps []state.SnapshotRecord, last map[[2]string]state.ActionRecord, now time.Time) []Row {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	var rows []Row
	for _, b := range p.Backups {
		for _, t := range b.To {
			r := Row{Backup: b.Name, Target: t}
			for i := range snaps {
				s := &snaps[i]
				if s.Backup != b.Name || s.Target != t || !s.Complete {
					continue
				}
				r.Snapshots++
				r.StoredBytes += s.Bytes
				if r.Newest == nil || s.CreatedAt.After(r.Newest.CreatedAt) {
					r.Newest = s
				}
			}
			if a, ok := last[[2]string{b.Name, t}]; ok {
				r.LastSnapshot = &a
			}
			var newest time.Time
			if r.Newest != nil {
				newest = r.Newest.CreatedAt
			}
			r.NextDue = NextDue(b, newest, loc, now)
			r.Deadline, r.Interval = deadline(b, newest, loc)
			r.Stale = r.Newest == nil || (r.Interval > 0 && r.OverdueBy(now) > r.Interval)
			rows = append(rows, r)
		}
	}
	return rows
}

// NextDue is when the planner finds a snapshot of b due, given the creation
// time of its newest complete snapshot on a target (zero when there is
// none: then it is due at now). It mirrors planner.Make: every is due
// Grace(every) early; a schedule at its first slot after the newest.
func NextDue(b *config.Backup, newest time.Time, loc *time.Location, now time.Time) time.Time {
	switch {
	case newest.IsZero():
		return now
	case b.Every > 0:
		return newest.Add(b.Every - planner.Grace(b.Every))
	case b.Cron != nil:
		if next := b.Cron.Next(newest.In(loc)); !next.IsZero() {
			return next.UTC()
		}
	}
	return time.Time{}
}

// deadline returns when the next snapshot should exist and the interval it
// belongs to.
func deadline(b *config.Backup, newest time.Time, loc *time.Location) (time.Time, time.Duration) {
	switch {
	case b.Every > 0:
		if newest.IsZero() {
			return time.Time{}, b.Every
		}
		return newest.Add(b.Every), b.Every
	case b.Cron != nil:
		from := newest
		if from.IsZero() {
			from = time.Date(2024, 1, 1, 0, 0, 0, 0, loc)
		}
		slot := b.Cron.Next(from.In(loc))
		after := b.Cron.Next(slot)
		if slot.IsZero() || after.IsZero() {
			return time.Time{}, 0
		}
		if newest.IsZero() {
			return time.Time{}, after.Sub(slot)
		}
		return slot.UTC(), after.Sub(slot)
	}
	return time.Time{}, 0
}
