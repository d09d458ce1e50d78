package planner

import (
	"fmt"
	"slices"
	"time"

	"github.com/owui/owui/config"
)

// drill returns the verify action of backup b's verify block on target, when
// one is due: when no good snapshot of the pair has passed a verification
// (one that read the data, if the block asks for that) within the last
// every, less Grace(every) so a timer a little early still runs it. The
// snapshot verified is the newest good one, or the one this plan makes when
// a snapshot is due (an action without a snapshot id: the executor verifies
// what it made).
func drill(b *config.Backup, target string, good []Snapshot, newest Snapshot, haveNewest, isDue bool, now time.Time) (Action, bool) {
	v := b.Verify
	if v == nil || (!haveNewest && !isDue) {
		return Action{}, false
	}
	var last time.Time
	var lastID string
	for _, s := range good {
		at := s.VerifiedAt
		if v.ReadData {
			at = s.ReadDataVerifiedAt
		}
		if at.After(last) {
			last, lastID = at, s.ID
		}
	}
	if !last.IsZero() && now.Sub(last) < v.Every-Grace(v.Every) {
		return Action{}, false
	}
	kind := "listing check"
	if v.ReadData {
		kind = "read-data check"
	}
	why := fmt.Sprintf("verification drill (every %s, %s): no snapshot of %s on %s verified yet", FormatInterval(v.Every), kind, b.Name, target)
	if !last.IsZero() {
		why = fmt.Sprintf("verification drill (every %s, %s): last passed %s ago, on %s", FormatInterval(v.Every), kind, FormatAge(now.Sub(last)), lastID)
	}
	a := Action{Kind: KindVerify, Backup: b.Name, Target: target, ReadData: v.ReadData}
	if isDue {
		a.Reason = why + "; verifies the snapshot this plan makes, once it is made"
		return a, true
	}
	a.Snapshot, a.CreatedAt = newest.ID, newest.CreatedAt
	a.Reason = fmt.Sprintf("%s; verifies the newest good snapshot, %s old", why, FormatAge(now.Sub(newest.CreatedAt)))
	return a, true
}

// drifted reports whether actions already verify snapshot id (its manifest
// changed), so that a drill does not verify it twice.
func drifted(actions []Action, id string) bool {
	return id != "" && slices.ContainsFunc(actions, func(a Action) bool {
		return a.Kind == KindVerify && a.Snapshot == id
	})
}

// verifyState is where verification of the pair stands, for the plan's
// verification summary; nil when the backup has no verify block and no
// snapshot of the pair has been verified.
func verifyState(b *config.Backup, target string, complete []Snapshot) *VerifyState {
	vs := &VerifyState{Backup: b.Name, Target: target}
	seen := b.Verify != nil
	for _, s := range complete {
		if s.VerifyFailed {
			vs.Failed = append(vs.Failed, s.ID)
			seen = true
			continue
		}
		if s.VerifiedAt.IsZero() {
			continue
		}
		seen = true
		if vs.Newest == "" || s.CreatedAt.After(vs.CreatedAt) {
			vs.Newest, vs.CreatedAt = s.ID, s.CreatedAt
			vs.VerifiedAt, vs.ReadData = s.VerifiedAt, false
			if !s.ReadDataVerifiedAt.IsZero() {
				vs.VerifiedAt, vs.ReadData = s.ReadDataVerifiedAt, true
				if s.VerifiedAt.After(s.ReadDataVerifiedAt) {
					vs.VerifiedAt, vs.ReadData = s.VerifiedAt, false
				}
			}
		}
	}
	if !seen {
		return nil
	}
	slices.Sort(vs.Failed)
	return vs
}
