package state

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// VerificationRecord is what one verification of a snapshot found.
type VerificationRecord struct {
	Backup   string
	Target   string
	Snapshot string
	// ManifestSHA256 is the checksum of the manifest that was verified: a
	// verification speaks only for that manifest.
	ManifestSHA256 string
	VerifiedAt     time.Time
	// ReadData is true when the files were downloaded and their checksums,
	// SQLite integrity and cross-references checked; false for the cheap
	// listing check (every file present with its size).
	ReadData bool
	OK       bool
	// Problems lists what failed, one line each (empty when OK).
	Problems []string
}

// PutVerification records one verification.
func (s *Store) PutVerification(ctx context.Context, v VerificationRecord) error {
	if v.Backup == "" || v.Target == "" || v.Snapshot == "" || v.VerifiedAt.IsZero() {
		return fmt.Errorf("record verification of %q of %q on %q: backup, target, snapshot and time are required", v.Snapshot, v.Backup, v.Target)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO verifications
(backup, target, snapshot, manifest_sha256, verified_at, read_data, ok, problems) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		v.Backup, v.Target, v.Snapshot, v.ManifestSHA256, formatTime(v.VerifiedAt), v.ReadData, v.OK,
		strings.Join(v.Problems, "\n")); err != nil {
		return fmt.Errorf("record verification of %s of %s on %s: %w", v.Snapshot, v.Backup, v.Target, err)
	}
	return nil
}

// Verifications returns every recorded verification, oldest first (by
// time, then by the order they were recorded).
func (s *Store) Verifications(ctx context.Context) ([]VerificationRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT backup, target, snapshot, manifest_sha256, verified_at, read_data, ok, problems
FROM verifications ORDER BY verified_at, id`)
	if err != nil {
		return nil, fmt.Errorf("read verifications: %w", err)
	}
	defer rows.Close()
	var out []VerificationRecord
	for rows.Next() {
		var v VerificationRecord
		var at, problems string
		if err := rows.Scan(&v.Backup, &v.Target, &v.Snapshot, &v.ManifestSHA256, &at, &v.ReadData, &v.OK, &problems); err != nil {
			return nil, fmt.Errorf("read verifications: %w", err)
		}
		if v.VerifiedAt, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("read verification of %s/%s/%s: %w", v.Target, v.Backup, v.Snapshot, err)
		}
		if problems != "" {
			v.Problems = strings.Split(problems, "\n")
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read verifications: %w", err)
	}
	return out, nil
}
