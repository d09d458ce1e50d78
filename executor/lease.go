package executor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/state"
)

// Lease timing defaults. A lease lives for DefaultLeaseTTL and is renewed
// every quarter of that while the run works, so a run that dies holds its
// prefixes for at most DefaultLeaseTTL (a run on the same host takes over
// at once, seeing the holder's pid gone).
const (
	DefaultLeaseTTL = 10 * time.Minute
	// DefaultLeaseTimeout bounds each step of taking a lease on one target
	// (a lease is a few hundred bytes): a target that does not answer in
	// time is left out of the run, and the others go on.
	DefaultLeaseTimeout = time.Minute
	// minLeaseSettle and maxLeaseSettle bound how long a run waits, on
	// targets without an atomic create, between writing its lease and
	// reading it back (see settle).
	minLeaseSettle = 250 * time.Millisecond
	maxLeaseSettle = 5 * time.Second
)

// ErrLeased matches, through errors.Is, every *LeasedError.
var ErrLeased = errors.New("leased by another owui run")

// LeasedError says that another run holds the lease of a backup's prefix on
// a target. The CLI maps it to exit code 3, as it does the state lock.
type LeasedError struct {
	Backup, Target string
	Lease          target.Lease
}

func (e *LeasedError) Error() string {
	return fmt.Sprintf("%s on target %s is leased by another owui run: %s; wait for it to finish, or, if it is gone, for the lease to expire or for owui unlock",
		e.Backup, e.Target, e.Lease.String())
}

// Is makes errors.Is(err, ErrLeased) true for a *LeasedError.
func (e *LeasedError) Is(target error) bool { return target == ErrLeased }

// ErrLeaseLost is returned for steps skipped because another run took the
// lease over while this one worked (it expired: the run was stalled for
// longer than the lease lives).
var ErrLeaseLost = errors.New("lease was taken over by another run")

type leaseKey struct{ backup, target string }

func (k leaseKey) String() string { return k.backup + " on " + k.target }

// leases are the target leases one apply holds, renewed in the background
// until release.
type leases struct {
	e     *Env
	token string
	base  target.Lease
	ttl   time.Duration

	mu   sync.Mutex
	held map[leaseKey]*target.Target
	lost map[leaseKey]bool

	stop chan struct{}
	done chan struct{}
}

func (e *Env) leaseTTL() time.Duration {
	if e.LeaseTTL > 0 {
		return e.LeaseTTL
	}
	return DefaultLeaseTTL
}

// leaseSettle is how long to wait before reading back leases that took
// up to slowest to write. A rival run that found no lease just before this
// one wrote has its own write in flight, which takes about as long as
// this one's; three times that, within bounds, covers it without making
// every apply to a fast remote wait seconds.
// leaseTimeout bounds each lease step on one target.
func (e *Env) leaseTimeout() time.Duration {
	if e.LeaseTimeout > 0 {
		return e.LeaseTimeout
	}
	return DefaultLeaseTimeout
}

func (e *Env) leaseSettle(slowest time.Duration) time.Duration {
	if e.LeaseSettle > 0 {
		return e.LeaseSettle
	}
	return min(max(3*slowest, minLeaseSettle), maxLeaseSettle)
}

// leaseKeys are the prefixes plan writes to or deletes from. Verifications
// only read, and take no lease.
func leaseKeys(plan planner.Plan) []leaseKey {
	seen := map[leaseKey]bool{}
	var keys []leaseKey
	for _, a := range plan.Actions {
		switch a.Kind {
		case planner.KindSnapshot, planner.KindPrune, planner.KindRepair:
		default:
			continue
		}
		k := leaseKey{a.Backup, a.Target}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// acquireLeases takes the lease of every key. It returns the leases held
// (release them when done) and, for each key it could not take, why: a
// *LeasedError when another live run holds it.
func (e *Env) acquireLeases(ctx context.Context, keys []leaseKey) (*leases, map[leaseKey]error) {
	host, _ := os.Hostname()
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	now := time.Now().UTC()
	l := &leases{
		e: e, token: hex.EncodeToString(b), ttl: e.leaseTTL(),
		base: target.Lease{Host: host, PID: os.Getpid(), Command: "apply", Started: now, Version: e.Version},
		held: map[leaseKey]*target.Target{}, lost: map[leaseKey]bool{},
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	l.base.Holder = l.token
	// Every lease is taken at once, each within leaseTimeout: a target
	// that hangs is denied, and does not hold the others back.
	type taken struct {
		t         *target.Target
		checkBack bool
		took      time.Duration
		err       error
	}
	results := make([]taken, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, e.leaseTimeout())
			defer cancel()
			began := time.Now()
			r := &results[i]
			if r.t, r.err = e.Target(ctx, k.target); r.err == nil {
				r.checkBack, r.err = l.take(ctx, r.t, k)
			}
			r.took = time.Since(began)
			if r.err != nil && ctx.Err() == context.DeadlineExceeded {
				r.err = fmt.Errorf("take the lease of %s: no answer from the target in %s: %w", k, e.leaseTimeout(), r.err)
			}
		})
	}
	wg.Wait()
	denied := map[leaseKey]error{}
	var confirm []leaseKey // written where the write alone proves nothing
	var slowest time.Duration
	for i, k := range keys {
		r := results[i]
		if r.err != nil {
			denied[k] = r.err
			continue
		}
		l.held[k] = r.t
		if r.checkBack {
			confirm = append(confirm, k)
			slowest = max(slowest, r.took)
		}
	}
	if len(confirm) > 0 {
		select {
		case <-time.After(e.leaseSettle(slowest)):
		case <-ctx.Done():
		}
		for _, k := range confirm {
			t := l.held[k]
			rctx, cancel := context.WithTimeout(ctx, e.leaseTimeout())
			cur, err := t.ReadLease(rctx, k.backup)
			cancel()
			switch {
			case err != nil:
				denied[k] = err
			case cur == nil:
				denied[k] = fmt.Errorf("lease of %s vanished right after it was written", k)
			case cur.Holder != l.token:
				denied[k] = &LeasedError{Backup: k.backup, Target: k.target, Lease: *cur}
			}
			if denied[k] != nil {
				delete(l.held, k)
			}
		}
	}
	for k, t := range l.held {
		if err := t.CleanLeaseLeftovers(ctx, k.backup); err != nil {
			e.hooks().Logf("warning: %v", err)
		}
	}
	go l.renew()
	return l, denied
}

// take writes this run's lease for k, taking over one that expired or
// whose holder on this host is gone. It reports whether the lease must be
// read back before it counts.
func (l *leases) take(ctx context.Context, t *target.Target, k leaseKey) (checkBack bool, err error) {
	mine := l.lease()
	for range 2 {
		err := t.CreateLease(ctx, k.backup, &mine)
		if err == nil {
			return !t.AtomicLeases(), nil
		}
		if !errors.Is(err, target.ErrLeaseExists) {
			return false, err
		}
		cur, err := t.ReadLease(ctx, k.backup)
		if err != nil {
			return false, err
		}
		if cur == nil {
			continue // released in between: try again
		}
		why := ""
		switch {
		case time.Now().After(cur.Expires):
			why = "it expired " + cur.Expires.UTC().Format(time.RFC3339)
		case cur.Host == l.base.Host && !state.ProcessAlive(cur.PID):
			why = fmt.Sprintf("pid %d is no longer running", cur.PID)
		default:
			return false, &LeasedError{Backup: k.backup, Target: k.target, Lease: *cur}
		}
		if err := t.ReplaceLease(ctx, k.backup, &mine); err != nil {
			return false, err
		}
		l.e.hooks().Logf("warning: %s: took over the lease of %s (%s)", k, cur.String(), why)
		// Two runs may take over the same expired lease at once.
		return true, nil
	}
	return false, fmt.Errorf("lease of %s: kept changing while taking it", k)
}

// lease is this run's lease as of now.
func (l *leases) lease() target.Lease {
	le := l.base
	le.Expires = time.Now().UTC().Add(l.ttl)
	return le
}

// renew rewrites every held lease each quarter of its life, and marks lost
// the ones another run has taken.
func (l *leases) renew() {
	defer close(l.done)
	tick := time.NewTicker(l.ttl / 4)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.ttl/4)
		for _, k := range l.keys() {
			if err := l.check(ctx, k); err != nil {
				l.e.hooks().Logf("warning: %v", err)
				continue
			}
			mine := l.lease()
			if err := l.target(k).ReplaceLease(ctx, k.backup, &mine); err != nil {
				l.e.hooks().Logf("warning: renew the lease of %s: %v", k, err)
			}
		}
		cancel()
	}
}

func (l *leases) keys() []leaseKey {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]leaseKey, 0, len(l.held))
	for k := range l.held {
		if !l.lost[k] {
			keys = append(keys, k)
		}
	}
	return keys
}

func (l *leases) target(k leaseKey) *target.Target {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[k]
}

// check reads k's lease back and fails unless it is still this run's: the
// guard before anything is deleted under k's prefix.
func (l *leases) check(ctx context.Context, k leaseKey) error {
	l.mu.Lock()
	t, lost := l.held[k], l.lost[k]
	l.mu.Unlock()
	if t == nil {
		return fmt.Errorf("%s: no lease held", k)
	}
	if lost {
		return fmt.Errorf("%s: %w", k, ErrLeaseLost)
	}
	cur, err := t.ReadLease(ctx, k.backup)
	if err != nil {
		return err
	}
	if cur == nil || cur.Holder != l.token {
		l.mu.Lock()
		l.lost[k] = true
		l.mu.Unlock()
		if cur == nil {
			return fmt.Errorf("%s: lease was removed (owui unlock?): %w", k, ErrLeaseLost)
		}
		return fmt.Errorf("%s: %w: %s", k, ErrLeaseLost, cur.String())
	}
	return nil
}

// release stops the renewals and removes every lease still this run's.
// It runs even after the run's context is cancelled.
func (l *leases) release(ctx context.Context) {
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for _, k := range l.keys() {
		t := l.target(k)
		cur, err := t.ReadLease(ctx, k.backup)
		if err == nil && (cur == nil || cur.Holder != l.token) {
			continue
		}
		if err == nil {
			err = t.DeleteLease(ctx, k.backup)
		}
		if err != nil {
			l.e.hooks().Logf("warning: release the lease of %s: %v", k, err)
		}
	}
}
