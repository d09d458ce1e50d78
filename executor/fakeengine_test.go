package executor

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/owui/owui/docker"
)

// FakeEngine is a docker.Engine kept in memory. It stands in for the
// Docker Engine only where the real one cannot produce the fault a test
// needs (owui killed, cancelled or panicking inside the window, an unpause
// that fails); the real engine's behaviour is tested against a real
// daemon (internal/dockertest).
type FakeEngine struct {
	mu         sync.Mutex
	containers []*docker.Container
	volumes    map[string]string
	files      map[string][]byte // container id + path → content
	// Calls lists the state-changing calls made, e.g. "pause open-webui".
	Calls []string
	// Before, when set, runs at the start of every Pause, Unpause, Stop
	// and Start with the verb and container name; an error it returns
	// fails the call without changing the container.
	Before func(verb, name string) error
}

var _ docker.Engine = (*FakeEngine)(nil)

// NewFakeEngine returns an engine with no containers or volumes.
func NewFakeEngine() *FakeEngine {
	return &FakeEngine{volumes: map[string]string{}, files: map[string][]byte{}}
}

// AddContainer adds a container; its ID is "id-" + its name.
func (f *FakeEngine) AddContainer(c docker.Container) *docker.Container {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.ID == "" {
		c.ID = "id-" + c.Name
	}
	cp := c
	f.containers = append(f.containers, &cp)
	return &cp
}

// AddVolume makes a named volume with its host path.
func (f *FakeEngine) AddVolume(name, mountpoint string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.volumes[name] = mountpoint
}

// PutFile makes a file inside a container, for CopyFile.
func (f *FakeEngine) PutFile(container, path string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[container+":"+path] = data
}

// Remove deletes a container.
func (f *FakeEngine) Remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers = slices.DeleteFunc(f.containers, func(c *docker.Container) bool { return c.Name == name })
}

// SetState sets a container's state, as if changed outside owui.
func (f *FakeEngine) SetState(name, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.find(name); c != nil {
		c.State = state
	}
}

// State returns a container's state, or "gone".
func (f *FakeEngine) State(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.find(name); c != nil {
		return c.State
	}
	return "gone"
}

// CallList returns the calls made so far.
func (f *FakeEngine) CallList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.Calls)
}

func (f *FakeEngine) find(ref string) *docker.Container {
	for _, c := range f.containers {
		if c.ID == ref || c.Name == ref {
			return c
		}
	}
	return nil
}

// VolumeMountpoint implements docker.Engine.
func (f *FakeEngine) VolumeMountpoint(_ context.Context, volume string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.volumes[volume]; ok {
		return p, nil
	}
	return "", fmt.Errorf("docker volume %q: %w", volume, docker.ErrNotFound)
}

// Inspect implements docker.Engine.
func (f *FakeEngine) Inspect(_ context.Context, ref string) (*docker.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.find(ref); c != nil {
		cp := *c
		return &cp, nil
	}
	return nil, fmt.Errorf("docker container %q: %w", ref, docker.ErrNotFound)
}

// ProjectContainers implements docker.Engine.
func (f *FakeEngine) ProjectContainers(_ context.Context, project string) ([]*docker.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*docker.Container
	for _, c := range f.containers {
		if c.Labels[docker.ComposeProjectLabel] == project {
			cp := *c
			out = append(out, &cp)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("compose project %q: no containers: %w", project, docker.ErrNotFound)
	}
	return out, nil
}

// change runs one state-changing call: from must be the container's state.
func (f *FakeEngine) change(ctx context.Context, verb, ref string, from []string, to string) error {
	f.mu.Lock()
	c := f.find(ref)
	before := f.Before
	f.mu.Unlock()
	if c == nil {
		return fmt.Errorf("docker container %q: %w", ref, docker.ErrNotFound)
	}
	if before != nil {
		if err := before(verb, c.Name); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, verb+" "+c.Name)
	if !slices.Contains(from, c.State) {
		return fmt.Errorf("%s container %s: it is %s", verb, c.Name, c.State)
	}
	c.State = to
	return nil
}

// Pause implements docker.Engine.
func (f *FakeEngine) Pause(ctx context.Context, id string) error {
	return f.change(ctx, "pause", id, []string{"running"}, "paused")
}

// Unpause implements docker.Engine.
func (f *FakeEngine) Unpause(ctx context.Context, id string) error {
	return f.change(ctx, "unpause", id, []string{"paused"}, "running")
}

// Stop implements docker.Engine.
func (f *FakeEngine) Stop(ctx context.Context, id string, _ time.Duration) error {
	return f.change(ctx, "stop", id, []string{"running", "exited"}, "exited")
}

// Start implements docker.Engine.
func (f *FakeEngine) Start(ctx context.Context, id string) error {
	return f.change(ctx, "start", id, []string{"exited", "created", "running"}, "running")
}

// CopyFile implements docker.Engine.
func (f *FakeEngine) CopyFile(_ context.Context, container, path string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.find(container)
	if c == nil {
		return nil, fmt.Errorf("docker container %q: %w", container, docker.ErrNotFound)
	}
	if b, ok := f.files[c.ID+":"+path]; ok {
		return slices.Clone(b), nil
	}
	return nil, fmt.Errorf("%s in container %s: %w", path, c.Name, docker.ErrNotFound)
}
