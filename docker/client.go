package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
)

// MaxCopyFileSize bounds what CopyFile reads: owui copies small files (the
// secret key) out of containers, never data.
const MaxCopyFileSize = 1 << 20

const (
	// DefaultHost is where the daemon listens when DOCKER_HOST is unset.
	DefaultHost = client.DefaultDockerHost
	// pingTimeout bounds Connect's first call.
	pingTimeout = 10 * time.Second
)

// Client is the real Engine, talking to a Docker daemon through the
// official Engine API client (github.com/docker/docker/client).
type Client struct {
	api    *client.Client
	host   string // as configured, e.g. unix:///var/run/docker.sock
	socket string // unix socket path, or ""
	addr   string // host:port for tcp
}

var _ Engine = (*Client)(nil)

// Connect connects to the daemon DOCKER_HOST names (default
// unix:///var/run/docker.sock; TLS from DOCKER_CERT_PATH and
// DOCKER_TLS_VERIFY, as the docker CLI does), pings it and negotiates the
// API version. A daemon that cannot be reached gives an error wrapping
// ErrUnreachable that names the socket and the cause (no socket,
// permission denied, nothing listening).
func Connect(ctx context.Context) (Engine, error) {
	if err := checkHost(hostFromEnv()); err != nil {
		return nil, err
	}
	api, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", hostFromEnv(), err)
	}
	c, err := connect(ctx, api)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ConnectHost is Connect with an explicit host (unix:///path or
// tcp://host:port) instead of DOCKER_HOST, returning the concrete client
// (which the test harness also uses to create and remove things).
func ConnectHost(ctx context.Context, host string) (*Client, error) {
	if err := checkHost(host); err != nil {
		return nil, err
	}
	api, err := client.NewClientWithOpts(client.FromEnv, client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", host, err)
	}
	return connect(ctx, api)
}

// hostFromEnv returns DOCKER_HOST or the default socket.
func hostFromEnv() string {
	if h := os.Getenv(client.EnvOverrideHost); h != "" {
		return h
	}
	return DefaultHost
}

// checkHost refuses a host owui cannot talk to.
func checkHost(host string) error {
	u, err := client.ParseHostURL(host)
	if err != nil {
		return fmt.Errorf("parse docker host %q: %w", host, err)
	}
	switch u.Scheme {
	case "unix", "tcp", "http", "https":
		return nil
	}
	return fmt.Errorf("docker host %q: scheme %q is not supported (use unix:// or tcp://)", host, u.Scheme)
}

// connect pings the daemon api talks to and settles the API version: the
// daemon's, or the client's newest when the daemon is newer.
func connect(ctx context.Context, api *client.Client) (*Client, error) {
	c := &Client{api: api, host: api.DaemonHost()}
	if u, err := client.ParseHostURL(c.host); err == nil {
		if u.Scheme == "unix" {
			c.socket = u.Host
		} else {
			c.addr = u.Host
		}
	}
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	ping, err := api.Ping(pctx)
	if err != nil {
		api.Close()
		if client.IsErrConnectionFailed(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return nil, c.explain(err)
		}
		return nil, fmt.Errorf("ping docker daemon at %s: %v: %w", c.host, err, ErrUnreachable)
	}
	api.NegotiateAPIVersionPing(ping)
	return c, nil
}

// Host is the daemon address the client talks to.
func (c *Client) Host() string { return c.host }

// APIVersion is the negotiated Engine API version, e.g. "1.41".
func (c *Client) APIVersion() string { return c.api.ClientVersion() }

// VolumeMountpoint returns the host path of a named volume. A missing
// volume's error lists the volumes that exist.
func (c *Client) VolumeMountpoint(ctx context.Context, name string) (string, error) {
	v, err := c.api.VolumeInspect(ctx, name)
	err = c.wrap(err)
	if errors.Is(err, ErrNotFound) {
		names, lerr := c.volumeNames(ctx)
		if lerr != nil {
			return "", fmt.Errorf("docker volume %q: %w", name, ErrNotFound)
		}
		return "", fmt.Errorf("docker volume %q: %w; %s", name, ErrNotFound, existing("volumes", names))
	}
	if err != nil {
		return "", fmt.Errorf("inspect docker volume %q: %w", name, err)
	}
	if v.Mountpoint == "" {
		return "", fmt.Errorf("docker volume %q has no mountpoint on this host (volume driver without a local path?)", name)
	}
	return v.Mountpoint, nil
}

func (c *Client) volumeNames(ctx context.Context) ([]string, error) {
	list, err := c.api.VolumeList(ctx, volume.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list docker volumes: %w", c.wrap(err))
	}
	names := make([]string, 0, len(list.Volumes))
	for _, v := range list.Volumes {
		if v != nil {
			names = append(names, v.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Inspect returns a container by name or id, with its image's repo
// digests and labels (under the container's own). A missing container's
// error lists the containers that exist.
func (c *Client) Inspect(ctx context.Context, name string) (*Container, error) {
	j, err := c.api.ContainerInspect(ctx, name)
	err = c.wrap(err)
	if errors.Is(err, ErrNotFound) {
		names, lerr := c.containerNames(ctx)
		if lerr != nil {
			return nil, fmt.Errorf("docker container %q: %w", name, ErrNotFound)
		}
		return nil, fmt.Errorf("docker container %q: %w; %s", name, ErrNotFound, existing("containers", names))
	}
	if err != nil {
		return nil, fmt.Errorf("inspect docker container %q: %w", name, err)
	}
	if j.ContainerJSONBase == nil {
		return nil, fmt.Errorf("inspect docker container %q: the engine's answer has no container", name)
	}
	ct := &Container{
		ID:      j.ID,
		Name:    strings.TrimPrefix(j.Name, "/"),
		ImageID: j.Image,
	}
	if j.State != nil {
		ct.State = string(j.State.Status)
	}
	if j.Config != nil {
		ct.Image = j.Config.Image
		ct.Labels = j.Config.Labels
		for _, e := range j.Config.Env {
			if k, v, _ := strings.Cut(e, "="); v != "" {
				ct.EnvNames = append(ct.EnvNames, k)
			}
		}
	}
	sort.Strings(ct.EnvNames)
	for _, m := range j.Mounts {
		ct.Mounts = append(ct.Mounts, Mount{Type: string(m.Type), Name: m.Name, Source: m.Source, Destination: m.Destination, RW: m.RW})
	}
	digests, labels, err := c.imageInfo(ctx, j.Image)
	if err != nil {
		return nil, fmt.Errorf("inspect image of docker container %q: %w", ct.Name, err)
	}
	ct.ImageDigests = digests
	for k, v := range labels {
		if _, ok := ct.Labels[k]; !ok {
			if ct.Labels == nil {
				ct.Labels = map[string]string{}
			}
			ct.Labels[k] = v
		}
	}
	return ct, nil
}

// imageInfo returns an image's repo digests and labels; none for an image
// that is gone (its container still runs), and no digests for one that was
// never pushed or pulled.
func (c *Client) imageInfo(ctx context.Context, image string) (digests []string, labels map[string]string, err error) {
	if image == "" {
		return nil, nil, nil
	}
	img, err := c.api.ImageInspect(ctx, image)
	err = c.wrap(err)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if img.Config != nil {
		labels = img.Config.Labels
	}
	return img.RepoDigests, labels, nil
}

// ImageLabels returns the labels of an image (by id or reference), e.g.
// org.opencontainers.image.version.
func (c *Client) ImageLabels(ctx context.Context, image string) (map[string]string, error) {
	img, err := c.api.ImageInspect(ctx, image)
	if err != nil {
		return nil, fmt.Errorf("inspect docker image %q: %w", image, c.wrap(err))
	}
	if img.Config == nil {
		return nil, nil
	}
	return img.Config.Labels, nil
}

func (c *Client) list(ctx context.Context, labelFilter string) ([]container.Summary, error) {
	opts := container.ListOptions{All: true}
	if labelFilter != "" {
		opts.Filters = filters.NewArgs(filters.Arg("label", labelFilter))
	}
	list, err := c.api.ContainerList(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("list docker containers: %w", c.wrap(err))
	}
	return list, nil
}

func (c *Client) containerNames(ctx context.Context) ([]string, error) {
	list, err := c.list(ctx, "")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, ct := range list {
		if len(ct.Names) > 0 {
			names = append(names, strings.TrimPrefix(ct.Names[0], "/"))
		}
	}
	sort.Strings(names)
	return names, nil
}

// ProjectContainers returns every container (running or not) labelled
// with the Compose project, sorted by name. A project without containers
// is an error (wrapping ErrNotFound) that lists the projects that exist.
func (c *Client) ProjectContainers(ctx context.Context, project string) ([]*Container, error) {
	list, err := c.list(ctx, ComposeProjectLabel+"="+project)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		all, err := c.list(ctx, ComposeProjectLabel)
		if err != nil {
			return nil, fmt.Errorf("compose project %q: no containers: %w", project, ErrNotFound)
		}
		seen := map[string]bool{}
		var projects []string
		for _, ct := range all {
			if p := ct.Labels[ComposeProjectLabel]; !seen[p] {
				seen[p] = true
				projects = append(projects, p)
			}
		}
		sort.Strings(projects)
		return nil, fmt.Errorf("compose project %q: no containers: %w; %s", project, ErrNotFound, existing("compose projects", projects))
	}
	out := make([]*Container, 0, len(list))
	for _, ct := range list {
		full, err := c.Inspect(ctx, ct.ID)
		if errors.Is(err, ErrNotFound) {
			continue // removed since the list
		}
		if err != nil {
			return nil, err
		}
		out = append(out, full)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// failed phrases the error of an action on a container.
func (c *Client) failed(verb, id string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s docker container %s: %w", verb, short(id), c.wrap(err))
}

// Pause freezes a running container's processes.
func (c *Client) Pause(ctx context.Context, id string) error {
	return c.failed("pause", id, c.api.ContainerPause(ctx, id))
}

// Unpause thaws a paused container.
func (c *Client) Unpause(ctx context.Context, id string) error {
	return c.failed("unpause", id, c.api.ContainerUnpause(ctx, id))
}

// Stop sends the container its stop signal and kills it after timeout;
// stopping a stopped container is not an error (the engine answers 304).
// ctx should allow for timeout plus a few seconds.
func (c *Client) Stop(ctx context.Context, id string, timeout time.Duration) error {
	secs := int((timeout + time.Second - 1) / time.Second)
	return c.failed("stop", id, c.api.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}))
}

// Start starts a created or stopped container; starting a running one is
// not an error (the engine answers 304).
func (c *Client) Start(ctx context.Context, id string) error {
	return c.failed("start", id, c.api.ContainerStart(ctx, id, container.StartOptions{}))
}

// CopyFile reads one regular file, at most MaxCopyFileSize bytes, out of
// a container's file system. Directories, symlinks and other kinds are
// refused; a missing file's error wraps ErrNotFound.
func (c *Client) CopyFile(ctx context.Context, ref, path string) ([]byte, error) {
	name := short(ref)
	rc, _, err := c.api.CopyFromContainer(ctx, ref, path)
	if err != nil {
		if rc != nil {
			rc.Close()
		}
		return nil, fmt.Errorf("copy %s from docker container %s: %w", path, name, c.wrap(err))
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
		rc.Close()
	}()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		return nil, fmt.Errorf("copy %s from docker container %s: read archive: %w", path, name, err)
	}
	switch {
	case hdr.Typeflag == tar.TypeDir:
		return nil, fmt.Errorf("copy %s from docker container %s: it is a directory, not a regular file", path, name)
	case hdr.Typeflag == tar.TypeSymlink:
		return nil, fmt.Errorf("copy %s from docker container %s: it is a symlink (to %s), not a regular file", path, name, hdr.Linkname)
	case hdr.Typeflag != tar.TypeReg:
		return nil, fmt.Errorf("copy %s from docker container %s: not a regular file (tar type %q)", path, name, hdr.Typeflag)
	case hdr.Size > MaxCopyFileSize:
		return nil, fmt.Errorf("copy %s from docker container %s: %d bytes is over the %d-byte limit", path, name, hdr.Size, MaxCopyFileSize)
	}
	b, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
	if err != nil {
		return nil, fmt.Errorf("copy %s from docker container %s: read archive: %w", path, name, err)
	}
	if int64(len(b)) != hdr.Size {
		return nil, fmt.Errorf("copy %s from docker container %s: archive ended after %d of %d bytes", path, name, len(b), hdr.Size)
	}
	return b, nil
}

// existing phrases what exists, for errors about what does not.
func existing(what string, names []string) string {
	if len(names) == 0 {
		return "there are no " + what
	}
	return "existing " + what + ": " + strings.Join(names, ", ")
}

// short abbreviates a 64-hex container id for messages, as docker ps does;
// names pass unchanged.
func short(id string) string {
	if len(id) == 64 && strings.Trim(id, "0123456789abcdef") == "" {
		return id[:12]
	}
	return id
}
