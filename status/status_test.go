package status

import (
	"testing"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/state"
)

func policy(t *testing.T, src string) *config.Policy {
	t.Helper()
	p, diags := config.Decode("owui.hcl", []byte(src), config.DecodeOptions{DefaultLocation: time.UTC})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

const twoBackups = `
instance "main" {
  data_dir = "/opt/open-webui"
}
target "nas" {
  remote = "/mnt/nas"
}
backup "daily" {
  instance = instance.main
  to       = [target.nas]
  every    = "24h"
}
backup "nightly" {
  instance = instance.main
  to       = [target.nas]
  schedule = "0 3 * * *"
}
`

func TestCompute(t *testing.T) {
	p := policy(t, twoBackups)
	at := func(h int) time.Time { return time.Date(2026, 3, 1, h, 0, 0, 0, time.UTC) }
	snaps := []state.SnapshotRecord{
		{Backup: "daily", Target: "nas", ID: "a", CreatedAt: at(0), Bytes: 100, Complete: true},
		{Backup: "daily", Target: "nas", ID: "b", CreatedAt: at(1), Bytes: 50, Complete: true},
		{Backup: "daily", Target: "nas", ID: "c", CreatedAt: at(2), Bytes: 999, Complete: false},
		{Backup: "nightly", Target: "nas", ID: "n", CreatedAt: at(3), Bytes: 7, Complete: true},
	}
	last := map[[2]string]state.ActionRecord{{"daily", "nas"}: {Result: state.ActionError, Error: "boom"}}
	tests := map[string]struct {
		now                      time.Time
		dailyStale, nightlyStale bool
	}{
		"fresh":                     {now: at(5)},
		"daily overdue, not by 24h": {now: at(1).Add(47 * time.Hour)},
		"daily stale":               {now: at(1).Add(49 * time.Hour), dailyStale: true},
		"nightly stale too":         {now: at(3).Add(49 * time.Hour), dailyStale: true, nightlyStale: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rows := Compute(p, snaps, last, tc.now)
			if len(rows) != 2 {
				t.Fatalf("%d rows, want 2", len(rows))
			}
			d, n := rows[0], rows[1]
			if d.Newest == nil || d.Newest.ID != "b" || d.Snapshots != 2 || d.StoredBytes != 150 {
				t.Errorf("daily row = %+v", d)
			}
			if want := at(1).Add(24*time.Hour - 30*time.Minute); !d.NextDue.Equal(want) {
				t.Errorf("daily next due %s, want %s", d.NextDue, want)
			}
			if d.LastSnapshot == nil || d.LastSnapshot.Error != "boom" {
				t.Errorf("daily last snapshot = %+v", d.LastSnapshot)
			}
			if want := at(3).Add(24 * time.Hour); !n.NextDue.Equal(want) || n.Interval != 24*time.Hour {
				t.Errorf("nightly next due %s interval %s, want %s and 24h", n.NextDue, n.Interval, want)
			}
			if d.Stale != tc.dailyStale || n.Stale != tc.nightlyStale {
				t.Errorf("stale: daily %v nightly %v, want %v %v", d.Stale, n.Stale, tc.dailyStale, tc.nightlyStale)
			}
		})
	}
}

func TestNoSnapshotIsStaleAndDueNow(t *testing.T) {
	p := policy(t, twoBackups)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range Compute(p, nil, nil, now) {
		if !r.Stale || !r.NextDue.Equal(now) || r.Newest != nil {
			t.Errorf("%s on %s without snapshots: %+v", r.Backup, r.Target, r)
		}
	}
}
