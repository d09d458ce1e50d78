// Package livewriter is a test harness: an application-like writer that
// commits to a SQLite database at a high rate from a separate process while
// a test copies the database, and measures its own commit latencies.
//
// Every transaction inserts one chat row and bumps counter.n by one, so
// count(chat) = counter.n holds in every committed state; a copy that was
// torn, or that mixes two moments, breaks it (CheckInvariant).
//
// The writer runs in its own process because SQLite's locks between
// processes are POSIX advisory locks, which a process holds per file, not
// per descriptor: a writer inside the test process would share its locks
// with the code under test and hide the contention a real Open WebUI sees.
// The child is the test binary itself: the package's TestMain calls
// MaybeRunChild first, and Start re-executes os.Args[0].
package livewriter

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"
)

// Options describe the database and the writer's load.
type Options struct {
	// Path is the database file.
	Path string
	// Mode is the journal mode: "wal" (Open WebUI ≥ 0.9) or "delete"
	// (Open WebUI 0.6.23–0.8.x, Chroma).
	Mode string
	// Synchronous is the writer's PRAGMA synchronous: "NORMAL" (default)
	// or "FULL" (an fsync per commit in DELETE mode).
	Synchronous string
	// BusyTimeout is how long a commit waits for a lock before it fails;
	// default 5 s, Open WebUI's.
	BusyTimeout time.Duration
	// Rows is how many chat rows Setup writes, to give the database a size.
	Rows int
	// RowBytes is the size of each chat body, in Setup and in the writer's
	// commits; default 1000.
	RowBytes int
	// Rate is a target in commits per second; 0 commits as fast as it can.
	Rate int
}

func (o Options) withDefaults() (Options, error) {
	if o.Path == "" {
		return o, errors.New("livewriter: no Path")
	}
	switch o.Mode {
	case "wal", "delete":
	case "":
		o.Mode = "wal"
	default:
		return o, fmt.Errorf("livewriter: mode %q is neither wal nor delete", o.Mode)
	}
	switch o.Synchronous {
	case "":
		o.Synchronous = "NORMAL"
	case "NORMAL", "FULL", "OFF", "EXTRA":
	default:
		return o, fmt.Errorf("livewriter: synchronous %q", o.Synchronous)
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.RowBytes <= 0 {
		o.RowBytes = 1000
	}
	if o.Rows < 0 || o.Rate < 0 {
		return o, errors.New("livewriter: negative Rows or Rate")
	}
	return o, nil
}

// Stats is what the writer measured over a window of its run. Latency is
// from BEGIN IMMEDIATE to the return of COMMIT, failed transactions
// included: the time an application's request waits on the database.
type Stats struct {
	Commits  int64
	Failures int64
	// FirstFailure is the error of the first failed transaction.
	FirstFailure  string        `json:",omitempty"`
	MaxLatency    time.Duration `json:"max_latency"`
	P99Latency    time.Duration `json:"p99_latency"`
	P50Latency    time.Duration `json:"p50_latency"`
	CommitsPerSec float64       `json:"commits_per_sec"`
	Elapsed       time.Duration `json:"elapsed"`
	// Counter is counter.n after the writer's last commit.
	Counter int64
}

// String is a one-line summary for test logs.
func (s Stats) String() string {
	return fmt.Sprintf("%d commits in %v (%.0f/s), %d failed, latency p50 %v p99 %v max %v",
		s.Commits, s.Elapsed.Round(time.Millisecond), s.CommitsPerSec, s.Failures,
		s.P50Latency.Round(time.Microsecond), s.P99Latency.Round(time.Microsecond), s.MaxLatency.Round(time.Microsecond))
}

// summarize computes Stats from the latencies of one window.
func summarize(lat []time.Duration, failures int64, first string, elapsed time.Duration, counter int64) Stats {
	s := Stats{Failures: failures, FirstFailure: first, Elapsed: elapsed, Counter: counter}
	s.Commits = int64(len(lat)) - failures
	if elapsed > 0 {
		s.CommitsPerSec = float64(s.Commits) / elapsed.Seconds()
	}
	if len(lat) == 0 {
		return s
	}
	sorted := append([]time.Duration(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	pct := func(p float64) time.Duration {
		i := int(p*float64(len(sorted))+0.999999) - 1
		return sorted[max(0, min(i, len(sorted)-1))]
	}
	s.P50Latency, s.P99Latency, s.MaxLatency = pct(0.50), pct(0.99), sorted[len(sorted)-1]
	return s
}

// Setup creates the database at opts.Path (which must not exist) in
// opts.Mode with the writer's schema and opts.Rows chat rows of
// opts.RowBytes random bytes, and closes it: a WAL database is left
// checkpointed, with no -wal beside it.
func Setup(path string, opts Options) error {
	opts.Path = path
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("livewriter: setup %s: already exists", path)
	}
	// Filled without a journal or fsync: nobody else has it open yet.
	db, err := sql.Open("sqlite", uri(path, "journal_mode(OFF)", "synchronous(OFF)"))
	if err != nil {
		return fmt.Errorf("livewriter: setup %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	stmts := []string{
		`CREATE TABLE chat (id INTEGER PRIMARY KEY, body BLOB NOT NULL)`,
		`CREATE TABLE counter (n INTEGER NOT NULL)`,
		`INSERT INTO counter VALUES (0)`,
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("livewriter: setup %s: %w", path, err)
		}
	}
	const batch = 10000
	for done := 0; done < opts.Rows; done += batch {
		n := min(batch, opts.Rows-done)
		if _, err := db.Exec(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?)
			INSERT INTO chat (body) SELECT randomblob(?) FROM c`, n, opts.RowBytes); err != nil {
			return fmt.Errorf("livewriter: fill %s: %w", path, err)
		}
	}
	if _, err := db.Exec(`UPDATE counter SET n = ?`, opts.Rows); err != nil {
		return fmt.Errorf("livewriter: fill %s: %w", path, err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode = ` + opts.Mode).Scan(&mode); err != nil {
		return fmt.Errorf("livewriter: set journal mode of %s: %w", path, err)
	}
	if mode != opts.Mode {
		return fmt.Errorf("livewriter: set journal mode of %s: got %q", path, mode)
	}
	return db.Close()
}

// CheckInvariant opens a copy read-only, runs integrity_check and checks
// that count(chat) = counter.n. It returns the row count. Meant for copies
// in a rollback-journal mode: opening a closed WAL database would create
// -wal and -shm beside it.
func CheckInvariant(path string) (rows int64, err error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("livewriter: check %s: %w", path, err)
	}
	q := url.Values{"mode": {"ro"}}
	db, err := sql.Open("sqlite", fileURI(path, q))
	if err != nil {
		return 0, fmt.Errorf("livewriter: check %s: %w", path, err)
	}
	defer db.Close()
	var ic string
	if err := db.QueryRow(`PRAGMA integrity_check(1)`).Scan(&ic); err != nil {
		return 0, fmt.Errorf("livewriter: integrity_check of %s: %w", path, err)
	}
	if ic != "ok" {
		return 0, fmt.Errorf("livewriter: integrity_check of %s: %s", path, ic)
	}
	var n int64
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM chat), (SELECT n FROM counter)`).Scan(&rows, &n); err != nil {
		return 0, fmt.Errorf("livewriter: check %s: %w", path, err)
	}
	if rows != n {
		return rows, fmt.Errorf("livewriter: torn copy %s: %d chat rows but counter %d", path, rows, n)
	}
	return rows, nil
}

// uri is the URI of path with the given _pragma settings.
func uri(path string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	return fileURI(path, q)
}

func fileURI(path string, q url.Values) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}
