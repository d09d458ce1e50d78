package executor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/internal/s3test"
	"github.com/owui/owui/planner"
)

// logHooks records every log line and calls onLog, if set, with each.
type logHooks struct {
	executor.NopHooks
	mu    sync.Mutex
	lines []string
	onLog func(line string)
}

func (h *logHooks) Logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	h.mu.Lock()
	h.lines = append(h.lines, line)
	h.mu.Unlock()
	if h.onLog != nil {
		h.onLog(line)
	}
}

func (h *logHooks) contains(sub string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func openTarget(t *testing.T, remote string) *target.Target {
	t.Helper()
	tg, err := target.Open(context.Background(), &config.Target{Name: "t", Remote: remote})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func otherLease(expires time.Time) *target.Lease {
	return &target.Lease{Holder: "someone-else", Host: "other-host.example", PID: 4242, Command: "apply",
		Started: expires.Add(-time.Hour), Expires: expires}
}

func TestApplyHoldsTheLeaseWhileItWorks(t *testing.T) {
	ctx := context.Background()
	remote := t.TempDir()
	tg := openTarget(t, remote)
	var during *target.Lease
	hooks := &logHooks{}
	hooks.onLog = func(line string) {
		if strings.Contains(line, "capturing") {
			l, err := tg.ReadLease(ctx, "daily")
			if err != nil {
				t.Error(err)
			}
			during = l
		}
	}
	e := newEnv(t, dataDir(t, 3), remote, hooks)
	res, _ := e.applyAt(t, ctx, time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC))
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if during == nil || during.PID != os.Getpid() || during.Host != host || !during.Expires.After(time.Now()) {
		t.Fatalf("lease while capturing = %+v, want this process's, unexpired", during)
	}
	if l, err := tg.ReadLease(ctx, "daily"); err != nil || l != nil {
		t.Fatalf("lease after apply = %+v, %v; want released", l, err)
	}
	ents, _ := os.ReadDir(filepath.Join(remote, "daily"))
	for _, ent := range ents {
		if strings.HasPrefix(ent.Name(), ".") {
			t.Errorf("left behind under daily/: %s", ent.Name())
		}
	}
}

func TestApplyRefusesALiveLease(t *testing.T) {
	ctx := context.Background()
	remote := t.TempDir()
	tg := openTarget(t, remote)
	theirs := otherLease(time.Now().Add(time.Hour).UTC().Truncate(time.Second))
	if err := tg.CreateLease(ctx, "daily", theirs); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, dataDir(t, 3), remote, nil)
	res, _ := e.applyAt(t, ctx, time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC))
	var leased *executor.LeasedError
	if err := res.Err(); !errors.As(err, &leased) || leased.Lease.Host != theirs.Host {
		t.Fatalf("apply error = %v, want a LeasedError naming %s", err, theirs.Host)
	}
	if !strings.Contains(res.Err().Error(), "pid 4242 on other-host.example") {
		t.Errorf("error %q does not name the holder", res.Err())
	}
	snaps, err := tg.ListSnapshots(ctx, "daily")
	if err != nil || len(snaps) != 0 {
		t.Fatalf("snapshots = %+v, %v; want none written under another run's lease", snaps, err)
	}
	if l, _ := tg.ReadLease(ctx, "daily"); l == nil || l.Holder != theirs.Holder {
		t.Fatalf("lease after refused apply = %+v, want theirs untouched", l)
	}
}

func TestApplyTakesOverALeaseWhoseRunIsGone(t *testing.T) {
	host, _ := os.Hostname()
	// A pid that existed and is gone: a child that has exited.
	dead := os.Getpid()
	if p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{}); err == nil {
		_, _ = p.Wait()
		dead = p.Pid
	} else {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		lease *target.Lease
		why   string
	}{
		"expired": {otherLease(time.Now().Add(-time.Minute).UTC()), "expired"},
		"dead pid on this host": {&target.Lease{Holder: "dead-run", Host: host, PID: dead, Command: "apply",
			Started: time.Now().UTC(), Expires: time.Now().Add(time.Hour).UTC()}, "no longer running"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			remote := t.TempDir()
			tg := openTarget(t, remote)
			if err := tg.CreateLease(ctx, "daily", tc.lease); err != nil {
				t.Fatal(err)
			}
			hooks := &logHooks{}
			e := newEnv(t, dataDir(t, 3), remote, hooks)
			res, _ := e.applyAt(t, ctx, time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC))
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if !hooks.contains("took over the lease") || !hooks.contains(tc.why) {
				t.Errorf("no takeover warning saying %q in %q", tc.why, hooks.lines)
			}
			if l, _ := tg.ReadLease(ctx, "daily"); l != nil {
				t.Errorf("lease after apply = %+v, want released", l)
			}
		})
	}
}

// TestNoPruneAfterTheLeaseIsLost: another run takes the lease over while
// this one sends its snapshot (as when this run stalled past the lease's
// life); the prunes that follow must not run.
func TestNoPruneAfterTheLeaseIsLost(t *testing.T) {
	ctx := context.Background()
	remote := t.TempDir()
	tg := openTarget(t, remote)
	data := dataDir(t, 3)
	day := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	warm := newEnv(t, data, remote, nil)
	for i := range 5 {
		if res, _ := warm.applyAt(t, ctx, day.AddDate(0, 0, i)); res.Err() != nil {
			t.Fatal(res.Err())
		}
	}
	hooks := &logHooks{}
	hooks.onLog = func(line string) {
		if strings.Contains(line, "complete:") {
			if err := tg.ReplaceLease(ctx, "daily", otherLease(time.Now().Add(time.Hour).UTC())); err != nil {
				t.Error(err)
			}
		}
	}
	e := newEnv(t, data, remote, hooks)
	res, plan := e.applyAt(t, ctx, day.AddDate(0, 0, 5))
	var prunes int
	for _, a := range plan.Actions {
		if a.Kind == planner.KindPrune {
			prunes++
		}
	}
	if prunes == 0 {
		t.Fatalf("plan has no prune; the test needs one: %+v", plan.Actions)
	}
	if err := res.Err(); !errors.Is(err, executor.ErrLeaseLost) {
		t.Fatalf("apply error = %v, want ErrLeaseLost", err)
	}
	snaps, err := tg.ListSnapshots(ctx, "daily")
	if err != nil || len(snaps) != 6 {
		t.Fatalf("snapshots after the lost lease = %d, %v; want all 6 kept", len(snaps), err)
	}
	if l, _ := tg.ReadLease(ctx, "daily"); l == nil || l.Holder != "someone-else" {
		t.Errorf("lease = %+v, want the new holder's left in place", l)
	}
}

// TestTwoRunsOnOneTarget runs two applies of the same policy from two
// states ("machines") at once against one S3 target, whose leases are not
// created atomically: exactly one works, the other is refused.
func TestTwoRunsOnOneTarget(t *testing.T) {
	ctx := context.Background()
	remote := s3test.Start(t)
	data := dataDir(t, 3)
	now := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	for round := range 3 {
		remote := remote + fmt.Sprintf("/round%d", round)
		var start sync.WaitGroup
		start.Add(1)
		results := make([]*executor.Result, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			e := newEnv(t, data, remote, nil)
			e.LeaseSettle = 300 * time.Millisecond
			r, err := e.Refresh(ctx)
			if err != nil {
				t.Fatal(err)
			}
			plan := planner.Make(e.policy, r.Observed, now)
			wg.Go(func() {
				start.Wait()
				results[i] = e.Apply(ctx, plan, r.Observed, now.Add(time.Duration(i)*time.Second))
			})
		}
		start.Done()
		wg.Wait()
		var ok, refused int
		for _, res := range results {
			switch err := res.Err(); {
			case err == nil:
				ok++
			case errors.Is(err, executor.ErrLeased):
				refused++
			default:
				t.Fatalf("round %d: apply error = %v", round, err)
			}
		}
		// Both may succeed only one after the other; never both at once,
		// which would have made two snapshots.
		snaps, err := openTarget(t, remote).ListSnapshots(ctx, "daily")
		if err != nil {
			t.Fatal(err)
		}
		if ok+refused != 2 || ok == 0 || len(snaps) != ok {
			t.Fatalf("round %d: %d succeeded, %d refused, %d snapshots", round, ok, refused, len(snaps))
		}
		t.Logf("round %d: %d succeeded, %d refused", round, ok, refused)
	}
}

func TestLeaseIsRenewed(t *testing.T) {
	ctx := context.Background()
	remote := t.TempDir()
	tg := openTarget(t, remote)
	renewed := make(chan *target.Lease, 1)
	var first *target.Lease
	hooks := &logHooks{}
	hooks.onLog = func(line string) {
		if !strings.Contains(line, "capturing") {
			return
		}
		first, _ = tg.ReadLease(ctx, "daily")
		// Stay in the run until the lease has been rewritten.
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			l, err := tg.ReadLease(ctx, "daily")
			if err == nil && l != nil && first != nil && l.Expires.After(first.Expires) {
				renewed <- l
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		renewed <- nil
	}
	e := newEnv(t, dataDir(t, 1), remote, hooks)
	e.LeaseTTL = 400 * time.Millisecond
	res, _ := e.applyAt(t, ctx, time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC))
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	l := <-renewed
	if l == nil || l.Holder != first.Holder {
		t.Fatalf("lease was not renewed by its holder: first %+v, then %+v", first, l)
	}
}

func TestUnlock(t *testing.T) {
	ctx := context.Background()
	host, _ := os.Hostname()
	for name, tc := range map[string]struct {
		lease   *target.Lease
		force   bool
		removed bool
	}{
		"expired":                 {lease: otherLease(time.Now().Add(-time.Minute).UTC()), removed: true},
		"live on another host":    {lease: otherLease(time.Now().Add(time.Hour).UTC())},
		"live, forced":            {lease: otherLease(time.Now().Add(time.Hour).UTC()), force: true, removed: true},
		"this process is working": {lease: &target.Lease{Holder: "me", Host: host, PID: os.Getpid(), Expires: time.Now().Add(time.Hour)}},
	} {
		t.Run(name, func(t *testing.T) {
			remote := t.TempDir()
			tg := openTarget(t, remote)
			if err := tg.CreateLease(ctx, "daily", tc.lease); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, dataDir(t, 1), remote, nil)
			got := e.Unlock(ctx, executor.UnlockOptions{Force: tc.force})
			if len(got) != 1 || got[0].Err != nil || got[0].Lease == nil || got[0].Removed != tc.removed {
				t.Fatalf("Unlock = %+v, want one result with Removed=%v", got, tc.removed)
			}
			l, err := tg.ReadLease(ctx, "daily")
			if err != nil || (l == nil) != tc.removed {
				t.Fatalf("lease after Unlock = %+v, %v; removed=%v wanted", l, err, tc.removed)
			}
		})
	}
}
