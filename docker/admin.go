package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"
)

// The calls in this file create and remove things. owui itself never does;
// the test harness (internal/dockertest) uses them to set up a real
// engine, so that it needs no docker command line.

// CreateVolume creates a local named volume.
func (c *Client) CreateVolume(ctx context.Context, name string, labels map[string]string) error {
	if _, err := c.api.VolumeCreate(ctx, volume.CreateOptions{Name: name, Driver: "local", Labels: labels}); err != nil {
		return fmt.Errorf("create docker volume %q: %w", name, c.wrap(err))
	}
	return nil
}

// RemoveVolume removes a volume; a missing one is not an error.
func (c *Client) RemoveVolume(ctx context.Context, name string) error {
	if err := c.wrap(c.api.VolumeRemove(ctx, name, true)); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("remove docker volume %q: %w", name, err)
	}
	return nil
}

// ContainerSpec is what CreateContainer makes: a container with no network.
type ContainerSpec struct {
	Name   string
	Image  string
	Env    []string // KEY=value
	Labels map[string]string
	// Volumes maps volume names to paths inside the container.
	Volumes map[string]string
	// StopTimeout is the seconds Stop waits by default before killing; 0
	// leaves Docker's default (10 s).
	StopTimeout int
}

// CreateContainer creates (without starting) a container and returns its id.
func (c *Client) CreateContainer(ctx context.Context, spec ContainerSpec) (string, error) {
	var binds []string
	for vol, dst := range spec.Volumes {
		binds = append(binds, vol+":"+dst)
	}
	cfg := &container.Config{
		Image:           spec.Image,
		Env:             spec.Env,
		Labels:          spec.Labels,
		NetworkDisabled: true,
	}
	if spec.StopTimeout > 0 {
		cfg.StopTimeout = &spec.StopTimeout
	}
	host := &container.HostConfig{NetworkMode: "none", Binds: binds}
	out, err := c.api.ContainerCreate(ctx, cfg, host, nil, nil, spec.Name)
	if err != nil {
		return "", fmt.Errorf("create docker container %q: %w", spec.Name, c.wrap(err))
	}
	return out.ID, nil
}

// RemoveContainer force-removes a container (killing it if it runs) and
// its anonymous volumes; a missing one is not an error.
func (c *Client) RemoveContainer(ctx context.Context, id string) error {
	err := c.wrap(c.api.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("remove docker container %s: %w", short(id), err)
	}
	return nil
}

// Kill sends a signal (e.g. "SIGKILL") to a container's main process.
func (c *Client) Kill(ctx context.Context, id, signal string) error {
	return c.failed("kill", id, c.api.ContainerKill(ctx, id, signal))
}

// ImageExists reports whether the engine has an image by that reference.
func (c *Client) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := c.api.ImageInspect(ctx, ref)
	err = c.wrap(err)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inspect docker image %q: %w", ref, err)
	}
	return true, nil
}

// ImportImage makes an image named ref (repo:tag) from a tar stream of a
// root file system, with Dockerfile-like changes applied (`ENTRYPOINT
// ["/x"]`, `LABEL k=v`): the Engine API side of `docker import`.
func (c *Client) ImportImage(ctx context.Context, ref string, rootfs io.Reader, changes []string) error {
	repo, tag := ref, "latest"
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		repo, tag = ref[:i], ref[i+1:]
	}
	rc, err := c.api.ImageImport(ctx, image.ImportSource{Source: rootfs, SourceName: "-"}, repo, image.ImportOptions{Tag: tag, Changes: changes})
	if err != nil {
		return fmt.Errorf("import docker image %s: %w", ref, c.wrap(err))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
		rc.Close()
	}()
	// The answer is a stream of JSON progress messages; a failure is a
	// message with an error, after a 200.
	dec := json.NewDecoder(rc)
	for {
		var m struct {
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("import docker image %s: read progress: %w", ref, err)
		}
		if m.Error != "" {
			return fmt.Errorf("import docker image %s: %s", ref, m.Error)
		}
	}
}

// PathExists reports whether a path exists in a container's file system
// (HEAD on the archive endpoint, which reads nothing).
func (c *Client) PathExists(ctx context.Context, ref, path string) (bool, error) {
	_, err := c.api.ContainerStatPath(ctx, ref, path)
	err = c.wrap(err)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s in docker container %s: %w", path, short(ref), err)
	}
	return true, nil
}

// Logs returns what a container wrote to its standard output and error
// (the last tail lines), for test failure messages.
func (c *Client) Logs(ctx context.Context, id string, tail int) (string, error) {
	rc, err := c.api.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(tail)})
	if err != nil {
		return "", fmt.Errorf("read logs of docker container %s: %w", short(id), c.wrap(err))
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read logs of docker container %s: %w", short(id), err)
	}
	// Without a TTY the stream is multiplexed (see
	// github.com/docker/docker/pkg/stdcopy): frames of an 8-byte header
	// (stream, 0, 0, 0, big-endian size) and size bytes. A frame the limit
	// cut short is kept as far as it goes.
	var b strings.Builder
	for len(raw) >= 8 {
		n := int(raw[4])<<24 | int(raw[5])<<16 | int(raw[6])<<8 | int(raw[7])
		raw = raw[8:]
		n = min(n, len(raw))
		b.Write(raw[:n])
		raw = raw[n:]
	}
	return b.String(), nil
}
