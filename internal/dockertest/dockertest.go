// Package dockertest runs tests against a real Docker engine: it connects
// to the engine OWUI_TEST_DOCKER_HOST (or DOCKER_HOST) names, builds a
// local stand-in for the Open WebUI image (no registry needed) and runs
// instances of it writing to a named volume.
//
// .ci/run starts a daemon and sets OWUI_TEST_DOCKER_HOST and
// OWUI_REQUIRE_DOCKER=1; elsewhere tests skip when no engine is named.
package dockertest

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/owui/owui/docker"
)

const (
	// HostEnv names the engine the tests use, e.g. unix:///tmp/d/docker.sock;
	// DOCKER_HOST is used when it is unset. The default socket is never
	// used implicitly: tests create and remove containers.
	HostEnv = "OWUI_TEST_DOCKER_HOST"
	// RequireEnv set to 1 turns a skip for a missing engine into a failure.
	RequireEnv = "OWUI_REQUIRE_DOCKER"
	// TestLabel marks everything the harness creates.
	TestLabel = "owui-test"
)

var clients sync.Map // host -> *docker.Client

// Engine returns a connection to the test engine and its address (for
// DOCKER_HOST in commands under test). It skips t when no engine is named
// or it cannot be reached, or fails t when OWUI_REQUIRE_DOCKER=1.
func Engine(t testing.TB) (docker.Engine, string) {
	t.Helper()
	c := Client(t)
	return c, c.Host()
}

// Client is Engine returning the concrete client, which can also create
// and remove volumes, containers and images.
func Client(t testing.TB) *docker.Client {
	t.Helper()
	host := os.Getenv(HostEnv)
	if host == "" {
		host = os.Getenv("DOCKER_HOST")
	}
	if host == "" {
		unavailable(t, "no Docker engine for this test: set "+HostEnv+" (or DOCKER_HOST) to e.g. unix:///tmp/d/docker.sock; .ci/run starts one")
	}
	if c, ok := clients.Load(host); ok {
		return c.(*docker.Client)
	}
	c, err := docker.ConnectHost(context.Background(), host)
	if err != nil {
		unavailable(t, "no Docker engine for this test ("+HostEnv+"="+host+"): "+err.Error())
	}
	clients.Store(host, c)
	return c
}

func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "1" {
		t.Fatal(msg + " (" + RequireEnv + "=1)")
	}
	t.Skip(msg)
}
