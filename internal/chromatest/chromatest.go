// Package chromatest runs a real Chroma server for end-to-end tests: the Rust
// core of Chroma as the native binding of the npm package chromadb, started
// through small scripts in js/ (server.js, writer.js, probe.js), with the
// pinned versions of js/package.json.
//
// Install it with `npm ci --prefix internal/chromatest/js` (.ci/run does).
// Tests that need it skip where it is missing, and fail instead when
// OWUI_REQUIRE_CHROMA is set, as in CI.
package chromatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing Chroma from a
// skipped test into a failed one.
const RequireEnv = "OWUI_REQUIRE_CHROMA"

// startTimeout bounds how long a server may take to answer its heartbeat.
const startTimeout = 60 * time.Second

// JSDir is the directory holding package.json and the scripts.
func JSDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "js"
	}
	return filepath.Join(filepath.Dir(file), "js")
}

// Available reports why a Chroma server cannot run here, or nil when it can:
// node must be on PATH and js/node_modules must hold the pinned packages.
func Available() error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("find node: %w", err)
	}
	for _, pkg := range []string{"chromadb", "chromadb-js-bindings-linux-x64-gnu"} {
		p := filepath.Join(JSDir(), "node_modules", pkg, "package.json")
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("npm package %s is not installed (run npm ci --prefix %s): %w", pkg, JSDir(), err)
		}
	}
	return nil
}

// Require skips t when Chroma cannot run here, or fails it when
// OWUI_REQUIRE_CHROMA is set.
func Require(t testing.TB) {
	t.Helper()
	err := Available()
	if err == nil {
		return
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("chroma is required (%s is set) but cannot run: %v", RequireEnv, err)
	}
	t.Skipf("chroma not installed: %v; `npm ci --prefix internal/chromatest/js` installs it (.ci/run does)", err)
}

// Server is a running Chroma server.
type Server struct {
	// Path is the persist directory, the vector_db/ of an Open WebUI data dir.
	Path string
	// Port is the port it listens on, on 127.0.0.1.
	Port int

	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
	once sync.Once
}

// Start runs a Chroma server persisting to path on a free port of 127.0.0.1,
// waits until it answers its heartbeat, and kills it when the test ends.
// Chroma ignores SIGTERM; it is stopped with SIGKILL, after which what it
// acknowledged is on disk.
func Start(t testing.TB, path string) *Server {
	t.Helper()
	Require(t)
	port, err := freePort()
	if err != nil {
		t.Fatalf("start chroma: %v", err)
	}
	s := &Server{Path: path, Port: port, log: &syncBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command("node", "server.js", "--path", path, "--port", strconv.Itoa(port))
	s.cmd.Dir = JSDir()
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start chroma: %v", err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	t.Cleanup(s.Kill)
	if err := s.waitReady(startTimeout); err != nil {
		s.Kill()
		t.Fatalf("start chroma on %s: %v\n%s", path, err, s.log.String())
	}
	return s
}

// URL is the server's base URL.
func (s *Server) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.Port) }

// Log is what the server printed so far.
func (s *Server) Log() string { return s.log.String() }

// Kill stops the server with SIGKILL and waits for it to exit. It may be
// called more than once.
func (s *Server) Kill() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
	})
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-s.done:
			return fmt.Errorf("server exited: %v", s.err)
		default:
		}
		resp, err := client.Get(s.URL() + "/api/v2/heartbeat")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("heartbeat: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no heartbeat after %s: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Result is what a server holds, as probe.js reports it.
type Result struct {
	Collections []Collection `json:"collections"` // sorted by name
}

// Collection is one collection of a Result.
type Collection struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	// Queries are the nearest neighbours of the collection's fixed query
	// vectors, in the order of js/data.js.
	Queries []Neighbours `json:"queries"`
	// Problems lists how the collection differs from the first Count records
	// of the writer's deterministic data set (ids, embeddings, documents,
	// metadata); empty when it is exactly that prefix.
	Problems []string `json:"problems"`
}

// Neighbours is the answer to one query: ids nearest first, with their
// (squared L2) distances.
type Neighbours struct {
	IDs       []string  `json:"ids"`
	Distances []float64 `json:"distances"`
}

// Probe asks the server for its collections, their counts, their query
// results and a check of every record against the writer's data set, and
// fails the test if it cannot.
func (s *Server) Probe(t testing.TB) Result {
	t.Helper()
	r, err := s.Inspect(context.Background())
	if err != nil {
		t.Fatalf("%v\nserver log:\n%s", err, s.log.String())
	}
	return r
}

// Inspect is Probe returning its error: a server opened on a torn copy may
// fail to answer at all.
func (s *Server) Inspect(ctx context.Context) (Result, error) {
	out, err := runScript(ctx, "probe.js", strconv.Itoa(s.Port))
	if err != nil {
		return Result{}, fmt.Errorf("probe chroma on %s: %w", s.Path, err)
	}
	var r Result
	if err := json.Unmarshal(out, &r); err != nil {
		return Result{}, fmt.Errorf("probe chroma on %s: decode %q: %w", s.Path, out, err)
	}
	return r, nil
}

// runScript runs one of the js/ scripts to completion and returns its stdout.
func runScript(ctx context.Context, script string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = JSDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("node %s: %w: %s", script, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process
// could take it before Chroma binds it; on a test machine that is rare
// enough to report as a failure rather than retry.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("find a free port: not a TCP address")
	}
	return addr.Port, nil
}

// syncBuffer is a bytes.Buffer safe for a process's output and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
