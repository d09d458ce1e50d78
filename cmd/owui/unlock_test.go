package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor/target"
)

// TestLeasedTargetExits3ThenUnlock: another machine's live lease on the
// target makes apply exit 3 naming it; unlock leaves it alone, unlock
// --force removes it, and apply then works.
func TestLeasedTargetExits3ThenUnlock(t *testing.T) {
	dir, f := minimalPolicy(t)
	ctx := context.Background()
	tg, err := target.Open(ctx, &config.Target{Name: "local", Remote: filepath.Join(dir, "backups")})
	if err != nil {
		t.Fatal(err)
	}
	theirs := &target.Lease{Holder: "nas-run", Host: "nas.example", PID: 777, Command: "apply",
		Started: time.Now().UTC(), Expires: time.Now().Add(time.Hour).UTC()}
	if err := tg.CreateLease(ctx, "daily", theirs); err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, append(f, "apply", "--auto-approve")...)
	if code != 3 || !strings.Contains(errs, "pid 777 on nas.example") {
		t.Fatalf("apply under another host's lease: exit %d, want 3 naming the holder\n%s%s", code, out, errs)
	}
	code, out, errs = cli(t, append(f, "unlock")...)
	if code != 0 || !strings.Contains(out, "left the lease of pid 777 on nas.example") {
		t.Fatalf("unlock: exit %d, want 0 and the live lease left alone\n%s%s", code, out, errs)
	}
	code, out, errs = cli(t, append(f, "unlock", "--force")...)
	if code != 0 || !strings.Contains(out, "removed the lease of pid 777") {
		t.Fatalf("unlock --force: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(t, append(f, "apply", "--auto-approve")...); code != 0 {
		t.Fatalf("apply after unlock: exit %d\n%s%s", code, out, errs)
	}
	if l, err := tg.ReadLease(ctx, "daily"); err != nil || l != nil {
		t.Fatalf("lease after apply = %+v, %v; want released", l, err)
	}
	if code, _, errs := cli(t, append(f, "unlock", "--backup", "nope")...); code != 1 || !strings.Contains(errs, `no backup "nope"`) {
		t.Fatalf("unlock --backup nope: exit %d, %s", code, errs)
	}
}
