package stage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// SQLiteChecks hashes staged SQLite copies and runs their integrity_check,
// each copy in its own goroutine as soon as it is added: the check reads
// the whole copy and, in pure-Go SQLite, costs more than the copy itself,
// so it runs beside the rest of the capture and the uploads instead of
// before them. A copy must not be written to once added (CopySQLite's
// result never is).
//
// A copy whose bytes were already checked (Known says so, given its path
// and hash: the previous snapshot holds the same copy) is not checked
// again: integrity_check reads nothing but the file, so the same bytes
// give the same answer.
type SQLiteChecks struct {
	// Known, if set, reports whether a copy of rel with this SHA-256 has
	// already passed integrity_check.
	Known func(rel, sha256 string) bool

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	started bool
	runs    map[string]*checkRun // by manifest path: the copy last added
}

// checkRun is the work on one copy.
type checkRun struct {
	rel, path string
	ctx       context.Context
	cancel    context.CancelFunc
	launched  bool          // under SQLiteChecks.mu
	hashed    chan struct{} // closed once hash and hashErr are set
	done      chan struct{} // closed once the work ended
	hash      HashedCopy
	hashErr   error
	res       string
	err       error
	took      time.Duration // of the integrity_check, when it ran to its end
}

// HashedCopy is a staged copy's size and hex SHA-256.
type HashedCopy struct {
	Size   int64
	SHA256 string
	// Reused says integrity_check was not run again: Known knew the bytes.
	Reused bool
}

// NewSQLiteChecks returns an empty SQLiteChecks whose work stops when ctx
// is cancelled. Nothing runs before Start.
func NewSQLiteChecks(ctx context.Context, known func(rel, sha256 string) bool) *SQLiteChecks {
	ctx, cancel := context.WithCancel(ctx)
	return &SQLiteChecks{Known: known, ctx: ctx, cancel: cancel, runs: map[string]*checkRun{}}
}

// Add hands over the staged copy path of rel: it is hashed and checked
// now if Start was called, or from Start on. A copy of rel added before
// is dropped (Drop) first.
func (c *SQLiteChecks) Add(rel, path string) {
	c.Drop(rel)
	ctx, cancel := context.WithCancel(c.ctx)
	r := &checkRun{rel: rel, path: path, ctx: ctx, cancel: cancel, hashed: make(chan struct{}), done: make(chan struct{})}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[rel] = r
	if c.started {
		c.launch(r)
	}
}

// Drop withdraws the copy of rel added last, if any: its work is called
// off and waited for, and neither its hash nor its check is reported. A
// capture drops the copies of an attempt it discards before it removes
// them.
func (c *SQLiteChecks) Drop(rel string) {
	c.mu.Lock()
	r := c.runs[rel]
	delete(c.runs, rel)
	launched := r != nil && r.launched
	c.mu.Unlock()
	if r == nil {
		return
	}
	r.cancel()
	if launched {
		<-r.done
	}
}

// Start starts the work on every copy added so far and on every later one
// as it is added. A capture made with the instance paused calls it after
// the window, so that the checks do not lengthen the pause.
func (c *SQLiteChecks) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return
	}
	c.started = true
	for _, r := range c.runs {
		c.launch(r)
	}
}

// launch starts r's work; c.mu is held.
func (c *SQLiteChecks) launch(r *checkRun) {
	r.launched = true
	go r.run(c.Known)
}

func (r *checkRun) run(known func(rel, sha256 string) bool) {
	defer close(r.done)
	defer r.cancel()
	if err := r.ctx.Err(); err != nil {
		r.hashErr, r.err = err, err
		close(r.hashed)
		return // abandoned or dropped
	}
	// The check starts at once, beside the hash, on the other core; it is
	// called off if the hash shows a copy already checked.
	type checked struct {
		res  string
		err  error
		took time.Duration
	}
	checkDone := make(chan checked, 1)
	go func() {
		start := time.Now()
		res, err := CheckSQLite(r.ctx, r.path)
		checkDone <- checked{res, err, time.Since(start)}
	}()
	sum, size, err := HashFile(r.path)
	isKnown := err == nil && known != nil && known(r.rel, sum)
	r.hash, r.hashErr = HashedCopy{Size: size, SHA256: sum, Reused: isKnown}, err
	close(r.hashed)
	if err != nil || isKnown {
		r.cancel()
		<-checkDone
		if isKnown {
			r.res = "ok"
		}
		return
	}
	ch := <-checkDone
	if ch.err != nil {
		r.err = fmt.Errorf("check the copy of %s: %w", r.rel, ch.err)
		return
	}
	r.res, r.took = ch.res, ch.took
}

// current returns the copies added and not dropped.
func (c *SQLiteChecks) current() []*checkRun {
	c.mu.Lock()
	defer c.mu.Unlock()
	runs := make([]*checkRun, 0, len(c.runs))
	for _, r := range c.runs {
		runs = append(runs, r)
	}
	return runs
}

// Hashes waits until every copy added is hashed (Start must have been
// called) and returns the hashes by path.
func (c *SQLiteChecks) Hashes() (map[string]HashedCopy, error) {
	hashes := map[string]HashedCopy{}
	var errs []error
	for _, r := range c.current() {
		<-r.hashed
		if r.hashErr != nil {
			errs = append(errs, r.hashErr)
			continue
		}
		hashes[r.rel] = r.hash
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return hashes, nil
}

// Wait waits for every check and returns each copy's integrity_check
// result ("ok", or the problems found) by path. A check that could not run
// is an error; a check that found problems is not, the caller refuses it.
func (c *SQLiteChecks) Wait() (map[string]string, error) {
	results := map[string]string{}
	var errs []error
	for _, r := range c.current() {
		<-r.done
		if r.hashErr != nil {
			errs = append(errs, r.hashErr)
		} else if r.err != nil {
			errs = append(errs, r.err)
		} else {
			results[r.rel] = r.res
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	return results, nil
}

// Took waits for every check and returns how long each integrity_check
// that ran to its end took, by path: not the copies Known knew.
func (c *SQLiteChecks) Took() map[string]time.Duration {
	took := map[string]time.Duration{}
	for _, r := range c.current() {
		<-r.done
		if r.took > 0 {
			took[r.rel] = r.took
		}
	}
	return took
}

// Abandon stops the work and waits for it to end: the copies can then be
// removed.
func (c *SQLiteChecks) Abandon() {
	c.cancel()
	c.Start()
	for _, r := range c.current() {
		<-r.done
	}
}
