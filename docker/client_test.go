package docker_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/owui/owui/docker"
	"github.com/owui/owui/internal/dockertest"
)

var ctx = context.Background()

func TestConnectExplainsWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	listener := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", listener)
	if err != nil {
		t.Fatal(err)
	}
	// Closing a unix listener removes its file; unlinking is turned off to
	// leave a socket nothing listens on, as a dead daemon does.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	tests := map[string]struct {
		host string
		want string
	}{
		"no socket":     {host: "unix://" + filepath.Join(dir, "missing.sock"), want: "no socket at " + filepath.Join(dir, "missing.sock")},
		"not listening": {host: "unix://" + listener, want: "nothing listens on socket " + listener},
		"bad scheme":    {host: "ssh://user@host", want: `scheme "ssh" is not supported`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := docker.ConnectHost(ctx, tc.host)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ConnectHost(%s) = %v, want an error containing %q", tc.host, err, tc.want)
			}
		})
	}
}

func TestConnectHonoursDockerHost(t *testing.T) {
	c := dockertest.Client(t)
	t.Setenv("DOCKER_HOST", c.Host())
	e, err := docker.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.(*docker.Client).APIVersion(); got == "" {
		t.Fatal("no API version negotiated")
	}
}

func TestVolumeMountpoint(t *testing.T) {
	in := dockertest.RunInstance(t, dockertest.Options{})
	mp, err := in.Client.VolumeMountpoint(ctx, in.Volume)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(mp, "webui.db")); err != nil {
		t.Fatalf("webui.db is not in the volume's mountpoint: %v", err)
	}
}

func TestInspect(t *testing.T) {
	in := dockertest.RunInstance(t, dockertest.Options{Env: []string{"OWUI_TEST_VAR=hidden-value", "EMPTY_VAR="}})
	ct, err := in.Client.Inspect(ctx, in.Name)
	if err != nil {
		t.Fatal(err)
	}
	if ct.ID != in.ID || ct.Name != in.Name || ct.State != "running" || ct.Image != in.Image || ct.ImageID == "" {
		t.Errorf("Inspect = id %s name %s state %s image %s (%s), want id %s name %s running image %s",
			ct.ID, ct.Name, ct.State, ct.Image, ct.ImageID, in.ID, in.Name, in.Image)
	}
	if got := ct.Labels["org.opencontainers.image.version"]; got != dockertest.ImageVersion {
		t.Errorf("image version label = %q, want %q", got, dockertest.ImageVersion)
	}
	if !docker.HasEnv(ct, "OWUI_TEST_VAR") || docker.HasEnv(ct, "WEBUI_SECRET_KEY") || docker.HasEnv(ct, "EMPTY_VAR") {
		t.Errorf("EnvNames = %v: want OWUI_TEST_VAR, not WEBUI_SECRET_KEY nor the empty EMPTY_VAR", ct.EnvNames)
	}
	for _, n := range ct.EnvNames {
		if strings.Contains(n, "=") || strings.Contains(n, "hidden-value") {
			t.Errorf("EnvNames holds a value: %q", n)
		}
	}
	m, err := docker.DataMount(ct)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != "volume" || m.Name != in.Volume || m.Source != in.DataDir(t) || !m.RW {
		t.Errorf("DataMount = %+v, want the read-write volume %s at %s", *m, in.Volume, in.DataDir(t))
	}
}

func TestDataMountBindAndMissing(t *testing.T) {
	c := dockertest.Client(t)
	img := dockertest.Image(t)
	dir := t.TempDir()
	create := func(name string, volumes map[string]string) *docker.Container {
		t.Helper()
		id, err := c.CreateContainer(ctx, docker.ContainerSpec{Name: name, Image: img, Volumes: volumes})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.RemoveContainer(context.Background(), id) })
		ct, err := c.Inspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	suffix := time.Now().Format("150405.000000")
	bound := create("owui-test-bind-"+suffix, map[string]string{dir: docker.DataPath})
	m, err := docker.DataMount(bound)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != "bind" || m.Source != dir {
		t.Errorf("DataMount = %+v, want a bind mount of %s", *m, dir)
	}
	elsewhere := create("owui-test-elsewhere-"+suffix, map[string]string{dir: "/srv/data"})
	_, err = docker.DataMount(elsewhere)
	if err == nil || !strings.Contains(err.Error(), "no mount at "+docker.DataPath) || !strings.Contains(err.Error(), "/srv/data (bind "+dir+")") {
		t.Errorf("DataMount of a container with its data elsewhere = %v, want an error listing /srv/data", err)
	}
	none := create("owui-test-nomount-"+suffix, nil)
	if _, err := docker.DataMount(none); err == nil || !strings.Contains(err.Error(), "no mounts at all") {
		t.Errorf("DataMount of a container without mounts = %v", err)
	}
}

func TestPauseStopRoundTrip(t *testing.T) {
	in := dockertest.RunInstance(t, dockertest.Options{})
	e := in.Client
	want := func(state string) {
		t.Helper()
		if got := in.State(t); got != state {
			t.Fatalf("state = %s, want %s", got, state)
		}
	}
	if err := e.Pause(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	want("paused")
	before := in.Commits(t)
	time.Sleep(200 * time.Millisecond)
	if after := in.Commits(t); after != before {
		t.Errorf("commits went from %d to %d while paused", before, after)
	}
	if err := e.Unpause(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	want("running")
	if err := e.Unpause(ctx, in.ID); err == nil {
		t.Error("Unpause of a running container succeeded")
	}

	start := time.Now()
	if err := e.Stop(ctx, in.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("stop took %s: the fake should exit on SIGTERM", took)
	}
	want("exited")
	if err := e.Stop(ctx, in.ID, time.Second); err != nil {
		t.Errorf("Stop of a stopped container: %v", err)
	}
	if err := e.Start(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	want("running")
	if err := e.Start(ctx, in.ID); err != nil {
		t.Errorf("Start of a running container: %v", err)
	}
	in.WaitReady(t)
}

func TestCopyFile(t *testing.T) {
	in := dockertest.RunInstance(t, dockertest.Options{})
	e := in.Client
	key, err := e.CopyFile(ctx, in.Name, docker.SecretKeyPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) < 16 {
		t.Fatalf("secret key is %d bytes", len(key))
	}
	// The executor copies the key while the container is paused or
	// stopped, too.
	if err := e.Pause(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	paused, err := e.CopyFile(ctx, in.ID, docker.SecretKeyPath)
	if uerr := e.Unpause(ctx, in.ID); uerr != nil {
		t.Fatal(uerr)
	}
	if err != nil || string(paused) != string(key) {
		t.Errorf("CopyFile while paused = %q, %v", paused, err)
	}
	if err := e.Stop(ctx, in.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if stopped, err := e.CopyFile(ctx, in.ID, docker.SecretKeyPath); err != nil || string(stopped) != string(key) {
		t.Errorf("CopyFile while stopped = %q, %v", stopped, err)
	}

	refusals := map[string]string{
		docker.DataPath:             "is a directory",
		dockertest.SymlinkPath:      "is a symlink",
		"/app/backend/no-such-file": "Could not find the file",
	}
	for path, want := range refusals {
		if b, err := e.CopyFile(ctx, in.ID, path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CopyFile(%s) = %d bytes, %v; want an error containing %q", path, len(b), err, want)
		}
	}
	if _, err := e.CopyFile(ctx, in.ID, "/fakeowui"); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("CopyFile of a large file = %v, want the size limit", err)
	}
}

func TestNoSecretKeyFileWhenEnvSetsIt(t *testing.T) {
	in := dockertest.RunInstance(t, dockertest.Options{Env: []string{"WEBUI_SECRET_KEY=from-env"}})
	ct := in.Inspect(t)
	if !docker.HasEnv(ct, "WEBUI_SECRET_KEY") {
		t.Errorf("EnvNames = %v, want WEBUI_SECRET_KEY", ct.EnvNames)
	}
	if _, err := in.Client.CopyFile(ctx, in.ID, docker.SecretKeyPath); !errors.Is(err, docker.ErrNotFound) {
		t.Errorf("CopyFile of the key file = %v, want ErrNotFound", err)
	}
}

func TestMissingThingsNameWhatExists(t *testing.T) {
	in := dockertest.RunInstance(t, dockertest.Options{})
	e := in.Client
	_, err := e.VolumeMountpoint(ctx, "owui-test-no-such-volume")
	if !errors.Is(err, docker.ErrNotFound) || !strings.Contains(err.Error(), `"owui-test-no-such-volume"`) || !strings.Contains(err.Error(), in.Volume) {
		t.Errorf("VolumeMountpoint of a missing volume = %v, want ErrNotFound naming it and %s", err, in.Volume)
	}
	_, err = e.Inspect(ctx, "owui-test-no-such-container")
	if !errors.Is(err, docker.ErrNotFound) || !strings.Contains(err.Error(), `"owui-test-no-such-container"`) || !strings.Contains(err.Error(), in.Name) {
		t.Errorf("Inspect of a missing container = %v, want ErrNotFound naming it and %s", err, in.Name)
	}
}

func TestProjectContainers(t *testing.T) {
	project := "owui-test-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	web := dockertest.RunInstance(t, dockertest.Options{Project: project})
	worker := dockertest.RunInstance(t, dockertest.Options{Project: project, Service: "worker", Volume: web.Volume, NoStart: true})
	dockertest.RunInstance(t, dockertest.Options{Project: project + "-other"})

	got, err := web.Client.ProjectContainers(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	var names, states []string
	for _, c := range got {
		names = append(names, c.Name)
		states = append(states, c.State)
	}
	want := []string{web.Name, worker.Name}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("ProjectContainers(%s) = %v, want %v", project, names, want)
	}
	if !slices.Contains(states, "created") || !slices.Contains(states, "running") {
		t.Errorf("states = %v, want one created and one running", states)
	}
	for _, c := range got {
		if m, err := docker.DataMount(c); err != nil || m.Name != web.Volume {
			t.Errorf("%s: DataMount = %v, %v, want volume %s", c.Name, m, err, web.Volume)
		}
	}

	_, err = web.Client.ProjectContainers(ctx, project+"-missing")
	if !errors.Is(err, docker.ErrNotFound) || !strings.Contains(err.Error(), project+"-other") {
		t.Errorf("ProjectContainers of a missing project = %v, want ErrNotFound listing %s-other", err, project)
	}
}
