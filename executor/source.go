package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/owui/owui/config"
	"github.com/owui/owui/docker"
)

// ErrNoDocker is returned when an instance needs the Docker Engine and
// this Env was given no way to reach it.
var ErrNoDocker = errors.New("no Docker Engine configured")

// source is an instance resolved against this host when a backup runs:
// where its data directory is, and the containers that run it. The planner
// never sees it; the executor resolves it at refresh and apply time.
type source struct {
	inst    *config.Instance
	dataDir string
	// engine and container are set when the instance names a container
	// (directly or through its Compose project); container is its state
	// as inspected when the source was resolved.
	engine    docker.Engine
	container *docker.Container
	// writers are the other containers of the Compose project that mount
	// the same data read-write: stop mode stops them too.
	writers []*docker.Container
}

// engine connects to the Docker Engine once per Env.
func (e *Env) engine(ctx context.Context) (docker.Engine, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dockerEngine != nil {
		return e.dockerEngine, nil
	}
	if e.Docker == nil {
		return nil, ErrNoDocker
	}
	eng, err := e.Docker(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the Docker Engine: %w", err)
	}
	e.dockerEngine = eng
	return eng, nil
}

// resolve finds inst's data directory and containers. An instance with a
// data_dir and no container needs no Docker at all.
func (e *Env) resolve(ctx context.Context, inst *config.Instance) (*source, error) {
	src := &source{inst: inst, dataDir: inst.DataDir}
	if !inst.UsesDocker() {
		return src, nil
	}
	eng, err := e.engine(ctx)
	if err != nil {
		return nil, fmt.Errorf("instance %q: %w", inst.Name, err)
	}
	src.engine = eng
	if inst.DockerVolume != "" {
		mp, err := eng.VolumeMountpoint(ctx, inst.DockerVolume)
		if err != nil {
			return nil, fmt.Errorf("instance %q: docker_volume %q: %w", inst.Name, inst.DockerVolume, err)
		}
		src.dataDir = mp
	}
	var project []*docker.Container
	if inst.ComposeProject != "" {
		if project, err = eng.ProjectContainers(ctx, inst.ComposeProject); err != nil {
			return nil, fmt.Errorf("instance %q: compose_project %q: %w", inst.Name, inst.ComposeProject, err)
		}
		if len(project) == 0 {
			return nil, fmt.Errorf("instance %q: compose_project %q: no container has the label %s=%s",
				inst.Name, inst.ComposeProject, docker.ComposeProjectLabel, inst.ComposeProject)
		}
	}
	switch {
	case inst.Container != "":
		if src.container, err = eng.Inspect(ctx, inst.Container); err != nil {
			return nil, fmt.Errorf("instance %q: container %q: %w", inst.Name, inst.Container, err)
		}
	case inst.ComposeProject != "":
		if src.container, err = openWebUIOf(inst.ComposeProject, project); err != nil {
			return nil, fmt.Errorf("instance %q: %w", inst.Name, err)
		}
	default:
		return src, nil // docker_volume alone: no container to hold
	}
	data, err := dataMount(src.container, inst.DockerVolume)
	if err != nil {
		return nil, fmt.Errorf("instance %q: %w", inst.Name, err)
	}
	if src.dataDir == "" {
		src.dataDir = data.Source
	}
	for _, c := range project {
		if c.ID != src.container.ID && mountsSame(c, data) {
			src.writers = append(src.writers, c)
		}
	}
	return src, nil
}

// dataMount is the mount of c that holds the data: the named volume when
// one is given, else the mount at /app/backend/data. An instance whose
// container does not mount its docker_volume is a mistake worth an error:
// pausing that container would not quiet the volume.
func dataMount(c *docker.Container, volume string) (docker.Mount, error) {
	for _, m := range c.Mounts {
		if volume != "" && m.Type == "volume" && m.Name == volume {
			return m, nil
		}
		if volume == "" && m.Destination == docker.DataPath {
			return m, nil
		}
	}
	what := "has no mount at " + docker.DataPath
	if volume != "" {
		what = fmt.Sprintf("does not mount the volume %q", volume)
	}
	return docker.Mount{}, fmt.Errorf("container %s %s (its mounts: %s)", c.Name, what, describeMounts(c.Mounts))
}

func describeMounts(ms []docker.Mount) string {
	if len(ms) == 0 {
		return "none"
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		from := m.Source
		if m.Type == "volume" {
			from = "volume " + m.Name
		}
		parts[i] = fmt.Sprintf("%s at %s", from, m.Destination)
	}
	return strings.Join(parts, ", ")
}

// mountsSame reports whether c mounts the data of m read-write.
func mountsSame(c *docker.Container, m docker.Mount) bool {
	return slices.ContainsFunc(c.Mounts, func(o docker.Mount) bool {
		if !o.RW {
			return false
		}
		if m.Type == "volume" {
			return o.Type == "volume" && o.Name == m.Name
		}
		return o.Source == m.Source
	})
}

// openWebUIOf picks the Compose project's Open WebUI container: the one
// that mounts /app/backend/data.
func openWebUIOf(project string, cs []*docker.Container) (*docker.Container, error) {
	var found []*docker.Container
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
		if slices.ContainsFunc(c.Mounts, func(m docker.Mount) bool { return m.Destination == docker.DataPath }) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("compose_project %q: none of its containers (%s) mounts %s; set container", project, strings.Join(names, ", "), docker.DataPath)
	default:
		var many []string
		for _, c := range found {
			many = append(many, c.Name)
		}
		return nil, fmt.Errorf("compose_project %q: several containers mount %s (%s); set container to the Open WebUI one", project, docker.DataPath, strings.Join(many, ", "))
	}
}

// toHold is what a quiet window of the given consistency pauses or stops:
// the Open WebUI container, plus for stop the project's other writers.
func (s *source) toHold(consistency string) []*docker.Container {
	if s.container == nil {
		return nil
	}
	cs := []*docker.Container{s.container}
	if consistency == config.ConsistencyStop {
		cs = append(cs, s.writers...)
	}
	return cs
}
