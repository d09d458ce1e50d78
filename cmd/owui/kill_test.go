package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/owui/owui/sample"
)

// TestMain lets a test run this test binary as the owui command itself, so
// that it can be killed like the real thing.
func TestMain(m *testing.M) {
	if os.Getenv("OWUI_TEST_AS_MAIN") == "1" {
		if os.Getenv(envKillAt) != "" {
			seam, err := killSeam()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(99)
			}
			testHooks = seam
		}
		main()
		return
	}
	os.Exit(m.Run())
}

// owuiProcess starts owui as a child process.
func owuiProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), "OWUI_TEST_AS_MAIN=1")
	return cmd
}

// TestKilledApply interrupts a real apply process with SIGKILL, SIGINT or
// SIGTERM while it writes the snapshot: no snapshot may look complete
// afterwards, and the next apply cleans up and finishes the job.
func TestKilledApply(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			inst := filepath.Join(dir, "instance")
			if _, err := sample.Generate(inst, sample.Options{Scale: 0.05, Seed: 3}); err != nil {
				t.Fatal(err)
			}
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
}
`, inst, backups))
			cmd := owuiProcess(t, "apply", "--auto-approve", "-f", policy)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until the snapshot directory exists on the target: the
			// upload has begun.
			deadline := time.Now().Add(60 * time.Second)
			for {
				if ents, _ := os.ReadDir(filepath.Join(backups, "daily")); len(ents) > 0 {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("apply never started writing:\n%s", out.String())
				}
				time.Sleep(2 * time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			t.Logf("apply interrupted by %v: %v\n%s", sig, err, out.String())
			if err == nil {
				t.Skipf("apply finished before the %v arrived; nothing to check", sig)
			}
			// Whatever was left must not count as a snapshot.
			code, listed, errs := cli(t, "snapshots", "-f", policy)
			if code != 0 || !strings.Contains(listed, "No complete snapshots") {
				t.Fatalf("after %v: snapshots exit %d:\n%s%s", sig, code, listed, errs)
			}
			code, o, errs := cli(t, "apply", "--auto-approve", "-f", policy)
			if code != 0 {
				t.Fatalf("apply after %v: exit %d\n%s%s", sig, code, o, errs)
			}
			ents, err := os.ReadDir(filepath.Join(backups, "daily"))
			if err != nil || len(ents) != 1 {
				t.Fatalf("after the next apply the target holds %v (%v), want one snapshot", ents, err)
			}
			if _, err := os.Stat(filepath.Join(backups, "daily", ents[0].Name(), "owui-manifest.json")); err != nil {
				t.Fatalf("the next apply's snapshot is incomplete: %v", err)
			}
			if left, _ := os.ReadDir(filepath.Join(dir, ".owui", "staging")); len(left) != 0 {
				t.Errorf("staging leftovers after the next apply: %v", left)
			}
			if sig == syscall.SIGKILL && !strings.Contains(errs, "Warning") {
				t.Errorf("the next apply did not warn that it took over a dead run's lock:\n%s", errs)
			}
		})
	}
}
