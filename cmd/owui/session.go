package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/owui/owui/config"
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

func openSession(g *globalOptions, s streams) (*session, error) {
	p, err := loadPolicy(g, s)
	if err != nil {
		return nil, err
	}
	st, err := openState(g)
	if err != nil {
		return nil, err
	}
	ss := newSession(g, s, p, st)
	ss.ownsStore = true
	return ss, nil
}

func openState(g *globalOptions) (*state.Store, error) {
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
		Hooks:    hooks,
		Version:  version,
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
