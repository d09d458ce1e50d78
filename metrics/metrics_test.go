package metrics

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/owui/owui/state"
	"github.com/owui/owui/status"
)

func TestRenderAndWrite(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	rows := []status.Row{{
		Backup: "daily", Target: "b2",
		Newest:       &state.SnapshotRecord{ID: "x", CreatedAt: now.Add(-time.Hour)},
		NextDue:      now.Add(23 * time.Hour),
		Snapshots:    3,
		StoredBytes:  1234,
		LastSnapshot: &state.ActionRecord{Result: state.ActionOK, BytesUploaded: 99},
	}, {Backup: "daily", Target: `we"ird`, Stale: true}}
	run := Run{Command: "apply", Started: now.Add(-time.Minute), Ended: now, OK: true, BytesUploaded: 99, LastSuccess: now}
	text := string(Render(run, rows, now))
	for _, want := range []string{
		`owui_run_last_success{command="apply"} 1`,
		`owui_run_last_duration_seconds{command="apply"} 60`,
		`owui_backup_snapshot_age_seconds{backup="daily",target="b2"} 3600`,
		`owui_backup_last_bytes_uploaded{backup="daily",target="b2"} 99`,
		`owui_backup_stale{backup="daily",target="we\"ird"} 1`,
		"# TYPE owui_backup_stored_bytes gauge",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
	path := filepath.Join(t.TempDir(), "owui.prom")
	if err := WriteFile(path, []byte(text)); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte(text)); err != nil { // replaces
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != text {
		t.Fatalf("read back %q, %v", got, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only owui.prom (no temporary leftovers)", len(entries))
	}
}
