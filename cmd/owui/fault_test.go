package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/owui/owui/internal/faultfs"
	"github.com/owui/owui/manifest"
)

// faultPolicy writes a policy sending backup "daily" of inst to targets
// good and bad, keeping the last snapshot.
func faultPolicy(t *testing.T, dir, inst, good, bad string) string {
	t.Helper()
	return writePolicy(t, dir, fmt.Sprintf(`
instance "main" {
  data_dir = %q
}
target "good" {
  remote = %q
}
target "bad" {
  remote = %q
}
backup "daily" {
  instance = instance.main
  to       = [target.good, target.bad]
  every    = "24h"
  keep {
    last = 1
  }
}
`, inst, good, bad))
}

// completeOnDisk lists the snapshot ids of backup daily under a local
// target directory that have a manifest.
func completeOnDisk(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "daily"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(root, "daily", e.Name(), manifest.FileName)); err == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids
}

// namesAFile matches the executor's words for a failed file transfer.
var namesAFile = regexp.MustCompile(`(upload .+ to|copy .+ from) snapshot daily/`)

// TestApplyWithAFaultyTargetExits1: owui apply, with one target failing
// every 5th write or refusing writes as a full or read-only target does,
// exits 1 with an error naming that target, a file and the cause; the
// other target gets its snapshot and is pruned, the faulty one keeps what
// it had.
func TestApplyWithAFaultyTargetExits1(t *testing.T) {
	tests := map[string]struct {
		opts  []string
		cause string
	}{
		"every 5th write fails": {[]string{"fail_every=5"}, "owuifault: injected failure"},
		// match: the snapshot's files, not the lease (see executor/fault_test.go).
		"full":      {[]string{"full=true", "match=[^.]*"}, "target bad is full (open daily/"},
		"read-only": {[]string{"read_only=true", "match=[^.]*"}, "target bad is read-only or refuses writes (open daily/"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			inst := genInstance(t, dir)
			good, badBase := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
			policy := faultPolicy(t, dir, inst, good, badBase)
			if code, _, errs := cli(t, "apply", "--auto-approve", "-f", policy, "--now", "2026-11-01T03:00:00Z"); code != 0 {
				t.Fatalf("first apply exit %d: %s", code, errs)
			}
			bad, _ := faultfs.Remote(t, badBase, tc.opts...)
			policy = faultPolicy(t, dir, inst, good, bad)
			code, _, errs := cli(t, "apply", "--auto-approve", "-f", policy, "--now", "2026-11-02T04:00:00Z")
			if code != 1 {
				t.Fatalf("apply with a faulty target: exit %d, want 1\n%s", code, errs)
			}
			if !strings.Contains(errs, "target bad") || !strings.Contains(errs, tc.cause) || !namesAFile.MatchString(errs) {
				t.Errorf("stderr does not name the target, a file and %q:\n%s", tc.cause, errs)
			}
			if got := completeOnDisk(t, good); fmt.Sprint(got) != "[2026-11-02T040000Z]" {
				t.Errorf("good holds %v, want only the new snapshot (the old one pruned)", got)
			}
			if got := completeOnDisk(t, badBase); fmt.Sprint(got) != "[2026-11-01T030000Z]" {
				t.Errorf("bad holds %v, want only the old snapshot, unpruned", got)
			}
		})
	}
}

// TestRestoreAndVerifyOverShortReads: reads of a target's data that end
// early make owui restore and owui verify --read-data exit 1 naming the
// file, and restore leaves nothing in the destination.
func TestRestoreAndVerifyOverShortReads(t *testing.T) {
	dir := t.TempDir()
	inst := genInstance(t, dir)
	good, badBase := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	policy := faultPolicy(t, dir, inst, good, badBase)
	if code, _, errs := cli(t, "apply", "--auto-approve", "-f", policy); code != 0 {
		t.Fatalf("apply exit %d: %s", code, errs)
	}
	bad, _ := faultfs.Remote(t, badBase, "short_reads=error", "match=webui.db")
	policy = faultPolicy(t, dir, inst, good, bad)
	dst := filepath.Join(dir, "restored")
	code, _, errs := cli(t, "restore", "daily", "--target", "bad", "--to", dst, "-f", policy)
	if code != 1 || !strings.Contains(errs, "download webui.db") || !strings.Contains(errs, "unexpected EOF") {
		t.Errorf("restore over short reads: exit %d, want 1 naming webui.db and the unexpected EOF:\n%s", code, errs)
	}
	if left, _ := os.ReadDir(dst); len(left) != 0 {
		t.Errorf("a failed restore left %v", left)
	}
	code, out, errs := cli(t, "verify", "--read-data", "--target", "bad", "-f", policy)
	if code != 1 || !strings.Contains(out+errs, "webui.db") || !strings.Contains(out+errs, "unexpected EOF") {
		t.Errorf("verify --read-data over short reads: exit %d, want 1 naming webui.db:\n%s\n%s", code, out, errs)
	}
}
