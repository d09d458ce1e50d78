package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations are the schema's history. Migration i+1 is migrations[i]; each
// runs once, in order, in its own transaction together with its row in
// schema_migrations. Append only: never edit a migration that has shipped.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE snapshots (
	backup      TEXT NOT NULL,
	target      TEXT NOT NULL,
	id          TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	bytes       INTEGER NOT NULL DEFAULT 0,
	files       INTEGER NOT NULL DEFAULT 0,
	complete    INTEGER NOT NULL DEFAULT 0,
	recorded_at TEXT NOT NULL,
	PRIMARY KEY (backup, target, id)
) WITHOUT ROWID;
CREATE INDEX snapshots_target ON snapshots (target, backup);

CREATE TABLE runs (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	command    TEXT NOT NULL,
	started_at TEXT NOT NULL,
	ended_at   TEXT NOT NULL DEFAULT '',
	result     TEXT NOT NULL DEFAULT '',
	error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_command ON runs (command, id);

CREATE TABLE file_hashes (
	path     TEXT PRIMARY KEY,
	size     INTEGER NOT NULL,
	mtime_ns INTEGER NOT NULL,
	inode    INTEGER NOT NULL,
	sha256   TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE lock (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	pid        INTEGER NOT NULL,
	host       TEXT NOT NULL,
	started_at TEXT NOT NULL,
	command    TEXT NOT NULL,
	token      TEXT NOT NULL
);
`,
	// 2: what each action of a run came to, for status, history and metrics.
	`
CREATE TABLE run_actions (
	run_id         INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	seq            INTEGER NOT NULL,
	action         TEXT NOT NULL,
	backup         TEXT NOT NULL,
	target         TEXT NOT NULL,
	snapshot       TEXT NOT NULL DEFAULT '',
	result         TEXT NOT NULL,
	error          TEXT NOT NULL DEFAULT '',
	bytes_uploaded INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE INDEX run_actions_pair ON run_actions (backup, target, action, run_id);
`,
	// 3: containers owui has paused or stopped (or is about to), so that the
	// next owui command puts them back after a kill -9 or a power cut.
	`
CREATE TABLE holds (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	container_id   TEXT NOT NULL,
	container_name TEXT NOT NULL,
	action         TEXT NOT NULL CHECK (action IN ('pause', 'stop')),
	pid            INTEGER NOT NULL,
	host           TEXT NOT NULL,
	started_at     TEXT NOT NULL,
	-- owner is random per process: a hold with this process's pid but
	-- another owner was made before a restart reused the pid.
	owner          TEXT NOT NULL
);
`,
	// 4: verification results, and each snapshot's manifest checksum so that
	// a refresh can tell a manifest altered on the target since owui saw it.
	`
ALTER TABLE snapshots ADD COLUMN manifest_sha256 TEXT NOT NULL DEFAULT '';
CREATE TABLE verifications (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	backup          TEXT NOT NULL,
	target          TEXT NOT NULL,
	snapshot        TEXT NOT NULL,
	manifest_sha256 TEXT NOT NULL DEFAULT '',
	verified_at     TEXT NOT NULL,
	read_data       INTEGER NOT NULL,
	ok              INTEGER NOT NULL,
	problems        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX verifications_snapshot ON verifications (backup, target, snapshot, id);
`,
	// 5: the size and modification time of each snapshot's manifest object
	// when owui last read it, so that a refresh reads again only the
	// manifests that changed (0: not known).
	`
ALTER TABLE snapshots ADD COLUMN manifest_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE snapshots ADD COLUMN manifest_mtime_ns INTEGER NOT NULL DEFAULT 0;
`,
	// 6: the SHA-256 of the copy a capture made of each SQLite source, and
	// the source's version (stage.SQLiteVersion) it was made at, so that
	// the next capture need not copy a database no one wrote to since.
	`
CREATE TABLE database_copies (
	path    TEXT PRIMARY KEY,
	version TEXT NOT NULL,
	sha256  TEXT NOT NULL
) WITHOUT ROWID;
`,
}

// SchemaVersion is the schema version this owui writes.
var SchemaVersion = len(migrations)

// migrate applies the migrations the database has not seen. Two processes
// opening a new state at once are serialised by the IMMEDIATE transactions;
// the loser re-reads the version inside its transaction and skips.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at TEXT NOT NULL
)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for v := 1; v <= len(migrations); v++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			cur, err := schemaVersion(ctx, tx)
			if err != nil {
				return err
			}
			if cur > len(migrations) {
				return fmt.Errorf("state schema version %d is newer than this owui knows (%d): upgrade owui", cur, len(migrations))
			}
			if cur >= v {
				return nil
			}
			if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("apply migration %d: %w", v, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				v, formatTime(time.Now())); err != nil {
				return fmt.Errorf("record migration %d: %w", v, err)
			}
			_, err = tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// queryer is what *sql.DB and *sql.Tx share.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func schemaVersion(ctx context.Context, q queryer) (int, error) {
	var v sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// Version is the schema version the database is at.
func (s *Store) Version(ctx context.Context) (int, error) {
	return schemaVersion(ctx, s.db)
}
