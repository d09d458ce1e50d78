package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/owui/owui/docker"
	"github.com/owui/owui/state"
)

// Recovered is what Recover did about one hold left by a dead owui.
type Recovered struct {
	Hold state.Hold
	// Did is "unpaused" or "started" when Recover put the container back,
	// or "" when there was nothing to do (see Found).
	Did string
	// Found is the container's state as Recover found it; "gone" when the
	// container no longer exists.
	Found string
	// Err is why the container could not be put back; its hold stays
	// recorded for the next command.
	Err error
}

func (r Recovered) String() string {
	h := r.Hold
	by := fmt.Sprintf("owui pid %d", h.PID)
	switch {
	case r.Err != nil:
		return fmt.Sprintf("could not put back container %s left %s by %s: %v", h.ContainerName, pastTense(h.Action), by, r.Err)
	case r.Did != "":
		return fmt.Sprintf("recovered: %s container %s left %s by %s", r.Did, h.ContainerName, pastTense(h.Action), by)
	case r.Found == "gone":
		return fmt.Sprintf("recovered: container %s, %s by %s, no longer exists; forgot it", h.ContainerName, pastTense(h.Action), by)
	case r.Found == "running":
		return fmt.Sprintf("recovered: container %s is running; %s died before its %s took effect or after undoing it", h.ContainerName, by, h.Action)
	default:
		return fmt.Sprintf("recovered: container %s is %s, not %s as %s left it; left as it is", h.ContainerName, r.Found, pastTense(h.Action), by)
	}
}

// Recover puts back the containers that an owui process which no longer
// exists paused or stopped (killed inside a quiet window, or a power cut):
// it unpauses or starts each, and forgets its hold. Holds of live owui
// processes and of other hosts are left alone. It connects to Docker only
// when there is something to recover; without Docker the holds stay and
// the error says so.
func Recover(ctx context.Context, st *state.Store, connect func(context.Context) (docker.Engine, error)) ([]Recovered, error) {
	holds, err := st.Holds(ctx)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	var orphans []state.Hold
	for _, h := range holds {
		if h.OwnerGone(host) {
			orphans = append(orphans, h)
		}
	}
	if len(orphans) == 0 {
		return nil, nil
	}
	if connect == nil {
		return nil, fmt.Errorf("%d containers left paused or stopped by a dead owui (%s): %w", len(orphans), orphans[0], ErrNoDocker)
	}
	eng, err := connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("put back %d containers left paused or stopped by a dead owui (%s): connect to the Docker Engine: %w", len(orphans), orphans[0], err)
	}
	out := make([]Recovered, 0, len(orphans))
	var errs []error
	for _, h := range orphans {
		r := recoverOne(ctx, eng, h)
		if r.Err == nil {
			r.Err = st.DeleteHold(ctx, h.ID)
		}
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", h.ContainerName, r.Err))
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// recoverOne puts one container back. A hold is recorded before its pause
// or stop is made, so the container may well be running: that is not an
// error.
func recoverOne(ctx context.Context, eng docker.Engine, h state.Hold) Recovered {
	r := Recovered{Hold: h}
	c, err := eng.Inspect(ctx, h.ContainerID)
	if err != nil {
		if isNotFound(err) {
			r.Found = "gone"
			return r
		}
		r.Err = fmt.Errorf("inspect: %w", err)
		return r
	}
	r.Found = c.State
	switch {
	case h.Action == state.HoldPause && c.State == "paused":
		r.Err, r.Did = eng.Unpause(ctx, c.ID), "unpaused"
	case h.Action == state.HoldStop && (c.State == "exited" || c.State == "created" || c.State == "dead"):
		r.Err, r.Did = eng.Start(ctx, c.ID), "started"
	default:
		return r
	}
	if r.Err != nil {
		// Another owui command may have put it back meanwhile.
		if now, ierr := eng.Inspect(ctx, c.ID); ierr == nil && now.State == "running" {
			return Recovered{Hold: h, Found: "running"}
		}
		r.Did = ""
	}
	return r
}

// isNotFound reports whether err says a container or file does not exist.
func isNotFound(err error) bool {
	return errors.Is(err, docker.ErrNotFound) || strings.Contains(strings.ToLower(err.Error()), "no such container")
}
