package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/owui/owui/docker"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/internal/dockertest"
	"github.com/owui/owui/internal/livewriter"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/state"
)

// dockerCase is a real Open WebUI stand-in (internal/dockertest) with an
// owui policy that backs up its volume to a local directory.
type dockerCase struct {
	in      *dockertest.Instance
	dir     string
	policy  string
	backups string
}

// newDockerCase runs an instance, adds ballast MiB of changing data to its
// volume (copied inside the quiet window, so that the window lasts long
// enough to measure and to hit with a signal), and writes a policy with
// the given consistency. DOCKER_HOST points owui at the test engine.
func newDockerCase(t *testing.T, consistency string, ballast int, opts dockertest.Options) *dockerCase {
	t.Helper()
	in := dockertest.RunInstance(t, opts)
	t.Setenv("DOCKER_HOST", in.Host)
	if ballast > 0 {
		writeBallast(t, filepath.Join(in.DataDir(t), "ballast.bin"), ballast)
	}
	dir := t.TempDir()
	backups := filepath.Join(dir, "backups")
	policy := writePolicy(t, dir, fmt.Sprintf(`
instance "main" {
  docker_volume = %q
  container     = %q
}
target "local" {
  remote = %q
}
backup "daily" {
  instance    = instance.main
  to          = [target.local]
  every       = "24h"
  consistency = %q
}
`, in.Volume, in.Name, backups, consistency))
	return &dockerCase{in: in, dir: dir, policy: policy, backups: backups}
}

// writeBallast writes mib MiB of incompressible bytes.
func writeBallast(t *testing.T, path string, mib int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 1<<20)
	r := rand.NewChaCha8([32]byte{1})
	for range mib {
		r.Read(block)
		if _, err := f.Write(block); err != nil {
			t.Fatal(err)
		}
	}
}

func (dc *dockerCase) secretKey(t *testing.T) string {
	t.Helper()
	key, err := dc.in.Client.CopyFile(context.Background(), dc.in.ID, docker.SecretKeyPath)
	if err != nil || len(bytes.TrimSpace(key)) < 8 {
		t.Fatalf("secret key of the instance: %q, %v", key, err)
	}
	return string(key)
}

func (dc *dockerCase) holds(t *testing.T) []state.Hold {
	t.Helper()
	st, err := state.Open(filepath.Join(dc.dir, ".owui"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	hs, err := st.Holds(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// onlySnapshot returns the manifest of the one complete snapshot.
func (dc *dockerCase) onlySnapshot(t *testing.T) *manifest.Manifest {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dc.backups, "daily"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("target holds %v (%v), want one snapshot", ents, err)
	}
	b, err := os.ReadFile(filepath.Join(dc.backups, "daily", ents[0].Name(), manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var captureDone = regexp.MustCompile(`local capture done in ([0-9.]+m?s)`)

// TestDockerPauseSnapshot is the first acceptance check, against a
// real engine: a docker_volume policy with consistency = "pause" snapshots
// a volume its container keeps writing to; afterwards the container runs
// unpaused, the pause lasted about as long as the local copy, the snapshot
// restores and passes integrity_check and the writer's invariant, and it
// holds the secret key and the image's identity, which the manifest
// records. The key appears in no output, log, plan, state or plan file.
func TestDockerPauseSnapshot(t *testing.T) {
	dc := newDockerCase(t, "pause", 64, dockertest.Options{})
	key := dc.secretKey(t)
	var outputs []string
	run := func(args ...string) string {
		t.Helper()
		code, out, errs := cli(t, append(args, "-f", dc.policy)...)
		outputs = append(outputs, out, errs)
		if code != 0 && !(args[0] == "plan" && code == 2) {
			t.Fatalf("owui %v: exit %d\n%s%s", args, code, out, errs)
		}
		return out + errs
	}

	plan := run("plan")
	if !strings.Contains(plan, "container "+dc.in.Name+" paused for about") || !strings.Contains(plan, "assumed 200 MB/s") {
		t.Errorf("plan does not say which container is paused for how long:\n%s", plan)
	}
	run("plan", "--json")
	planFile := filepath.Join(dc.dir, "saved.plan")
	run("plan", "--out", planFile)

	start := time.Now()
	applied := run("apply", "--log-format", "json", planFile)
	total := time.Since(start)
	if got := dc.in.State(t); got != "running" {
		t.Fatalf("container is %s after the apply", got)
	}
	before := dc.in.Commits(t)
	time.Sleep(300 * time.Millisecond)
	if after := dc.in.Commits(t); after <= before {
		t.Errorf("the instance stopped committing after the apply: %d then %d", before, after)
	}

	m := dc.onlySnapshot(t)
	src := m.Source
	ct := dc.in.Inspect(t)
	if src == nil || src.Container != dc.in.Name || src.DockerVolume != dc.in.Volume || src.ImageID != ct.ImageID ||
		src.Image != dc.in.Image || src.OpenWebUIVersion != dockertest.ImageVersion || src.AlembicVersion == "" {
		t.Fatalf("manifest source = %+v; container %+v", src, ct)
	}
	if len(ct.ImageDigests) > 0 && src.ImageDigest != ct.ImageDigests[0] {
		t.Errorf("image_digest %q, want %q", src.ImageDigest, ct.ImageDigests[0])
	}
	if len(src.Held) != 1 || src.Held[0].Action != "pause" {
		t.Fatalf("held = %+v", src.Held)
	}
	pause := time.Duration(src.Held[0].Millis * float64(time.Millisecond))
	capture := captureDone.FindStringSubmatch(applied)
	if capture == nil {
		t.Fatalf("apply did not log the capture time:\n%s", applied)
	}
	copyTime, err := time.ParseDuration(capture[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pause window %s, local capture %s, total apply %s (64 MiB ballast + live webui.db, vector_db/, audit.log)", pause.Round(time.Millisecond), copyTime, total.Round(time.Millisecond))
	if pause > copyTime+500*time.Millisecond || pause < copyTime/2 {
		t.Errorf("pause window %s is not about the local capture time %s", pause, copyTime)
	}
	if !strings.Contains(applied, "paused for") {
		t.Errorf("apply log does not report the pause:\n%s", applied)
	}

	var keyFile *manifest.File
	for i, f := range m.Files {
		if f.Path == executor.SecretKeyFile {
			keyFile = &m.Files[i]
		}
	}
	if keyFile == nil || !keyFile.Secret {
		t.Fatalf("manifest lacks the secret key file marked secret")
	}

	restored := filepath.Join(dc.dir, "restored")
	run("restore", "daily", "--to", restored)
	if rows, err := livewriter.CheckInvariant(filepath.Join(restored, "webui.db")); err != nil || rows == 0 {
		t.Errorf("restored webui.db: %d rows, %v", rows, err)
	}
	if got, err := os.ReadFile(filepath.Join(restored, executor.SecretKeyFile)); err != nil || string(got) != key {
		t.Errorf("restored secret key differs from the container's (%v)", err)
	}
	run("snapshots")
	run("snapshots", "--json")
	run("status")
	run("history")
	run("recover")

	// The key is only in the snapshot's own file: nowhere else.
	mb, _ := os.ReadFile(filepath.Join(dc.backups, "daily", m.Snapshot, manifest.FileName))
	outputs = append(outputs, string(mb))
	for _, name := range []string{planFile, filepath.Join(dc.dir, ".owui", "state.db"), filepath.Join(dc.dir, ".owui", "state.db-wal")} {
		b, _ := os.ReadFile(name)
		outputs = append(outputs, string(b))
	}
	trimmed := strings.TrimSpace(key)
	for i, o := range outputs {
		if strings.Contains(o, trimmed) {
			t.Errorf("output %d shows the secret key:\n%s", i, o)
		}
	}
}

// startOwui starts owui as a child process talking to the test engine.
func startOwui(t *testing.T, dc *dockerCase, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := owuiProcess(t, append(args, "-f", dc.policy)...)
	cmd.Env = append(cmd.Env, "DOCKER_HOST="+dc.in.Host)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// waitPoint polls cond every 2ms until it holds or the child exits first.
func waitPoint(t *testing.T, cmd *exec.Cmd, exited <-chan error, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		select {
		case err := <-exited:
			t.Logf("owui exited before the point was reached: %v", err)
			return false
		case <-time.After(2 * time.Millisecond):
		}
	}
	cmd.Process.Kill()
	t.Fatal("the point was never reached")
	return false
}

// TestDockerStopInterrupted: SIGTERM or SIGINT at several points of a
// stop-mode apply (just after the hold is recorded, while the container
// is stopped, during the upload) leaves the container running and no hold
// recorded.
func TestDockerStopInterrupted(t *testing.T) {
	points := map[string]func(dc *dockerCase) func() bool{
		"hold recorded": func(dc *dockerCase) func() bool {
			return func() bool { return len(dc.holds(t)) > 0 }
		},
		"container stopped": func(dc *dockerCase) func() bool {
			return func() bool { return dc.in.State(t) == "exited" }
		},
		"uploading": func(dc *dockerCase) func() bool {
			return func() bool {
				ents, _ := os.ReadDir(filepath.Join(dc.backups, "daily"))
				return len(ents) > 0
			}
		},
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		for point, cond := range points {
			t.Run(sig.String()+"/"+point, func(t *testing.T) {
				dc := newDockerCase(t, "stop", 128, dockertest.Options{})
				cmd, out := startOwui(t, dc, "apply", "--auto-approve")
				exited := make(chan error, 1)
				go func() { exited <- cmd.Wait() }()
				if waitPoint(t, cmd, exited, cond(dc)) {
					if err := cmd.Process.Signal(sig); err != nil {
						t.Fatal(err)
					}
					err := <-exited
					t.Logf("apply interrupted by %v at %q: %v\n%s", sig, point, err, out)
				}
				dc.in.WaitState(t, "running", 30*time.Second)
				if hs := dc.holds(t); len(hs) != 0 {
					t.Errorf("holds left: %+v", hs)
				}
			})
		}
	}
}

// TestDockerKilledInWindow: owui killed with SIGKILL while the container
// is paused or stopped leaves it so; the next owui plan puts it back
// before anything else (even before reading a broken policy) and says so.
func TestDockerKilledInWindow(t *testing.T) {
	for mode, held := range map[string]string{"pause": "paused", "stop": "exited"} {
		t.Run(mode, func(t *testing.T) {
			dc := newDockerCase(t, mode, 256, dockertest.Options{})
			cmd, out := startOwui(t, dc, "apply", "--auto-approve")
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			if !waitPoint(t, cmd, exited, func() bool { return dc.in.State(t) == held }) {
				t.Fatalf("the container was never %s:\n%s", held, out)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			<-exited
			if got := dc.in.State(t); got != held {
				t.Fatalf("after kill -9 the container is %s, want it still %s", got, held)
			}
			if hs := dc.holds(t); len(hs) != 1 || hs[0].PID != cmd.Process.Pid {
				t.Fatalf("holds after kill -9: %+v", hs)
			}
			// After the stop, the policy is broken too: the container is
			// put back all the same, before the policy is read.
			wantCode := 0
			if mode == "stop" {
				if err := os.WriteFile(dc.policy, []byte("instance {\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				wantCode = 1
			}
			code, o, errs := cli(t, "plan", "-f", dc.policy)
			verb := map[string]string{"pause": "unpaused", "stop": "started"}[mode]
			want := fmt.Sprintf("recovered: %s container %s left %s by owui pid %d", verb, dc.in.Name, map[string]string{"pause": "paused", "stop": "stopped"}[mode], cmd.Process.Pid)
			if code != wantCode || !strings.HasPrefix(errs, want) {
				t.Fatalf("plan after kill -9: exit %d, stderr does not start with %q:\n%s%s", code, want, o, errs)
			}
			if got := dc.in.State(t); got != "running" {
				t.Errorf("container is %s after the plan", got)
			}
			if hs := dc.holds(t); len(hs) != 0 {
				t.Errorf("holds left: %+v", hs)
			}
		})
	}
}

// TestDockerIdleContainerLeftAlone: a container stopped (or paused) before
// the apply is still so after it, and the snapshot is made all the same.
func TestDockerIdleContainerLeftAlone(t *testing.T) {
	for mode, before := range map[string]string{"stop": "exited", "pause": "paused"} {
		t.Run(mode+"/"+before, func(t *testing.T) {
			dc := newDockerCase(t, mode, 0, dockertest.Options{})
			ctx := context.Background()
			var err error
			if before == "exited" {
				err = dc.in.Client.Stop(ctx, dc.in.ID, 10*time.Second)
			} else {
				err = dc.in.Client.Pause(ctx, dc.in.ID)
			}
			if err != nil {
				t.Fatal(err)
			}
			if before == "paused" {
				t.Cleanup(func() { dc.in.Client.Unpause(context.Background(), dc.in.ID) })
			}
			code, out, errs := cli(t, "apply", "--auto-approve", "-f", dc.policy)
			if code != 0 {
				t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
			}
			if got := dc.in.State(t); got != before {
				t.Errorf("container is %s after the apply, want %s as before", got, before)
			}
			if !strings.Contains(errs, "left as it is") {
				t.Errorf("apply did not say it left the container alone:\n%s", errs)
			}
			if m := dc.onlySnapshot(t); m.Source == nil || len(m.Source.Held) != 0 {
				t.Errorf("manifest source = %+v, want nothing held", m.Source)
			}
		})
	}
}

// TestDockerComposeProjectStop: with compose_project, stop also stops the
// project's other containers that write to the same volume (and only
// those), and starts them all again.
func TestDockerComposeProjectStop(t *testing.T) {
	project := fmt.Sprintf("owui-test-%d", time.Now().UnixNano())
	main := dockertest.RunInstance(t, dockertest.Options{Project: project})
	writer := dockertest.RunInstance(t, dockertest.Options{Project: project, Service: "worker", Volume: main.Volume})
	other := dockertest.RunInstance(t, dockertest.Options{Project: project, Service: "other"})
	t.Setenv("DOCKER_HOST", main.Host)
	dir := t.TempDir()
	backups := filepath.Join(dir, "backups")
	policy := writePolicy(t, dir, fmt.Sprintf(`
instance "main" {
  container       = %q
  compose_project = %q
}
target "local" {
  remote = %q
}
backup "daily" {
  instance    = instance.main
  to          = [target.local]
  every       = "24h"
  consistency = "stop"
}
`, main.Name, project, backups))
	code, out, errs := cli(t, "plan", "-f", policy)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("containers %s and %s stopped for about", main.Name, writer.Name)) {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = cli(t, "apply", "--auto-approve", "-f", policy)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errs)
	}
	dc := &dockerCase{in: main, dir: dir, policy: policy, backups: backups}
	var held []string
	for _, h := range dc.onlySnapshot(t).Source.Held {
		held = append(held, h.Container+" "+h.Action)
	}
	// Started again in the reverse order of stopping.
	if want := []string{writer.Name + " stop", main.Name + " stop"}; !slices.Equal(held, want) {
		t.Errorf("held %v, want %v", held, want)
	}
	for _, in := range []*dockertest.Instance{main, writer, other} {
		if got := in.State(t); got != "running" {
			t.Errorf("%s is %s after the apply", in.Name, got)
		}
	}
	if strings.Contains(errs, other.Name) {
		t.Errorf("the project's container without the volume was touched:\n%s", errs)
	}
}
