// Package docker is owui's narrow view of the Docker Engine: find an Open
// WebUI instance's data, pause or stop its containers, and copy a file out
// of one. The Engine interface is what the executor uses; Connect returns
// the real thing, talking to the Engine API with version negotiation.
package docker

import (
	"context"
	"time"
)

// DataPath is where Open WebUI keeps its data inside its container.
const DataPath = "/app/backend/data"

// SecretKeyPath is where Open WebUI writes the WEBUI_SECRET_KEY it generated
// when none was set in its environment; it lies outside the data volume.
const SecretKeyPath = "/app/backend/.webui_secret_key"

// ComposeProjectLabel is the label Docker Compose puts on a project's containers.
const ComposeProjectLabel = "com.docker.compose.project"

// Engine is the part of the Docker Engine owui uses.
type Engine interface {
	// VolumeMountpoint returns the host path of a named volume.
	VolumeMountpoint(ctx context.Context, volume string) (string, error)
	// Inspect returns a container by name or id.
	Inspect(ctx context.Context, container string) (*Container, error)
	// ProjectContainers returns every container (running or not) of a
	// Compose project.
	ProjectContainers(ctx context.Context, project string) ([]*Container, error)
	Pause(ctx context.Context, id string) error
	Unpause(ctx context.Context, id string) error
	// Stop stops a container, killing it after timeout.
	Stop(ctx context.Context, id string, timeout time.Duration) error
	Start(ctx context.Context, id string) error
	// CopyFile reads one regular file out of a container's file system
	// (the Engine API's copy-from-container).
	CopyFile(ctx context.Context, container, path string) ([]byte, error)
}

// Container is what owui needs to know of a container.
type Container struct {
	ID   string
	Name string // without the leading slash
	// State is Docker's: created, running, paused, restarting, exited, dead.
	State string
	// Image is the image reference the container was created from;
	// ImageID its content id; ImageDigests the repo digests of that image.
	Image        string
	ImageID      string
	ImageDigests []string
	Labels       map[string]string
	// EnvNames lists the names (never the values) of the container's
	// environment variables, e.g. to see whether WEBUI_SECRET_KEY is set.
	// Variables set to the empty string are left out: Open WebUI's start
	// script treats an empty WEBUI_SECRET_KEY as unset.
	EnvNames []string
	Mounts   []Mount
}

// Mount is one mount of a container.
type Mount struct {
	Type        string // volume, bind, tmpfs
	Name        string // volume name, for Type volume
	Source      string // host path
	Destination string // path inside the container
	RW          bool
}
