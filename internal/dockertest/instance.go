package dockertest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/owui/owui/docker"

	_ "modernc.org/sqlite" // reading the instance's counter
)

// startTimeout bounds how long an instance may take to commit once.
const startTimeout = 30 * time.Second

// readyPath exists in the container from the fake's first commit to its
// shutdown (outside the data volume, so backups never see it).
const readyPath = "/app/backend/.fakeowui-ready"

// Options says how RunInstance makes an instance.
type Options struct {
	// Project, when set, labels the container as a service of that Compose
	// project (com.docker.compose.project and .service).
	Project string
	// Service is the Compose service name; default "open-webui".
	Service string
	// Env is extra environment, KEY=value (e.g. WEBUI_SECRET_KEY=x, which
	// stops the fake from writing a key file).
	Env []string
	// Volume, when set, mounts that existing volume (e.g. another
	// instance's) instead of creating one; it is not removed at cleanup.
	Volume string
	// CommitEvery is the fake's commit interval; default 20ms.
	CommitEvery time.Duration
	// NoStart creates the container without starting it.
	NoStart bool
}

// Instance is a running stand-in for Open WebUI: a container writing to a
// named volume mounted at /app/backend/data.
type Instance struct {
	Client *docker.Client
	Host   string // DOCKER_HOST of the engine
	ID     string
	Name   string // container name
	Volume string // volume name
	Image  string
}

// RunInstance creates a volume and a container named after the test (with
// no network), starts it and waits until it has created webui.db and
// committed once. The
// container and the volume are force-removed when the test ends.
func RunInstance(t testing.TB, opts Options) *Instance {
	t.Helper()
	c := Client(t)
	img := Image(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := uniqueName(t)
	in := &Instance{Client: c, Host: c.Host(), Name: name, Volume: opts.Volume, Image: img}
	if in.Volume == "" {
		in.Volume = name
		if err := c.CreateVolume(ctx, in.Volume, map[string]string{TestLabel: "1"}); err != nil {
			t.Fatalf("dockertest: %v", err)
		}
		t.Cleanup(func() {
			if err := c.RemoveVolume(context.Background(), in.Volume); err != nil {
				t.Errorf("dockertest: %v", err)
			}
		})
	}
	labels := map[string]string{TestLabel: "1"}
	if opts.Project != "" {
		svc := opts.Service
		if svc == "" {
			svc = "open-webui"
		}
		labels[docker.ComposeProjectLabel] = opts.Project
		labels["com.docker.compose.service"] = svc
	}
	env := append([]string(nil), opts.Env...)
	if opts.CommitEvery > 0 {
		env = append(env, "FAKEOWUI_COMMIT_EVERY="+opts.CommitEvery.String())
	}
	id, err := c.CreateContainer(ctx, docker.ContainerSpec{
		Name: name, Image: img, Env: env, Labels: labels,
		Volumes: map[string]string{in.Volume: docker.DataPath},
	})
	if err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	in.ID = id
	t.Cleanup(func() {
		if err := c.RemoveContainer(context.Background(), id); err != nil {
			t.Errorf("dockertest: %v", err)
		}
	})
	if !opts.NoStart {
		start := time.Now()
		if err := c.Start(ctx, id); err != nil {
			t.Fatalf("dockertest: %v", err)
		}
		in.WaitReady(t)
		t.Logf("dockertest: container %s running in %s", name, time.Since(start).Round(time.Millisecond))
	}
	return in
}

// WaitReady waits until the instance has created webui.db and committed
// once, failing t
// (with the container's logs) if it exits or takes too long.
func (in *Instance) WaitReady(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	for {
		ct := in.Inspect(t)
		if ct.State == "exited" || ct.State == "dead" {
			t.Fatalf("dockertest: container %s %s before its first commit:\n%s", in.Name, ct.State, in.Logs(t))
		}
		ok, err := in.Client.PathExists(ctx, in.ID, readyPath)
		if err != nil {
			t.Fatalf("dockertest: %v", err)
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("dockertest: container %s did not commit within %s:\n%s", in.Name, startTimeout, in.Logs(t))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Inspect returns the container as the engine sees it now.
func (in *Instance) Inspect(t testing.TB) *docker.Container {
	t.Helper()
	ct, err := in.Client.Inspect(context.Background(), in.ID)
	if err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	return ct
}

// State returns the container's state: running, paused, exited, ...
func (in *Instance) State(t testing.TB) string {
	t.Helper()
	return in.Inspect(t).State
}

// WaitState waits up to timeout for the container to reach state.
func (in *Instance) WaitState(t testing.TB, state string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := in.State(t)
		if got == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockertest: container %s is %s, not %s, after %s", in.Name, got, state, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Logs returns the container's recent output.
func (in *Instance) Logs(t testing.TB) string {
	t.Helper()
	s, err := in.Client.Logs(context.Background(), in.ID, 50)
	if err != nil {
		return err.Error()
	}
	return s
}

// DataDir returns the host path of the instance's volume (the engine must
// run on this machine for the test to read it).
func (in *Instance) DataDir(t testing.TB) string {
	t.Helper()
	p, err := in.Client.VolumeMountpoint(context.Background(), in.Volume)
	if err != nil {
		t.Fatalf("dockertest: %v", err)
	}
	return p
}

// Commits returns how many transactions the instance has committed
// (counter.n in webui.db), read from the host through the volume.
func (in *Instance) Commits(t testing.TB) int64 {
	t.Helper()
	path := filepath.Join(in.DataDir(t), "webui.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatalf("dockertest: open %s: %v", path, err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(`SELECT n FROM counter`).Scan(&n); err != nil {
		t.Fatalf("dockertest: read counter in %s: %v", path, err)
	}
	return n
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// uniqueName is a container and volume name made from the test's name and
// random bytes, valid for Docker ([a-zA-Z0-9][a-zA-Z0-9_.-]*).
func uniqueName(t testing.TB) string {
	base := strings.ToLower(unsafeName.ReplaceAllString(t.Name(), "-"))
	if len(base) > 40 {
		base = base[:40]
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("owui-test-%s-%s", strings.Trim(base, "-."), hex.EncodeToString(b))
}
