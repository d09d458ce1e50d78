package docker

import (
	"fmt"
	"slices"
	"strings"
)

// DataMount returns the container's mount at DataPath (a volume or a bind
// mount), or an error that lists the mounts it has.
func DataMount(c *Container) (*Mount, error) {
	for i := range c.Mounts {
		if c.Mounts[i].Destination == DataPath {
			return &c.Mounts[i], nil
		}
	}
	if len(c.Mounts) == 0 {
		return nil, fmt.Errorf("docker container %s has no mount at %s: it has no mounts at all (Open WebUI's data lives in the container and dies with it)", c.Name, DataPath)
	}
	var have []string
	for _, m := range c.Mounts {
		src := m.Source
		if m.Type == "volume" && m.Name != "" {
			src = "volume " + m.Name
		}
		have = append(have, fmt.Sprintf("%s (%s %s)", m.Destination, m.Type, src))
	}
	return nil, fmt.Errorf("docker container %s has no mount at %s; its mounts: %s", c.Name, DataPath, strings.Join(have, ", "))
}

// HasEnv reports whether the container's environment sets name (to any
// value, even empty).
func HasEnv(c *Container, name string) bool {
	return slices.Contains(c.EnvNames, name)
}

// Running reports whether the container's processes run (and are not
// paused).
func (c *Container) Running() bool { return c.State == "running" }

// Paused reports whether the container is paused.
func (c *Container) Paused() bool { return c.State == "paused" }
