package executor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor/stage"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/state"
)

// targetsView is what stage needs to know of a backup's targets.
type targetsView struct {
	// checked reports whether a SQLite copy of rel with this hash is in
	// a previous complete snapshot on a target, whose manifest records that
	// it passed integrity_check.
	checked func(rel, sha256 string) bool
	// hashOnSend: the backup has one target, plain local, which hashes
	// what it copies; files the hash cache does not know are hashed then.
	hashOnSend bool
	// reusable returns the file at rel that the newest complete snapshot
	// on every target holds (the same bytes on each), when every target
	// can re-use files without sending them.
	reusable func(rel string) (manifest.File, bool)
	// alembic is the webui.db schema revision the newest complete
	// snapshots record, when every target has one and they agree.
	alembic string
	// prev holds, by target name, the manifest of the newest complete
	// snapshot read there: sending builds on it without reading it again.
	prev map[string]*manifest.Manifest
}

// notUploads is the set of listed files that a capture copies: those that
// may be found unchanged (targetsView.reusable).
func notUploads(entries []stage.Entry) map[string]bool {
	out := map[string]bool{}
	for _, ent := range entries {
		if ent.Kind != stage.Immutable || groupOf(ent.Rel) != "" {
			out[ent.Rel] = true
		}
	}
	return out
}

// viewTargets opens b's targets and reads the manifest of the newest
// complete snapshot on each, as state records them; of the files, it keeps
// those in captured, and each manifest whole for the send to build on. It
// never fails: what it cannot learn only costs time (a check or a hash
// done again).
func (e *Env) viewTargets(ctx context.Context, b *config.Backup, captured map[string]bool) targetsView {
	obs, err := ObservedFromState(ctx, e.Store)
	if err != nil {
		e.hooks().Logf("%s: warning: %v", b.Name, err)
	}
	checked := map[[2]string]bool{}
	prevs := map[string]*manifest.Manifest{}
	var common map[string]manifest.File // nil until the first target
	local := 0
	var alembics []string
	for _, name := range b.To {
		t, err := e.Target(ctx, name)
		var m *manifest.Manifest
		if err == nil {
			if t.HashesCopies() {
				local++
			}
			if id := newestComplete(obs, b.Name, name); id != "" {
				m, _ = t.ReadManifest(ctx, b.Name, id) // sendTo reports errors
			}
		}
		if m == nil || !t.CanReuse() {
			common = map[string]manifest.File{}
		}
		if m == nil {
			alembics = append(alembics, "")
			continue
		}
		prevs[name] = m
		alembic := ""
		if m.Source != nil {
			alembic = m.Source.AlembicVersion
		}
		alembics = append(alembics, alembic)
		files := make(map[string]manifest.File, len(captured))
		for _, f := range m.Files {
			if !captured[f.Path] {
				continue
			}
			files[f.Path] = f
			if f.SQLite != nil && f.SQLite.IntegrityCheck == "ok" {
				checked[[2]string{f.Path, f.SHA256}] = true
			}
		}
		if common == nil {
			common = files
			continue
		}
		for p, f := range common {
			if g, ok := files[p]; !ok || g.SHA256 != f.SHA256 || g.Size != f.Size {
				delete(common, p)
			}
		}
	}
	view := targetsView{
		prev:       prevs,
		checked:    func(rel, sum string) bool { return checked[[2]string{rel, sum}] },
		hashOnSend: len(b.To) == 1 && local == 1,
		reusable: func(rel string) (manifest.File, bool) {
			f, ok := common[rel]
			return f, ok
		},
	}
	if len(slices.Compact(alembics)) == 1 {
		view.alembic = alembics[0]
	}
	return view
}

// unchangedFunc returns what the capture asks before copying a file: is it
// unchanged since a previous snapshot every target can re-use it from?
// It is, when the hash cache knows the file in its current state (a
// capture copied it in that state before) and every target's newest
// complete snapshot holds a file of that hash at the same path. A SQLite
// file must have been copied as it is (under a shared lock, which the
// capture only asks about when the file is in a rollback-journal mode)
// and have passed integrity_check.
//
// With compress, the previous snapshot must hold a SQLite file compressed
// (and a file that is not SQLite as it is), so that the snapshot stores
// each file as the policy says.
func unchangedFunc(dataDir string, cache stage.HashCache, view targetsView, compress bool) func(stage.Entry, stage.SourceState) (manifest.File, bool) {
	return func(ent stage.Entry, st stage.SourceState) (manifest.File, bool) {
		prev, ok := view.reusable(ent.Rel)
		if !ok || prev.Size != st.Size {
			return manifest.File{}, false
		}
		sum, ok := cache.Lookup(filepath.Join(dataDir, filepath.FromSlash(ent.Rel)), st.Size, st.MtimeNs, st.Inode)
		if !ok || sum != prev.SHA256 {
			return manifest.File{}, false
		}
		if (ent.Kind == stage.SQLite) != (prev.SQLite != nil) {
			return manifest.File{}, false
		}
		if prev.SQLite == nil {
			if prev.Stored != nil {
				return manifest.File{}, false
			}
			return prev, true
		}
		if prev.SQLite.Method != stage.MethodSharedLockCopy {
			return manifest.File{}, false
		}
		return reusedDB(prev, compress)
	}
}

// unchangedDBFunc returns what the capture asks before copying a SQLite
// file outside the groups, given its settled version
// (stage.SQLiteVersion): is it unchanged since a previous snapshot every
// target can re-use it from? It is, when a capture copied it at this very
// version (copies) and every target's newest complete snapshot holds that
// copy, which passed integrity_check; with compress, stored compressed.
func unchangedDBFunc(dataDir string, copies map[string]state.SQLiteCopy, view targetsView, compress bool) func(rel, version string) (manifest.File, bool) {
	return func(rel, version string) (manifest.File, bool) {
		prev, ok := view.reusable(rel)
		if !ok || prev.SQLite == nil {
			return manifest.File{}, false
		}
		c, ok := copies[filepath.Join(dataDir, filepath.FromSlash(rel))]
		if !ok || c.Version != version || c.SHA256 != prev.SHA256 {
			return manifest.File{}, false
		}
		return reusedDB(prev, compress)
	}
}

// reusedDB returns prev, a previous snapshot's SQLite copy, as this
// snapshot's, if it passed integrity_check and is stored as the policy
// says (compressed or not).
func reusedDB(prev manifest.File, compress bool) (manifest.File, bool) {
	if prev.SQLite.IntegrityCheck != "ok" || (prev.Stored != nil) != compress {
		return manifest.File{}, false
	}
	info := *prev.SQLite
	info.SourceHoldMillis = 0 // not read this time
	prev.SQLite = &info
	return prev, true
}

// storeCopyHashes adds to the hash cache the hashes of staged copies that
// hold their sources' bytes, keyed by the sources' states (fresh, by
// manifest path), and records the SQLite copies made at a known version of
// their sources (dbs, by manifest path).
func (e *Env) storeCopyHashes(ctx context.Context, s *staged, fresh map[string]state.HashEntry, dbs map[string]state.SQLiteCopy) error {
	var entries []state.HashEntry
	var copies []state.SQLiteCopy
	for _, f := range s.manifest.Files {
		if f.SHA256 == "" {
			continue
		}
		if he, ok := fresh[f.Path]; ok {
			he.SHA256 = f.SHA256
			entries = append(entries, he)
		}
		if c, ok := dbs[f.Path]; ok {
			c.SHA256 = f.SHA256
			copies = append(copies, c)
		}
	}
	if err := e.Store.StoreHashes(ctx, entries); err != nil {
		return fmt.Errorf("store hash cache: %w", err)
	}
	return e.Store.StoreSQLiteCopies(ctx, copies)
}

// lateCopy is the copy of an unstaged file made when a target needs it.
type lateCopy struct {
	once  sync.Once
	local string
	err   error
}

// lateCopy returns the one lateCopy of rel.
func (s *staged) lateCopy(rel string) *lateCopy {
	s.lateMu.Lock()
	defer s.lateMu.Unlock()
	if s.late == nil {
		s.late = map[string]*lateCopy{}
	}
	lc, ok := s.late[rel]
	if !ok {
		lc = &lateCopy{}
		s.late[rel] = lc
	}
	return lc
}

// stageLate copies the unstaged file f into the staging area, once, and
// returns the copy if it holds the bytes the manifest records. The file
// was captured (as unchanged) in the quiet window; a copy made now is
// that capture only if it is the same bytes, and otherwise the snapshot
// fails rather than mix two moments.
func (s *staged) stageLate(ctx context.Context, f *manifest.File) (string, error) {
	lc := s.lateCopy(f.Path)
	lc.once.Do(func() {
		src := s.localOf(f.Path)
		dst := filepath.Join(s.dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			lc.err = err
			return
		}
		if s.unstaged[f.Path] == stage.SQLite {
			_, lc.err = stage.CopySQLite(ctx, src, dst)
		} else {
			_, lc.err = stage.CopyQuiet(ctx, src, dst, 1)
		}
		if lc.err != nil {
			return
		}
		sum, size, err := stage.HashFile(dst)
		switch {
		case err != nil:
			lc.err = err
		case sum != f.SHA256 || size != f.Size:
			if s.unstaged[f.Path] == stage.SQLite && s.forgetDB != nil {
				s.forgetDB(f.Path) // the next capture copies it again
			}
			lc.err = fmt.Errorf("%s changed since the capture found it unchanged, and the previous snapshot's copy cannot be re-used here; the next run captures it again", f.Path)
		case f.Stored != nil:
			lc.local, lc.err = compressLate(ctx, f, dst)
		default:
			lc.local = dst
		}
	})
	return lc.local, lc.err
}

// compressLate compresses dst, a copy of f (which the previous snapshot
// stores compressed), and returns the compressed file if it holds the bytes
// the manifest records for the stored object.
func compressLate(ctx context.Context, f *manifest.File, dst string) (string, error) {
	c, err := stage.Compress(ctx, dst, dst+manifest.SuffixZstd)
	if err != nil {
		return "", err
	}
	if c.SHA256 != f.Stored.SHA256 || c.Size != f.Stored.Size {
		return "", fmt.Errorf("%s compresses to other bytes than the previous snapshot's copy (another zstd encoder?), which cannot be re-used here; the next run captures it again", f.Path)
	}
	return dst + manifest.SuffixZstd, nil
}
