// Package stage makes consistent local copies of an Open WebUI data
// directory's files: SQLite databases through the online backup API, other
// changing files copied while quiet, and the hashes the manifest records.
// It reads the data directory and writes only below the destinations it is
// given: the source data is never modified.
package stage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Kind says how a file is captured consistently.
type Kind int

const (
	// Other files may change while owui reads them (Chroma's HNSW segment
	// files, audit.log): they are copied while quiet with CopyQuiet.
	Other Kind = iota
	// SQLite databases, detected by their header, are copied with
	// SnapshotSQLite.
	SQLite
	// Immutable files live under uploads/: Open WebUI writes each once and
	// never modifies it, so they are sent from the data directory with no
	// staging copy.
	Immutable
)

func (k Kind) String() string {
	switch k {
	case SQLite:
		return "sqlite"
	case Immutable:
		return "immutable"
	default:
		return "other"
	}
}

// Entry is one regular file of the data directory.
type Entry struct {
	Rel     string // slash-separated path relative to the data directory
	Size    int64
	ModTime time.Time
	Inode   uint64
	Mode    fs.FileMode
	Kind    Kind
}

// sqliteHeader opens every SQLite 3 database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// IsSQLite reports whether path starts with the SQLite 3 file header. The
// name does not matter: a "webui.db" holding anything else is not SQLite,
// and "chroma.sqlite3" is found without a list of extensions.
func IsSQLite(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("detect sqlite: %w", err)
	}
	defer f.Close()
	buf := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, buf); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return false, nil
		}
		return false, fmt.Errorf("detect sqlite: %w", err)
	}
	return bytes.Equal(buf, sqliteHeader), nil
}
