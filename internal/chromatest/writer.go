package chromatest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// State is one state the source held, as writer.js acknowledges it: after
// each add request it queries the collection it added to and prints the
// counts and query results of every collection.
type State struct {
	Seq int `json:"seq"`
	// Sent is the wall clock, in milliseconds since the epoch, just before
	// the request that made this state; the state may exist from then on.
	Sent    int64                   `json:"sent"`
	Counts  map[string]int          `json:"counts"`
	Queries map[string][]Neighbours `json:"queries"`
}

// Writer is a running writer.js: a client adding batches of deterministic
// records to every collection, one add request at a time, until stopped.
type Writer struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer

	mu      sync.Mutex
	states  []State
	changed chan struct{} // closed when a state arrives or the output ends
	readErr error
	read    chan struct{} // closed when stdout is read to the end
	stopped bool
}

// WriterOptions paces a writer. The zero value writes without pause.
type WriterOptions struct {
	// Burst is how many add requests the writer sends back to back before
	// each Pause; 0 means it never pauses.
	Burst int
	Pause time.Duration
}

// StartWriter starts writer.js against s and waits for its first state: the
// collections as it found them, created if missing. It is killed when the
// test ends if Stop was not called. A new writer carries on from the counts
// it finds, with its own states numbered from 0.
func StartWriter(t testing.TB, s *Server, opts WriterOptions) *Writer {
	t.Helper()
	w := &Writer{t: t, stderr: &syncBuffer{}, changed: make(chan struct{}), read: make(chan struct{})}
	w.cmd = exec.Command("node", "writer.js", strconv.Itoa(s.Port),
		strconv.Itoa(opts.Burst), strconv.FormatInt(opts.Pause.Milliseconds(), 10))
	w.cmd.Dir = JSDir()
	w.cmd.Stderr = w.stderr
	var err error
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		t.Fatalf("start chroma writer: %v", err)
	}
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("start chroma writer: %v", err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("start chroma writer: %v", err)
	}
	go w.readStates(stdout)
	t.Cleanup(func() {
		w.mu.Lock()
		stopped := w.stopped
		w.mu.Unlock()
		if !stopped {
			_ = w.cmd.Process.Kill()
			<-w.read
			_ = w.cmd.Wait()
		}
	})
	w.WaitFor(t, "the first state", func(State) bool { return true })
	return w
}

func (w *Writer) readStates(r io.Reader) {
	defer close(w.read)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var s State
		err := json.Unmarshal(sc.Bytes(), &s)
		w.mu.Lock()
		if err != nil {
			w.readErr = fmt.Errorf("decode writer line %q: %w", sc.Text(), err)
		} else {
			w.states = append(w.states, s)
		}
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
	w.mu.Lock()
	if err := sc.Err(); err != nil && w.readErr == nil {
		w.readErr = fmt.Errorf("read writer output: %w", err)
	}
	close(w.changed)
	w.mu.Unlock()
}

// WaitFor waits until the writer acknowledges a state for which ok holds,
// and fails the test if the writer stops first or a minute passes.
func (w *Writer) WaitFor(t testing.TB, what string, ok func(State) bool) State {
	t.Helper()
	timeout := time.After(time.Minute)
	seen := 0
	for {
		w.mu.Lock()
		states, changed, readErr := w.states, w.changed, w.readErr
		w.mu.Unlock()
		for ; seen < len(states); seen++ {
			if ok(states[seen]) {
				return states[seen]
			}
		}
		if readErr != nil {
			t.Fatalf("chroma writer, waiting for %s: %v", what, readErr)
		}
		select {
		case <-changed:
		case <-w.read:
			// Pick up the last states, then report the end.
			w.mu.Lock()
			n := len(w.states)
			w.mu.Unlock()
			if seen == n {
				t.Fatalf("chroma writer ended before %s: %s", what, w.stderr.String())
			}
		case <-timeout:
			t.Fatalf("chroma writer: no %s after a minute (%d states)", what, seen)
		}
	}
}

// Mark is a point on the writer's timeline: how many states the test had
// seen acknowledged, and the wall clock, at that point.
type Mark struct {
	Seen int
	At   time.Time
}

// Mark returns the present point on the writer's timeline.
func (w *Writer) Mark() Mark {
	w.mu.Lock()
	defer w.mu.Unlock()
	return Mark{Seen: len(w.states), At: time.Now()}
}

// Stop closes the writer's stdin, which makes it finish the request in
// flight and exit, and returns every state it acknowledged. It fails the
// test if the writer failed.
func (w *Writer) Stop() []State {
	w.t.Helper()
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	_ = w.stdin.Close()
	exited := make(chan error, 1)
	go func() { <-w.read; exited <- w.cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(time.Minute):
		_ = w.cmd.Process.Kill()
		err = fmt.Errorf("did not exit a minute after its stdin closed: %v", <-exited)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		err = w.readErr
	}
	if err != nil {
		w.t.Fatalf("chroma writer: %v\n%s", err, w.stderr.String())
	}
	return append([]State(nil), w.states...)
}

// Window returns the states the source may have held at some moment between
// from and to. A state seen before from was superseded before from unless it
// is the last one seen; a state whose request was sent after to did not
// exist yet at to. Every other state may have existed in between: the add
// request that made it could have committed any time after it was sent.
func Window(states []State, from, to Mark) []State {
	lo := max(from.Seen-1, 0)
	end := to.At.UnixMilli()
	var out []State
	for _, s := range states[lo:] {
		if s.Sent > end {
			break
		}
		out = append(out, s)
	}
	return out
}
