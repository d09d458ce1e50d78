package executor

import (
	"context"
	"fmt"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor/stage"
)

// Quiescer keeps an Open WebUI instance quiet while owui copies the files
// that need it (SQLite databases, vector_db/, other changing files) into
// the staging area. Quiet runs fn inside the quiet window and returns the
// instance to its prior state when fn returns, on every path, before Quiet
// returns; fn's context is cancelled with ctx. Nothing slow happens inside:
// hashing uploads and every upload to a target come after the window.
type Quiescer interface {
	Quiet(ctx context.Context, fn func(ctx context.Context) error) error
}

// QuiescerFunc adapts a function to a Quiescer.
type QuiescerFunc func(ctx context.Context, fn func(ctx context.Context) error) error

// Quiet implements Quiescer.
func (f QuiescerFunc) Quiet(ctx context.Context, fn func(ctx context.Context) error) error {
	return f(ctx, fn)
}

// Online is the Quiescer of consistency = "online": the instance keeps
// running and fn simply runs. Changes during the copy are caught by the
// copies themselves (the SQLite copy's read transaction, the quiet copies'
// before-and-after checks) and retried.
var Online Quiescer = QuiescerFunc(func(ctx context.Context, fn func(ctx context.Context) error) error {
	return fn(ctx)
})

// captureMode is how a backup's local capture is made.
type captureMode struct {
	q Quiescer
	// method is recorded for capture groups (manifest.Capture.Method).
	method string
	// attempts is how often a changing file or group is copied again:
	// retries make sense only while the instance runs.
	attempts int
	// quiet says the instance is paused or stopped during the capture.
	quiet string
}

// captureMode returns the Quiescer and method for b's consistency mode:
// Env.OpenQuiescer's when it gives one, else Online or a Docker pause or
// stop of src's containers. A pause or stop backup without a container to
// hold fails: quietly copying it online instead would record a consistency
// the snapshot does not have.
func (e *Env) captureMode(b *config.Backup, src *source) (captureMode, error) {
	var q Quiescer
	if e.OpenQuiescer != nil {
		var err error
		if q, err = e.OpenQuiescer(b); err != nil {
			return captureMode{}, fmt.Errorf("consistency %q: %w", b.Consistency, err)
		}
	}
	switch b.Consistency {
	case config.ConsistencyOnline, "":
		return captureMode{q: cmpQuiescer(q, Online), method: stage.MethodOnlineQuietCopy, attempts: quietAttempts}, nil
	case config.ConsistencyPause, config.ConsistencyStop:
		if q == nil && e.OpenQuiescer == nil && src.container != nil {
			q = newDockerQuiescer(e, src, b.Consistency)
		}
		if q == nil {
			return captureMode{}, fmt.Errorf("consistency %q needs the container to be paused or stopped during the capture, and this owui cannot do that here (no Docker Engine reachable for instance %q); use consistency = \"online\" or run owui where it can reach the Docker Engine", b.Consistency, b.Instance)
		}
		m := captureMode{q: q, method: stage.MethodPaused, attempts: 1, quiet: "paused"}
		if b.Consistency == config.ConsistencyStop {
			m.method, m.quiet = stage.MethodStopped, "stopped"
		}
		return m, nil
	default:
		return captureMode{}, fmt.Errorf("unknown consistency %q", b.Consistency)
	}
}

func cmpQuiescer(q, def Quiescer) Quiescer {
	if q == nil {
		return def
	}
	return q
}
