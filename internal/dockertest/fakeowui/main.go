// Command fakeowui stands in for Open WebUI inside a test container: a
// static binary (pure-Go SQLite) that writes to the data directory the way
// Open WebUI does, so that backups of a live container can be checked.
//
// On start it generates /app/backend/.webui_secret_key when
// WEBUI_SECRET_KEY is unset or empty (keeping an existing key, as Open
// WebUI's start script does), then keeps committing to
// /app/backend/data/webui.db in WAL mode: every transaction inserts one
// chat row and bumps counter.n, the invariant internal/livewriter checks.
// It also appends to audit.log and now and then rewrites a chroma-like
// vector_db/. /app/backend/.fakeowui-ready exists from the first commit to
// shutdown. SIGTERM or SIGINT closes the database cleanly and exits 0.
package main

import (
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	_ "modernc.org/sqlite"
)

const (
	backendDir    = "/app/backend"
	dataDir       = backendDir + "/data"
	secretKeyFile = backendDir + "/.webui_secret_key"
	// readyFile exists, outside the data volume, from the first commit
	// until shutdown: the harness waits for it.
	readyFile = backendDir + "/.fakeowui-ready"
	// alembicRevision is what Open WebUI 0.6.x records in alembic_version.
	alembicRevision = "d31026856c01"
)

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("fakeowui: ")
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	if err := os.Remove(readyFile); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := ensureSecretKey(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "vector_db"), 0o755); err != nil {
		return err
	}
	db, err := openDB(filepath.Join(dataDir, "webui.db"))
	if err != nil {
		return err
	}
	audit, err := os.OpenFile(filepath.Join(dataDir, "audit.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer audit.Close()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	every := 20 * time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("FAKEOWUI_COMMIT_EVERY")); err == nil && d > 0 {
		every = d
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	log.Printf("writing every %s", every)
	for i := 0; ; i++ {
		select {
		case s := <-sigs:
			log.Printf("%s: closing the database", s)
			_ = os.Remove(readyFile)
			// Close checkpoints the WAL into webui.db and removes -wal/-shm.
			if err := db.Close(); err != nil {
				return fmt.Errorf("close database: %w", err)
			}
			return nil
		case <-tick.C:
		}
		n, err := commit(db)
		if err != nil {
			return err
		}
		if i == 0 {
			if err := os.WriteFile(readyFile, nil, 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(audit, `{"time":%q,"event":"chat.insert","n":%d}`+"\n", time.Now().UTC().Format(time.RFC3339Nano), n)
		if i%50 == 0 {
			if err := writeVectors(n); err != nil {
				return err
			}
		}
	}
}

// ensureSecretKey writes a random key unless the environment sets one or
// the file exists.
func ensureSecretKey() error {
	if os.Getenv("WEBUI_SECRET_KEY") != "" {
		return nil
	}
	if _, err := os.Stat(secretKeyFile); err == nil {
		return nil
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	return os.WriteFile(secretKeyFile, []byte(base64.RawURLEncoding.EncodeToString(b)), 0o600)
}

func openDB(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS chat (id INTEGER PRIMARY KEY, body BLOB NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS counter (n INTEGER NOT NULL)`,
		`INSERT INTO counter SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM counter)`,
		`CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)`,
		`INSERT OR IGNORE INTO alembic_version VALUES ('` + alembicRevision + `')`,
	} {
		if _, err := db.Exec(q); err != nil {
			db.Close()
			return nil, fmt.Errorf("set up %s: %s: %w", path, q, err)
		}
	}
	return db, nil
}

// commit inserts a chat row and bumps the counter in one transaction.
func commit(db *sql.DB) (int64, error) {
	tx, err := db.Begin()
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO chat (body) VALUES (randomblob(256))`); err != nil {
		return 0, fmt.Errorf("insert: %w", err)
	}
	var n int64
	if err := tx.QueryRow(`UPDATE counter SET n = n + 1 RETURNING n`).Scan(&n); err != nil {
		return 0, fmt.Errorf("update: %w", err)
	}
	return n, tx.Commit()
}

// writeVectors records an embedding in vector_db/chroma.sqlite3 and
// rewrites a segment file in place, the way Chroma's HNSW index does.
func writeVectors(n int64) error {
	dir := filepath.Join(dataDir, "vector_db", "8c1f9e0a-0000-4000-8000-000000000001")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "vector_db", "chroma.sqlite3")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS embeddings (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("chroma.sqlite3: %w", err)
	}
	if _, err := db.Exec(`INSERT INTO embeddings (seq) VALUES (?)`, n); err != nil {
		return fmt.Errorf("chroma.sqlite3: %w", err)
	}
	b := make([]byte, 4096)
	copy(b, fmt.Sprintf("segment %d\n", n))
	return os.WriteFile(filepath.Join(dir, "data_level0.bin"), b, 0o644)
}
