package planner

import (
	"fmt"
	"time"
)

// snapshotIDLayout is the snapshot ID form of the remote layout contract:
// the UTC creation time to the second, with no colons so that it is a valid
// directory name on every backend.
const snapshotIDLayout = "2006-01-02T150405Z"

// SnapshotID returns the snapshot ID for a snapshot created at t, e.g.
// "2026-11-26T030000Z". Sub-second precision is dropped.
func SnapshotID(t time.Time) string {
	return t.UTC().Format(snapshotIDLayout)
}

// ParseSnapshotID returns the UTC time a snapshot ID names. It accepts only
// the canonical form SnapshotID produces.
func ParseSnapshotID(s string) (time.Time, error) {
	t, err := time.ParseInLocation(snapshotIDLayout, s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse snapshot id %q: %w", s, err)
	}
	if SnapshotID(t) != s {
		return time.Time{}, fmt.Errorf("parse snapshot id %q: not in canonical form %s", s, snapshotIDLayout)
	}
	return t, nil
}
