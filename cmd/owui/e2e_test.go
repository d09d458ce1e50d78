package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/owui/owui/internal/s3test"
	"github.com/owui/owui/internal/treecheck"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/sample"
)

// cli runs owui in-process with captured streams.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

// rcloneBinary returns the rclone command line, or skips the test where it
// is not installed (CI sets OWUI_REQUIRE_RCLONE and installs it).
func rcloneBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("rclone")
	if err != nil {
		if os.Getenv("OWUI_REQUIRE_RCLONE") != "" {
			t.Fatalf("rclone command line not found: %v", err)
		}
		t.Skip("rclone command line not installed (apt-get install rclone); .ci/run installs it")
	}
	return p
}

// plainRcloneRemote makes a test S3 connection string digestible by older
// rclone command lines (Debian 12 ships 1.60, which predates provider=Rclone).
func plainRcloneRemote(remote string) string {
	return strings.Replace(remote, "provider=Rclone", "provider=Other", 1)
}

// rcloneEnv is the environment for the rclone command line: no user config,
// and no AWS_CA_BUNDLE, which rclone 1.60's S3 client cannot combine with
// its own HTTP transport.
func rcloneEnv(config string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") {
			env = append(env, kv)
		}
	}
	return append(env, "RCLONE_CONFIG="+config)
}

func writePolicy(t *testing.T, dir, src string) string {
	t.Helper()
	p := filepath.Join(dir, "owui.hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func genInstance(t *testing.T, dir string) string {
	t.Helper()
	inst := filepath.Join(dir, "instance")
	if _, err := sample.Generate(inst, sample.Options{Scale: 0.002, Seed: 7}); err != nil {
		t.Fatalf("generate sample: %v", err)
	}
	return inst
}

func planJSON(t *testing.T, args ...string) planner.JSONPlan {
	t.Helper()
	code, out, errs := cli(t, append([]string{"plan", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("plan exit %d: %s", code, errs)
	}
	var jp planner.JSONPlan
	if err := json.Unmarshal([]byte(out), &jp); err != nil {
		t.Fatalf("plan --json output: %v\n%s", err, out)
	}
	return jp
}

func countActions(jp planner.JSONPlan, kind string) int {
	n := 0
	for _, a := range jp.Actions {
		if a.Action == kind {
			n++
		}
	}
	return n
}

// TestTwoBackupsTwoTargets is the first acceptance check: plan lists
// every snapshot with its reason (exit 2 with --detailed-exitcode), apply
// makes them, each snapshot copied back with the plain rclone command line
// reproduces the data dir minus its excludes, and a second plan has nothing
// to do.
func TestTwoBackupsTwoTargets(t *testing.T) {
	rclone := rcloneBinary(t)
	dir := t.TempDir()
	inst := genInstance(t, dir)
	s3 := s3test.Start(t)
	policy := writePolicy(t, dir, fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "local" {
  remote = %q
}
target "s3" {
  remote = %q
}
backup "daily" {
  instance = instance.main
  to       = [target.local, target.s3]
  every    = "24h"
  keep {
    daily = 7
  }
}
backup "weekly" {
  instance = instance.main
  to       = [target.local, target.s3]
  every    = "7d"
  exclude  = ["cache/**", "audit.log"]
  keep {
    last = 3
  }
}
`, inst, filepath.Join(dir, "backups"), s3))
	f := []string{"-f", policy}

	code, out, errs := cli(t, append([]string{"plan", "--detailed-exitcode", "--no-color"}, f...)...)
	if code != 2 {
		t.Fatalf("plan --detailed-exitcode = %d, want 2\n%s%s", code, out, errs)
	}
	for _, want := range []string{"daily", "weekly", "local", "s3", "no complete snapshot"} {
		if !strings.Contains(strings.ToLower(out), strings.ToLower(want)) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	if jp := planJSON(t, f...); countActions(jp, "snapshot") != 4 {
		t.Fatalf("plan has %d snapshot actions, want 4: %+v", countActions(jp, "snapshot"), jp.Actions)
	}

	code, out, errs = cli(t, append([]string{"apply", "--auto-approve"}, f...)...)
	if code != 0 {
		t.Fatalf("apply exit %d\n%s%s", code, out, errs)
	}

	code, out, errs = cli(t, append([]string{"snapshots", "--json"}, f...)...)
	if code != 0 {
		t.Fatalf("snapshots exit %d: %s", code, errs)
	}
	var listed struct{ Snapshots []snapshotJSON }
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.Snapshots) != 4 {
		t.Fatalf("snapshots --json: %v, %d snapshots, want 4\n%s", err, len(listed.Snapshots), out)
	}
	excludes := map[string][]string{"daily": {"cache/**"}, "weekly": {"cache/**", "audit.log"}}
	remotes := map[string]string{"local": filepath.Join(dir, "backups"), "s3": s3}
	for _, sn := range listed.Snapshots {
		restored := filepath.Join(t.TempDir(), "r")
		src := remotes[sn.Target] + "/" + sn.Backup + "/" + sn.Snapshot
		cmd := exec.Command(rclone, "copy", plainRcloneRemote(src), restored)
		cmd.Env = rcloneEnv(filepath.Join(dir, "empty-rclone.conf"))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("rclone copy %s: %v\n%s", sn.Target+"/"+sn.Backup, err, b)
		}
		if err := os.Remove(filepath.Join(restored, "owui-manifest.json")); err != nil {
			t.Fatalf("snapshot %s on %s has no manifest: %v", sn.Snapshot, sn.Target, err)
		}
		rep, err := treecheck.Compare(inst, restored, excludes[sn.Backup])
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Databases != 2 || rep.Files == 0 {
			t.Errorf("%s/%s copied back with rclone: %d files, %d databases, differences %v",
				sn.Target, sn.Backup, rep.Files, rep.Databases, rep.Differences)
		}
	}

	code, out, errs = cli(t, append([]string{"plan", "--detailed-exitcode"}, f...)...)
	if code != 0 {
		t.Fatalf("second plan --detailed-exitcode = %d, want 0\n%s%s", code, out, errs)
	}
}

// TestNowMovesPastEveryAndRetention moves --now forward day by day: each
// day plan shows a snapshot due, and once more snapshots exist than keep
// allows, prunes with reasons; apply carries them out.
func TestNowMovesPastEveryAndRetention(t *testing.T) {
	dir := t.TempDir()
	inst := genInstance(t, dir)
	backups := filepath.Join(dir, "backups")
	policy := writePolicy(t, dir, fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "local" {
  remote = %q
}
backup "daily" {
  instance = instance.main
  to       = [target.local]
  every    = "24h"
  keep {
    last = 3
  }
}
`, inst, backups))
	f := []string{"-f", policy}
	start := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	for day := 0; day < 5; day++ {
		now := start.Add(time.Duration(day) * 24 * time.Hour).Format(time.RFC3339)
		jp := planJSON(t, append(f, "--now", now)...)
		if countActions(jp, "snapshot") != 1 {
			t.Fatalf("day %d: %d snapshot actions, want 1: %+v", day, countActions(jp, "snapshot"), jp.Actions)
		}
		wantPrunes := max(0, day+1-3)
		if wantPrunes > 0 && countActions(jp, "prune") != 1 {
			t.Fatalf("day %d: %d prune actions, want 1: %+v", day, countActions(jp, "prune"), jp.Actions)
		}
		for _, a := range jp.Actions {
			if a.Reason == "" {
				t.Errorf("day %d: action without a reason: %+v", day, a)
			}
		}
		if code, out, errs := cli(t, append(f, "apply", "--auto-approve", "--now", now)...); code != 0 {
			t.Fatalf("day %d: apply exit %d\n%s%s", day, code, out, errs)
		}
		// Half a day later nothing is due.
		later := start.Add(time.Duration(day)*24*time.Hour + 12*time.Hour).Format(time.RFC3339)
		if code, out, _ := cli(t, append(f, "plan", "--detailed-exitcode", "--now", later)...); code != 0 {
			t.Fatalf("day %d + 12h: plan exit %d, want 0\n%s", day, code, out)
		}
	}
	entries, err := os.ReadDir(filepath.Join(backups, "daily"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	want := []string{"2026-11-03T030000Z", "2026-11-04T030000Z", "2026-11-05T030000Z"}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("snapshots left on the target = %v, want %v", ids, want)
	}
}
