package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/state"
)

// restoreInPlace restores into the backup's instance itself. The snapshot
// is downloaded and checked into a staging directory inside the data
// directory while the instance still runs; only then are its containers
// stopped (through hold, so they are started again on every path), the
// current contents of the data directory moved into the sibling
// <data_dir>.before-restore-<time> (renamed, never deleted), and the staged
// files renamed into place. The data directory itself stays where it is:
// it may be a volume's mountpoint or a bind mount, which cannot be renamed
// away from under Docker. If moving in fails, every rename is undone.
func (e *Env) restoreInPlace(ctx context.Context, opts RestoreOptions, b *config.Backup, t *target.Target, res *RestoreResult) (err error) {
	inst, err := e.instanceOf(b)
	if err != nil {
		return err
	}
	src, err := e.resolve(ctx, inst)
	if err != nil {
		return err
	}
	if src.dataDir == "" {
		return fmt.Errorf("instance %q has no data directory to restore into", inst.Name)
	}
	dir := src.dataDir
	res.Dir = dir
	m := res.Manifest
	expected := filepath.Join(dir, "uploads")
	if src.container != nil {
		expected = ContainerUploads
		image := src.container.Labels[versionLabel]
		if snapshotNewer(m.Source, image) {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"the snapshot comes from Open WebUI %s, newer than the image %s (%s) of container %s that will open it: upgrade the container first, or it may fail to start on a newer schema",
				describeVersion(m.Source), src.container.Image, image, src.container.Name))
		}
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("data directory of instance %q: %w", inst.Name, err)
	}
	if src.container == nil && !opts.Force {
		return fmt.Errorf("instance %q names no container for owui to stop while it replaces %s: stop whatever uses it, then run again with --force", inst.Name, dir)
	}
	aside := asideName(dir, opts.Now)
	res.Aside = aside
	held := src.toHold(config.ConsistencyStop)
	for _, c := range held {
		res.Containers = append(res.Containers, c.Name)
	}
	res.Rollback = rollbackCommands(dir, aside, res.Containers)
	if opts.DryRun {
		res.Planned, err = planFiles(dir, m.Files)
		for i := range res.Planned {
			res.Planned[i].Exists = false // everything there is moved aside first
		}
		return err
	}
	if _, err := os.Lstat(aside); err == nil {
		return fmt.Errorf("%s exists already; not moving the data aside over it", aside)
	}
	st, err := e.fetchAll(ctx, t, res.Target, m, dir)
	if err != nil {
		return err
	}
	defer st.remove()
	if res.Uploads, err = checkUploads(ctx, st.dir, expected, opts); err != nil {
		return err
	}
	// The restored files reach the disk before the old data is moved
	// away, so that a power cut cannot leave the instance on files that
	// exist only in the page cache.
	syscall.Sync()
	if src.engine != nil && len(held) > 0 {
		undo, err := e.hold(ctx, src.engine, state.HoldStop, held)
		if err != nil {
			return err
		}
		defer func() {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*actionTimeout)
			defer cancel()
			_, uerr := undo(uctx)
			err = errors.Join(err, uerr)
		}()
	}
	var j journal
	if err := moveContents(&j, dir, aside, filepath.Base(st.dir)); err != nil {
		return errors.Join(err, j.undo())
	}
	if _, err := st.installWith(&j, dir, ""); err != nil {
		return errors.Join(err, j.undo())
	}
	e.hooks().Logf("restored %d files into %s; what was there is in %s", len(m.Files), dir, aside)
	return checkInstalled(dir, m.Files, res.Uploads.Rewritten > 0)
}

// moveContents renames every entry of dir but skip into aside, a new
// directory with dir's permissions.
func moveContents(j *journal, dir, aside, skip string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if err := os.Mkdir(aside, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("move the data aside: %w", err)
	}
	j.steps = append(j.steps, journalStep{to: aside})
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, ent := range entries {
		if ent.Name() == skip {
			continue
		}
		if err := j.rename(filepath.Join(dir, ent.Name()), filepath.Join(aside, ent.Name())); err != nil {
			return fmt.Errorf("move the data aside: %w", err)
		}
	}
	return nil
}

// rollbackCommands are the shell commands that put the moved-aside data
// back: the restored files go to a third directory, not away.
func rollbackCommands(dir, aside string, containers []string) []string {
	restored := dir + ".restored-" + strings.TrimPrefix(aside, dir+".before-restore-")
	var cmds []string
	if len(containers) > 0 {
		cmds = append(cmds, "docker stop "+strings.Join(containers, " "))
	}
	cmds = append(cmds,
		fmt.Sprintf("mkdir %s", shellQuote(restored)),
		fmt.Sprintf("find %s -mindepth 1 -maxdepth 1 -exec mv -t %s {} +", shellQuote(dir), shellQuote(restored)),
		fmt.Sprintf("find %s -mindepth 1 -maxdepth 1 -exec mv -t %s {} +", shellQuote(aside), shellQuote(dir)),
	)
	if len(containers) > 0 {
		cmds = append(cmds, "docker start "+strings.Join(containers, " "))
	}
	return cmds
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == ':' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
