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
	"github.com/owui/owui/internal/units"
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
	// compress says the backup stores its SQLite copies compressed;
	// stored maps the manifest paths of the files stored compressed to
	// their compressed staged copies.
	compress bool
	storedMu sync.Mutex
	stored   map[string]string
	// forgetDB drops what is recorded of the copy of a SQLite file found
	// unchanged, when a late copy of it turns out other bytes.
	forgetDB func(rel string)
	// prev are the manifests the capture read of the newest complete
	// snapshot on each target (targetsView.prev).
	prev map[string]*manifest.Manifest
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

// sendable returns the local file to send for f: a late copy of an
// unstaged file (stageLate), the compressed copy of a file stored
// compressed, or localOf. A staged copy whose compression was put off
// (compressCopies) is compressed now, once, and must give the stored
// object the manifest records.
func (s *staged) sendable(ctx context.Context, f *manifest.File) (string, error) {
	if _, ok := s.unstaged[f.Path]; ok {
		return s.stageLate(ctx, f)
	}
	if f.Stored == nil {
		return s.localOf(f.Path), nil
	}
	s.storedMu.Lock()
	p, ok := s.stored[f.Path]
	s.storedMu.Unlock()
	if ok {
		return p, nil
	}
	lc := s.lateCopy(f.Path)
	lc.once.Do(func() { lc.local, lc.err = compressLate(ctx, f, s.localOf(f.Path)) })
	return lc.local, lc.err
}

// owned reports whether local is a staged copy, which nothing writes to
// after the capture: a local target may take it by hard link.
func (s *staged) owned(local string) bool {
	return strings.HasPrefix(local, s.dir+string(filepath.Separator))
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
	go s.finishChecks(e.hooks().Logf)
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
	// copies are the SQLite copies earlier captures made, by source path.
	copies map[string]state.SQLiteCopy
	s      *staged
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
	r.view = e.viewTargets(ctx, b, notUploads(r.listing.Entries))
	if r.cache, err = e.Store.HashCache(ctx); err != nil {
		return nil, fmt.Errorf("read hash cache: %w", err)
	}
	if r.copies, err = e.Store.SQLiteCopies(ctx); err != nil {
		return nil, err
	}
	dir := filepath.Join(e.stagingRoot(), b.Name+"-"+id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r.s = &staged{
		dir:      dir,
		dataDir:  src.dataDir,
		local:    map[string]string{},
		sqlite:   stage.NewSQLiteChecks(ctx, r.view.checked),
		prev:     r.view.prev,
		unstaged: map[string]stage.Kind{},
		compress: b.Compression == config.CompressionZstd,
		stored:   map[string]string{},
		forgetDB: func(rel string) {
			if err := e.Store.ForgetSQLiteCopy(ctx, filepath.Join(src.dataDir, filepath.FromSlash(rel))); err != nil {
				e.hooks().Logf("%s: warning: %v", b.Name, err)
			}
		},
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
		got, err = e.captureLocal(ctx, b, r.src.dataDir, s, c, r.mode, reuseFuncs{
			file: unchangedFunc(r.src.dataDir, r.cache, r.view, s.compress),
			db:   unchangedDBFunc(r.src.dataDir, r.copies, r.view, s.compress),
		})
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
	if err == nil && s.compress {
		err = r.compressCopies(ctx, r.listing.Entries)
	}
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
	fresh := map[string]state.HashEntry{}     // by manifest path
	freshDBs := map[string]state.SQLiteCopy{} // by manifest path
	for _, f := range got.files {
		if f.local == "" {
			s.manifest.Files = append(s.manifest.Files, f.File)
			s.unstaged[f.Path] = f.kind
			continue
		}
		s.add(f.File, f.local)
		src := filepath.Join(s.dataDir, filepath.FromSlash(f.Path))
		if f.cacheable {
			fresh[f.Path] = state.HashEntry{Path: src, Size: f.source.Size, MtimeNs: f.source.MtimeNs, Inode: f.source.Inode}
		}
		if f.version != "" {
			freshDBs[f.Path] = state.SQLiteCopy{Path: src, Version: f.version}
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
	if err := e.storeCopyHashes(ctx, s, fresh, freshDBs); err != nil {
		h.Logf("%s: warning: %v", b.Name, err)
	}
	if ms := s.manifest.Source; ms != nil {
		if _, ok := s.unstaged["webui.db"]; ok {
			ms.AlembicVersion = r.view.alembic // the same copy as the previous snapshots'
		} else if db, ok := s.local["webui.db"]; ok && s.owned(db) {
			if v, err := alembicVersion(ctx, db); err != nil {
				h.Logf("%s: warning: %v", b.Name, err)
			} else {
				ms.AlembicVersion = v
			}
		}
	}
	return nil
}

// compressors is how many SQLite copies are compressed at once.
const compressors = 2

// compressCopies compresses the staged SQLite copies, which the targets
// store as <path>.zst. A copy is left as it is when the data directory
// holds a file of that name too.
func (r *stageRun) compressCopies(ctx context.Context, entries []stage.Entry) error {
	s := r.s
	listed := make(map[string]bool, len(entries))
	for _, ent := range entries {
		listed[ent.Rel] = true
	}
	start := time.Now()
	var raw, packed atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(compressors)
	for i := range s.manifest.Files {
		f := &s.manifest.Files[i]
		if f.SQLite == nil || listed[f.Path+manifest.SuffixZstd] {
			continue
		}
		if _, ok := s.unstaged[f.Path]; ok {
			continue // stored as the previous snapshot stored it
		}
		local, ok := s.local[f.Path]
		if !ok || !s.owned(local) {
			continue
		}
		if prev, ok := r.view.reusable(f.Path); ok && prev.Stored != nil && prev.Stored.Encoding == manifest.EncodingZstd &&
			f.SHA256 != "" && prev.SHA256 == f.SHA256 && prev.Size == f.Size {
			// The bytes every target's previous snapshot stores
			// compressed: that object is re-used, and the copy is only
			// compressed should a target not re-use it (sendable).
			st := *prev.Stored
			f.Stored = &st
			continue
		}
		g.Go(func() error {
			c, err := stage.Compress(gctx, local, local+manifest.SuffixZstd)
			if err != nil {
				return err
			}
			f.Stored = &manifest.Stored{Encoding: manifest.EncodingZstd, Size: c.Size, SHA256: c.SHA256}
			s.storedMu.Lock()
			s.stored[f.Path] = local + manifest.SuffixZstd
			s.storedMu.Unlock()
			raw.Add(f.Size)
			packed.Add(c.Size)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if raw.Load() > 0 {
		r.e.hooks().Logf("%s: compressed the SQLite copies from %s to %s (zstd) in %s", r.b.Name,
			units.Bytes(raw.Load()), units.Bytes(packed.Load()), time.Since(start).Round(time.Millisecond))
	}
	return nil
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
	// version is, for a SQLite copy, the source's version (a settled
	// stage.SQLiteVersion that did not move during the copy): the copy is
	// what any later copy at that version would be.
	version string
}

// reuseFuncs are what the capture asks before it copies a file: is it
// unchanged since a previous snapshot every target can re-use it from
// (unchangedFunc; unchangedDBFunc for the SQLite files outside groups)?
type reuseFuncs struct {
	file func(stage.Entry, stage.SourceState) (manifest.File, bool)
	db   func(rel, version string) (manifest.File, bool)
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
func (e *Env) captureLocal(ctx context.Context, b *config.Backup, dataDir string, s *staged, c toCapture, mode captureMode, reuse reuseFuncs) (*captured, error) {
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
				Checks: s.sqlite, Unchanged: reuse.file,
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
			}
			got.mu.Lock()
			got.captures = append(got.captures, res.Capture)
			got.mu.Unlock()
			return nil
		})
	}
	for _, ent := range c.local {
		g.Go(func() error {
			return e.captureFile(ctx, dataDir, s, got, ent, mode, reuse)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	slices.SortFunc(got.captures, func(a, b manifest.Capture) int { return strings.Compare(a.Group, b.Group) })
	return got, nil
}

// captureFile copies one file outside the groups into the staging area.
func (e *Env) captureFile(ctx context.Context, dataDir string, s *staged, got *captured, ent stage.Entry, mode captureMode, reuse reuseFuncs) error {
	src := filepath.Join(dataDir, filepath.FromSlash(ent.Rel))
	dst := filepath.Join(s.dir, filepath.FromSlash(ent.Rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if ent.Kind == stage.SQLite {
		return e.captureDB(ctx, s, got, ent.Rel, src, dst, reuse.db)
	}
	// A file as it was when the previous snapshot took it needs no copy.
	if st, settled, err := stage.Settled(src); err == nil && settled {
		if f, ok := reuse.file(ent, st); ok {
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

// captureDB copies the SQLite database src, one outside the groups, into
// the staging area as dst, unless no one wrote to it since a previous
// snapshot's copy that every target can re-use (unchanged). Its version is
// read before and after the copy: when it is settled and did not move, the
// copy is what any copy at that version would be, and is recorded as such
// (captured.version) for the next capture to ask about.
func (e *Env) captureDB(ctx context.Context, s *staged, got *captured, rel, src, dst string, unchanged func(rel, version string) (manifest.File, bool)) error {
	before, settled, err := stage.SQLiteVersion(src)
	if err != nil {
		return fmt.Errorf("copy sqlite %s: %w", rel, err)
	}
	if settled {
		if f, ok := unchanged(rel, before); ok {
			got.add(capturedFile{File: f, kind: stage.SQLite})
			return nil
		}
	}
	info, err := stage.CopySQLite(ctx, src, dst)
	if err != nil {
		return fmt.Errorf("copy sqlite %s: %w", rel, err)
	}
	f := capturedFile{File: manifest.File{Path: rel, SQLite: info}, local: dst, kind: stage.SQLite}
	if settled {
		if after, _, err := stage.SQLiteVersion(src); err == nil && after == before {
			f.version = before
		}
	}
	got.add(f)
	s.sqlite.Add(rel, dst)
	return nil
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

// errAlreadyExists is returned when the snapshot id to make is already on
// the target (two applies in the same second, or a reused --now).
var errAlreadyExists = errors.New("snapshot already exists on the target")
