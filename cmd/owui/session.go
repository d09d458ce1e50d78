package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/owui/owui/config"
	"github.com/owui/owui/docker"
	"github.com/owui/owui/executor"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/state"
)

// policyPath is the policy file, with --chdir applied.
func (g *globalOptions) policyPath() string {
	if g.Chdir != "" && !filepath.IsAbs(g.File) {
		return filepath.Join(g.Chdir, g.File)
	}
	return g.File
}

// stateDir is --state, else $OWUI_STATE_DIR, else .owui/ beside the policy.
func (g *globalOptions) stateDir() string {
	if g.StateDir != "" {
		return g.StateDir
	}
	if d := os.Getenv("OWUI_STATE_DIR"); d != "" {
		return d
	}
	return filepath.Join(filepath.Dir(g.policyPath()), ".owui")
}

// loadPolicy decodes the policy and prints its diagnostics as
// FILE:LINE,COL: message.
func loadPolicy(g *globalOptions, s streams) (*config.Policy, error) {
	p, diags := config.LoadFile(g.policyPath())
	printDiags(s.Err, diags)
	if diags.HasErrors() {
		return nil, diagsError{diags}
	}
	return p, nil
}

func printDiags(w io.Writer, diags hcl.Diagnostics) {
	for _, d := range diags {
		sev := "Error"
		if d.Severity == hcl.DiagWarning {
			sev = "Warning"
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		if d.Subject != nil {
			fmt.Fprintf(w, "%s:%d,%d: %s: %s\n", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, sev, msg)
		} else {
			fmt.Fprintf(w, "%s: %s\n", sev, msg)
		}
	}
}

// session is a loaded policy with its state and executor.
type session struct {
	policy    *config.Policy
	store     *state.Store
	env       *executor.Env
	log       *slog.Logger
	ownsStore bool
}

// openSession opens the state (putting back containers a dead owui left
// paused or stopped) and loads the policy. An existing state comes first,
// so that even a broken policy does not keep a container paused; a state
// that does not exist yet holds nothing to put back, and is created only
// once the policy loads.
func openSession(ctx context.Context, g *globalOptions, s streams) (*session, error) {
	var st *state.Store
	var err error
	if _, serr := os.Stat(filepath.Join(g.stateDir(), state.FileName)); serr == nil {
		if st, err = openState(ctx, g, s); err != nil {
			return nil, err
		}
	}
	p, err := loadPolicy(g, s)
	if err != nil {
		if st != nil {
			st.Close()
		}
		return nil, err
	}
	if st == nil {
		if st, err = openState(ctx, g, s); err != nil {
			return nil, err
		}
	}
	ss := newSession(g, s, p, st)
	ss.ownsStore = true
	return ss, nil
}

// openState opens the state database and, before anything else, puts back
// the containers that an owui process killed inside a quiet window left
// paused or stopped (safety rule 4), saying so on standard error. A
// container that cannot be put back is a warning here: its hold stays
// recorded, and owui recover reports it as an error.
func openState(ctx context.Context, g *globalOptions, s streams) (*state.Store, error) {
	st, err := openStateOnly(g)
	if err != nil {
		return nil, err
	}
	if err := recoverHolds(ctx, st, s); err != nil {
		fmt.Fprintf(s.Err, "Warning: %v; run owui recover once the Docker Engine is reachable\n", err)
	}
	return st, nil
}

func openStateOnly(g *globalOptions) (*state.Store, error) {
	dir := g.stateDir()
	st, err := state.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open state in %s: %w", dir, err)
	}
	return st, nil
}

// newSession works with policy p and an open store; watch keeps one store
// and makes a session per run with its last good policy.
func newSession(g *globalOptions, s streams, p *config.Policy, st *state.Store) *session {
	hooks := newHooks(g, s)
	env := &executor.Env{
		Policy:   p,
		Store:    st,
		StateDir: g.stateDir(),
		Hooks:    withTestHooks(hooks),
		Version:  version,
		Docker:   docker.Connect,
	}
	return &session{policy: p, store: st, env: env, log: hooks.log}
}

// Close closes the store when the session opened it.
func (ss *session) Close() error {
	if !ss.ownsStore {
		return nil
	}
	return ss.store.Close()
}

// observe refreshes from the targets, or reads state when refresh is false.
func (ss *session) observe(ctx context.Context, refresh bool) (planner.Observed, *executor.Refreshed, error) {
	if !refresh {
		obs, err := executor.ObservedFromState(ctx, ss.store)
		return obs, nil, err
	}
	r, err := ss.env.Refresh(ctx)
	if err == nil {
		err = r.Err() // plan, snapshots and refresh want every target listed
	}
	if err != nil {
		return planner.Observed{}, nil, err
	}
	return r.Observed, r, nil
}

// measureWindows adds to obs the quiet windows of the pause and stop
// backups that plan would snapshot, and returns the plan made again with
// them (its reasons then say which containers are held and for about how
// long). Only those backups' instances are looked at, so a plan with
// nothing to pause never talks to Docker.
func (ss *session) measureWindows(ctx context.Context, obs *planner.Observed, plan planner.Plan, remake func(planner.Observed) planner.Plan) planner.Plan {
	var names []string
	for _, a := range plan.Actions {
		b := ss.policy.Backup(a.Backup)
		if a.Kind != planner.KindSnapshot || b == nil || b.Consistency == config.ConsistencyOnline || slices.Contains(names, b.Name) {
			continue
		}
		names = append(names, b.Name)
	}
	if len(names) == 0 {
		return plan
	}
	obs.Windows = ss.env.Windows(ctx, names)
	return remake(*obs)
}

// refreshSave refreshes from the targets and saves what it found in state.
// Targets that could not be listed keep what state held for them; their
// errors come back as unreachable, for the caller to return once it has
// shown the rest.
func (ss *session) refreshSave(ctx context.Context) (r *executor.Refreshed, unreachable, err error) {
	r, err = ss.env.Refresh(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := ss.env.Save(ctx, r); err != nil {
		return nil, nil, err
	}
	return r, r.Err(), nil
}

// lock takes the apply lock; the error is a *state.LockedError (exit 3)
// when another run holds it.
func (ss *session) lock(ctx context.Context, s streams, command string) (func() error, error) {
	host, _ := os.Hostname()
	unlock, warning, err := ss.store.Lock(ctx, state.LockHolder{
		PID: os.Getpid(), Host: host, Started: time.Now().UTC(), Command: command,
	})
	if warning != "" {
		fmt.Fprintf(s.Err, "Warning: %s\n", warning)
	}
	return unlock, err
}
