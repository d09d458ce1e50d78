// Package metrics renders owui's state as a Prometheus textfile-collector
// file (node_exporter --collector.textfile.directory) and writes it
// atomically, so the collector never reads half a file.
package metrics

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/owui/owui/state"
	"github.com/owui/owui/status"
)

// Run is the run the file is written after.
type Run struct {
	Command string
	Started time.Time
	Ended   time.Time
	OK      bool
	// BytesUploaded is what the run sent to all targets.
	BytesUploaded int64
	// LastSuccess is when the newest successful run of Command ended (this
	// one, when it succeeded); zero when there has been none.
	LastSuccess time.Time
}

type family struct {
	name, help, kind string
	samples          []string
}

func (f *family) add(labels string, v float64) {
	f.samples = append(f.samples, fmt.Sprintf("%s%s %s", f.name, labels, strconv.FormatFloat(v, 'g', -1, 64)))
}

// Render returns the textfile for run and the status rows after it.
func Render(run Run, rows []status.Row, now time.Time) []byte {
	cmd := labels("command", run.Command)
	fams := []*family{}
	gauge := func(name, help string) *family {
		f := &family{name: "owui_" + name, help: help, kind: "gauge"}
		fams = append(fams, f)
		return f
	}
	gauge("run_last_timestamp_seconds", "When the last owui run ended.").add(cmd, unix(run.Ended))
	gauge("run_last_success", "1 if the last owui run succeeded, 0 if it failed.").add(cmd, b2f(run.OK))
	gauge("run_last_duration_seconds", "How long the last owui run took.").add(cmd, run.Ended.Sub(run.Started).Seconds())
	gauge("run_last_bytes_uploaded", "Bytes the last owui run sent to all targets.").add(cmd, float64(run.BytesUploaded))
	if !run.LastSuccess.IsZero() {
		gauge("run_last_success_timestamp_seconds", "When the last successful owui run ended.").add(cmd, unix(run.LastSuccess))
	}

	newest := gauge("backup_newest_snapshot_timestamp_seconds", "Creation time of the newest complete snapshot of a backup on a target (the recovery point).")
	age := gauge("backup_snapshot_age_seconds", "Age of the newest complete snapshot; absent when there is none.")
	due := gauge("backup_next_due_timestamp_seconds", "When the next snapshot of a backup on a target comes due.")
	stale := gauge("backup_stale", "1 if the backup is overdue on the target by more than its interval, or has no snapshot.")
	result := gauge("backup_last_result", "1 if the last snapshot attempt on the target succeeded, 0 if it failed.")
	sent := gauge("backup_last_bytes_uploaded", "Bytes the last snapshot attempt sent to the target.")
	stored := gauge("backup_stored_bytes", "Total size of the complete snapshots of a backup on a target.")
	count := gauge("backup_snapshots", "Number of complete snapshots of a backup on a target.")
	for _, r := range rows {
		l := labels("backup", r.Backup, "target", r.Target)
		if r.Newest != nil {
			newest.add(l, unix(r.Newest.CreatedAt))
			age.add(l, r.Age(now).Seconds())
		}
		if !r.NextDue.IsZero() {
			due.add(l, unix(r.NextDue))
		}
		stale.add(l, b2f(r.Stale))
		if a := r.LastSnapshot; a != nil {
			result.add(l, b2f(a.Result == state.ActionOK))
			sent.add(l, float64(a.BytesUploaded))
		}
		stored.add(l, float64(r.StoredBytes))
		count.add(l, float64(r.Snapshots))
	}
	sort.SliceStable(fams, func(i, j int) bool { return fams[i].name < fams[j].name })
	var b strings.Builder
	for _, f := range fams {
		if len(f.samples) == 0 {
			continue
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.kind)
		for _, s := range f.samples {
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}

// WriteFile replaces path with data atomically: a temporary file in the
// same directory, synced, then renamed over path.
func WriteFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write metrics file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("write metrics file: %w", err)
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write metrics file: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write metrics file: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write metrics file: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write metrics file: %w", err)
	}
	return nil
}

// labels renders label pairs, escaped as the text format requires.
func labels(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(kv[i+1])
		parts = append(parts, fmt.Sprintf(`%s="%s"`, kv[i], v))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
