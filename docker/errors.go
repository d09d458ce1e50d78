package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errhttp"
	"github.com/docker/docker/client"
)

// Sentinel errors; test them with errors.Is.
var (
	// ErrNotFound: the volume, container, image or file does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnreachable: no Docker daemon answers at the configured host.
	ErrUnreachable = errors.New("docker daemon unreachable")
)

// APIError is a non-2xx answer of the Engine API. Status is the HTTP
// status the error class the Engine client reports stands for (404 for
// not found, 409 for a conflict, ...).
type APIError struct {
	Status  int
	Message string
	err     error // the Engine client's error
}

func (e *APIError) Error() string {
	return fmt.Sprintf("docker engine: %s (HTTP %d)", e.Message, e.Status)
}

// Is makes a 404 match ErrNotFound.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == http.StatusNotFound
}

// Unwrap returns the Engine client's error, so that the
// github.com/containerd/errdefs helpers (IsNotFound, IsConflict...) work
// on errors owui returns.
func (e *APIError) Unwrap() error { return e.err }

// daemonPrefix is how the Engine client starts the errors the daemon sent.
const daemonPrefix = "Error response from daemon: "

// wrap turns an error of the Engine client into owui's: a connection
// failure into one wrapping ErrUnreachable that explains it, an answer of
// the daemon (or a client-side not-found) into an *APIError. Context
// errors and the client's own errors pass unchanged.
func (c *Client) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case client.IsErrConnectionFailed(err):
		return c.explain(err)
	case strings.HasPrefix(err.Error(), daemonPrefix):
		return &APIError{Status: errhttp.ToHTTP(err), Message: strings.TrimPrefix(err.Error(), daemonPrefix), err: err}
	case cerrdefs.IsNotFound(err):
		return &APIError{Status: http.StatusNotFound, Message: err.Error(), err: err}
	}
	return err
}

// explain turns a failed connection into an error that names the socket
// and the likely cause. The Engine client drops the system error of a
// refused connection, so explain dials once more to learn it.
func (c *Client) explain(err error) error {
	if c.socket != "" {
		if _, serr := os.Stat(c.socket); errors.Is(serr, os.ErrNotExist) {
			return fmt.Errorf("connect to docker: no socket at %s (is the Docker daemon installed and running? if it listens elsewhere, set DOCKER_HOST): %w", c.socket, ErrUnreachable)
		}
	}
	where := c.host
	if c.socket != "" {
		where = "socket " + c.socket
	}
	causes := []error{err}
	if client.IsErrConnectionFailed(err) {
		if derr := c.redial(); derr != nil {
			causes = append(causes, derr)
		}
	}
	is := func(targets ...error) bool {
		for _, e := range causes {
			for _, t := range targets {
				if errors.Is(e, t) {
					return true
				}
			}
		}
		return false
	}
	timedOut := is(context.DeadlineExceeded, os.ErrDeadlineExceeded)
	switch {
	case is(syscall.EACCES, syscall.EPERM):
		return fmt.Errorf("connect to docker: permission denied on %s (run owui as root or as a member of the docker group): %w", where, ErrUnreachable)
	case is(syscall.ECONNREFUSED):
		return fmt.Errorf("connect to docker: nothing listens on %s (the Docker daemon is not running): %w", where, ErrUnreachable)
	case timedOut:
		return fmt.Errorf("connect to docker: no answer from %s within %s: %w", where, pingTimeout, ErrUnreachable)
	}
	return fmt.Errorf("connect to docker at %s: %v: %w", where, err, ErrUnreachable)
}

// redial connects to the daemon's address without the Engine client, for
// the system error explain needs.
func (c *Client) redial() error {
	network, addr := "unix", c.socket
	if c.socket == "" {
		network, addr = "tcp", c.addr
	}
	conn, err := net.DialTimeout(network, addr, redialTimeout)
	if err != nil {
		return err
	}
	conn.Close()
	return nil
}

const redialTimeout = 2 * time.Second
