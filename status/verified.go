package status

import (
	"time"

	"github.com/owui/owui/state"
)

// VerifiedAge is how old the newest verified snapshot is at now: the newest
// recovery point known to restore (zero without one).
func (r Row) VerifiedAge(now time.Time) time.Duration {
	if r.NewestVerified == nil {
		return 0
	}
	return now.Sub(r.NewestVerified.CreatedAt)
}

// AddVerified fills in each row's newest verified snapshot from state's
// snapshot records and verifications (oldest first, as
// state.Verifications returns them). A snapshot counts when its last
// verification of its current manifest passed.
func AddVerified(rows []Row, snaps []state.SnapshotRecord, vers []state.VerificationRecord) {
	type key struct{ backup, target, id string }
	type last struct {
		ok       bool
		at       time.Time
		readData bool
	}
	byKey := map[key]int{}
	for i, s := range snaps {
		if s.Complete {
			byKey[key{s.Backup, s.Target, s.ID}] = i
		}
	}
	latest := map[int]last{}
	for _, v := range vers {
		i, ok := byKey[key{v.Backup, v.Target, v.Snapshot}]
		if !ok {
			continue
		}
		if sum := snaps[i].ManifestSHA256; v.ManifestSHA256 != "" && sum != "" && v.ManifestSHA256 != sum {
			continue
		}
		latest[i] = last{ok: v.OK, at: v.VerifiedAt, readData: v.ReadData}
	}
	for r := range rows {
		row := &rows[r]
		for i, l := range latest {
			s := &snaps[i]
			if !l.ok || s.Backup != row.Backup || s.Target != row.Target {
				continue
			}
			if row.NewestVerified == nil || s.CreatedAt.After(row.NewestVerified.CreatedAt) {
				row.NewestVerified, row.VerifiedAt, row.ReadData = s, l.at, l.readData
			}
		}
	}
}
