package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
	Dir   string
	Force bool
}

// ErrDestinationNotEmpty is returned when a restore would write into a
// directory that already holds files.
var ErrDestinationNotEmpty = errors.New("destination is not empty")

// Restore downloads a complete snapshot into opts.Dir and checks every
// file's size and sha256 against the manifest as it arrives.
func (e *Env) Restore(ctx context.Context, opts RestoreOptions) (*manifest.Manifest, error) {
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
	if err := checkDestination(opts.Dir, opts.Force); err != nil {
		return nil, fmt.Errorf("restore into %s: %w", opts.Dir, err)
	}
	for _, f := range m.Files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := restoreFile(ctx, t, m, f, opts.Dir); err != nil {
			return nil, fmt.Errorf("restore %s of %s from %s: %w", m.Snapshot, b.Name, tname, err)
		}
	}
	return m, nil
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
	var best *manifest.Manifest
	for _, l := range list {
		if l.Manifest != nil && (best == nil || l.Manifest.CreatedAt.After(best.CreatedAt)) {
			best = l.Manifest
		}
	}
	if best == nil {
		return nil, errors.New("no complete snapshot")
	}
	return best, nil
}

func checkDestination(dir string, force bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 && !force {
		return fmt.Errorf("%w (use --force to restore into it anyway)", ErrDestinationNotEmpty)
	}
	return nil
}

// restoreFile downloads one file beside its final name, checks it, then
// renames it into place.
func restoreFile(ctx context.Context, t *target.Target, m *manifest.Manifest, f manifest.File, dir string) error {
	if err := manifest.CheckPath(f.Path); err != nil {
		return err
	}
	dst := filepath.Join(dir, filepath.FromSlash(f.Path))
	if rel, err := filepath.Rel(dir, dst); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%w: %q", manifest.ErrUnsafePath, f.Path)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".owui-partial"
	perm := os.FileMode(0o644)
	if f.Secret {
		perm = 0o600 // the secret key: readable by its owner only
	}
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	h := sha256.New()
	n, err := t.GetFile(ctx, m.Backup, m.Snapshot, f.Path, io.MultiWriter(out, h))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", f.Path, err)
	}
	if n != f.Size {
		return fmt.Errorf("check %s: size %d, manifest says %d", f.Path, n, f.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return fmt.Errorf("check %s: sha256 %s, manifest says %s", f.Path, sum, f.SHA256)
	}
	return os.Rename(tmp, dst)
}
