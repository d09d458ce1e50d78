package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/manifest"
)

// RestoreOptions says which snapshot to restore where.
type RestoreOptions struct {
	Backup string
	// Target defaults to the backup's first target.
	Target string
	// Snapshot is a snapshot id, or "" / "latest" for the newest complete one.
	Snapshot string
	// Dir is the destination; it must be empty or absent unless Force.
	Dir string
	// Force restores into a non-empty Dir; files in the way are moved aside
	// to <Dir>.before-restore-<time>, never overwritten.
	Force bool
	// DryRun reports what would be written and writes nothing.
	DryRun bool
	// InPlace restores into the backup's instance itself instead of Dir.
	InPlace bool
	// RewriteUploads rewrites the restored webui.db's file.path rows to
	// point into UploadPrefix, or when that is empty into the uploads/
	// directory the restored data will be opened from.
	RewriteUploads bool
	UploadPrefix   string
	// Now names the move-aside directories; zero means the clock.
	Now time.Time
}

// RestoreResult is what a restore did, or with DryRun would do.
type RestoreResult struct {
	Manifest *manifest.Manifest
	Target   string
	// Dir is where the files went: opts.Dir, or the instance's data dir.
	Dir string
	// Planned lists the files a dry run would write.
	Planned []PlannedFile
	// Aside is where data that was in the way went ("" when none was).
	Aside    string
	Replaced int
	// Containers were stopped for an in-place restore and started again.
	Containers []string
	Uploads    UploadPaths
	// Warnings are things the operator must know before opening the data.
	Warnings []string
	// Rollback is the shell commands that undo an in-place restore.
	Rollback []string
}

// PlannedFile is one file a dry run would write.
type PlannedFile struct {
	Path string
	Size int64
	// Exists is true when a file is in the way (moved aside with --force).
	Exists bool
}

// ErrDestinationNotEmpty is returned when a restore would write into a
// directory that already holds files.
var ErrDestinationNotEmpty = errors.New("destination is not empty")

// Restore downloads a complete snapshot into opts.Dir (or with InPlace into
// the instance's data directory) and checks every file's size and sha256
// against the manifest as it arrives. Files are downloaded into a staging
// directory inside the destination and moved into place only once all of
// them match, so a failed restore leaves no partial file behind.
func (e *Env) Restore(ctx context.Context, opts RestoreOptions) (*RestoreResult, error) {
	b := e.Policy.Backup(opts.Backup)
	if b == nil {
		return nil, fmt.Errorf("restore: backup %q is not in the policy", opts.Backup)
	}
	tname := opts.Target
	if tname == "" {
		tname = b.To[0]
	}
	t, err := e.Target(ctx, tname)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	m, err := pickSnapshot(ctx, t, b.Name, opts.Snapshot)
	if err != nil {
		return nil, fmt.Errorf("restore %s from %s: %w", b.Name, tname, err)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	res := &RestoreResult{Manifest: m, Target: tname}
	if opts.InPlace {
		err = e.restoreInPlace(ctx, opts, b, t, res)
	} else {
		err = e.restoreTo(ctx, opts, t, res)
	}
	if err != nil {
		return nil, fmt.Errorf("restore %s of %s from %s: %w", m.Snapshot, b.Name, tname, err)
	}
	return res, nil
}

// restoreTo restores into opts.Dir.
func (e *Env) restoreTo(ctx context.Context, opts RestoreOptions, t *target.Target, res *RestoreResult) error {
	if opts.Dir == "" {
		return errors.New("no destination directory")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return err
	}
	res.Dir = dir
	m := res.Manifest
	if snapshotNewer(m.Source, "") {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the snapshot comes from Open WebUI %s; open it with that release or a newer one", describeVersion(m.Source)))
	}
	empty, err := dirEmpty(dir)
	if err != nil {
		return err
	}
	if !empty && !opts.Force {
		return fmt.Errorf("restore into %s: %w (use --force to restore into it anyway; files in the way are moved aside)", dir, ErrDestinationNotEmpty)
	}
	if opts.DryRun {
		res.Planned, err = planFiles(dir, m.Files)
		return err
	}
	created := false
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		created = true
	}
	st, err := e.fetchAll(ctx, t, res.Target, m, dir)
	if err != nil {
		if created {
			os.Remove(dir) // only succeeds when nothing else appeared in it
		}
		return err
	}
	defer st.remove()
	if res.Uploads, err = checkUploads(ctx, st.dir, filepath.Join(dir, "uploads"), opts); err != nil {
		return err
	}
	aside := asideName(dir, opts.Now)
	replaced, err := st.install(dir, aside)
	if err != nil {
		return err
	}
	if replaced > 0 {
		res.Aside, res.Replaced = aside, replaced
	}
	return checkInstalled(dir, m.Files, res.Uploads.Rewritten > 0)
}

// pickSnapshot reads the manifest of the named snapshot, or of the newest
// complete one for "" and "latest".
func pickSnapshot(ctx context.Context, t *target.Target, backup, id string) (*manifest.Manifest, error) {
	if id != "" && id != "latest" {
		return t.ReadManifest(ctx, backup, id)
	}
	list, err := t.ListSnapshots(ctx, backup)
	if err != nil {
		return nil, err
	}
	var best *target.Listing
	for i, l := range list {
		if l.Manifest != nil && (best == nil || l.Manifest.CreatedAt.After(best.Manifest.CreatedAt)) {
			best = &list[i]
		}
	}
	if best == nil {
		return nil, errors.New("no complete snapshot")
	}
	return t.ReadManifest(ctx, backup, best.ID)
}

// dirEmpty reports whether dir is absent or holds nothing.
func dirEmpty(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(entries) == 0, nil
}

// asideName is where data in the way of a restore into dir is moved.
func asideName(dir string, now time.Time) string {
	return dir + ".before-restore-" + now.UTC().Format("20060102T150405Z")
}

// instanceOf returns the backup's instance.
func (e *Env) instanceOf(b *config.Backup) (*config.Instance, error) {
	inst := e.Policy.Instance(b.Instance)
	if inst == nil {
		return nil, fmt.Errorf("instance %q is not in the policy", b.Instance)
	}
	return inst, nil
}
