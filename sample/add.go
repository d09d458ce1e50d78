package sample

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"time"
)

// AddUploads adds n upload files to the data directory dir and commits
// their file rows to webui.db, the way Open WebUI saves an upload: file
// first, row after. Sizes follow Generate's skew without its rescaling
// (about 400 KB on average). Content is new for every call: the stream is
// keyed by the number of file rows already present.
func AddUploads(dir string, n int, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	return modifyWebUI(dir, func(db *sql.DB) error {
		users, err := loadUsers(db)
		if err != nil {
			return err
		}
		r := newRand(opts.Seed, streamAddUploads, uint64(countRows(db, "file")))
		now := time.Now().Unix()
		ups := drawUploads(r, users, n, func() int64 { return now })
		buf := make([]byte, chunkSize)
		for _, u := range ups {
			if err := writeUpload(filepath.Join(dir, "uploads", u.fileName()), u, opts.Seed, buf); err != nil {
				return err
			}
		}
		return inTx(db, func(tx *sql.Tx) error {
			return insertFiles(tx, r, ups, opts.UploadPathPrefix)
		})
	})
}

// AddChats commits n new chats (with their chat_message and tag rows) to
// dir's webui.db in one transaction, dated now.
func AddChats(dir string, n int, opts Options) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	return modifyWebUI(dir, func(db *sql.DB) error {
		users, err := loadUsers(db)
		if err != nil {
			return err
		}
		r := newRand(opts.Seed, streamAddChats, uint64(countRows(db, "chat")))
		g := &chatGen{r: r, tg: &textGen{r: r}, users: users, tags: map[[2]string]bool{}}
		now := time.Now().Unix()
		return inTx(db, func(tx *sql.Tx) error {
			if err := g.insertChats(tx, n, func() int64 { return now - int64(r.IntN(3600)) }); err != nil {
				return err
			}
			return g.insertTags(tx)
		})
	})
}

// modifyWebUI runs f on dir's webui.db in WAL mode, as the app would, and
// checkpoints and closes it afterwards.
func modifyWebUI(dir string, f func(*sql.DB) error) (err error) {
	db, err := openDB(filepath.Join(dir, "webui.db"))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeDB(db); err == nil {
			err = cerr
		}
	}()
	if err := execAll(db, "PRAGMA journal_mode=WAL"); err != nil {
		return err
	}
	if err := f(db); err != nil {
		return fmt.Errorf("modify sample: %w", err)
	}
	return nil
}

func loadUsers(db *sql.DB) ([]user, error) {
	rows, err := db.Query(`SELECT id, coalesce(name, ''), coalesce(email, ''), coalesce(role, '') FROM user ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	defer rows.Close()
	var users []user
	for rows.Next() {
		var u user
		if err := rows.Scan(&u.ID, &u.Name, &u.Email, &u.Role); err != nil {
			return nil, fmt.Errorf("load users: %w", err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("load users: webui.db has no users")
	}
	return users, nil
}

// countRows returns the row count of a table, or 0 if it cannot be read;
// the count only seeds a stream.
func countRows(db *sql.DB, table string) int64 {
	var n int64
	_ = db.QueryRow(`SELECT count(*) FROM "` + table + `"`).Scan(&n)
	return n
}
