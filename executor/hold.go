package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/docker"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/state"
)

// Time limits of the Docker calls around a quiet window.
const (
	// StopTimeout is how long a stopped container has to exit before the
	// engine kills it (docker stop's own default).
	StopTimeout = 10 * time.Second
	// actionTimeout bounds one pause, unpause or start; a stop gets
	// StopTimeout more.
	actionTimeout = time.Minute
)

// dockerQuiescer keeps a backup's containers paused or stopped while fn
// copies the files that need a quiet moment.
type dockerQuiescer struct {
	env    *Env
	engine docker.Engine
	// action is state.HoldPause or state.HoldStop.
	action     string
	containers []*docker.Container
	// held is what the last window held, and for how long.
	held []manifest.Held
}

func newDockerQuiescer(e *Env, src *source, consistency string) *dockerQuiescer {
	action := state.HoldPause
	if consistency == config.ConsistencyStop {
		action = state.HoldStop
	}
	return &dockerQuiescer{env: e, engine: src.engine, action: action, containers: src.toHold(consistency)}
}

// Quiet implements Quiescer: hold, run fn, put back. The undo runs on
// every path out of fn (error, panic, cancellation) with a context that
// outlives ctx's cancellation, and its failure joins fn's error.
func (q *dockerQuiescer) Quiet(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	undo, err := q.env.hold(ctx, q.engine, q.action, q.containers)
	if err != nil {
		return err
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*actionTimeout)
		defer cancel()
		held, uerr := undo(uctx)
		q.held = held
		err = errors.Join(err, uerr)
	}()
	return fn(ctx)
}

// heldContainer is one container this run paused or stopped.
type heldContainer struct {
	c      *docker.Container
	holdID int64
	since  time.Time
}

// hold pauses (action state.HoldPause) or stops each of cs that is running
// and returns the undo that puts them back in reverse order. Each hold is
// recorded in state before it is made and forgotten once the undo has put
// the container back, so that a kill -9 inside the window leaves a record
// for the next owui command to recover (safety rule 4). A container that
// is already paused or not running is left as it is, and the undo does not
// touch it. When hold fails part-way it undoes what it did before
// returning.
//
// The pause and stop calls themselves run to completion even when ctx is
// cancelled meanwhile: a stop the engine carries on with after owui gave
// up waiting would otherwise leave a container stopped that the undo saw
// still running.
func (e *Env) hold(ctx context.Context, eng docker.Engine, action string, cs []*docker.Container) (undo func(context.Context) ([]manifest.Held, error), err error) {
	var held []heldContainer
	undoAll := func(ctx context.Context) ([]manifest.Held, error) {
		var errs []error
		out := make([]manifest.Held, 0, len(held))
		for i := len(held) - 1; i >= 0; i-- {
			h := held[i]
			if err := e.putBack(ctx, eng, action, h); err != nil {
				errs = append(errs, err)
				continue
			}
			ms := float64(time.Since(h.since).Microseconds()) / 1000
			out = append(out, manifest.Held{Container: h.c.Name, Action: action, Millis: ms})
			e.hooks().Logf("container %s %s for %s", h.c.Name, pastTense(action), time.Duration(ms*float64(time.Millisecond)).Round(time.Millisecond))
		}
		return out, errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*actionTimeout)
			defer cancel()
			_, uerr := undoAll(uctx)
			err = errors.Join(err, uerr)
		}
	}()
	host, _ := os.Hostname()
	for _, c := range cs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cur, err := eng.Inspect(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("inspect container %s: %w", c.Name, err)
		}
		switch cur.State {
		case "running":
		case "restarting":
			return nil, fmt.Errorf("container %s is restarting; not %s it", c.Name, gerund(action))
		default:
			e.hooks().Logf("container %s is %s already; left as it is", c.Name, cur.State)
			continue
		}
		id, err := e.Store.AddHold(ctx, state.Hold{
			ContainerID: cur.ID, ContainerName: cur.Name, Action: action,
			PID: os.Getpid(), Host: host, Started: time.Now().UTC(),
		})
		if err != nil {
			return nil, err // nothing held yet for this container
		}
		held = append(held, heldContainer{c: cur, holdID: id, since: time.Now()})
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), actionTimeout)
		if action == state.HoldStop {
			err = eng.Stop(actx, cur.ID, StopTimeout)
		} else {
			err = eng.Pause(actx, cur.ID)
		}
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s container %s: %w", action, c.Name, err)
		}
		e.hooks().Logf("container %s %s for the local capture", c.Name, pastTense(action))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return undoAll, nil
}

// putBack unpauses or starts a held container and forgets its hold. A
// container found running already (its pause never took, or someone
// started it) counts as put back.
func (e *Env) putBack(ctx context.Context, eng docker.Engine, action string, h heldContainer) error {
	var err error
	if action == state.HoldStop {
		err = eng.Start(ctx, h.c.ID)
	} else {
		err = eng.Unpause(ctx, h.c.ID)
	}
	if err != nil {
		cur, ierr := eng.Inspect(ctx, h.c.ID)
		if ierr != nil || cur.State != "running" {
			return fmt.Errorf("container %s is still %s (run owui recover): %s it: %w",
				h.c.Name, pastTense(action), undoVerb(action), err)
		}
	}
	if err := e.Store.DeleteHold(ctx, h.holdID); err != nil {
		return fmt.Errorf("container %s runs again, but: %w", h.c.Name, err)
	}
	return nil
}

func pastTense(action string) string {
	if action == state.HoldStop {
		return "stopped"
	}
	return "paused"
}

func gerund(action string) string {
	if action == state.HoldStop {
		return "stopping"
	}
	return "pausing"
}

func undoVerb(action string) string {
	if action == state.HoldStop {
		return "start"
	}
	return "unpause"
}
