package planner

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/owui/owui/config"
)

func TestWindowReason(t *testing.T) {
	for name, tc := range map[string]struct {
		consistency string
		win         *Window
		want        string
	}{
		"online ignores a window": {
			config.ConsistencyOnline, &Window{Held: []string{"x"}},
			CaptureReason(config.ConsistencyOnline),
		},
		"pause without a measurement": {
			config.ConsistencyPause, nil,
			CaptureReason(config.ConsistencyPause),
		},
		"pause, small": {
			config.ConsistencyPause, &Window{Held: []string{"open-webui"}, Files: 4, Bytes: 3 << 20},
			"capture paused: container open-webui paused for about 1s or less, while 4 files (3.0 MiB) are copied locally (at an assumed 200 MB/s), not during the upload",
		},
		"stop, a project": {
			config.ConsistencyStop, &Window{Held: []string{"open-webui", "worker"}, Idle: []string{"cron"}, Files: 40, Bytes: 2_000_000_000},
			"capture stopped: containers open-webui and worker stopped for about 10s plus the time to stop and start them, while 40 files (1.9 GiB) are copied locally (at an assumed 200 MB/s), not during the upload; container cron already paused or not running, left as it is",
		},
		"nothing running": {
			config.ConsistencyStop, &Window{Idle: []string{"open-webui"}, Files: 2, Bytes: 100},
			"capture stopped: no container is running, so none is stopped while 2 files (100 B) are copied locally; container open-webui already paused or not running, left as it is",
		},
		"unknown": {
			config.ConsistencyPause, &Window{Unknown: "connect to docker: no socket"},
			CaptureReason(config.ConsistencyPause) + " (how long is not known: connect to docker: no socket)",
		},
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, WindowReason(tc.consistency, tc.win)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestMakeUsesWindows: a measured window ends the snapshot's reason; the
// actions are otherwise those of a plan without it.
func TestMakeUsesWindows(t *testing.T) {
	p := &config.Policy{Backups: []*config.Backup{coldBackup("nas")}}
	now := at("2026-11-26T03:00:00Z")
	without := Make(p, Observed{}, now)
	win := Window{Held: []string{"open-webui"}, Files: 3, Bytes: 1 << 30}
	with := Make(p, Observed{Windows: map[string]Window{"weekly-cold": win}}, now)
	if len(with.Actions) != 1 || len(without.Actions) != 1 {
		t.Fatalf("actions: %+v / %+v", with.Actions, without.Actions)
	}
	want := "no complete snapshot of weekly-cold on nas yet; " + WindowReason(config.ConsistencyStop, &win)
	if with.Actions[0].Reason != want {
		t.Errorf("reason = %q, want %q", with.Actions[0].Reason, want)
	}
	with.Actions[0].Reason, without.Actions[0].Reason = "", ""
	if diff := cmp.Diff(without.Actions, with.Actions); diff != "" {
		t.Errorf("(-without +with):\n%s", diff)
	}
}
