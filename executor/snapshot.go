package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
// target: SQLite files copied through SnapshotSQLite, capture groups and
// other changing files copied while quiet into the staging directory;
// files that are never modified (uploads/) are read from the data
// directory itself.
type staged struct {
	dir      string
	local    map[string]string // manifest path → local file to send
	manifest *manifest.Manifest
}

// add records a file of the snapshot and the local file to send for it.
func (s *staged) add(f manifest.File, local string) int {
	s.manifest.Files = append(s.manifest.Files, f)
	s.local[f.Path] = local
	return len(s.manifest.Files) - 1
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
// container paused or stopped, in those modes); hashing what is sent from
// the data directory, and every upload, come after it.
func (e *Env) stage(ctx context.Context, b *config.Backup, id string, created time.Time) (*staged, error) {
	inst := e.Policy.Instance(b.Instance)
	if inst == nil {
		return nil, fmt.Errorf("stage %s: instance %q is not in the policy", b.Name, b.Instance)
	}
	h := e.hooks()
	src, err := e.resolve(ctx, inst)
	if err != nil {
		// A data_dir is enough to copy from; only the hold, the secret key
		// and the image record need Docker, and captureMode fails a pause
		// or stop backup that has no container to hold.
		if inst.DataDir == "" {
			return nil, fmt.Errorf("stage %s: %w", b.Name, err)
		}
		h.Logf("%s: warning: %v; copying %s without the container's secret key and image", b.Name, err, inst.DataDir)
		src = &source{inst: inst, dataDir: inst.DataDir}
	}
	mode, err := e.captureMode(b, src)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", b.Name, err)
	}
	if _, err := os.Stat(src.dataDir); err != nil {
		return nil, fmt.Errorf("stage %s: data directory of instance %q: %w", b.Name, inst.Name, err)
	}
	listing, err := stage.Scan(src.dataDir, b.Include, b.Exclude)
	if err != nil {
		return nil, fmt.Errorf("stage %s: walk %s: %w", b.Name, src.dataDir, err)
	}
	for _, note := range listing.Skipped {
		h.Logf("%s: skipped %s", b.Name, note)
	}
	dir := filepath.Join(e.stagingRoot(), b.Name+"-"+id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("stage %s: %w", b.Name, err)
	}
	s := &staged{
		dir:   dir,
		local: make(map[string]string, len(listing.Entries)),
		manifest: &manifest.Manifest{
			FormatVersion: manifest.FormatVersion, Backup: b.Name, Snapshot: id, CreatedAt: created,
			Instance: inst.Name, Consistency: b.Consistency, OwuiVersion: e.Version,
			Source: describeSource(src),
			Files:  make([]manifest.File, 0, len(listing.Entries)+1),
		},
	}
	// Before the window: the key file is read from the running container.
	if err := e.captureSecretKey(ctx, src, s, listing.Entries); err != nil {
		return s, fmt.Errorf("stage %s: %w", b.Name, err)
	}
	c := classify(listing.Entries)
	h.Logf("%s: capturing %s from %s (%s)", b.Name, describeCapture(c), src.dataDir, mode.describe())
	var toHash []int // staged SQLite copies, hashed after the window
	start := time.Now()
	err = mode.q.Quiet(ctx, func(ctx context.Context) error {
		var err error
		toHash, err = e.captureLocal(ctx, b, src.dataDir, s, c, mode)
		return err
	})
	if dq, ok := mode.q.(*dockerQuiescer); ok && s.manifest.Source != nil {
		s.manifest.Source.Held = dq.held
	}
	if err != nil {
		return s, fmt.Errorf("stage %s: %w", b.Name, err)
	}
	h.Logf("%s: local capture done in %s%s", b.Name, time.Since(start).Round(time.Millisecond), describeCaptures(s.manifest.Captures))
	for _, i := range toHash {
		f := &s.manifest.Files[i]
		// Staged copies are new files every run: hashing them is never cached.
		if f.SHA256, f.Size, err = stage.HashFile(s.local[f.Path]); err != nil {
			return s, fmt.Errorf("stage %s: %w", b.Name, err)
		}
	}
	if ms := s.manifest.Source; ms != nil {
		if db, ok := s.local["webui.db"]; ok {
			if v, err := alembicVersion(ctx, db); err != nil {
				h.Logf("%s: warning: %v", b.Name, err)
			} else {
				ms.AlembicVersion = v
			}
		}
	}
	if err := e.hashImmutable(ctx, s, src.dataDir, c.immutable); err != nil {
		return s, fmt.Errorf("stage %s: %w", b.Name, err)
	}
	slices.SortFunc(s.manifest.Files, func(a, b manifest.File) int { return strings.Compare(a.Path, b.Path) })
	return s, nil
}

// captureLocal copies into the staging area every file that needs a local
// copy: it is what runs inside the quiet window. It returns the indexes of
// the manifest files still to hash.
func (e *Env) captureLocal(ctx context.Context, b *config.Backup, dataDir string, s *staged, c toCapture, mode captureMode) ([]int, error) {
	var toHash []int
	for _, ent := range c.local {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		src := filepath.Join(dataDir, filepath.FromSlash(ent.Rel))
		dst := filepath.Join(s.dir, filepath.FromSlash(ent.Rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return nil, err
		}
		if ent.Kind == stage.SQLite {
			info, err := stage.SnapshotSQLite(ctx, src, dst)
			if err != nil {
				return nil, fmt.Errorf("copy sqlite %s: %w", ent.Rel, err)
			}
			if info.IntegrityCheck != "ok" {
				return nil, fmt.Errorf("copy of %s fails integrity_check: %s", ent.Rel, info.IntegrityCheck)
			}
			toHash = append(toHash, s.add(manifest.File{Path: ent.Rel, SQLite: info}, dst))
			continue
		}
		cp, err := stage.CopyQuiet(ctx, src, dst, mode.attempts)
		if err != nil {
			if mode.quiet != "" {
				return nil, fmt.Errorf("copy %s while the container was %s: %w", ent.Rel, mode.quiet, err)
			}
			return nil, fmt.Errorf("copy %s: %w", ent.Rel, err)
		}
		s.add(manifest.File{Path: ent.Rel, Size: cp.Size, SHA256: cp.SHA256}, dst)
	}
	h := e.hooks()
	for _, g := range c.groups {
		res, err := stage.CaptureGroup(ctx, stage.Group{
			Name: g, DataDir: dataDir, Include: b.Include, Exclude: b.Exclude,
			StagingDir: s.dir, Method: mode.method, Attempts: mode.attempts,
			OnRetry: func(attempt int, why error) {
				h.Logf("%s: %s/ changed during capture attempt %d (%v); trying again", b.Name, g, attempt, why)
			},
		})
		if err != nil {
			return nil, err
		}
		for _, f := range res.Files {
			s.add(f.File, f.Local)
		}
		s.manifest.Captures = append(s.manifest.Captures, res.Capture)
	}
	return toHash, nil
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

// hashImmutable hashes the files sent straight from the data directory,
// through the state's hash cache so unchanged uploads are not read again,
// and adds them to the snapshot.
func (e *Env) hashImmutable(ctx context.Context, s *staged, dataDir string, entries []stage.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	e.hooks().Logf("%s: hashing %d files sent from the data directory (unchanged ones from the hash cache)", s.manifest.Backup, len(entries))
	files := make([]stage.FileStat, len(entries))
	for i, ent := range entries {
		files[i] = stage.StatOf(dataDir, ent)
	}
	cache, err := e.Store.HashCache(ctx)
	if err != nil {
		return fmt.Errorf("read hash cache: %w", err)
	}
	hashed, err := stage.HashFiles(ctx, files, cache, stage.DefaultHashWorkers)
	if err != nil {
		return err
	}
	var fresh []state.HashEntry
	for i, hf := range hashed {
		s.add(manifest.File{Path: entries[i].Rel, Size: hf.Size, SHA256: hf.SHA256}, hf.Path)
		if !hf.Cached {
			fresh = append(fresh, state.HashEntry{Path: hf.Path, Size: hf.Size, MtimeNs: hf.MtimeNs, Inode: hf.Inode, SHA256: hf.SHA256})
		}
	}
	if len(fresh) > 0 {
		if err := e.Store.StoreHashes(ctx, fresh); err != nil {
			return fmt.Errorf("store hash cache: %w", err)
		}
	}
	return nil
}

// sent is what sending one snapshot to one target did.
type sent struct {
	Uploaded, Reused int
	BytesUploaded    int64
}

// send copies a staged snapshot to one target: files unchanged since the
// previous complete snapshot there are re-used without sending bytes (hard
// link or server-side copy), others uploaded; the manifest goes last.
func (e *Env) send(ctx context.Context, t *target.Target, tname string, s *staged, prev *manifest.Manifest) (sent, error) {
	m := s.manifest
	prevFiles := map[string]manifest.File{}
	if prev != nil {
		for _, f := range prev.Files {
			prevFiles[f.Path] = f
		}
	}
	var total int64
	for _, f := range m.Files {
		total += f.Size
	}
	var done, uploadedBytes atomic.Int64
	var uploaded, reused atomic.Int32
	h := e.hooks()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.transfers())
	for _, f := range m.Files {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			if p, ok := prevFiles[f.Path]; ok && p.Size == f.Size && p.SHA256 == f.SHA256 {
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
			if err := t.PutFile(gctx, m.Backup, m.Snapshot, f.Path, s.local[f.Path]); err != nil {
				return fmt.Errorf("upload %s: %w", f.Path, err)
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
	if err := ctx.Err(); err != nil {
		return res(), err
	}
	if err := t.PutManifest(ctx, m.Backup, m.Snapshot, m); err != nil {
		return res(), fmt.Errorf("write manifest: %w", err)
	}
	return res(), nil
}

// errAlreadyExists is returned when the snapshot id to make is already on
// the target (two applies in the same second, or a reused --now).
var errAlreadyExists = errors.New("snapshot already exists on the target")
