package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/owui/owui/internal/dockertest"
	"github.com/owui/owui/internal/livewriter"
	"github.com/owui/owui/internal/s3test"
	"github.com/owui/owui/internal/treecheck"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/state"
)

// TestRestoreOnAnotherMachine is the restore acceptance check for
// a local and an S3 target, from nothing but the policy and the targets:
// the state is deleted first, the restored directory equals the source
// data dir minus excludes, and the state is rebuilt from the manifests.
func TestRestoreOnAnotherMachine(t *testing.T) {
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
}
`, inst, filepath.Join(dir, "backups"), s3))
	if code, out, errs := cli(t, "apply", "--auto-approve", "-f", policy); code != 0 {
		t.Fatalf("apply exit %d\n%s%s", code, out, errs)
	}
	if err := os.RemoveAll(filepath.Join(dir, ".owui")); err != nil {
		t.Fatal(err)
	}

	dry := filepath.Join(t.TempDir(), "dry")
	code, out, errs := cli(t, "restore", "daily", "--dry-run", "--to", dry, "-f", policy)
	if code != 0 || !strings.Contains(out, "webui.db") || !strings.Contains(out, "Nothing was written") {
		t.Fatalf("restore --dry-run: exit %d\n%s%s", code, out, errs)
	}
	if _, err := os.Lstat(dry); !os.IsNotExist(err) {
		t.Errorf("restore --dry-run created %s (%v)", dry, err)
	}

	for i, tname := range []string{"local", "s3"} {
		restored := filepath.Join(t.TempDir(), tname)
		code, out, errs := cli(t, "restore", "daily", "--target", tname, "--to", restored, "-f", policy)
		if code != 0 {
			t.Fatalf("restore from %s: exit %d\n%s%s", tname, code, out, errs)
		}
		if rebuilt := strings.Contains(out, "rebuilt it from the targets' manifests (2 snapshots)"); rebuilt != (i == 0) {
			t.Errorf("restore from %s (state there before: %v) says:\n%s", tname, i > 0, out)
		}
		if !strings.Contains(out, "point outside "+filepath.Join(restored, "uploads")) {
			t.Errorf("restore from %s does not warn about upload paths:\n%s", tname, out)
		}
		rep, err := treecheck.Compare(inst, restored, []string{"cache/**"})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Databases != 2 || rep.Files == 0 {
			t.Errorf("restored from %s: %d files, %d databases, differences %v", tname, rep.Files, rep.Databases, rep.Differences)
		}
	}
	fixed := filepath.Join(t.TempDir(), "fixed")
	code, out, errs = cli(t, "restore", "daily", "--to", fixed, "--rewrite-upload-paths", "-f", policy)
	if code != 0 || !strings.Contains(out, "Rewrote 6 of 6 upload paths in the restored webui.db to "+filepath.Join(fixed, "uploads")) ||
		strings.Contains(out, "point outside") {
		t.Errorf("restore --rewrite-upload-paths: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := cli(t, "restore", "daily", "--to", t.TempDir(), "--rewrite-upload-paths=uploads", "-f", policy); code != 1 || !strings.Contains(errs, "absolute") {
		t.Errorf("restore --rewrite-upload-paths=uploads: exit %d, %s", code, errs)
	}
	st, err := state.Open(filepath.Join(dir, ".owui"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if recs, err := st.Snapshots(context.Background()); err != nil || len(recs) != 2 {
		t.Errorf("rebuilt state holds %d snapshots (%v), want 2", len(recs), err)
	}
}

// TestDockerRestoreInPlace: --in-place on a Docker instance stops its
// container through the recorded hold, moves the volume's contents aside,
// restores, and leaves the container running on the restored data.
func TestDockerRestoreInPlace(t *testing.T) {
	dc := newDockerCase(t, "stop", 0, dockertest.Options{})
	run := func(args ...string) string {
		t.Helper()
		code, out, errs := cli(t, append(args, "-f", dc.policy)...)
		if code != 0 {
			t.Fatalf("owui %v: exit %d\n%s%s", args, code, out, errs)
		}
		return out + errs
	}
	run("apply", "--auto-approve")
	data := dc.in.DataDir(t)
	if err := os.WriteFile(filepath.Join(data, "after-snapshot.txt"), []byte("later"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run("restore", "daily", "--in-place", "--dry-run"); !strings.Contains(out, "Nothing was written") {
		t.Errorf("restore --in-place --dry-run:\n%s", out)
	}
	// A snapshot from a newer Open WebUI than the container's image.
	m := dc.onlySnapshot(t)
	mpath := filepath.Join(dc.backups, "daily", m.Snapshot, manifest.FileName)
	b, err := os.ReadFile(mpath)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `"openwebui_version": "`+m.Source.OpenWebUIVersion+`"`, `"openwebui_version": "v99.0.0"`, 1))
	if err := os.WriteFile(mpath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := run("restore", "daily", "--in-place")
	t.Log(out)
	for _, want := range []string{"Warning: the snapshot comes from Open WebUI v99.0.0", "To roll back", "docker stop " + dc.in.Name, "docker start " + dc.in.Name, ".before-restore-"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore --in-place output lacks %q:\n%s", want, out)
		}
	}
	asides, _ := filepath.Glob(data + ".before-restore-*")
	if len(asides) != 1 {
		t.Fatalf("moved-aside directories: %v, want one", asides)
	}
	t.Cleanup(func() { os.RemoveAll(asides[0]) })
	if b, err := os.ReadFile(filepath.Join(asides[0], "after-snapshot.txt")); err != nil || string(b) != "later" {
		t.Errorf("the old data was not moved aside whole: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(data, "after-snapshot.txt")); !os.IsNotExist(err) {
		t.Errorf("the volume still holds a file the snapshot lacks (%v)", err)
	}
	if got := dc.in.State(t); got != "running" {
		t.Fatalf("container is %s after the in-place restore", got)
	}
	dc.in.WaitReady(t)
	before := dc.in.Commits(t)
	time.Sleep(300 * time.Millisecond)
	if after := dc.in.Commits(t); after <= before {
		t.Errorf("the instance does not commit on the restored data: %d then %d", before, after)
	}
	if rows, err := livewriter.CheckInvariant(filepath.Join(data, "webui.db")); err != nil || rows == 0 {
		t.Errorf("restored webui.db: %d rows, %v", rows, err)
	}
	if hs := dc.holds(t); len(hs) != 0 {
		t.Errorf("holds left in state: %+v", hs)
	}
}
