package planner

import (
	"fmt"
	"testing"
	"time"

	"github.com/owui/owui/config"
)

// Benchmarks of the planner on a state with 10,000 snapshots: what every
// `owui plan` and every apply pays before doing anything. Figures are in
// bench/RESULTS.md ("Go benchmarks").

const benchSnapshots = 10000

// benchNewest is the newest snapshot's time in every benchmark.
var benchNewest = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)

// hourlySnapshots returns n complete snapshots of backup on target, one an
// hour, the newest at benchNewest, oldest first.
func hourlySnapshots(backup, target string, n int) []Snapshot {
	out := make([]Snapshot, n)
	for i := range n {
		t := benchNewest.Add(-time.Duration(n-1-i) * time.Hour)
		out[i] = Snapshot{Backup: backup, Target: target, ID: SnapshotID(t), CreatedAt: t, Status: StatusComplete}
	}
	return out
}

// benchPolicy is an hourly backup of one instance to two targets, the
// shape of the guide's policy with a shorter interval.
func benchPolicy(keep *config.Keep) *config.Policy {
	return &config.Policy{
		Filename:  "owui.hcl",
		Location:  time.UTC,
		Instances: []*config.Instance{{Name: "main", DataDir: "/opt/open-webui"}},
		Targets: []*config.Target{
			{Name: "b2", Remote: "b2:OpenWebUI-backups"},
			{Name: "nas", Remote: "/mnt/nas/open-webui"},
		},
		Backups: []*config.Backup{{
			Name: "hourly", Instance: "main", To: []string{"b2", "nas"}, Every: time.Hour,
			Exclude: []string{"cache/**"}, Consistency: config.ConsistencyOnline, Keep: keep,
		}},
	}
}

// BenchmarkMake plans with 10,000 complete snapshots observed (5,000 a
// target), 30 minutes after the newest, so no snapshot is due:
//   - keep-all: retention keeps every snapshot (keep last = 10,000): the
//     no-change plan, nothing to do;
//   - prune: keep hourly 24, daily 7, weekly 4, monthly 12: the plan
//     prunes all but a few dozen a target.
func BenchmarkMake(b *testing.B) {
	obs := Observed{Snapshots: append(
		hourlySnapshots("hourly", "b2", benchSnapshots/2),
		hourlySnapshots("hourly", "nas", benchSnapshots/2)...)}
	now := benchNewest.Add(30 * time.Minute)
	cases := []struct {
		name       string
		keep       *config.Keep
		wantPrunes bool
	}{
		{"keep-all", &config.Keep{Last: benchSnapshots}, false},
		{"prune", &config.Keep{Hourly: 24, Daily: 7, Weekly: 4, Monthly: 12}, true},
	}
	for _, c := range cases {
		p := benchPolicy(c.keep)
		b.Run(fmt.Sprintf("snapshots=%d/%s", benchSnapshots, c.name), func(b *testing.B) {
			pl := Make(p, obs, now)
			if got := len(pl.Actions) > 0; got != c.wantPrunes {
				b.Fatalf("%d actions, want prunes: %v", len(pl.Actions), c.wantPrunes)
			}
			for _, a := range pl.Actions {
				if a.Kind != KindPrune {
					b.Fatalf("unexpected %s action: %s", a.Kind, a.Reason)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				pl = Make(p, obs, now)
			}
			b.ReportMetric(float64(len(pl.Actions)), "actions")
		})
	}
}

// BenchmarkRetain applies retention to 10,000 hourly snapshots of one
// backup on one target.
func BenchmarkRetain(b *testing.B) {
	snaps := hourlySnapshots("hourly", "nas", benchSnapshots)
	cases := []struct {
		name string
		keep *config.Keep
	}{
		{"guide", &config.Keep{Daily: 7, Weekly: 4, Monthly: 6}},
		{"every-rule", &config.Keep{Last: 10, Hourly: 48, Daily: 14, Weekly: 8, Monthly: 12, Yearly: 3,
			Within: config.Within{Months: 1}}},
		{"keep-all", &config.Keep{Last: benchSnapshots}},
	}
	for _, c := range cases {
		b.Run(fmt.Sprintf("snapshots=%d/%s", benchSnapshots, c.name), func(b *testing.B) {
			kept, removed := Retain(snaps, c.keep, time.UTC)
			if len(kept)+len(removed) != len(snaps) {
				b.Fatalf("kept %d + removed %d != %d", len(kept), len(removed), len(snaps))
			}
			b.ReportAllocs()
			for b.Loop() {
				kept, _ = Retain(snaps, c.keep, time.UTC)
			}
			b.ReportMetric(float64(len(kept)), "kept")
		})
	}
}
