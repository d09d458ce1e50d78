package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// HashEntry is a file's SHA-256 as of the stat data it was computed for.
// A hash is reused only while path, size, mtime and inode all still match.
type HashEntry struct {
	Path    string
	Size    int64
	MtimeNs int64
	Inode   uint64
	SHA256  string
}

// HashIndex is the whole hash cache in memory, keyed by path.
type HashIndex map[string]HashEntry

// Lookup returns the cached hash of path if the cached stat data still
// matches. It makes HashIndex a stage.HashCache.
func (h HashIndex) Lookup(path string, size, mtimeNs int64, inode uint64) (string, bool) {
	e, ok := h[path]
	if !ok || e.Size != size || e.MtimeNs != mtimeNs || e.Inode != inode {
		return "", false
	}
	return e.SHA256, true
}

// HashCache loads the whole cache into memory. This is the fast path for a
// snapshot: one query scans the table in key order, where a lookup per file
// would pay a statement round trip through the SQLite engine for each of
// tens of thousands of uploads (see BenchmarkHashCache).
func (s *Store) HashCache(ctx context.Context) (HashIndex, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT path, size, mtime_ns, inode, sha256 FROM file_hashes`)
	if err != nil {
		return nil, fmt.Errorf("read hash cache: %w", err)
	}
	defer rows.Close()
	out := make(HashIndex)
	for rows.Next() {
		var e HashEntry
		var inode int64
		if err := rows.Scan(&e.Path, &e.Size, &e.MtimeNs, &inode, &e.SHA256); err != nil {
			return nil, fmt.Errorf("read hash cache: %w", err)
		}
		e.Inode = uint64(inode)
		out[e.Path] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read hash cache: %w", err)
	}
	return out, nil
}

// LookupHash returns the cached hash of one file if path, size, mtime and
// inode all match what was cached.
func (s *Store) LookupHash(ctx context.Context, path string, size, mtimeNs int64, inode uint64) (sha256 string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT sha256 FROM file_hashes
WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?`, path, size, mtimeNs, int64(inode)).Scan(&sha256)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("look up hash of %s: %w", path, err)
	}
	return sha256, true, nil
}

// StoreHashes records hashes in one transaction through one prepared
// statement, replacing older entries for the same paths.
func (s *Store) StoreHashes(ctx context.Context, entries []HashEntry) error {
	if len(entries) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO file_hashes (path, size, mtime_ns, inode, sha256)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (path) DO UPDATE SET
	size = excluded.size, mtime_ns = excluded.mtime_ns, inode = excluded.inode, sha256 = excluded.sha256`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, e := range entries {
			if len(e.SHA256) != 64 {
				return fmt.Errorf("hash of %s: %q is not a hex SHA-256", e.Path, e.SHA256)
			}
			if _, err := stmt.ExecContext(ctx, e.Path, e.Size, e.MtimeNs, int64(e.Inode), e.SHA256); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store %d hashes: %w", len(entries), err)
	}
	return nil
}

// ForgetHashes drops the cache entries of paths that are not in keep, so the
// cache does not grow with files long deleted from the data directory.
func (s *Store) ForgetHashes(ctx context.Context, keep func(path string) bool) (int, error) {
	idx, err := s.HashCache(ctx)
	if err != nil {
		return 0, err
	}
	var n int
	err = s.tx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `DELETE FROM file_hashes WHERE path = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for p := range idx {
			if keep(p) {
				continue
			}
			if _, err := stmt.ExecContext(ctx, p); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("forget hashes: %w", err)
	}
	return n, nil
}

// ForgetHash drops the cache entry of path, if any: its hash turned out not
// to describe the file, so the next run reads the file again.
func (s *Store) ForgetHash(ctx context.Context, path string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM file_hashes WHERE path = ?`, path); err != nil {
		return fmt.Errorf("forget hash of %s: %w", path, err)
	}
	return nil
}

// SQLiteCopy records the copy a capture made of a SQLite source: the
// source's path, its version when copied (stage.SQLiteVersion), and the
// copy's SHA-256. The same version later means the same copy.
type SQLiteCopy struct {
	Path    string
	Version string
	SHA256  string
}

// SQLiteCopies returns every recorded SQLite copy, by source path.
func (s *Store) SQLiteCopies(ctx context.Context) (map[string]SQLiteCopy, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT path, version, sha256 FROM database_copies`)
	if err != nil {
		return nil, fmt.Errorf("read SQLite copies: %w", err)
	}
	defer rows.Close()
	out := map[string]SQLiteCopy{}
	for rows.Next() {
		var c SQLiteCopy
		if err := rows.Scan(&c.Path, &c.Version, &c.SHA256); err != nil {
			return nil, fmt.Errorf("read SQLite copies: %w", err)
		}
		out[c.Path] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read SQLite copies: %w", err)
	}
	return out, nil
}

// StoreSQLiteCopies records copies, replacing what was recorded for the
// same sources.
func (s *Store) StoreSQLiteCopies(ctx context.Context, copies []SQLiteCopy) error {
	if len(copies) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, c := range copies {
			if len(c.SHA256) != 64 || c.Version == "" {
				return fmt.Errorf("copy of %s: version %q, sha256 %q", c.Path, c.Version, c.SHA256)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO database_copies (path, version, sha256) VALUES (?, ?, ?)
ON CONFLICT (path) DO UPDATE SET version = excluded.version, sha256 = excluded.sha256`, c.Path, c.Version, c.SHA256); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store SQLite copies: %w", err)
	}
	return nil
}

// ForgetSQLiteCopy drops what is recorded for the source at path, so that
// the next capture copies it again.
func (s *Store) ForgetSQLiteCopy(ctx context.Context, path string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM database_copies WHERE path = ?`, path); err != nil {
		return fmt.Errorf("forget the SQLite copy of %s: %w", path, err)
	}
	return nil
}
