package planner

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/owui/owui/config"
)

// drilled is the daily backup with a weekly read-data verification drill.
func drilled(to ...string) *config.Backup {
	b := dailyBackup(to...)
	b.Verify = &config.Verify{Every: 168 * time.Hour, ReadData: true}
	return b
}

// verifiedAt marks every snapshot of g as verified at the given time
// (reading the data when readData).
func verifiedAt(g []Snapshot, ts string, readData bool) []Snapshot {
	for i := range g {
		g[i].VerifiedAt = at(ts)
		if readData {
			g[i].ReadDataVerifiedAt = at(ts)
		}
	}
	return g
}

func failed(g []Snapshot) []Snapshot {
	for i := range g {
		g[i].VerifyFailed = true
	}
	return g
}

func drift(g []Snapshot, d Drift) []Snapshot {
	for i := range g {
		g[i].Drift = d
	}
	return g
}

func init() {
	for name, tc := range map[string]planCase{
		// Nothing verified yet and no snapshot due: verify the newest.
		"drill-due-verifies-newest": {
			policy: policy(time.UTC, drilled("b2")),
			obs:    observed(on("daily", "b2", StatusComplete, "2026-11-24T07:00:00Z", "2026-11-25T07:00:00Z")),
			now:    "2026-11-26T03:00:00Z",
		},
		// A read-data check two days ago counts (even of an older
		// snapshot); a listing check yesterday would not for read_data.
		"drill-not-due-recently-verified": {
			policy: policy(time.UTC, drilled("b2")),
			obs: observed(
				verifiedAt(on("daily", "b2", StatusComplete, "2026-11-23T07:00:00Z"), "2026-11-24T03:00:00Z", true),
				verifiedAt(on("daily", "b2", StatusComplete, "2026-11-25T07:00:00Z"), "2026-11-25T08:00:00Z", false),
			),
			now: "2026-11-26T03:00:00Z",
		},
		// A snapshot is due as well: the drill verifies the new one.
		"drill-due-with-snapshot-due": {
			policy: policy(time.UTC, drilled("b2")),
			obs: observed(
				verifiedAt(on("daily", "b2", StatusComplete, "2026-11-18T03:00:00Z"), "2026-11-18T04:00:00Z", true),
				on("daily", "b2", StatusComplete, "2026-11-25T03:00:00Z"),
			),
			now: "2026-11-26T03:00:00Z",
		},
		// The newest snapshot failed verification: it does not count, so
		// a new snapshot is due at once after the good one's age.
		"failed-newest-makes-snapshot-due": {
			policy: policy(time.UTC, drilled("b2")),
			obs: observed(
				verifiedAt(on("daily", "b2", StatusComplete, "2026-11-24T03:00:00Z"), "2026-11-24T04:00:00Z", true),
				failed(on("daily", "b2", StatusComplete, "2026-11-25T03:00:00Z")),
			),
			now: "2026-11-26T02:00:00Z",
		},
		// keep { last = 1 } keeps the broken newest snapshot; the good one
		// before it is the newest good one and is not pruned.
		"failed-newest-never-leaves-only-broken": {
			policy: policy(time.UTC, &config.Backup{
				Name: "weekly-cold", Instance: "main", To: []string{"nas"}, Every: 168 * time.Hour,
				Keep: &config.Keep{Last: 1},
			}),
			obs: observed(
				on("weekly-cold", "nas", StatusComplete, "2026-11-23T03:00:00Z"),
				failed(on("weekly-cold", "nas", StatusComplete, "2026-11-25T03:00:00Z")),
			),
			now: "2026-11-26T03:00:00Z",
		},
		"drift-changed-and-added": {
			policy: policy(time.UTC, dailyBackup("b2")),
			obs: observed(
				drift(on("daily", "b2", StatusComplete, "2026-11-24T03:00:00Z"), DriftChanged),
				drift(on("daily", "b2", StatusComplete, "2026-11-25T03:00:00Z"), DriftAdded),
				on("daily", "b2", StatusMissing, "2026-11-23T03:00:00Z"),
			),
			now: "2026-11-25T12:00:00Z",
		},
	} {
		planCases[name] = tc
	}
}

// TestFailedVerificationRetention checks the safety rule with broken
// snapshots: whatever retention says, a plan that makes no new snapshot
// never prunes the newest good one, and never leaves only broken ones.
func TestFailedVerificationRetention(t *testing.T) {
	keepLast1 := func() *config.Backup {
		return &config.Backup{Name: "daily", Instance: "main", To: []string{"b2"}, Every: 24 * time.Hour, Keep: &config.Keep{Last: 1}}
	}
	tests := map[string]struct {
		obs        Observed
		now        string
		wantPruned []string
		wantDue    bool
	}{
		"broken newest, good older and young": {
			obs: observed(
				on("daily", "b2", StatusComplete, "2026-11-25T20:00:00Z"),
				failed(on("daily", "b2", StatusComplete, "2026-11-26T02:00:00Z")),
			),
			now: "2026-11-26T03:00:00Z",
		},
		"every snapshot broken: a new one is due, prunes follow it": {
			obs: observed(
				failed(on("daily", "b2", StatusComplete, "2026-11-25T20:00:00Z", "2026-11-26T02:00:00Z")),
			),
			now:        "2026-11-26T03:00:00Z",
			wantDue:    true,
			wantPruned: []string{"2026-11-25T200000Z", "2026-11-26T020000Z"},
		},
		"broken snapshots between good ones": {
			obs: observed(
				on("daily", "b2", StatusComplete, "2026-11-24T03:00:00Z"),
				failed(on("daily", "b2", StatusComplete, "2026-11-25T03:00:00Z")),
				on("daily", "b2", StatusComplete, "2026-11-25T20:00:00Z"),
				failed(on("daily", "b2", StatusComplete, "2026-11-26T02:00:00Z")),
			),
			now:        "2026-11-26T03:00:00Z",
			wantPruned: []string{"2026-11-24T030000Z", "2026-11-25T030000Z"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := Make(policy(time.UTC, keepLast1()), tc.obs, at(tc.now))
			var pruned []string
			due := false
			for _, a := range p.Actions {
				switch a.Kind {
				case KindPrune:
					pruned = append(pruned, a.Snapshot)
				case KindSnapshot:
					due = true
				}
			}
			if due != tc.wantDue {
				t.Errorf("snapshot due = %v, want %v", due, tc.wantDue)
			}
			if diff := cmp.Diff(tc.wantPruned, pruned); diff != "" {
				t.Errorf("pruned (-want +got):\n%s", diff)
			}
			if !due {
				// What is left must hold a good snapshot.
				left := 0
				for _, s := range tc.obs.Snapshots {
					if !s.VerifyFailed && !contains(pruned, s.ID) {
						left++
					}
				}
				if left == 0 {
					t.Errorf("the plan leaves only broken snapshots")
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
