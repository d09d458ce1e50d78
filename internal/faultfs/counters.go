package faultfs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Counters count what one owuifault Fs did, and let a test hold its writes.
// rclone caches an Fs by its connection string, so one name is one Fs for
// as long as the cache keeps it: Remote gives every wrapper a name of its own.
type Counters struct {
	writes, succeeded, baseErrors, failed, transient, refused, hung atomic.Int64
	opens, reads, shortReads                                        atomic.Int64

	mu   sync.Mutex
	gate chan struct{} // non-nil while held
}

// Stats is a snapshot of Counters.
type Stats struct {
	// Writes counts write attempts (Put, Update, server-side Copy) that
	// faults applied to, retries included.
	Writes int64
	// Succeeded counts writes the wrapped remote carried out.
	Succeeded int64
	// BaseErrors counts writes passed on that the wrapped remote itself
	// failed: real errors, not injected ones.
	BaseErrors int64
	// Failed counts injected permanent failures (fail_every, fail_after).
	Failed int64
	// Transient counts injected retriable failures (transient_every).
	Transient int64
	// Refused counts operations refused as on a full or read-only target.
	Refused int64
	// Hung counts writes that blocked until their context ended.
	Hung int64
	// Opens counts successful opens of the objects faults apply to (all
	// of them without match), for reading, short_reads or not.
	Opens int64
	// Reads counts opens that short_reads applied to; ShortReads those cut short.
	Reads, ShortReads int64
}

// Stats returns the counts so far.
func (c *Counters) Stats() Stats {
	return Stats{
		Writes: c.writes.Load(), Succeeded: c.succeeded.Load(), BaseErrors: c.baseErrors.Load(), Failed: c.failed.Load(),
		Transient: c.transient.Load(), Refused: c.refused.Load(), Hung: c.hung.Load(),
		Opens: c.opens.Load(), Reads: c.reads.Load(), ShortReads: c.shortReads.Load(),
	}
}

// Hold makes every write wait, before anything else happens to it, until
// Release (or its context ends): the deterministic form of a slow target.
func (c *Counters) Hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gate == nil {
		c.gate = make(chan struct{})
	}
}

// Release lets held writes go on. It is safe to call when nothing is held.
func (c *Counters) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gate != nil {
		close(c.gate)
		c.gate = nil
	}
}

func (c *Counters) wait(ctx context.Context) error {
	c.mu.Lock()
	g := c.gate
	c.mu.Unlock()
	if g == nil {
		return nil
	}
	select {
	case <-g:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var (
	registryMu sync.Mutex
	registry   = map[string]*Counters{}
	seq        atomic.Int64
)

// counters returns the counters registered under name, registering new
// ones if there are none (or private ones for an empty name).
func counters(name string) *Counters {
	if name == "" {
		return &Counters{}
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	c, ok := registry[name]
	if !ok {
		c = &Counters{}
		registry[name] = c
	}
	return c
}

// Lookup returns the counters of the owuifault Fs opened with option
// name=NAME, creating them if that Fs is not open yet.
func Lookup(name string) *Counters { return counters(name) }

// Remote returns a connection string that wraps base in owuifault with
// opts ("fail_every=5", "delay=10ms", ...), under a name no other wrapper
// has, and the counters of the Fs it opens. The counters are forgotten when
// the test ends.
func Remote(t testing.TB, base string, opts ...string) (string, *Counters) {
	t.Helper()
	name := fmt.Sprintf("owuifault%d", seq.Add(1))
	c := counters(name)
	t.Cleanup(func() {
		registryMu.Lock()
		defer registryMu.Unlock()
		delete(registry, name)
	})
	var b strings.Builder
	fmt.Fprintf(&b, ":%s,remote=%s,name=%s", BackendName, quote(base), name)
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			t.Fatalf("faultfs option %q: want key=value", o)
		}
		fmt.Fprintf(&b, ",%s=%s", k, quote(v))
	}
	b.WriteString(":")
	return b.String(), c
}

// quote quotes a connection-string value the way rclone's fspath reads it.
func quote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}
