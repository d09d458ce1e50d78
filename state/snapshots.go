package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SnapshotRecord is what state knows about one snapshot of a backup on a
// target. RecordedAt is when owui last saw it (after an apply or a refresh).
type SnapshotRecord struct {
	Backup     string
	Target     string
	ID         string
	CreatedAt  time.Time
	Bytes      int64
	Files      int
	Complete   bool
	RecordedAt time.Time
	// ManifestSHA256 is the checksum of the manifest's bytes as owui last
	// read or wrote them; empty for records made before it was kept.
	ManifestSHA256 string
	// ManifestSize and ManifestModTimeNs are the manifest object's size
	// and modification time (Unix ns) when owui last read it; 0 when not
	// known. A refresh that finds both unchanged does not read it again.
	ManifestSize, ManifestModTimeNs int64
}

// Snapshots returns every recorded snapshot, sorted by backup, target and
// creation time (then id).
func (s *Store) Snapshots(ctx context.Context) ([]SnapshotRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT backup, target, id, created_at, bytes, files, complete, recorded_at, manifest_sha256,
	manifest_size, manifest_mtime_ns
FROM snapshots ORDER BY backup, target, created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("read snapshots: %w", err)
	}
	defer rows.Close()
	var out []SnapshotRecord
	for rows.Next() {
		var r SnapshotRecord
		var created, recorded string
		if err := rows.Scan(&r.Backup, &r.Target, &r.ID, &created, &r.Bytes, &r.Files, &r.Complete, &recorded, &r.ManifestSHA256,
			&r.ManifestSize, &r.ManifestModTimeNs); err != nil {
			return nil, fmt.Errorf("read snapshots: %w", err)
		}
		if r.CreatedAt, err = parseTime(created); err != nil {
			return nil, fmt.Errorf("read snapshot %s/%s/%s: %w", r.Target, r.Backup, r.ID, err)
		}
		if r.RecordedAt, err = parseTime(recorded); err != nil {
			return nil, fmt.Errorf("read snapshot %s/%s/%s: %w", r.Target, r.Backup, r.ID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read snapshots: %w", err)
	}
	return out, nil
}

// PutSnapshot records a snapshot, replacing the record with the same backup,
// target and id.
func (s *Store) PutSnapshot(ctx context.Context, r SnapshotRecord) error {
	if err := checkRecord(r); err != nil {
		return err
	}
	if err := putSnapshot(ctx, s.db, r); err != nil {
		return fmt.Errorf("record snapshot %s of %s on %s: %w", r.ID, r.Backup, r.Target, err)
	}
	return nil
}

// DeleteSnapshot forgets one snapshot. Forgetting one state does not hold is
// not an error.
func (s *Store) DeleteSnapshot(ctx context.Context, backup, target, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM snapshots WHERE backup = ? AND target = ? AND id = ?`,
		backup, target, id); err != nil {
		return fmt.Errorf("forget snapshot %s of %s on %s: %w", id, backup, target, err)
	}
	return nil
}

// ReplaceTarget is the write half of a refresh: in one transaction, what
// state holds for the given backups on target becomes exactly recs. Other
// backups on that target, and other targets, are left alone. Every record
// must belong to target and to one of backups.
func (s *Store) ReplaceTarget(ctx context.Context, target string, backups []string, recs []SnapshotRecord) error {
	listed := make(map[string]bool, len(backups))
	for _, b := range backups {
		listed[b] = true
	}
	for _, r := range recs {
		if err := checkRecord(r); err != nil {
			return err
		}
		if r.Target != target || !listed[r.Backup] {
			return fmt.Errorf("replace snapshots on %s: record %s of %s on %s is outside the refreshed backups", target, r.ID, r.Backup, r.Target)
		}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, b := range backups {
			if _, err := tx.ExecContext(ctx, `DELETE FROM snapshots WHERE target = ? AND backup = ?`, target, b); err != nil {
				return err
			}
		}
		for _, r := range recs {
			if err := putSnapshot(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replace snapshots on %s: %w", target, err)
	}
	return nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func putSnapshot(ctx context.Context, db execer, r SnapshotRecord) error {
	_, err := db.ExecContext(ctx, `INSERT INTO snapshots (backup, target, id, created_at, bytes, files, complete, recorded_at, manifest_sha256,
	manifest_size, manifest_mtime_ns)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (backup, target, id) DO UPDATE SET
	created_at = excluded.created_at, bytes = excluded.bytes, files = excluded.files,
	complete = excluded.complete, recorded_at = excluded.recorded_at, manifest_sha256 = excluded.manifest_sha256,
	manifest_size = excluded.manifest_size, manifest_mtime_ns = excluded.manifest_mtime_ns`,
		r.Backup, r.Target, r.ID, formatTime(r.CreatedAt), r.Bytes, r.Files, r.Complete, formatTime(r.RecordedAt), r.ManifestSHA256,
		r.ManifestSize, r.ManifestModTimeNs)
	return err
}

func checkRecord(r SnapshotRecord) error {
	if r.Backup == "" || r.Target == "" || r.ID == "" || r.CreatedAt.IsZero() {
		return fmt.Errorf("record snapshot %q of %q on %q: backup, target, id and created_at are required", r.ID, r.Backup, r.Target)
	}
	return nil
}
