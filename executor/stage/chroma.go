package stage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/owui/owui/manifest"
)

// Capture methods, recorded in manifest.Capture.Method.
const (
	// MethodOnlineQuietCopy: copied while the app ran, and kept only when
	// nothing in the group changed from before the first copy to after the
	// last one.
	MethodOnlineQuietCopy = "online-quiet-copy"
	// MethodPaused: copied while the container was paused.
	MethodPaused = "paused"
	// MethodStopped: copied while the container was stopped.
	MethodStopped = "stopped"
)

// ErrChangedWhileQuiet is returned by CaptureGroup when a group changed
// during a capture made with the container paused or stopped: something
// other than the container writes to the data directory.
var ErrChangedWhileQuiet = errors.New("files changed while the instance was paused or stopped")

// Group is a directory whose files belong to one moment and are captured
// together: Chroma's vector_db/, where chroma.sqlite3 and the HNSW segment
// files describe one state only when read at the same time (past about
// 1,000 vectors a collection's newest vectors live only in the .bin files).
type Group struct {
	// Name is the group's directory, slash-separated and relative to
	// DataDir, e.g. "vector_db".
	Name    string
	DataDir string
	// Include and Exclude are the backup's patterns, as given to Scan; the
	// group is listed again with them on every attempt, so that a file
	// that appears or disappears is noticed.
	Include, Exclude []string
	// StagingDir receives the copies, at StagingDir/<path>.
	StagingDir string
	// Method is recorded in the manifest; empty means MethodOnlineQuietCopy.
	Method string
	// Attempts is how many captures are tried before giving up (at least 1).
	Attempts int
	// OnRetry, if set, is told why an attempt was discarded, before the
	// pause that precedes the next one.
	OnRetry func(attempt int, why error)
	// Checks, if set, takes over the hash and the integrity_check of the
	// group's SQLite copies (SHA256, Size and IntegrityCheck are empty in
	// the result): both read the whole copy, and outside the capture they
	// do not make the group's moment longer. The SQLite files are copied
	// first and each copy is added as soon as it is made, so that its
	// check runs while the rest of the group is copied; the copies of an
	// attempt that is discarded are dropped from Checks again.
	Checks *SQLiteChecks
	// Unchanged, if set, is asked before each file is copied whether a
	// file of this state is known already: it returns the file's manifest
	// entry (as a previous snapshot recorded it) and true, and the file is
	// not copied. The listings before and after the copies still include
	// it, so the group still shows one moment. A SQLite file is asked only
	// in a rollback-journal mode with no -wal beside it, where a copy is
	// the file's bytes as they are.
	Unchanged func(e Entry, st SourceState) (manifest.File, bool)
}

// GroupFile is one file of a captured group: its manifest entry and the
// staged copy to send.
type GroupFile struct {
	manifest.File
	// Local is the staged copy, or empty for a file Unchanged knew.
	Local string
	// Source is the state of the file copied or known. When Cacheable, the
	// copy holds the source's own bytes as of that state (a SQLite copy
	// made through the backup API does not).
	Source    SourceState
	Cacheable bool
}

// GroupResult is a group captured at one moment.
type GroupResult struct {
	Files   []GroupFile // sorted by Path
	Capture manifest.Capture
}

// groupChange says what changed in a group during one capture attempt.
type groupChange struct{ what string }

func (c *groupChange) Error() string { return c.what }

func changed(format string, args ...any) error {
	return &groupChange{fmt.Sprintf(format, args...)}
}

// CaptureGroup copies every file of a group into the staging directory and
// makes sure they show one moment. Before and after the copy it lists the
// group and records each file's size, mtime, ctime and inode, and for SQLite
// files the header's file change counter and the -wal file's size and mtime;
// SQLite files are copied with SnapshotSQLite, the others byte for byte
// (holes stay holes). If anything differs, a file appeared or disappeared,
// or a file was modified too recently for its mtime to tell, the copies are
// discarded and the capture is tried again after a growing pause, up to
// Attempts in all. A group that never holds still fails with an error
// wrapping ErrKeptChanging that suggests consistency = "pause"; with the
// container paused or stopped (Method), any change wraps ErrChangedWhileQuiet.
// On error nothing of the group is left in the staging directory.
func CaptureGroup(ctx context.Context, g Group) (*GroupResult, error) {
	method := cmp.Or(g.Method, MethodOnlineQuietCopy)
	attempts := max(g.Attempts, 1)
	root := filepath.Join(g.StagingDir, filepath.FromSlash(g.Name))
	delay := retryDelay
	var last error
	for i := 1; i <= attempts; i++ {
		files, err := captureGroupOnce(ctx, g, root, i == attempts)
		if err == nil {
			return &GroupResult{Files: files, Capture: manifest.Capture{
				Group: g.Name, Method: method, Attempts: i, Files: len(files),
			}}, nil
		}
		rmErr := os.RemoveAll(root)
		var ch *groupChange
		if !errors.As(err, &ch) {
			return nil, errors.Join(fmt.Errorf("capture %s/: %w", g.Name, err), rmErr)
		}
		if rmErr != nil {
			return nil, fmt.Errorf("capture %s/: %w", g.Name, rmErr)
		}
		last = ch
		if i == attempts {
			break
		}
		if g.OnRetry != nil {
			g.OnRetry(i, ch)
		}
		if err := sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("capture %s/: %w", g.Name, err)
		}
		delay *= 2
	}
	if method == MethodOnlineQuietCopy {
		return nil, fmt.Errorf("capture %s/: %w (%d attempts, the last because %v); set consistency = \"pause\" to capture it with the container paused",
			g.Name, ErrKeptChanging, attempts, last)
	}
	return nil, fmt.Errorf("capture %s/ (%s): %w: %v", g.Name, method, ErrChangedWhileQuiet, last)
}

// captureGroupOnce makes one attempt: list, copy, list again, compare.
// Unless it is the last attempt, an empty index_metadata.pickle counts as
// a change: Chroma rewrites that file in place (truncate, then write), and
// a copy of the moment in between does not open (the segment reader fails
// with "EOF while parsing"). The last attempt takes it as it is, so that a
// segment left broken that way does not stop the whole backup.
func captureGroupOnce(ctx context.Context, g Group, root string, last bool) (_ []GroupFile, err error) {
	before, err := listGroup(g)
	if err != nil {
		return nil, err
	}
	if rel, ok := before.emptyIndexMetadata(); ok && !last {
		return nil, changed("%s is empty (Chroma is rewriting it)", rel)
	}
	if rel, racy := before.racy(); racy {
		// A write within the same timestamp tick as the listing would not
		// show in mtime: let the newest change age first.
		if err := sleep(ctx, racyWindow); err != nil {
			return nil, err
		}
		if before, err = listGroup(g); err != nil {
			return nil, err
		}
		if rel, racy = before.racy(); racy {
			return nil, changed("%s is being modified", rel)
		}
	}
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	files := make([]GroupFile, len(before.entries))
	var checking []string
	defer func() {
		if err != nil {
			for _, rel := range checking {
				g.Checks.Drop(rel)
			}
		}
	}()
	// The SQLite files first: their checks start as they are copied.
	for _, sqlite := range []bool{true, false} {
		for i, e := range before.entries {
			if (e.Kind == SQLite) != sqlite {
				continue
			}
			f, err := captureFile(ctx, g, e, before.state[e.Rel])
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil, changed("%s disappeared", e.Rel)
				}
				return nil, err
			}
			if f.SQLite != nil && f.Local != "" && g.Checks != nil {
				g.Checks.Add(f.Path, f.Local)
				checking = append(checking, f.Path)
			}
			files[i] = f
		}
	}
	after, err := listGroup(g)
	if err != nil {
		return nil, err
	}
	if err := before.diff(after); err != nil {
		return nil, err
	}
	return files, nil
}

// captureFile copies one file of the group into the staging directory.
func captureFile(ctx context.Context, g Group, e Entry, st fileVersion) (GroupFile, error) {
	src := joinRel(g.DataDir, e.Rel)
	dst := joinRel(g.StagingDir, e.Rel)
	ss := SourceState{Size: st.size, MtimeNs: st.mtimeNs, Inode: st.ino, WAL: st.walMtimeNs != 0}
	if g.Unchanged != nil && (e.Kind != SQLite || !ss.WAL && st.rollback) {
		if mf, ok := g.Unchanged(e, ss); ok {
			return GroupFile{File: mf, Source: ss, Cacheable: true}, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return GroupFile{}, err
	}
	f := GroupFile{File: manifest.File{Path: e.Rel}, Local: dst, Source: ss, Cacheable: e.Kind != SQLite}
	if e.Kind == SQLite && g.Checks != nil {
		info, err := CopySQLite(ctx, src, dst)
		if err != nil {
			return GroupFile{}, err
		}
		f.SQLite = info
		// A copy made under a shared lock is the file's bytes as they were
		// when listed: the listings before and after match.
		f.Cacheable = info.Method == MethodSharedLockCopy && st.rollback
		return f, nil
	}
	if e.Kind == SQLite {
		info, err := SnapshotSQLite(ctx, src, dst)
		if err != nil {
			return GroupFile{}, err
		}
		if info.IntegrityCheck != "ok" {
			return GroupFile{}, fmt.Errorf("copy of %s fails integrity_check: %s", e.Rel, info.IntegrityCheck)
		}
		f.SQLite = info
		if f.SHA256, f.Size, err = HashFile(dst); err != nil {
			return GroupFile{}, err
		}
		return f, nil
	}
	sum, err := copySparse(ctx, src, dst, st.size, time.Unix(0, st.mtimeNs))
	if err != nil {
		return GroupFile{}, err
	}
	f.Size, f.SHA256 = st.size, sum
	return f, nil
}

// groupListing is what listGroup saw: the files to capture and the state
// of each.
type groupListing struct {
	entries []Entry // sorted by Rel, SQLite side files left out
	state   map[string]fileVersion
}

// listGroup lists the group's regular files as Scan would list them, and
// reads the state of each.
func listGroup(g Group) (*groupListing, error) {
	top := joinRel(g.DataDir, g.Name)
	var entries []Entry
	err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == top && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipAll
			}
			return err
		}
		rel, err := filepath.Rel(g.DataDir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if matchAny(g.Exclude, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || matchSelfOrParent(g.Exclude, rel) ||
			(len(g.Include) > 0 && !matchSelfOrParent(g.Include, rel)) {
			return nil
		}
		e := Entry{Rel: rel, Kind: Other}
		if ok, err := IsSQLite(p); err != nil {
			return err
		} else if ok {
			e.Kind = SQLite
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, changed("a file disappeared while the group was listed: %v", err)
		}
		return nil, err
	}
	if entries, err = dropSideFiles(g.DataDir, entries); err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b Entry) int { return cmp.Compare(a.Rel, b.Rel) })
	l := &groupListing{entries: entries, state: make(map[string]fileVersion, len(entries))}
	for _, e := range entries {
		st, err := readState(joinRel(g.DataDir, e.Rel), e.Kind == SQLite)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, changed("%s disappeared", e.Rel)
			}
			return nil, err
		}
		l.state[e.Rel] = st
	}
	return l, nil
}

// chromaIndexMetadata is the file of a Chroma HNSW segment that is never
// empty at rest.
const chromaIndexMetadata = "index_metadata.pickle"

// emptyIndexMetadata returns an empty index_metadata.pickle of the group.
func (l *groupListing) emptyIndexMetadata() (string, bool) {
	for _, e := range l.entries {
		if path.Base(e.Rel) == chromaIndexMetadata && l.state[e.Rel].size == 0 {
			return e.Rel, true
		}
	}
	return "", false
}

// racy returns a file whose newest change is too recent for a later
// change in the same timestamp tick to show.
func (l *groupListing) racy() (string, bool) {
	for _, e := range l.entries {
		if st := l.state[e.Rel]; st.recent() {
			return e.Rel, true
		}
	}
	return "", false
}

// diff describes the first difference between two listings, or returns nil.
func (l *groupListing) diff(after *groupListing) error {
	for _, e := range l.entries {
		b := l.state[e.Rel]
		a, ok := after.state[e.Rel]
		switch {
		case !ok:
			return changed("%s disappeared", e.Rel)
		case a.counter != b.counter:
			return changed("%s was written to (change counter %d, then %d)", e.Rel, b.counter, a.counter)
		case a != b:
			return changed("%s was modified", e.Rel)
		}
	}
	for _, e := range after.entries {
		if _, ok := l.state[e.Rel]; !ok {
			return changed("%s appeared", e.Rel)
		}
	}
	return nil
}
