package executor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/docker"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/state"
)

// dockerEnv is an Env whose instance is found through a (fake) Docker
// Engine, with the given instance block body and consistency.
func dockerEnv(t *testing.T, eng docker.Engine, instance, remote, consistency string, hooks executor.Hooks) *env {
	t.Helper()
	src := fmt.Sprintf(`
instance "main" {
%s
}
target "t" {
  remote = %q
}
backup "daily" {
  instance    = instance.main
  to          = [target.t]
  every       = "24h"
  consistency = %q
}
`, instance, remote, consistency)
	p, diags := config.Decode("test.hcl", []byte(src), config.DecodeOptions{BaseDir: t.TempDir(), DefaultLocation: time.UTC})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	stateDir := filepath.Join(t.TempDir(), "state")
	st, err := state.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &executor.Env{Policy: p, Store: st, StateDir: stateDir, Hooks: hooks, Version: "test",
		Docker: func(context.Context) (docker.Engine, error) { return eng, nil }}
	return &env{Env: e, policy: p}
}

// TestDockerVolumePauseSnapshot: a docker_volume instance is found at the
// volume's mountpoint, its container is paused only for the local capture,
// its secret key is captured as a secret file of the snapshot, and the
// manifest records the image, digest, versions and the pause. The key
// appears in no log line.
func TestDockerVolumePauseSnapshot(t *testing.T) {
	const key = "s3cr3t-k3y-that-must-not-leak"
	data, _ := liveDataDir(t, 3)
	eng := executor.NewFakeEngine()
	eng.AddVolume("open-webui", data)
	c := eng.AddContainer(docker.Container{
		Name: "open-webui", State: "running",
		Image: "ghcr.io/open-webui/open-webui:main", ImageID: "sha256:abc",
		ImageDigests: []string{"ghcr.io/open-webui/open-webui@sha256:0123"},
		Labels:       map[string]string{"org.opencontainers.image.version": "0.6.30"},
		EnvNames:     []string{"PATH"},
		Mounts:       []docker.Mount{{Type: "volume", Name: "open-webui", Source: data, Destination: docker.DataPath, RW: true}},
	})
	eng.PutFile(c.ID, docker.SecretKeyPath, []byte(key))
	tl := &timeline{}
	remote := filepath.Join(t.TempDir(), "backups")
	e := dockerEnv(t, eng, `  docker_volume = "open-webui"
  container     = "open-webui"`, remote, config.ConsistencyPause, tl)
	var pausedAtUpload bool
	tl.onLog = func(msg string) {
		if strings.Contains(msg, "hashing") && eng.State("open-webui") != "running" {
			pausedAtUpload = true
		}
	}

	windows := e.Windows(context.Background(), []string{"daily"})
	w := windows["daily"]
	if w.Unknown != "" || len(w.Held) != 1 || w.Held[0] != "open-webui" || w.Bytes == 0 {
		t.Fatalf("window = %+v", w)
	}
	reason := planner.WindowReason(config.ConsistencyPause, &w)
	if !strings.Contains(reason, "container open-webui paused for about") {
		t.Errorf("reason: %s", reason)
	}

	res, _ := e.applyAt(t, context.Background(), time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC))
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if got := eng.State("open-webui"); got != "running" {
		t.Errorf("container is %s after the apply", got)
	}
	if pausedAtUpload {
		t.Error("the container was still paused while uploads were hashed")
	}
	m := readManifest(t, remote, snapshotOutcome(t, res).Snapshot)
	src := m.Source
	if src == nil || src.Container != "open-webui" || src.ImageDigest != "ghcr.io/open-webui/open-webui@sha256:0123" ||
		src.OpenWebUIVersion != "0.6.30" || src.DockerVolume != "open-webui" || src.ImageID != "sha256:abc" {
		t.Fatalf("manifest source = %+v", src)
	}
	if len(src.Held) != 1 || src.Held[0].Action != "pause" || src.Held[0].Millis <= 0 {
		t.Errorf("held = %+v", src.Held)
	}
	var secret bool
	for _, f := range m.Files {
		if f.Path == executor.SecretKeyFile {
			secret = f.Secret
		} else if f.Secret {
			t.Errorf("%s marked secret", f.Path)
		}
	}
	if !secret {
		t.Fatalf("manifest lacks %s marked secret: %+v", executor.SecretKeyFile, m.Files)
	}
	got, err := os.ReadFile(filepath.Join(remote, "daily", m.Snapshot, executor.SecretKeyFile))
	if err != nil || string(got) != key {
		t.Fatalf("secret key in the snapshot: %q, %v", got, err)
	}
	for _, l := range tl.logs {
		if strings.Contains(l.msg, key) {
			t.Errorf("log shows the key: %s", l.msg)
		}
	}
	if hs, _ := e.Store.Holds(context.Background()); len(hs) != 0 {
		t.Errorf("holds left: %+v", hs)
	}
}

// TestSourceErrors: what was looked for and what exists is in the error.
func TestSourceErrors(t *testing.T) {
	eng := executor.NewFakeEngine()
	eng.AddContainer(docker.Container{Name: "no-mount", State: "running",
		Mounts: []docker.Mount{{Type: "bind", Source: "/srv/x", Destination: "/x"}}})
	for name, tc := range map[string]struct {
		instance, want string
	}{
		"missing volume":         {`docker_volume = "nope"`, `docker_volume "nope"`},
		"missing container":      {`container = "nope"`, `container "nope"`},
		"container without data": {`container = "no-mount"`, "container no-mount has no mount at /app/backend/data (its mounts: /srv/x at /x)"},
		"missing project":        {`compose_project = "nope"`, `compose_project "nope"`},
	} {
		t.Run(name, func(t *testing.T) {
			remote := filepath.Join(t.TempDir(), "backups")
			e := dockerEnv(t, eng, tc.instance, remote, config.ConsistencyOnline, nil)
			res, _ := e.applyAt(t, context.Background(), time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC))
			err := res.Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}
