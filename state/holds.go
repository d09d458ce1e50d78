package state

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Hold actions: what owui did to a container for a quiet window.
const (
	HoldPause = "pause"
	HoldStop  = "stop"
)

// Hold records a container owui is about to pause or stop, or has. It is
// written before the pause or stop is made and deleted once the container
// runs again, so a hold whose owner process is gone marks a container that
// may have been left paused or stopped (safety rule 4).
type Hold struct {
	ID            int64
	ContainerID   string
	ContainerName string
	// Action is HoldPause or HoldStop.
	Action  string
	PID     int
	Host    string
	Started time.Time
	// owner is the token of the process that made the hold.
	owner string
}

// processOwner tells this process's holds from those of an earlier process
// that had the same pid.
var processOwner = func() string {
	t, err := newToken()
	if err != nil {
		return fmt.Sprintf("pid-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	return t
}()

func (h Hold) String() string {
	return fmt.Sprintf("%s of container %s by owui pid %d on %s, started %s",
		h.Action, h.ContainerName, h.PID, h.Host, h.Started.Format(time.RFC3339))
}

// OwnerGone reports whether the process that made the hold is known to be
// gone: it ran on this host and its pid no longer exists, or the pid is
// this process's own but the hold is not (a pid reused after a restart, as
// in a container where owui is always pid 1). A hold made on another host
// is never reported gone: its owner cannot be checked from here. A pid
// reused by an unrelated process looks alive, which leaves the hold for a
// later command rather than undoing a live run's pause.
func (h Hold) OwnerGone(host string) bool {
	if h.Host != host {
		return false
	}
	if h.PID == os.Getpid() {
		return h.owner != processOwner
	}
	return !ProcessAlive(h.PID)
}

// AddHold records a hold and returns its id.
func (s *Store) AddHold(ctx context.Context, h Hold) (int64, error) {
	if h.owner == "" {
		h.owner = processOwner
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO holds (container_id, container_name, action, pid, host, started_at, owner)
VALUES (?, ?, ?, ?, ?, ?, ?)`, h.ContainerID, h.ContainerName, h.Action, h.PID, h.Host, formatTime(h.Started), h.owner)
	if err != nil {
		return 0, fmt.Errorf("record hold on container %s: %w", h.ContainerName, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("record hold on container %s: %w", h.ContainerName, err)
	}
	return id, nil
}

// DeleteHold forgets a hold whose container runs again.
func (s *Store) DeleteHold(ctx context.Context, id int64) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM holds WHERE id = ?`, id); err != nil {
		return fmt.Errorf("forget hold %d: %w", id, err)
	}
	return nil
}

// Holds returns every recorded hold, oldest first.
func (s *Store) Holds(ctx context.Context) ([]Hold, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, container_id, container_name, action, pid, host, started_at, owner FROM holds ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read holds: %w", err)
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		var h Hold
		var started string
		if err := rows.Scan(&h.ID, &h.ContainerID, &h.ContainerName, &h.Action, &h.PID, &h.Host, &started, &h.owner); err != nil {
			return nil, fmt.Errorf("read holds: %w", err)
		}
		if h.Started, err = parseTime(started); err != nil {
			return nil, fmt.Errorf("read holds: %w", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read holds: %w", err)
	}
	return out, nil
}
