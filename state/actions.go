package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Action results recorded in run_actions.
const (
	ActionOK      = "ok"
	ActionError   = "error"
	ActionSkipped = "skipped"
)

// ActionRecord is what one action of a run came to. Error must not hold
// secrets: it is stored as given.
type ActionRecord struct {
	RunID         int64
	Action        string // snapshot, prune, repair, verify
	Backup        string
	Target        string
	Snapshot      string
	Result        string // ActionOK, ActionError or ActionSkipped
	Error         string // the error, or why the action was skipped
	BytesUploaded int64
	// RunEnded is when the run that carried the action out ended (zero while
	// it runs); filled in by the readers.
	RunEnded time.Time
}

// RecordActions stores the actions of run id, in order, in one transaction.
func (s *Store) RecordActions(ctx context.Context, runID int64, recs []ActionRecord) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i, r := range recs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO run_actions
(run_id, seq, action, backup, target, snapshot, result, error, bytes_uploaded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				runID, i, r.Action, r.Backup, r.Target, r.Snapshot, r.Result, r.Error, r.BytesUploaded); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record actions of run %d: %w", runID, err)
	}
	return nil
}

// RunActions returns the actions of run id, in order.
func (s *Store) RunActions(ctx context.Context, runID int64) ([]ActionRecord, error) {
	return s.queryActions(ctx, `WHERE a.run_id = ? ORDER BY a.seq`, runID)
}

// LastActions returns, for each backup and target, the action of kind
// action from the newest run that had one (keyed by [backup, target]).
func (s *Store) LastActions(ctx context.Context, action string) (map[[2]string]ActionRecord, error) {
	recs, err := s.queryActions(ctx, `WHERE a.action = ? AND a.run_id = (
	SELECT max(b.run_id) FROM run_actions b WHERE b.backup = a.backup AND b.target = a.target AND b.action = a.action)
ORDER BY a.seq`, action)
	if err != nil {
		return nil, err
	}
	out := make(map[[2]string]ActionRecord, len(recs))
	for _, r := range recs {
		out[[2]string{r.Backup, r.Target}] = r
	}
	return out, nil
}

func (s *Store) queryActions(ctx context.Context, where string, args ...any) ([]ActionRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT a.run_id, a.action, a.backup, a.target, a.snapshot, a.result, a.error,
	a.bytes_uploaded, r.ended_at
FROM run_actions a JOIN runs r ON r.id = a.run_id `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read run actions: %w", err)
	}
	defer rows.Close()
	var out []ActionRecord
	for rows.Next() {
		var r ActionRecord
		var ended string
		if err := rows.Scan(&r.RunID, &r.Action, &r.Backup, &r.Target, &r.Snapshot, &r.Result, &r.Error,
			&r.BytesUploaded, &ended); err != nil {
			return nil, fmt.Errorf("read run actions: %w", err)
		}
		if r.RunEnded, err = parseTime(ended); err != nil {
			return nil, fmt.Errorf("read actions of run %d: %w", r.RunID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read run actions: %w", err)
	}
	return out, nil
}

// Runs returns the newest limit runs (all of them when limit <= 0), newest
// first.
func (s *Store) Runs(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, command, started_at, ended_at, result, error
FROM runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var started, ended string
		if err := rows.Scan(&r.ID, &r.Command, &started, &ended, &r.Result, &r.Error); err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		if r.Started, err = parseTime(started); err != nil {
			return nil, fmt.Errorf("read run %d: %w", r.ID, err)
		}
		if r.Ended, err = parseTime(ended); err != nil {
			return nil, fmt.Errorf("read run %d: %w", r.ID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	return out, nil
}

// LastSuccess returns the most recent run of command that ended "ok", or
// nil. Only a run that succeeded counts: a failed one never advances it.
func (s *Store) LastSuccess(ctx context.Context, command string) (*Run, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `SELECT id FROM runs WHERE command = ? AND result = 'ok' ORDER BY id DESC LIMIT 1`, command).Scan(&id)
	if err == sql.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read last successful %s run: %w", command, err)
	}
	runs, err := s.runByID(ctx, id)
	return runs, err
}

func (s *Store) runByID(ctx context.Context, id int64) (*Run, error) {
	var r Run
	var started, ended string
	err := s.db.QueryRowContext(ctx, `SELECT id, command, started_at, ended_at, result, error FROM runs WHERE id = ?`, id).
		Scan(&r.ID, &r.Command, &started, &ended, &r.Result, &r.Error)
	if err != nil {
		return nil, fmt.Errorf("read run %d: %w", id, err)
	}
	if r.Started, err = parseTime(started); err != nil {
		return nil, fmt.Errorf("read run %d: %w", id, err)
	}
	if r.Ended, err = parseTime(ended); err != nil {
		return nil, fmt.Errorf("read run %d: %w", id, err)
	}
	return &r, nil
}
