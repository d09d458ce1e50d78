package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Run is one owui command's run as recorded in state. Ended is zero and
// Result is RunRunning while it runs (or when it died without ending).
type Run struct {
	ID      int64
	Command string
	Started time.Time
	Ended   time.Time
	Result  string
	Error   string
}

// RunRunning is the result of a run that has not ended.
const RunRunning = "running"

// StartRun records the start of a command and returns the run's id.
func (s *Store) StartRun(ctx context.Context, command string, started time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs (command, started_at, result) VALUES (?, ?, ?)`,
		command, formatTime(started), RunRunning)
	if err != nil {
		return 0, fmt.Errorf("record start of %s: %w", command, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("record start of %s: %w", command, err)
	}
	return id, nil
}

// EndRun records how run id ended. errText must not hold secrets: it is
// stored as given.
func (s *Store) EndRun(ctx context.Context, id int64, ended time.Time, result string, errText string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET ended_at = ?, result = ?, error = ? WHERE id = ?`,
		formatTime(ended), result, errText, id)
	if err != nil {
		return fmt.Errorf("record end of run %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("record end of run %d: no such run", id)
	}
	return nil
}

// LastRun returns the most recently started run of command, or nil when
// there has been none.
func (s *Store) LastRun(ctx context.Context, command string) (*Run, error) {
	var r Run
	var started, ended string
	err := s.db.QueryRowContext(ctx, `SELECT id, command, started_at, ended_at, result, error
FROM runs WHERE command = ? ORDER BY id DESC LIMIT 1`, command).
		Scan(&r.ID, &r.Command, &started, &ended, &r.Result, &r.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read last %s run: %w", command, err)
	}
	if r.Started, err = parseTime(started); err != nil {
		return nil, fmt.Errorf("read run %d: %w", r.ID, err)
	}
	if r.Ended, err = parseTime(ended); err != nil {
		return nil, fmt.Errorf("read run %d: %w", r.ID, err)
	}
	return &r, nil
}
