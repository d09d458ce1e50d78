package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor/stage"
	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/state"
)

// quietAttempts is how often a file that changes while it is copied is tried
// again before the snapshot fails.
const quietAttempts = 5

// staged is one backup's consistent local capture, ready to send to every
// target: SQLite files copied through the backup API and other changing
// files copied while quiet into the staging directory; files that are never
// modified (uploads/) are read from the data directory itself.
type staged struct {
	dir      string
	local    map[string]string // manifest path → local file to send
	manifest *manifest.Manifest
}

func (e *Env) stagingRoot() string { return filepath.Join(e.StateDir, "staging") }

// stage captures backup b into the staging area as snapshot id.
func (e *Env) stage(ctx context.Context, b *config.Backup, id string, created time.Time) (*staged, error) {
	inst := e.Policy.Instance(b.Instance)
	if inst == nil {
		return nil, fmt.Errorf("stage %s: instance %q is not in the policy", b.Name, b.Instance)
	}
	if inst.DataDir == "" {
		return nil, fmt.Errorf("stage %s: instance %q has no data_dir; Docker volume sources are not supported yet", b.Name, inst.Name)
	}
	if _, err := os.Stat(inst.DataDir); err != nil {
		return nil, fmt.Errorf("stage %s: data_dir of instance %q: %w", b.Name, inst.Name, err)
	}
	listing, err := stage.Scan(inst.DataDir, b.Include, b.Exclude)
	if err != nil {
		return nil, fmt.Errorf("stage %s: walk %s: %w", b.Name, inst.DataDir, err)
	}
	h := e.hooks()
	for _, note := range listing.Skipped {
		h.Logf("%s: skipped %s", b.Name, note)
	}
	entries := listing.Entries
	dir := filepath.Join(e.stagingRoot(), b.Name+"-"+id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("stage %s: %w", b.Name, err)
	}
	s := &staged{
		dir:   dir,
		local: make(map[string]string, len(entries)),
		manifest: &manifest.Manifest{
			FormatVersion: manifest.FormatVersion,
			Backup:        b.Name,
			Snapshot:      id,
			CreatedAt:     created,
			Instance:      inst.Name,
			Consistency:   b.Consistency,
			OwuiVersion:   e.Version,
			Files:         make([]manifest.File, len(entries)),
		},
	}
	h.Logf("%s: capturing %d files from %s", b.Name, len(entries), inst.DataDir)
	var immutable []stage.FileStat
	var immutableIdx []int
	for i, ent := range entries {
		if err := ctx.Err(); err != nil {
			return s, err
		}
		src := filepath.Join(inst.DataDir, filepath.FromSlash(ent.Rel))
		f := &s.manifest.Files[i]
		f.Path = ent.Rel
		if ent.Kind == stage.Immutable {
			s.local[ent.Rel] = src
			immutable = append(immutable, stage.StatOf(inst.DataDir, ent))
			immutableIdx = append(immutableIdx, i)
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(ent.Rel))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return s, fmt.Errorf("stage %s: %w", b.Name, err)
		}
		s.local[ent.Rel] = dst
		if ent.Kind == stage.SQLite {
			info, err := stage.SnapshotSQLite(ctx, src, dst)
			if err != nil {
				return s, fmt.Errorf("stage %s: copy sqlite %s: %w", b.Name, ent.Rel, err)
			}
			if info.IntegrityCheck != "ok" {
				return s, fmt.Errorf("stage %s: copy of %s fails integrity_check: %s", b.Name, ent.Rel, info.IntegrityCheck)
			}
			f.SQLite = info
			// Staged copies are new files every run: hashing them is never cached.
			if f.SHA256, f.Size, err = stage.HashFile(dst); err != nil {
				return s, fmt.Errorf("stage %s: %w", b.Name, err)
			}
			continue
		}
		c, err := stage.CopyQuiet(ctx, src, dst, quietAttempts)
		if err != nil {
			return s, fmt.Errorf("stage %s: copy %s: %w", b.Name, ent.Rel, err)
		}
		f.Size, f.SHA256 = c.Size, c.SHA256
	}
	if err := e.hashImmutable(ctx, s, immutable, immutableIdx); err != nil {
		return s, fmt.Errorf("stage %s: %w", b.Name, err)
	}
	return s, nil
}

// hashImmutable hashes the files read straight from the data directory
// through the state's hash cache, so unchanged uploads are not read again.
func (e *Env) hashImmutable(ctx context.Context, s *staged, files []stage.FileStat, idx []int) error {
	if len(files) == 0 {
		return nil
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
		f := &s.manifest.Files[idx[i]]
		f.Size, f.SHA256 = hf.Size, hf.SHA256
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
