package state

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// LockHolder identifies the process that holds the apply lock.
type LockHolder struct {
	PID     int
	Host    string
	Started time.Time
	Command string
}

func (h LockHolder) String() string {
	return fmt.Sprintf("pid %d on %s (%s, started %s)", h.PID, h.Host, h.Command, h.Started.Format(time.RFC3339))
}

// ErrLocked matches, through errors.Is, every *LockedError.
var ErrLocked = errors.New("state is locked by another owui run")

// LockedError says who holds the lock. The CLI maps it to exit code 3.
type LockedError struct {
	Holder LockHolder
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("state is locked by another owui run: pid %d on %s, %s, started %s",
		e.Holder.PID, e.Holder.Host, e.Holder.Command, e.Holder.Started.Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLocked) true for a *LockedError.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// ErrLockLost is returned by unlock when the lock row is no longer this
// run's (another run took it over as stale, or it was removed by hand).
var ErrLockLost = errors.New("lock is no longer held by this run")

// Lock takes the apply lock for holder. The lock is a row in the state
// database, written in an IMMEDIATE transaction so two runs cannot both
// see it free. A lock left by a process on this host that no longer exists
// is taken over, and warning names that holder. A lock held by a live
// process, or by any process on another host (whose liveness cannot be
// checked from here), fails with a *LockedError.
//
// unlock removes the row only if it is still this call's: a run whose stale
// lock was taken over does not release its successor's lock.
func (s *Store) Lock(ctx context.Context, holder LockHolder) (unlock func() error, warning string, err error) {
	token, err := newToken()
	if err != nil {
		return nil, "", fmt.Errorf("lock state: %w", err)
	}
	err = s.tx(ctx, func(tx *sql.Tx) error {
		prev, found, err := readLock(ctx, tx)
		if err != nil {
			return err
		}
		if found {
			if prev.Host != holder.Host || ProcessAlive(prev.PID) {
				return &LockedError{Holder: prev}
			}
			warning = fmt.Sprintf("took over a stale lock: pid %d on %s (%s, started %s) is no longer running",
				prev.PID, prev.Host, prev.Command, prev.Started.Format(time.RFC3339))
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO lock (id, pid, host, started_at, command, token)
VALUES (1, ?, ?, ?, ?, ?)`, holder.PID, holder.Host, formatTime(holder.Started), holder.Command, token)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return nil, "", err
		}
		return nil, "", fmt.Errorf("lock state: %w", err)
	}
	unlock = func() error {
		// The run's own context may be cancelled by now (SIGINT); releasing
		// the lock must still happen.
		ctx, cancel := context.WithTimeout(context.Background(), 2*busyTimeout)
		defer cancel()
		res, err := s.db.ExecContext(ctx, `DELETE FROM lock WHERE id = 1 AND token = ?`, token)
		if err != nil {
			return fmt.Errorf("unlock state: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("unlock state: %w", err)
		} else if n == 0 {
			return fmt.Errorf("unlock state: %w", ErrLockLost)
		}
		return nil
	}
	return unlock, warning, nil
}

// LockHeld returns the current lock holder, if any.
func (s *Store) LockHeld(ctx context.Context) (LockHolder, bool, error) {
	h, ok, err := readLock(ctx, s.db)
	if err != nil {
		return LockHolder{}, false, fmt.Errorf("read lock: %w", err)
	}
	return h, ok, nil
}

func readLock(ctx context.Context, q queryer) (LockHolder, bool, error) {
	var h LockHolder
	var started string
	err := q.QueryRowContext(ctx, `SELECT pid, host, started_at, command FROM lock WHERE id = 1`).
		Scan(&h.PID, &h.Host, &started, &h.Command)
	if errors.Is(err, sql.ErrNoRows) {
		return LockHolder{}, false, nil
	}
	if err != nil {
		return LockHolder{}, false, err
	}
	if h.Started, err = parseTime(started); err != nil {
		return LockHolder{}, false, err
	}
	return h, true, nil
}

// processAlive reports whether pid exists on this host. EPERM means it
// exists but belongs to another user: alive. A recycled pid looks alive,
// which errs on the side of refusing to run.
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || !errors.Is(err, syscall.ESRCH)
}

func newToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// ClearLock removes the apply lock, whoever holds it: owui unlock's way
// out of a lock whose holder cannot be checked from here. It reports
// whether there was one.
func (s *Store) ClearLock(ctx context.Context) (bool, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM lock WHERE id = 1`)
	if err != nil {
		return false, fmt.Errorf("clear lock: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("clear lock: %w", err)
	}
	return n > 0, nil
}
