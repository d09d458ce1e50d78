package livewriter

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// replyTimeout bounds each wait for the child: a start, a window, a stop
// (a stop waits out at most one commit and its busy timeout).
const replyTimeout = 60 * time.Second

// Writer is a running writer process.
type Writer struct {
	t       testing.TB
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	replies chan message
	waited  chan error

	mu      sync.Mutex
	stopped bool
	final   Stats
}

// Start starts a writer process on opts.Path, which Setup made, and waits
// until it is ready to commit. The calling test binary's TestMain must call
// MaybeRunChild. The process is stopped when the test ends if Stop was not
// called.
func Start(t testing.TB, opts Options) *Writer {
	t.Helper()
	opts, err := opts.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(opts)
	if err != nil {
		t.Fatal(err)
	}
	// The arguments only matter if TestMain forgot MaybeRunChild: then the
	// child runs no test and exits, and Start fails below.
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("livewriter: start writer: %v", err)
	}
	w := &Writer{t: t, cmd: cmd, stdin: stdin, replies: make(chan message, 4), waited: make(chan error, 1)}
	go w.read(stdout)
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.stopped {
			w.kill()
			w.stopped = true
		}
	})
	m, err := w.reply()
	if err != nil || !m.Ready {
		t.Fatalf("livewriter: writer did not start (does TestMain call livewriter.MaybeRunChild?): %v %s", err, m.Err)
	}
	return w
}

// read forwards the child's protocol lines, then its exit.
func (w *Writer) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		l, ok := strings.CutPrefix(sc.Text(), linePrefix)
		if !ok {
			continue
		}
		var m message
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			m = message{Err: fmt.Sprintf("bad line %q: %v", l, err)}
		}
		w.replies <- m
	}
	close(w.replies)
	w.waited <- w.cmd.Wait()
}

// kill ends the child at once and reaps it.
func (w *Writer) kill() {
	w.cmd.Process.Kill()
	for range w.replies {
	}
	<-w.waited
}

func (w *Writer) reply() (message, error) {
	select {
	case m, ok := <-w.replies:
		if !ok {
			return message{}, errors.New("writer process exited")
		}
		if m.Err != "" {
			return m, errors.New(m.Err)
		}
		return m, nil
	case <-time.After(replyTimeout):
		return message{}, errors.New("no reply from the writer process")
	}
}

// Window returns the writer's Stats since the previous Window call (or
// since it started), and starts a new window.
func (w *Writer) Window() Stats {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		w.t.Fatal("livewriter: Window after Stop")
	}
	if _, err := io.WriteString(w.stdin, "window\n"); err != nil {
		w.t.Fatalf("livewriter: ask for a window: %v", err)
	}
	m, err := w.reply()
	if err != nil || m.Stats == nil {
		w.t.Fatalf("livewriter: window: %v", err)
	}
	return *m.Stats
}

// Stop stops the writer and returns the Stats of its whole run. It may be
// called more than once.
func (w *Writer) Stop() Stats {
	w.t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return w.final
	}
	w.stopped = true
	w.stdin.Close()
	m, err := w.reply()
	if err != nil || m.Stats == nil {
		w.kill()
		w.t.Fatalf("livewriter: stop: %v", err)
	}
	for range w.replies {
	}
	if err := <-w.waited; err != nil {
		w.t.Fatalf("livewriter: writer process: %v", err)
	}
	w.final = *m.Stats
	return w.final
}
