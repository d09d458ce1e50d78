package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor/stage"
	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/state"
)

// quietAttempts is how often a file or group that changes while it is
// copied is tried again, in online mode, before the snapshot fails.
const quietAttempts = 5

// captureGroups are the directories whose files belong to one moment and
// are captured together: Chroma's catalog and its segment files.
var captureGroups = []string{"vector_db"}

// groupOf returns the capture group rel belongs to, or "".
func groupOf(rel string) string {
	for _, g := range captureGroups {
		if strings.HasPrefix(rel, g+"/") {
			return g
		}
	}
	return ""
}

// staged is one backup's consistent local capture, ready to send to every
// target: SQLite files copied through CopySQLite, capture groups and
// other changing files copied while quiet into the staging directory;
// files that are never modified (uploads/) are read from the data
// directory itself.
type staged struct {
	dir     string
	dataDir string
	// local maps the manifest paths of staged copies to them; the other
	// files are sent from the data directory (localOf).
	local    map[string]string
	manifest *manifest.Manifest
	// sqlite hashes and checks the staged SQLite copies; the checks run
	// while the files are sent, and a manifest is written only after every
	// one of them passed (sqliteDone closed, sqliteErr nil).
	sqlite     *stage.SQLiteChecks
	sqliteDone chan struct{}
	sqliteErr  error
	// hashOnSend are the data-directory files whose SHA-256 is not known
	// yet (SHA256 empty in the manifest), with the stat their hash cache
	// entry is keyed by. The backup's one target is plain local, and it
	// hashes the bytes as it copies them: that saves a second read.
	hashOnSend map[string]statKey
	// unstaged are the files the capture found unchanged since a previous
	// snapshot that every target can re-use without sending bytes: they
	// were not copied, and their local file is the data directory's.
	// Should a target not re-use one after all, it is copied then
	// (stageLate) and sent only if it still has the bytes recorded.
	unstaged map[string]stage.Kind
	lateMu   sync.Mutex
	late     map[string]*lateCopy
}

// statKey is the stat data a hash cache entry is keyed by, besides the path.
type statKey struct {
	size, mtimeNs int64
	inode         uint64
}

// add records a file of the snapshot and its staged copy.
func (s *staged) add(f manifest.File, local string) {
	s.manifest.Files = append(s.manifest.Files, f)
	s.local[f.Path] = local
}

// localOf is the local file to send for the manifest path rel: its staged
// copy, or the file in the data directory.
func (s *staged) localOf(rel string) string {
	if p, ok := s.local[rel]; ok {
		return p
	}
	return filepath.Join(s.dataDir, filepath.FromSlash(rel))
}

// owned reports whether local is a staged copy, which nothing writes to
// after the capture: a local target may take it by hard link.
func (s *staged) owned(local string) bool {
	return strings.HasPrefix(local, s.dir+string(filepath.Separator))
}

// lateCopy is the copy of an unstaged file made when a target needs it.
type lateCopy struct {
	once  sync.Once
	local string
	err   error
}

// stageLate copies the unstaged file f into the staging area, once, and
// returns the copy if it holds the bytes the manifest records. The file
// was captured (as unchanged) in the quiet window; a copy made now is
// that capture only if it is the same bytes, and otherwise the snapshot
// fails rather than mix two moments.
func (s *staged) stageLate(ctx context.Context, f *manifest.File) (string, error) {
	s.lateMu.Lock()
	if s.late == nil {
		s.late = map[string]*lateCopy{}
	}
	lc, ok := s.late[f.Path]
	if !ok {
		lc = &lateCopy{}
		s.late[f.Path] = lc
	}
	s.lateMu.Unlock()
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
			lc.err = fmt.Errorf("%s changed since the capture found it unchanged, and the previous snapshot's copy cannot be re-used here; the next run captures it again", f.Path)
		default:
			lc.local = dst
		}
	})
	return lc.local, lc.err
}

func (e *Env) stagingRoot() string { return filepath.Join(e.StateDir, "staging") }

// toCapture is a backup's listing sorted by how each file is captured.
type toCapture struct {
	local     []stage.Entry // SQLite and other changing files outside groups
	groups    []string      // capture groups with at least one file
	immutable []stage.Entry // uploads/
}

func classify(entries []stage.Entry) toCapture {
	var c toCapture
	for _, ent := range entries {
		switch g := groupOf(ent.Rel); {
		case g != "":
			if !slices.Contains(c.groups, g) {
				c.groups = append(c.groups, g)
			}
		case ent.Kind == stage.Immutable:
			c.immutable = append(c.immutable, ent)
		default:
			c.local = append(c.local, ent)
		}
	}
	return c
}

// stage captures backup b into the staging area as snapshot id. Only the
// local copies of the files that need one run inside the quiet window (the
// container paused or stopped, in those modes), several at once. Each
// SQLite copy is hashed and checked as soon as it is made (online) or
// after the window, and its check carries on while the files are sent;
// the uploads are hashed after the window.
func (e *Env) stage(ctx context.Context, b *config.Backup, id string, created time.Time) (*staged, error) {
	r, err := e.prepareStage(ctx, b, id, created)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", b.Name, err)
	}
	s := r.s
	if err := r.run(ctx); err != nil {
		s.sqlite.Abandon()
		return s, fmt.Errorf("stage %s: %w", b.Name, err)
	}
	slices.SortFunc(s.manifest.Files, func(a, b manifest.File) int { return strings.Compare(a.Path, b.Path) })
	s.sqliteDone = make(chan struct{})
	go s.finishChecks()
	return s, nil
}

// stageRun is one backup's capture under way.
type stageRun struct {
	e       *Env
	b       *config.Backup
	src     *source
	mode    captureMode
	listing *stage.Listing
	view    targetsView
	cache   stage.HashCache
	s       *staged
}

// prepareStage resolves the instance, lists its data directory and reads
// what the targets and the hash cache know, before anything is copied.
func (e *Env) prepareStage(ctx context.Context, b *config.Backup, id string, created time.Time) (*stageRun, error) {
	inst := e.Policy.Instance(b.Instance)
	if inst == nil {
		return nil, fmt.Errorf("instance %q is not in the policy", b.Instance)
	}
	src, err := e.resolve(ctx, inst)
	if err != nil {
		// A data_dir is enough to copy from; only the hold, the secret key
		// and the image record need Docker, and captureMode fails a pause
		// or stop backup that has no container to hold.
		if inst.DataDir == "" {
			return nil, err
		}
		e.hooks().Logf("%s: warning: %v; copying %s without the container's secret key and image", b.Name, err, inst.DataDir)
		src = &source{inst: inst, dataDir: inst.DataDir}
	}
	r := &stageRun{e: e, b: b, src: src}
	if r.mode, err = e.captureMode(b, src); err != nil {
		return nil, err
	}
	if _, err := os.Stat(src.dataDir); err != nil {
		return nil, fmt.Errorf("data directory of instance %q: %w", inst.Name, err)
	}
	if r.listing, err = stage.Scan(src.dataDir, b.Include, b.Exclude); err != nil {
		return nil, fmt.Errorf("walk %s: %w", src.dataDir, err)
	}
	for _, note := range r.listing.Skipped {
		e.hooks().Logf("%s: skipped %s", b.Name, note)
	}
	dir := filepath.Join(e.stagingRoot(), b.Name+"-"+id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r.view = e.viewTargets(ctx, b, notUploads(r.listing.Entries))
	if r.cache, err = e.Store.HashCache(ctx); err != nil {
		return nil, fmt.Errorf("read hash cache: %w", err)
	}
	r.s = &staged{
		dir:      dir,
		dataDir:  src.dataDir,
		local:    map[string]string{},
		sqlite:   stage.NewSQLiteChecks(ctx, r.view.checked),
		unstaged: map[string]stage.Kind{},
		manifest: &manifest.Manifest{
			FormatVersion: manifest.FormatVersion, Backup: b.Name, Snapshot: id, CreatedAt: created,
			Instance: inst.Name, Consistency: b.Consistency, OwuiVersion: e.Version,
			Source: describeSource(src),
			Files:  make([]manifest.File, 0, len(r.listing.Entries)+1),
		},
	}
	return r, nil
}

// run captures the files: the local copies in the quiet window, then the
// hashes.
func (r *stageRun) run(ctx context.Context) error {
	e, b, s := r.e, r.b, r.s
	h := e.hooks()
	// Before the window: the key file is read from the running container.
	if err := e.captureSecretKey(ctx, r.src, s, r.listing.Entries); err != nil {
		return err
	}
	c := classify(r.listing.Entries)
	h.Logf("%s: capturing %s from %s (%s)", b.Name, describeCapture(c), r.src.dataDir, r.mode.describe())
	if r.mode.quiet == "" {
		// Online, the window holds nothing back: each SQLite copy is
		// hashed and checked as soon as it is made.
		s.sqlite.Start()
	}
	var got *captured
	start := time.Now()
	err := r.mode.q.Quiet(ctx, func(ctx context.Context) error {
		var err error
		got, err = e.captureLocal(ctx, b, r.src.dataDir, s, c, r.mode, unchangedFunc(r.src.dataDir, r.cache, r.view))
		return err
	})
	if dq, ok := r.mode.q.(*dockerQuiescer); ok && s.manifest.Source != nil {
		s.manifest.Source.Held = dq.held
	}
	if err != nil {
		return err
	}
	// The uploads are hashed (or found in the hash cache) beside the
	// SQLite copies' hashes and checks.
	uploads := make(chan uploadHashes, 1)
	go func() {
		u, err := e.hashImmutable(ctx, b.Name, r.src.dataDir, c.immutable, r.cache, r.view.hashOnSend)
		u.err = err
		uploads <- u
	}()
	s.sqlite.Start()
	err = r.collect(ctx, got, start)
	u := <-uploads
	if err != nil {
		return err
	}
	if u.err != nil {
		return u.err
	}
	s.manifest.Files = append(s.manifest.Files, u.files...)
	s.hashOnSend = u.hashOnSend
	return nil
}

// collect adds the local capture's files to the snapshot, with the hashes
// of the SQLite copies, and caches the hashes of the copies that hold
// their sources' bytes so that the next capture finds them unchanged.
func (r *stageRun) collect(ctx context.Context, got *captured, start time.Time) error {
	e, b, s := r.e, r.b, r.s
	h := e.hooks()
	fresh := map[string]state.HashEntry{} // by manifest path
	for _, f := range got.files {
		if f.local == "" {
			s.manifest.Files = append(s.manifest.Files, f.File)
			s.unstaged[f.Path] = f.kind
			continue
		}
		s.add(f.File, f.local)
		if f.cacheable {
			src := filepath.Join(s.dataDir, filepath.FromSlash(f.Path))
			fresh[f.Path] = state.HashEntry{Path: src, Size: f.source.Size, MtimeNs: f.source.MtimeNs, Inode: f.source.Inode}
		}
	}
	s.manifest.Captures = got.captures
	if len(s.unstaged) > 0 {
		h.Logf("%s: %d files unchanged since the previous snapshot were not copied", b.Name, len(s.unstaged))
	}
	h.Logf("%s: local capture done in %s%s", b.Name, time.Since(start).Round(time.Millisecond), describeCaptures(s.manifest.Captures))
	// The hashes of the SQLite copies are needed before anything is sent;
	// their checks carry on.
	sums, err := s.sqlite.Hashes()
	if err != nil {
		return err
	}
	for i := range s.manifest.Files {
		f := &s.manifest.Files[i]
		if hc, ok := sums[f.Path]; ok {
			f.SHA256, f.Size = hc.SHA256, hc.Size
			if hc.Reused {
				h.Logf("%s: the copy of %s is the one the previous snapshot holds, which passed integrity_check", b.Name, f.Path)
			}
		}
	}
	if err := e.storeCopyHashes(ctx, s, fresh); err != nil {
		h.Logf("%s: warning: %v", b.Name, err)
	}
	if ms := s.manifest.Source; ms != nil {
		if db, ok := s.local["webui.db"]; ok && s.owned(db) {
			if v, err := alembicVersion(ctx, db); err != nil {
				h.Logf("%s: warning: %v", b.Name, err)
			} else {
				ms.AlembicVersion = v
			}
		}
	}
	return nil
}

// storeCopyHashes adds to the hash cache the hashes of staged copies that
// hold their sources' bytes, keyed by the sources' states (fresh, by
// manifest path).
func (e *Env) storeCopyHashes(ctx context.Context, s *staged, fresh map[string]state.HashEntry) error {
	if len(fresh) == 0 {
		return nil
	}
	entries := make([]state.HashEntry, 0, len(fresh))
	for _, f := range s.manifest.Files {
		if he, ok := fresh[f.Path]; ok && f.SHA256 != "" {
			he.SHA256 = f.SHA256
			entries = append(entries, he)
		}
	}
	if err := e.Store.StoreHashes(ctx, entries); err != nil {
		return fmt.Errorf("store hash cache: %w", err)
	}
	return nil
}

// finishChecks waits for the integrity_check of every SQLite copy and
// records the results in the manifest, before any target writes it.
func (s *staged) finishChecks() {
	defer close(s.sqliteDone)
	res, err := s.sqlite.Wait()
	if err != nil {
		s.sqliteErr = err
		return
	}
	var bad []error
	for i := range s.manifest.Files {
		f := &s.manifest.Files[i]
		if _, ok := s.unstaged[f.Path]; ok || f.SQLite == nil {
			continue // not copied: the previous snapshot's check stands
		}
		r, ok := res[f.Path]
		if !ok {
			bad = append(bad, fmt.Errorf("the copy of %s was never checked", f.Path))
			continue
		}
		f.SQLite.IntegrityCheck = r
		if r != "ok" {
			bad = append(bad, fmt.Errorf("copy of %s fails integrity_check: %s", f.Path, r))
		}
	}
	s.sqliteErr = errors.Join(bad...)
}

// checked waits for finishChecks: nil once every SQLite copy passed.
func (s *staged) checked(ctx context.Context) error {
	select {
	case <-s.sqliteDone:
		return s.sqliteErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

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
// those in captured. It never fails: what it cannot learn only costs time
// (a check or a hash done again).
func (e *Env) viewTargets(ctx context.Context, b *config.Backup, captured map[string]bool) targetsView {
	obs, err := ObservedFromState(ctx, e.Store)
	if err != nil {
		e.hooks().Logf("%s: warning: %v", b.Name, err)
	}
	checked := map[[2]string]bool{}
	var common map[string]manifest.File // nil until the first target
	local := 0
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
			continue
		}
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
	return targetsView{
		checked:    func(rel, sum string) bool { return checked[[2]string{rel, sum}] },
		hashOnSend: len(b.To) == 1 && local == 1,
		reusable: func(rel string) (manifest.File, bool) {
			f, ok := common[rel]
			return f, ok
		},
	}
}

// capturedFile is one file of the snapshot and the local file to send.
type capturedFile struct {
	manifest.File
	// local is the staged copy; empty for a file found unchanged.
	local string
	kind  stage.Kind
	// source is the state of the source file copied; cacheable says the
	// copy holds its bytes, so its hash may be cached under that state.
	source    stage.SourceState
	cacheable bool
}

// captured is what the local capture made; captures add to it at once.
type captured struct {
	mu       sync.Mutex
	files    []capturedFile
	captures []manifest.Capture
}

func (c *captured) add(f capturedFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files = append(c.files, f)
}

// localCaptures is how many files or groups are copied at once in the
// window: the copies wait on different things (the backup API's page
// copy, the disk, copy_file_range), and the window is as long as the
// longest of them rather than their sum.
const localCaptures = 4

// captureLocal copies into the staging area every file that needs a local
// copy: it is what runs inside the quiet window. SQLite copies are handed
// to s.sqlite, which hashes and checks them.
func (e *Env) captureLocal(ctx context.Context, b *config.Backup, dataDir string, s *staged, c toCapture, mode captureMode, unchanged func(stage.Entry, stage.SourceState) (manifest.File, bool)) (*captured, error) {
	got := &captured{}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(localCaptures)
	h := e.hooks()
	// Groups first: Chroma's is the longest capture and its catalog the
	// longest check.
	for _, gname := range c.groups {
		g.Go(func() error {
			res, err := stage.CaptureGroup(ctx, stage.Group{
				Name: gname, DataDir: dataDir, Include: b.Include, Exclude: b.Exclude,
				StagingDir: s.dir, Method: mode.method, Attempts: mode.attempts,
				LeaveSQLiteChecks: true, Unchanged: unchanged,
				OnRetry: func(attempt int, why error) {
					h.Logf("%s: %s/ changed during capture attempt %d (%v); trying again", b.Name, gname, attempt, why)
				},
			})
			if err != nil {
				return err
			}
			for _, f := range res.Files {
				kind := stage.Other
				if f.SQLite != nil {
					kind = stage.SQLite
				}
				got.add(capturedFile{File: f.File, local: f.Local, kind: kind, source: f.Source, cacheable: f.Cacheable})
				if f.SQLite != nil && f.Local != "" {
					s.sqlite.Add(f.Path, f.Local)
				}
			}
			got.mu.Lock()
			got.captures = append(got.captures, res.Capture)
			got.mu.Unlock()
			return nil
		})
	}
	for _, ent := range c.local {
		g.Go(func() error {
			return e.captureFile(ctx, dataDir, s, got, ent, mode, unchanged)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	slices.SortFunc(got.captures, func(a, b manifest.Capture) int { return strings.Compare(a.Group, b.Group) })
	return got, nil
}

// captureFile copies one file outside the groups into the staging area.
func (e *Env) captureFile(ctx context.Context, dataDir string, s *staged, got *captured, ent stage.Entry, mode captureMode, unchanged func(stage.Entry, stage.SourceState) (manifest.File, bool)) error {
	src := filepath.Join(dataDir, filepath.FromSlash(ent.Rel))
	dst := filepath.Join(s.dir, filepath.FromSlash(ent.Rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if ent.Kind == stage.SQLite {
		info, err := stage.CopySQLite(ctx, src, dst)
		if err != nil {
			return fmt.Errorf("copy sqlite %s: %w", ent.Rel, err)
		}
		got.add(capturedFile{File: manifest.File{Path: ent.Rel, SQLite: info}, local: dst, kind: stage.SQLite})
		s.sqlite.Add(ent.Rel, dst)
		return nil
	}
	// A file as it was when the previous snapshot took it needs no copy.
	if st, settled, err := stage.Settled(src); err == nil && settled {
		if f, ok := unchanged(ent, st); ok {
			got.add(capturedFile{File: f, kind: ent.Kind, source: st})
			return nil
		}
	}
	cp, err := stage.CopyQuiet(ctx, src, dst, mode.attempts)
	if err != nil {
		if mode.quiet != "" {
			return fmt.Errorf("copy %s while the container was %s: %w", ent.Rel, mode.quiet, err)
		}
		return fmt.Errorf("copy %s: %w", ent.Rel, err)
	}
	got.add(capturedFile{File: manifest.File{Path: ent.Rel, Size: cp.Size, SHA256: cp.SHA256}, local: dst, kind: ent.Kind, source: cp.Source, cacheable: true})
	return nil
}

// unchangedFunc returns what the capture asks before copying a file: is it
// unchanged since a previous snapshot every target can re-use it from?
// It is, when the hash cache knows the file in its current state (a
// capture copied it in that state before) and every target's newest
// complete snapshot holds a file of that hash at the same path. A SQLite
// file must have been copied as it is (under a shared lock, which the
// capture only asks about when the file is in a rollback-journal mode)
// and have passed integrity_check.
func unchangedFunc(dataDir string, cache stage.HashCache, view targetsView) func(stage.Entry, stage.SourceState) (manifest.File, bool) {
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
		if prev.SQLite != nil {
			if prev.SQLite.IntegrityCheck != "ok" || prev.SQLite.Method != stage.MethodSharedLockCopy {
				return manifest.File{}, false
			}
			info := *prev.SQLite
			info.SourceHoldMillis = 0 // not read this time
			prev.SQLite = &info
		}
		return prev, true
	}
}

func (m captureMode) describe() string {
	if m.quiet == "" {
		return "online"
	}
	return "container " + m.quiet + " during the local copy"
}

func describeCapture(c toCapture) string {
	parts := []string{fmt.Sprintf("%d files", len(c.local))}
	for _, g := range c.groups {
		parts = append(parts, g+"/")
	}
	return fmt.Sprintf("%s locally, then %d uploads/ files", strings.Join(parts, " and "), len(c.immutable))
}

func describeCaptures(cs []manifest.Capture) string {
	var sb strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&sb, "; %s/: %d files, %s, %d attempt", c.Group, c.Files, c.Method, c.Attempts)
		if c.Attempts != 1 {
			sb.WriteByte('s')
		}
	}
	return sb.String()
}

// uploadHashes is what hashImmutable found.
type uploadHashes struct {
	files      []manifest.File
	hashOnSend map[string]statKey
	err        error
}

// hashImmutable hashes the files sent straight from the data directory,
// through the state's hash cache so unchanged uploads are not read again.
// With onSend, the files the cache does not know are left for the send to
// hash (SHA256 empty, listed in hashOnSend).
func (e *Env) hashImmutable(ctx context.Context, backup, dataDir string, entries []stage.Entry, cache stage.HashCache, onSend bool) (uploadHashes, error) {
	var u uploadHashes
	if len(entries) == 0 {
		return u, nil
	}
	u.files = make([]manifest.File, len(entries))
	if onSend {
		u.hashOnSend = map[string]statKey{}
		for i, ent := range entries {
			f := stage.StatOf(dataDir, ent)
			sum, _ := cache.Lookup(f.Path, f.Size, f.MtimeNs, f.Inode)
			if sum == "" {
				u.hashOnSend[ent.Rel] = statKey{f.Size, f.MtimeNs, f.Inode}
			}
			u.files[i] = manifest.File{Path: ent.Rel, Size: f.Size, SHA256: sum}
		}
		e.hooks().Logf("%s: hashing %d of the %d files sent from the data directory as they are copied (the others are in the hash cache)", backup, len(u.hashOnSend), len(entries))
		return u, nil
	}
	e.hooks().Logf("%s: hashing %d files sent from the data directory (unchanged ones from the hash cache)", backup, len(entries))
	files := make([]stage.FileStat, len(entries))
	for i, ent := range entries {
		files[i] = stage.StatOf(dataDir, ent)
	}
	hashed, err := stage.HashFiles(ctx, files, cache, stage.DefaultHashWorkers)
	if err != nil {
		return u, err
	}
	var fresh []state.HashEntry
	for i, hf := range hashed {
		u.files[i] = manifest.File{Path: entries[i].Rel, Size: hf.Size, SHA256: hf.SHA256}
		if !hf.Cached {
			fresh = append(fresh, state.HashEntry{Path: hf.Path, Size: hf.Size, MtimeNs: hf.MtimeNs, Inode: hf.Inode, SHA256: hf.SHA256})
		}
	}
	if len(fresh) > 0 {
		if err := e.Store.StoreHashes(ctx, fresh); err != nil {
			return u, fmt.Errorf("store hash cache: %w", err)
		}
	}
	return u, nil
}

// sent is what sending one snapshot to one target did.
type sent struct {
	Uploaded, Reused int
	BytesUploaded    int64
}

// send copies a staged snapshot to one target: files unchanged since the
// previous complete snapshot there are re-used without sending bytes (hard
// link or server-side copy), others uploaded; the manifest goes last, once
// every SQLite copy passed its integrity_check. Where the target hashes
// what it copies, a file whose bytes are not those the manifest records
// fails the snapshot.
func (e *Env) send(ctx context.Context, t *target.Target, tname string, s *staged, prev *manifest.Manifest) (sent, error) {
	m := s.manifest
	prevFiles := byPath(prev)
	var total int64
	for _, f := range m.Files {
		total += f.Size
	}
	var done, uploadedBytes atomic.Int64
	var uploaded, reused atomic.Int32
	h := e.hooks()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.transfers())
	for i := range m.Files {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			// Only this goroutine writes f: a file hashed on send belongs
			// to a backup with this one target.
			f := &m.Files[i]
			if p, ok := prevFiles.find(f.Path); ok && f.SHA256 != "" && p.Size == f.Size && p.SHA256 == f.SHA256 {
				ok, err := t.CopyExisting(gctx, m.Backup, prev.Snapshot, m.Snapshot, f.Path)
				if err != nil {
					return fmt.Errorf("re-use %s from %s: %w", f.Path, prev.Snapshot, err)
				}
				if ok {
					reused.Add(1)
					h.Progress(m.Backup, tname, done.Add(f.Size), total)
					return nil
				}
			}
			local := s.localOf(f.Path)
			if _, ok := s.unstaged[f.Path]; ok {
				var err error
				if local, err = s.stageLate(gctx, f); err != nil {
					return fmt.Errorf("upload %s: %w", f.Path, err)
				}
			}
			r, err := t.Send(gctx, m.Backup, m.Snapshot, f.Path, local, target.SendOptions{Size: f.Size, Owned: s.owned(local)})
			if err != nil {
				return fmt.Errorf("upload %s: %w", f.Path, err)
			}
			if err := e.settleHash(gctx, f, local, r); err != nil {
				return err
			}
			uploaded.Add(1)
			uploadedBytes.Add(f.Size)
			h.Progress(m.Backup, tname, done.Add(f.Size), total)
			return nil
		})
	}
	res := func() sent {
		return sent{Uploaded: int(uploaded.Load()), Reused: int(reused.Load()), BytesUploaded: uploadedBytes.Load()}
	}
	if err := g.Wait(); err != nil {
		return res(), err
	}
	if err := s.checked(ctx); err != nil {
		return res(), err
	}
	if err := ctx.Err(); err != nil {
		return res(), err
	}
	if err := e.storeSentHashes(ctx, s); err != nil {
		h.Logf("warning: %s: %v", m.Backup, err)
	}
	if err := t.PutManifest(ctx, m.Backup, m.Snapshot, m); err != nil {
		return res(), fmt.Errorf("write manifest: %w", err)
	}
	return res(), nil
}

// filesByPath is a manifest's files sorted by path, to look up without a
// map (tens of thousands of entries).
type filesByPath []manifest.File

// byPath returns m's files sorted by path; owui writes them sorted, so
// normally no copy is made.
func byPath(m *manifest.Manifest) filesByPath {
	if m == nil {
		return nil
	}
	cmpPath := func(a, b manifest.File) int { return strings.Compare(a.Path, b.Path) }
	if slices.IsSortedFunc(m.Files, cmpPath) {
		return m.Files
	}
	return slices.SortedFunc(slices.Values(m.Files), cmpPath)
}

func (fs filesByPath) find(path string) (manifest.File, bool) {
	i, ok := slices.BinarySearchFunc(fs, path, func(f manifest.File, p string) int { return strings.Compare(f.Path, p) })
	if !ok {
		return manifest.File{}, false
	}
	return fs[i], true
}

// settleHash compares what the target hashed as it copied f (if it did)
// with the manifest, or, for a file hashed on send, records it there.
func (e *Env) settleHash(ctx context.Context, f *manifest.File, local string, r target.Sent) error {
	switch {
	case f.SHA256 == "":
		if r.SHA256 == "" {
			return fmt.Errorf("upload %s: the target did not hash it", f.Path)
		}
		f.SHA256 = r.SHA256
	case r.SHA256 != "" && r.SHA256 != f.SHA256:
		// The bytes read are not those hashed before: the file changed in
		// place, or the cache entry is stale. Forget it, so that the next
		// run reads the file again.
		if err := e.Store.ForgetHash(ctx, local); err != nil {
			e.hooks().Logf("warning: %v", err)
		}
		return fmt.Errorf("upload %s: its content changed since it was hashed (sha256 %s, copied %s)", f.Path, f.SHA256, r.SHA256)
	}
	return nil
}

// storeSentHashes adds the hashes computed on send to the hash cache.
func (e *Env) storeSentHashes(ctx context.Context, s *staged) error {
	if len(s.hashOnSend) == 0 {
		return nil
	}
	fresh := make([]state.HashEntry, 0, len(s.hashOnSend))
	for _, f := range s.manifest.Files {
		if k, ok := s.hashOnSend[f.Path]; ok && f.SHA256 != "" {
			fresh = append(fresh, state.HashEntry{Path: s.localOf(f.Path), Size: k.size, MtimeNs: k.mtimeNs, Inode: k.inode, SHA256: f.SHA256})
		}
	}
	if err := e.Store.StoreHashes(ctx, fresh); err != nil {
		return fmt.Errorf("store hash cache: %w", err)
	}
	return nil
}

// errAlreadyExists is returned when the snapshot id to make is already on
// the target (two applies in the same second, or a reused --now).
var errAlreadyExists = errors.New("snapshot already exists on the target")
