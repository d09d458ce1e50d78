// Package sample generates a realistic Open WebUI data directory: a
// webui.db at the real v0.11.0 schema filled with users, chats, files and
// knowledge; a real ChromaDB vector_db grown by cloning a collection;
// uploads, an embedding-model cache and an audit log. Tests use it at a tiny
// scale, benchmarks at about 1 GB, and `owui demo` ships it in the binary.
//
// Everything is drawn from seeded PCG streams, so a seed gives the same
// content every time (file mtimes aside).
package sample

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
)

// DefaultUploadPathPrefix is where Open WebUI's Docker image keeps uploads;
// file.path rows point below it.
const DefaultUploadPathPrefix = "/app/backend/data/uploads"

// Options controls Generate, AddUploads and AddChats.
type Options struct {
	// Scale sizes the tree: 1.0 is about 1 GB in total; 0 means 1.0.
	Scale float64
	// Seed selects the content; the same seed gives the same content.
	Seed int64
	// UploadPathPrefix is what file.path rows start with; empty means
	// DefaultUploadPathPrefix.
	UploadPathPrefix string
}

// Stats describes a generated tree.
type Stats struct {
	Files   int   // regular files under the directory
	Bytes   int64 // their total apparent size
	Uploads int   // files under uploads/ (each with a file row)
	Chats   int   // rows in chat
	Users   int   // rows in user
}

// Byte and row budgets at Scale 1.
const (
	uploadsBytes = 600e6
	cacheBytes   = 80e6
	auditBytes   = 10e6
	uploadsCount = 2000
	chatsCount   = 4500
	usersCount   = 40
	chromaClones = 52
)

func (o Options) withDefaults() (Options, error) {
	if o.Scale == 0 {
		o.Scale = 1
	}
	if o.Scale < 0 || math.IsNaN(o.Scale) || math.IsInf(o.Scale, 0) {
		return o, fmt.Errorf("invalid scale %v", o.Scale)
	}
	if o.UploadPathPrefix == "" {
		o.UploadPathPrefix = DefaultUploadPathPrefix
	}
	return o, nil
}

// scaled returns n*scale rounded, but at least floor.
func scaled(n float64, scale float64, floor int) int {
	return max(floor, int(math.Round(n*scale)))
}

// Generate writes a complete Open WebUI data directory into dir (created if
// missing; it must not already hold a webui.db). The database is left in WAL
// mode, checkpointed and closed, so no -wal or -shm file remains. On error
// dir may hold a partial tree; callers generate into a fresh directory.
func Generate(dir string, opts Options) (*Stats, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "webui.db")); err == nil {
		return nil, fmt.Errorf("generate sample: %s already holds a webui.db", dir)
	}
	for _, d := range []string{"", "uploads", "cache"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("generate sample: %w", err)
		}
	}
	p := newPlan(opts)

	// The database is CPU-bound (pure-Go SQLite), the rest mostly writes
	// bytes: running them side by side uses both cores of a small host.
	var wg sync.WaitGroup
	var dbErr, restErr error
	wg.Go(func() { dbErr = writeWebUI(filepath.Join(dir, "webui.db"), p, opts) })
	wg.Go(func() {
		restErr = errors.Join(
			writeUploads(filepath.Join(dir, "uploads"), p.uploads, opts.Seed),
			writeVectorDB(filepath.Join(dir, "vector_db"), p.knowledge, opts.Seed),
			writeCache(filepath.Join(dir, "cache"), opts),
			writeAudit(filepath.Join(dir, "audit.log"), p, opts),
		)
	})
	wg.Wait()
	if err := errors.Join(dbErr, restErr); err != nil {
		return nil, fmt.Errorf("generate sample: %w", err)
	}
	st, err := walkStats(dir)
	if err != nil {
		return nil, err
	}
	st.Uploads, st.Chats, st.Users = len(p.uploads), p.chats, len(p.users)
	return st, nil
}

// walkStats counts the regular files under dir.
func walkStats(dir string) (*Stats, error) {
	st := &Stats{}
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		st.Files++
		st.Bytes += info.Size()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk sample: %w", err)
	}
	return st, nil
}
