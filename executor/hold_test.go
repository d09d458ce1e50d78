package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/owui/owui/config"
	"github.com/owui/owui/docker"
	"github.com/owui/owui/state"
)

// logHooks keeps every log line.
type logHooks struct {
	mu    sync.Mutex
	lines []string
}

func (h *logHooks) Logf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, fmt.Sprintf(format, args...))
}

func (h *logHooks) Progress(string, string, int64, int64) {}

func (h *logHooks) text() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.lines, "\n")
}

func newHoldEnv(t *testing.T) (*Env, *FakeEngine) {
	t.Helper()
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := NewFakeEngine()
	e := &Env{Policy: &config.Policy{}, Store: st, StateDir: filepath.Join(dir, "state"), Hooks: &logHooks{}}
	e.Docker = func(context.Context) (docker.Engine, error) { return eng, nil }
	return e, eng
}

func holds(t *testing.T, st *state.Store) []state.Hold {
	t.Helper()
	hs, err := st.Holds(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// TestQuietUndoesOnEveryPath: whatever happens inside the window (success,
// an error, a panic, the context cancelled as SIGINT or SIGTERM do), the
// container runs again when Quiet returns, the hold was recorded in state
// before the pause or stop and is gone after the undo.
func TestQuietUndoesOnEveryPath(t *testing.T) {
	errCopy := errors.New("copy failed")
	for _, mode := range []string{config.ConsistencyPause, config.ConsistencyStop} {
		for _, path := range []string{"success", "error", "panic", "cancel"} {
			t.Run(mode+"/"+path, func(t *testing.T) {
				e, eng := newHoldEnv(t)
				c := eng.AddContainer(docker.Container{Name: "open-webui", State: "running"})
				var before []state.Hold
				eng.Before = func(verb, _ string) error {
					if verb == "pause" || verb == "stop" {
						before = holds(t, e.Store)
					}
					return nil
				}
				q := newDockerQuiescer(e, &source{engine: eng, container: c}, mode)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var inside string
				var err error
				func() {
					defer func() {
						if r := recover(); r != nil && path != "panic" {
							t.Fatalf("panic: %v", r)
						}
					}()
					err = q.Quiet(ctx, func(ctx context.Context) error {
						inside = eng.State("open-webui")
						switch path {
						case "error":
							return errCopy
						case "panic":
							panic("boom")
						case "cancel":
							cancel()
							return ctx.Err()
						}
						return nil
					})
				}()
				wantInside := map[string]string{config.ConsistencyPause: "paused", config.ConsistencyStop: "exited"}[mode]
				if inside != wantInside {
					t.Errorf("container was %q inside the window, want %q", inside, wantInside)
				}
				if got := eng.State("open-webui"); got != "running" {
					t.Errorf("container is %q after Quiet, want running", got)
				}
				if len(before) != 1 || before[0].ContainerID != c.ID || before[0].PID != os.Getpid() {
					t.Errorf("holds recorded before the %s: %+v, want this process's hold on %s", mode, before, c.ID)
				}
				if left := holds(t, e.Store); len(left) != 0 {
					t.Errorf("holds left after the undo: %+v", left)
				}
				switch path {
				case "error":
					if !errors.Is(err, errCopy) {
						t.Errorf("err = %v, want the copy's error", err)
					}
				case "cancel":
					if !errors.Is(err, context.Canceled) {
						t.Errorf("err = %v, want context.Canceled", err)
					}
				case "success":
					if err != nil {
						t.Errorf("err = %v", err)
					}
					if len(q.held) != 1 || q.held[0].Container != "open-webui" || q.held[0].Millis <= 0 {
						t.Errorf("held = %+v", q.held)
					}
				}
				action, undo := "pause", "unpause"
				if mode == config.ConsistencyStop {
					action, undo = "stop", "start"
				}
				if diff := cmp.Diff([]string{action + " open-webui", undo + " open-webui"}, eng.CallList()); diff != "" {
					t.Errorf("calls (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestQuietLeavesIdleContainersAlone: a container paused or not running
// before owui came is not touched, and stays as it was.
func TestQuietLeavesIdleContainersAlone(t *testing.T) {
	for _, mode := range []string{config.ConsistencyPause, config.ConsistencyStop} {
		for _, st := range []string{"paused", "exited", "created"} {
			t.Run(mode+"/"+st, func(t *testing.T) {
				e, eng := newHoldEnv(t)
				c := eng.AddContainer(docker.Container{Name: "open-webui", State: st})
				q := newDockerQuiescer(e, &source{engine: eng, container: c}, mode)
				ran := false
				if err := q.Quiet(context.Background(), func(context.Context) error { ran = true; return nil }); err != nil {
					t.Fatal(err)
				}
				if !ran {
					t.Error("fn did not run")
				}
				if got := eng.State("open-webui"); got != st {
					t.Errorf("container is %q, want %q as before", got, st)
				}
				if calls := eng.CallList(); len(calls) != 0 {
					t.Errorf("calls: %v", calls)
				}
				if left := holds(t, e.Store); len(left) != 0 {
					t.Errorf("holds: %+v", left)
				}
			})
		}
	}
}

// TestStopHoldsProjectWritersAndFailsCleanly: stop with a Compose project
// stops the Open WebUI container and the project's other writers; when one
// stop fails, the ones already stopped are started again.
func TestStopHoldsProjectWritersAndFailsCleanly(t *testing.T) {
	e, eng := newHoldEnv(t)
	vol := docker.Mount{Type: "volume", Name: "owui-data", Destination: docker.DataPath, RW: true}
	label := map[string]string{docker.ComposeProjectLabel: "stack"}
	eng.AddContainer(docker.Container{Name: "open-webui", State: "running", Labels: label, Mounts: []docker.Mount{vol}})
	eng.AddContainer(docker.Container{Name: "worker", State: "running", Labels: label,
		Mounts: []docker.Mount{{Type: "volume", Name: "owui-data", Destination: "/data", RW: true}}})
	eng.AddContainer(docker.Container{Name: "reader", State: "running", Labels: label,
		Mounts: []docker.Mount{{Type: "volume", Name: "owui-data", Destination: "/data", RW: false}}})
	eng.AddContainer(docker.Container{Name: "ollama", State: "running", Labels: label})
	eng.AddVolume("owui-data", t.TempDir())
	src, err := e.resolve(context.Background(), &config.Instance{Name: "main", ComposeProject: "stack"})
	if err != nil {
		t.Fatal(err)
	}
	if src.container.Name != "open-webui" || len(src.writers) != 1 || src.writers[0].Name != "worker" {
		t.Fatalf("resolved %s with writers %v", src.container.Name, src.writers)
	}

	q := newDockerQuiescer(e, src, config.ConsistencyStop)
	if err := q.Quiet(context.Background(), func(context.Context) error {
		if eng.State("open-webui") != "exited" || eng.State("worker") != "exited" || eng.State("ollama") != "running" {
			t.Errorf("inside: open-webui %s, worker %s, ollama %s", eng.State("open-webui"), eng.State("worker"), eng.State("ollama"))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"stop open-webui", "stop worker", "start worker", "start open-webui"}
	if diff := cmp.Diff(want, eng.CallList()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}

	// The second stop fails: the first container is started again.
	eng.Calls = nil
	eng.Before = func(verb, name string) error {
		if verb == "stop" && name == "worker" {
			return errors.New("engine says no")
		}
		return nil
	}
	ran := false
	err = q.Quiet(context.Background(), func(context.Context) error { ran = true; return nil })
	if err == nil || !strings.Contains(err.Error(), "engine says no") || ran {
		t.Fatalf("err = %v, fn ran = %v", err, ran)
	}
	for _, n := range []string{"open-webui", "worker"} {
		if got := eng.State(n); got != "running" {
			t.Errorf("%s is %s", n, got)
		}
	}
	if left := holds(t, e.Store); len(left) != 0 {
		t.Errorf("holds: %+v", left)
	}
}

// TestStopFinishesWhenCancelledMidCall: SIGTERM arriving while the engine
// stops the container does not abandon the stop half-way (the engine would
// finish it after the undo looked); the undo then starts the container.
func TestStopFinishesWhenCancelledMidCall(t *testing.T) {
	e, eng := newHoldEnv(t)
	c := eng.AddContainer(docker.Container{Name: "open-webui", State: "running"})
	ctx, cancel := context.WithCancel(context.Background())
	eng.Before = func(verb, _ string) error {
		if verb == "stop" {
			cancel()
		}
		return nil
	}
	q := newDockerQuiescer(e, &source{engine: eng, container: c}, config.ConsistencyStop)
	ran := false
	err := q.Quiet(ctx, func(context.Context) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("err = %v, fn ran = %v", err, ran)
	}
	if diff := cmp.Diff([]string{"stop open-webui", "start open-webui"}, eng.CallList()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if got := eng.State("open-webui"); got != "running" {
		t.Errorf("container is %s", got)
	}
}

// TestFailedUndoKeepsHold: an unpause that fails leaves the hold in state
// and says to run owui recover.
func TestFailedUndoKeepsHold(t *testing.T) {
	e, eng := newHoldEnv(t)
	c := eng.AddContainer(docker.Container{Name: "open-webui", State: "running"})
	eng.Before = func(verb, _ string) error {
		if verb == "unpause" {
			return errors.New("engine gone")
		}
		return nil
	}
	q := newDockerQuiescer(e, &source{engine: eng, container: c}, config.ConsistencyPause)
	err := q.Quiet(context.Background(), func(context.Context) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "owui recover") {
		t.Fatalf("err = %v, want one that says to run owui recover", err)
	}
	if hs := holds(t, e.Store); len(hs) != 1 || hs[0].Action != state.HoldPause {
		t.Fatalf("holds = %+v, want the pause still recorded", hs)
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestRecover: holds whose owner died are put back and forgotten, whatever
// state the container is in (paused, stopped, running already because the
// owner died between recording the hold and making it, or gone); holds of
// live runs and other hosts are left alone.
func TestRecover(t *testing.T) {
	e, eng := newHoldEnv(t)
	ctx := context.Background()
	host, _ := os.Hostname()
	dead := deadPID(t)
	add := func(name, action string, pid int, host string) {
		if _, err := e.Store.AddHold(ctx, state.Hold{ContainerID: "id-" + name, ContainerName: name, Action: action, PID: pid, Host: host, Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	eng.AddContainer(docker.Container{Name: "paused", State: "paused"})
	eng.AddContainer(docker.Container{Name: "stopped", State: "exited"})
	eng.AddContainer(docker.Container{Name: "never-paused", State: "running"})
	eng.AddContainer(docker.Container{Name: "live", State: "paused"})
	eng.AddContainer(docker.Container{Name: "elsewhere", State: "paused"})
	add("paused", state.HoldPause, dead, host)
	add("stopped", state.HoldStop, dead, host)
	add("never-paused", state.HoldPause, dead, host)
	add("removed", state.HoldStop, dead, host)
	add("live", state.HoldPause, os.Getpid(), host)
	add("elsewhere", state.HoldPause, dead, "another-host")

	// Without Docker nothing is lost: the holds stay for later.
	if _, err := Recover(ctx, e.Store, func(context.Context) (docker.Engine, error) { return nil, errors.New("no socket") }); err == nil || !strings.Contains(err.Error(), "no socket") {
		t.Fatalf("err = %v", err)
	}
	if n := len(holds(t, e.Store)); n != 6 {
		t.Fatalf("%d holds after a failed recovery, want 6", n)
	}

	rs, err := Recover(ctx, e.Store, e.Docker)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, r := range rs {
		msgs = append(msgs, r.String())
	}
	want := []string{
		fmt.Sprintf("recovered: unpaused container paused left paused by owui pid %d", dead),
		fmt.Sprintf("recovered: started container stopped left stopped by owui pid %d", dead),
		fmt.Sprintf("recovered: container never-paused is running; owui pid %d died before its pause took effect or after undoing it", dead),
		fmt.Sprintf("recovered: container removed, stopped by owui pid %d, no longer exists; forgot it", dead),
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("recovery (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"unpause paused", "start stopped"}, eng.CallList()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	var left []string
	for _, h := range holds(t, e.Store) {
		left = append(left, h.ContainerName)
	}
	if diff := cmp.Diff([]string{"live", "elsewhere"}, left); diff != "" {
		t.Errorf("holds left (-want +got):\n%s", diff)
	}
	if eng.State("live") != "paused" || eng.State("elsewhere") != "paused" {
		t.Error("a live or foreign hold was undone")
	}
}

// TestRecoverIgnoresOwnHolds: recovery run by the process that holds a
// container (owui watch between runs, or a second session) leaves it.
func TestRecoverIgnoresOwnHolds(t *testing.T) {
	e, eng := newHoldEnv(t)
	c := eng.AddContainer(docker.Container{Name: "open-webui", State: "running"})
	q := newDockerQuiescer(e, &source{engine: eng, container: c}, config.ConsistencyPause)
	err := q.Quiet(context.Background(), func(ctx context.Context) error {
		rs, err := Recover(ctx, e.Store, e.Docker)
		if err != nil || len(rs) != 0 {
			t.Errorf("recovery inside the window: %v, %v", rs, err)
		}
		if eng.State("open-webui") != "paused" {
			t.Error("recovery undid this process's own pause")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(eng.CallList(), []string{"pause open-webui", "unpause open-webui"}) {
		t.Errorf("calls: %v", eng.CallList())
	}
}
