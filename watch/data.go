package watch

import (
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/fsnotify/fsnotify"

	"github.com/owui/owui/config"
)

// dataWatch watches the data directories of the backups with a change
// trigger: each directory that a backup includes, recursively, since
// fsnotify watches one directory at a time.
type dataWatch struct {
	fs    *fsnotify.Watcher
	log   *slog.Logger
	roots map[string]*root // data dir → who watches it
	dirs  map[string]bool  // directories added to fs
}

type root struct {
	dir     string
	backups []*config.Backup
}

func newDataWatch(fsw *fsnotify.Watcher, log *slog.Logger) *dataWatch {
	return &dataWatch{fs: fsw, log: log, roots: map[string]*root{}, dirs: map[string]bool{}}
}

// set replaces the watched directories with those of p's change triggers.
func (d *dataWatch) set(p *config.Policy) {
	for dir := range d.dirs {
		_ = d.fs.Remove(dir)
	}
	d.dirs = map[string]bool{}
	d.roots = map[string]*root{}
	for _, b := range p.Backups {
		if b.Trigger == nil || !b.Trigger.OnChange {
			continue
		}
		inst := p.Instance(b.Instance)
		if inst == nil || inst.DataDir == "" {
			d.log.Warn("change trigger needs a data_dir instance; Docker volumes are not watched yet", "backup", b.Name)
			continue
		}
		r := d.roots[inst.DataDir]
		if r == nil {
			r = &root{dir: inst.DataDir}
			d.roots[inst.DataDir] = r
		}
		r.backups = append(r.backups, b)
	}
	for _, r := range d.roots {
		d.addTree(r, r.dir)
	}
}

// addTree watches dir and the directories below it that some backup of r
// may copy.
func (d *dataWatch) addTree(r *root, dir string) {
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			return nil
		}
		if !e.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(r.dir, path)
		rel = filepath.ToSlash(rel)
		if rel != "." && !anyWants(r.backups, rel, true) {
			return filepath.SkipDir
		}
		if d.dirs[path] {
			return nil
		}
		if err := d.fs.Add(path); err != nil {
			d.log.Warn("cannot watch directory", "path", path, "error", err.Error())
			return nil
		}
		d.dirs[path] = true
		return nil
	})
	if err != nil {
		d.log.Warn("cannot watch data directory", "path", dir, "error", err.Error())
	}
}

// changed returns the backups an event concerns, and starts watching
// directories that appear.
func (d *dataWatch) changed(ev fsnotify.Event) []string {
	path := filepath.Clean(ev.Name)
	var out []string
	for _, r := range d.roots {
		rel, err := filepath.Rel(r.dir, path)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
			continue
		}
		rel = filepath.ToSlash(rel)
		if ev.Has(fsnotify.Create) {
			if info, err := lstatDir(path); err == nil && info {
				if anyWants(r.backups, rel, true) {
					d.addTree(r, path)
				}
			}
		}
		if !relevant(ev, rel) {
			continue
		}
		rel = strings.TrimSuffix(rel, "-wal")
		for _, b := range r.backups {
			if wants(b, rel, false) {
				out = append(out, b.Name)
			}
		}
	}
	return out
}

// relevant filters out events that do not change what a snapshot holds:
// attribute changes, SQLite's shared-memory and rollback-journal files
// (touched by readers too, owui's own backups included), and a WAL file
// being created or removed without a write to it.
func relevant(ev fsnotify.Event, rel string) bool {
	if !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Remove) && !ev.Has(fsnotify.Rename) {
		return false
	}
	base := filepath.Base(rel)
	switch {
	case strings.HasSuffix(base, "-shm"), strings.HasSuffix(base, "-journal"):
		return false
	case strings.HasSuffix(base, "-wal"):
		return ev.Has(fsnotify.Write)
	}
	return true
}

// wants reports whether backup b copies rel (a directory: whether it may
// copy something below it).
func wants(b *config.Backup, rel string, dir bool) bool {
	probe := rel
	if dir {
		probe = rel + "/\x00" // any name below rel
	}
	for _, ex := range b.Exclude {
		if match(ex, rel) || match(ex, probe) {
			return false
		}
	}
	if len(b.Include) == 0 {
		return true
	}
	for _, in := range b.Include {
		if match(in, rel) || match(in, probe) {
			return true
		}
		if dir && strings.HasPrefix(in, rel+"/") {
			return true
		}
	}
	return false
}

func anyWants(bs []*config.Backup, rel string, dir bool) bool {
	for _, b := range bs {
		if wants(b, rel, dir) {
			return true
		}
	}
	return false
}

func match(pattern, name string) bool {
	ok, _ := doublestar.Match(pattern, name)
	return ok
}
