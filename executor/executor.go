// Package executor holds owui's side effects: refreshing what the targets
// hold, staging consistent copies, sending them with rclone, writing
// manifests, pruning and restoring. It carries out a planner.Plan; it does
// not decide what is due.
package executor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/docker"
	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/state"
)

// Hooks receives progress from the executor. Nothing below cmd prints: the
// CLI implements Hooks to render log lines or progress bars.
type Hooks interface {
	// Logf reports one step in words.
	Logf(format string, args ...any)
	// Progress reports bytes sent so far out of total for one snapshot on one target.
	Progress(backup, target string, done, total int64)
}

// NopHooks ignores every report.
type NopHooks struct{}

// Logf implements Hooks.
func (NopHooks) Logf(string, ...any) {}

// Progress implements Hooks.
func (NopHooks) Progress(string, string, int64, int64) {}

// Env is what the executor works with: the policy, the state store, the
// staging area and the targets, opened on first use.
type Env struct {
	Policy   *config.Policy
	Store    *state.Store
	StateDir string
	Hooks    Hooks
	// Version is owui's version, recorded in manifests.
	Version string
	// Transfers is how many files are sent at once per target (default 4).
	Transfers int
	// OpenQuiescer returns what keeps backup b's instance quiet while its
	// files are copied locally (Docker pause or stop). When it is nil or
	// returns a nil Quiescer, online backups run with Online and pause or
	// stop backups fail.
	//
	// It is the seam for tests; owui itself leaves it nil, and pause and
	// stop backups then hold their containers through Docker.
	OpenQuiescer func(b *config.Backup) (Quiescer, error)
	// Docker connects to the Docker Engine, for instances found or held
	// through it (docker_volume, container, compose_project). It is called
	// at most once, on first need; nil means no Docker here.
	Docker func(ctx context.Context) (docker.Engine, error)
	// LeaseTTL is how long a target lease lives without renewal
	// (DefaultLeaseTTL when zero); LeaseSettle how long a run waits before
	// reading back a lease written where creation is not atomic (when
	// zero, three times as long as the write took, within bounds).
	LeaseTTL, LeaseSettle time.Duration

	mu           sync.Mutex
	targets      map[string]*target.Target
	dockerEngine docker.Engine
}

func (e *Env) hooks() Hooks {
	if e.Hooks == nil {
		return NopHooks{}
	}
	return e.Hooks
}

func (e *Env) transfers() int {
	if e.Transfers > 0 {
		return e.Transfers
	}
	return 4
}

// Target opens the named target of the policy once and returns it.
func (e *Env) Target(ctx context.Context, name string) (*target.Target, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.targets[name]; ok {
		return t, nil
	}
	cfg := e.Policy.Target(name)
	if cfg == nil {
		return nil, fmt.Errorf("open target %q: not in the policy", name)
	}
	t, err := target.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open target %q: %w", name, err)
	}
	if e.targets == nil {
		e.targets = make(map[string]*target.Target)
	}
	e.targets[name] = t
	return t, nil
}

// BytesSent is the number of bytes uploaded to all targets opened so far.
func (e *Env) BytesSent() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n int64
	for _, t := range e.targets {
		n += t.Stats().BytesUploaded
	}
	return n
}
