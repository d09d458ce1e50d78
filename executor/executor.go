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
	// LeaseTimeout bounds each lease step on one target
	// (DefaultLeaseTimeout when zero).
	LeaseTTL, LeaseSettle, LeaseTimeout time.Duration

	mu           sync.Mutex
	targets      map[string]*targetSlot
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

// targetSlot holds one target, opened on first use. Opening one target
// (an SFTP login, say) does not wait for another's.
type targetSlot struct {
	mu sync.Mutex
	t  *target.Target
}

// Target opens the named target of the policy once and returns it. A
// failed open is tried again on the next call.
func (e *Env) Target(ctx context.Context, name string) (*target.Target, error) {
	e.mu.Lock()
	slot, ok := e.targets[name]
	if !ok {
		if e.targets == nil {
			e.targets = make(map[string]*targetSlot)
		}
		slot = &targetSlot{}
		e.targets[name] = slot
	}
	e.mu.Unlock()
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if slot.t != nil {
		return slot.t, nil
	}
	cfg := e.Policy.Target(name)
	if cfg == nil {
		return nil, fmt.Errorf("open target %q: not in the policy", name)
	}
	t, err := target.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open target %q: %w", name, err)
	}
	slot.t = t
	return t, nil
}

// BytesSent is the number of bytes uploaded to all targets opened so far.
func (e *Env) BytesSent() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	var n int64
	for _, slot := range e.targets {
		slot.mu.Lock()
		if slot.t != nil {
			n += slot.t.Stats().BytesUploaded
		}
		slot.mu.Unlock()
	}
	return n
}
