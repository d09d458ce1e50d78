package stage

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	hashWG sync.WaitGroup
	wg     sync.WaitGroup

	mu      sync.Mutex
	started bool
	queued  []sqliteCopy
	hashes  map[string]HashedCopy
	results map[string]string
	errs    []error
}

type sqliteCopy struct{ rel, path string }

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
	return &SQLiteChecks{
		Known: known, ctx: ctx, cancel: cancel,
		hashes: map[string]HashedCopy{}, results: map[string]string{},
	}
}

// Add hands over the staged copy path of rel: it is hashed and checked
// now if Start was called, or from Start on.
func (c *SQLiteChecks) Add(rel, path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hashWG.Add(1)
	c.wg.Add(1)
	if c.started {
		go c.run(sqliteCopy{rel, path})
		return
	}
	c.queued = append(c.queued, sqliteCopy{rel, path})
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
	for _, q := range c.queued {
		go c.run(q)
	}
	c.queued = nil
}

func (c *SQLiteChecks) run(q sqliteCopy) {
	defer c.wg.Done()
	if err := c.ctx.Err(); err != nil {
		c.hashWG.Done()
		return // abandoned
	}
	// The check starts at once, beside the hash, on the other core; it is
	// called off if the hash shows a copy already checked.
	checkCtx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	type checked struct {
		res string
		err error
	}
	checkDone := make(chan checked, 1)
	go func() {
		res, err := CheckSQLite(checkCtx, q.path)
		checkDone <- checked{res, err}
	}()
	sum, size, err := HashFile(q.path)
	known := err == nil && c.Known != nil && c.Known(q.rel, sum)
	c.mu.Lock()
	if err != nil {
		c.errs = append(c.errs, err)
	} else {
		c.hashes[q.rel] = HashedCopy{Size: size, SHA256: sum, Reused: known}
	}
	c.mu.Unlock()
	c.hashWG.Done()
	if err != nil || known {
		cancel()
		<-checkDone
		if known {
			c.mu.Lock()
			c.results[q.rel] = "ok"
			c.mu.Unlock()
		}
		return
	}
	r := <-checkDone
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.err != nil {
		c.errs = append(c.errs, fmt.Errorf("check the copy of %s: %w", q.rel, r.err))
		return
	}
	c.results[q.rel] = r.res
}

// Hashes waits until every copy added is hashed (Start must have been
// called) and returns the hashes by path.
func (c *SQLiteChecks) Hashes() (map[string]HashedCopy, error) {
	c.hashWG.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	return c.hashes, nil
}

// Wait waits for every check and returns each copy's integrity_check
// result ("ok", or the problems found) by path. A check that could not run
// is an error; a check that found problems is not, the caller refuses it.
func (c *SQLiteChecks) Wait() (map[string]string, error) {
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := errors.Join(c.errs...); err != nil {
		return nil, err
	}
	if err := c.ctx.Err(); err != nil {
		return nil, err
	}
	return c.results, nil
}

// Abandon stops the work and waits for it to end: the copies can then be
// removed.
func (c *SQLiteChecks) Abandon() {
	c.cancel()
	c.Start()
	c.wg.Wait()
}
