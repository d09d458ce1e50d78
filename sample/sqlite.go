package sample

import (
	"context"
	"database/sql"
	"fmt"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// openDB opens a SQLite file on one connection, so PRAGMAs stick.
func openDB(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := execAll(db, "PRAGMA busy_timeout=5000", "PRAGMA cache_size=-65536"); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// closeDB checkpoints a WAL database and closes it; the last connection
// closing removes the -wal and -shm files.
func closeDB(db *sql.DB) error {
	var mode string
	err := db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	if err == nil && mode == "wal" {
		_, err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	return nil
}

func execAll(db *sql.DB, stmts ...string) error {
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

func inTx(db *sql.DB, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// inserter runs one prepared INSERT many times inside a transaction.
type inserter struct {
	stmt  *sql.Stmt
	table string
}

func prepare(tx *sql.Tx, table, query string) (*inserter, error) {
	st, err := tx.Prepare(query)
	if err != nil {
		return nil, fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	return &inserter{stmt: st, table: table}, nil
}

func (in *inserter) exec(args ...any) error {
	if _, err := in.stmt.Exec(args...); err != nil {
		return fmt.Errorf("insert into %s: %w", in.table, err)
	}
	return nil
}
