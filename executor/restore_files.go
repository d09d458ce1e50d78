package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/manifest"
)

// ErrLinkInDestination is returned when a file would be restored through a
// symbolic link already present in the destination (uploads -> /etc):
// restore never follows links it did not make.
var ErrLinkInDestination = errors.New("symbolic link in the destination")

// stagePrefix names the directory a restore downloads into, inside the
// destination so that moving files into place is a rename.
const stagePrefix = ".owui-restore-"

// restoreStage is a snapshot downloaded and checked, not yet in place.
type restoreStage struct {
	dir   string
	files []manifest.File
}

func (st *restoreStage) remove() { os.RemoveAll(st.dir) }

// destPath joins a manifest path to the destination after checking that
// it is relative, clean and stays inside dest, and that no directory on
// the way to it is a symbolic link or a file.
func destPath(dest, rel string) (string, error) {
	if err := manifest.CheckPath(rel); err != nil {
		return "", err
	}
	dst := filepath.Join(dest, filepath.FromSlash(rel))
	if r, err := filepath.Rel(dest, dst); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %q", manifest.ErrUnsafePath, rel)
	}
	if strings.HasPrefix(rel, stagePrefix) {
		return "", fmt.Errorf("%w: %q collides with owui's staging directory", manifest.ErrUnsafePath, rel)
	}
	return dst, checkParents(dest, rel)
}

// checkParents looks at each directory between dest and rel with Lstat:
// a symbolic link or a non-directory there is refused. Directories that
// do not exist yet are fine: the restore creates them.
func checkParents(dest, rel string) error {
	parts := strings.Split(rel, "/")
	p := dest
	for _, c := range parts[:len(parts)-1] {
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			to, _ := os.Readlink(p)
			return fmt.Errorf("%w: %s -> %s is on the way to %s; move it away first", ErrLinkInDestination, p, to, rel)
		}
		if !fi.IsDir() {
			return fmt.Errorf("restore %s: %s is in the way and is not a directory", rel, p)
		}
	}
	return nil
}

// planFiles is a dry run: every path is checked as a restore would, and
// nothing is written.
func planFiles(dest string, files []manifest.File) ([]PlannedFile, error) {
	out := make([]PlannedFile, 0, len(files))
	for _, f := range files {
		dst, err := destPath(dest, f.Path)
		if err != nil {
			return nil, err
		}
		_, err = os.Lstat(dst)
		out = append(out, PlannedFile{Path: f.Path, Size: f.Size, Exists: err == nil})
	}
	slices.SortFunc(out, func(a, b PlannedFile) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// fetchAll checks every path of m against dest, then downloads the files
// into a new staging directory inside dest, several at a time, checking
// each one's size and sha256. On any failure the staging directory is
// removed: nothing partial stays behind.
func (e *Env) fetchAll(ctx context.Context, t *target.Target, tname string, m *manifest.Manifest, dest string) (*restoreStage, error) {
	for _, f := range m.Files {
		if _, err := destPath(dest, f.Path); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp(dest, stagePrefix+m.Snapshot+"-")
	if err != nil {
		return nil, fmt.Errorf("create staging directory: %w", err)
	}
	st := &restoreStage{dir: dir, files: m.Files}
	total := m.TotalSize()
	var done atomic.Int64
	progress := func(n int64) { e.hooks().Progress(m.Backup, tname, done.Add(n), total) }
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.transfers())
	for _, f := range m.Files {
		g.Go(func() error { return fetchOne(gctx, t, m, f, dir, progress) })
	}
	if err := g.Wait(); err != nil {
		st.remove()
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		st.remove()
		return nil, err
	}
	progress(0)
	return st, nil
}

// fetchOne downloads one file into the staging directory and checks it.
func fetchOne(ctx context.Context, t *target.Target, m *manifest.Manifest, f manifest.File, stage string, progress func(int64)) error {
	dst := filepath.Join(stage, filepath.FromSlash(f.Path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	perm := os.FileMode(0o644)
	if f.Secret {
		perm = 0o600 // the secret key: readable by its owner only
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return err
	}
	h := sha256.New()
	// A file longer than the manifest says fails at that point, rather
	// than after it has filled the destination's disk.
	n, err := readFile(ctx, t, m, f, io.MultiWriter(out, h, progressWriter(progress)))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, errLongerThanManifest) {
		return fmt.Errorf("check %s: more than the %d bytes the manifest says", f.Path, f.Size)
	}
	if err != nil {
		return err
	}
	if n != f.Size {
		return fmt.Errorf("check %s: size %d, manifest says %d", f.Path, n, f.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.SHA256 {
		return fmt.Errorf("check %s: sha256 %s, manifest says %s", f.Path, sum, f.SHA256)
	}
	return nil
}

type progressWriter func(int64)

func (p progressWriter) Write(b []byte) (int, error) {
	p(int64(len(b)))
	return len(b), nil
}

// install moves the staged files into dest. A file or directory in the
// way is first moved to the same path under aside (never overwritten).
// When a step fails, every step done so far is undone.
func (st *restoreStage) install(dest, aside string) (replaced int, err error) {
	var j journal
	defer func() {
		if err != nil {
			err = errors.Join(err, j.undo())
		}
	}()
	return st.installWith(&j, dest, aside)
}

func (st *restoreStage) installWith(j *journal, dest, aside string) (replaced int, err error) {
	files := slices.Clone(st.files)
	slices.SortFunc(files, func(a, b manifest.File) int { return strings.Compare(a.Path, b.Path) })
	for _, f := range files {
		dst, err := destPath(dest, f.Path)
		if err != nil {
			return replaced, err
		}
		if err := j.mkdirAll(dest, filepath.Dir(f.Path)); err != nil {
			return replaced, err
		}
		if _, err := os.Lstat(dst); err == nil {
			if aside == "" {
				return replaced, fmt.Errorf("restore %s: %s is in the way", f.Path, dst)
			}
			if err := j.mkdirAll(aside, filepath.Dir(f.Path)); err != nil {
				return replaced, err
			}
			if err := j.rename(dst, filepath.Join(aside, filepath.FromSlash(f.Path))); err != nil {
				return replaced, err
			}
			replaced++
		}
		if err := j.rename(filepath.Join(st.dir, filepath.FromSlash(f.Path)), dst); err != nil {
			return replaced, err
		}
	}
	return replaced, nil
}

// checkInstalled checks that every file is in place with its size; a
// webui.db whose upload paths were rewritten has its own.
func checkInstalled(dest string, files []manifest.File, dbRewritten bool) error {
	for _, f := range files {
		fi, err := os.Lstat(filepath.Join(dest, filepath.FromSlash(f.Path)))
		if err != nil {
			return fmt.Errorf("check restored %s: %w", f.Path, err)
		}
		if !fi.Mode().IsRegular() || (fi.Size() != f.Size && !(dbRewritten && f.Path == webuiDB)) {
			return fmt.Errorf("check restored %s: %s of %d bytes, manifest says %d", f.Path, fi.Mode().Type(), fi.Size(), f.Size)
		}
	}
	return nil
}

// journal records renames and created directories so that a restore that
// fails half-way can put everything back.
type journal struct {
	steps []journalStep
}

type journalStep struct {
	from, to string // rename; from == "" for a created directory
}

func (j *journal) rename(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	j.steps = append(j.steps, journalStep{from: from, to: to})
	return nil
}

// mkdirAll creates rel's missing directories under root, recording each.
func (j *journal) mkdirAll(root, rel string) error {
	if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(root, 0o700); err != nil {
			return err
		}
		j.steps = append(j.steps, journalStep{to: root})
	}
	if rel == "." || rel == "" {
		return nil
	}
	p := root
	for _, c := range strings.Split(rel, "/") {
		p = filepath.Join(p, c)
		err := os.Mkdir(p, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		j.steps = append(j.steps, journalStep{to: p})
	}
	return nil
}

// undo reverses the recorded steps, newest first; directories are
// removed only when empty.
func (j *journal) undo() error {
	var errs []error
	for i := len(j.steps) - 1; i >= 0; i-- {
		s := j.steps[i]
		if s.from == "" {
			os.Remove(s.to)
			continue
		}
		if err := os.Rename(s.to, s.from); err != nil {
			errs = append(errs, fmt.Errorf("put %s back to %s: %w", s.to, s.from, err))
		}
	}
	j.steps = nil
	return errors.Join(errs...)
}
