package stage

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/bmatcuk/doublestar/v4"
)

// sideSuffixes name the files SQLite keeps beside a database. The backup API
// reads their content through the database, so they are never copied.
var sideSuffixes = []string{"-wal", "-shm", "-journal"}

// immutableDir holds files that are written once and never modified.
const immutableDir = "uploads/"

// Listing is what Scan found.
type Listing struct {
	Entries []Entry  // regular files to capture, sorted by Rel
	Skipped []string // notes on files left out that are not regular (symlinks, sockets, devices, pipes)
}

// Walk lists the regular files of dataDir to capture; see Scan.
func Walk(dataDir string, include, exclude []string) ([]Entry, error) {
	l, err := Scan(dataDir, include, exclude)
	if err != nil {
		return nil, err
	}
	return l.Entries, nil
}

// Scan lists the regular files of dataDir, sorted by path, with their kind.
// Patterns are doublestar globs on the slash-separated relative path; a
// pattern that matches a directory matches everything below it, so
// "cache/**" and "cache" both leave out the cache directory. An empty
// include means everything. Exclude wins over include. Symlinks are not
// followed. The -wal, -shm and -journal files of a SQLite database are left
// out: SnapshotSQLite captures their content.
func Scan(dataDir string, include, exclude []string) (*Listing, error) {
	for _, p := range append(append([]string(nil), include...), exclude...) {
		if !doublestar.ValidatePattern(p) {
			return nil, fmt.Errorf("scan %s: bad pattern %q", dataDir, p)
		}
	}
	l := &Listing{}
	err := filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		// A file the app removes between being listed and being looked at
		// (a SQLite -journal lives for one commit) is simply not there.
		if vanished(err) && p != dataDir {
			return nil
		}
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dataDir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if matchAny(exclude, rel) {
				return filepath.SkipDir
			}
			return nil
		}
		if matchSelfOrParent(exclude, rel) || (len(include) > 0 && !matchSelfOrParent(include, rel)) {
			return nil
		}
		if !d.Type().IsRegular() {
			l.Skipped = append(l.Skipped, fmt.Sprintf("%s: %s, not a regular file", rel, typeName(d.Type())))
			return nil
		}
		info, err := d.Info()
		if vanished(err) {
			return nil
		}
		if err != nil {
			return err
		}
		e := Entry{Rel: rel, Size: info.Size(), ModTime: info.ModTime(), Mode: info.Mode(), Kind: Other}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			e.Inode = st.Ino
		}
		if strings.HasPrefix(rel, immutableDir) {
			e.Kind = Immutable
		} else if ok, err := IsSQLite(p); vanished(err) {
			return nil
		} else if err != nil {
			return err
		} else if ok {
			e.Kind = SQLite
		}
		l.Entries = append(l.Entries, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", dataDir, err)
	}
	if l.Entries, err = dropSideFiles(dataDir, l.Entries); err != nil {
		return nil, fmt.Errorf("scan %s: %w", dataDir, err)
	}
	sort.Slice(l.Entries, func(i, j int) bool { return l.Entries[i].Rel < l.Entries[j].Rel })
	return l, nil
}

func vanished(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// dropSideFiles removes the journal files of SQLite databases. The database
// is looked at on disk, not in entries, so that a side file is dropped even
// when its database is excluded by a pattern.
func dropSideFiles(dataDir string, entries []Entry) ([]Entry, error) {
	isDB := map[string]bool{}
	out := entries[:0]
	for _, e := range entries {
		base, ok := sideFileBase(e.Rel)
		if ok && e.Kind != Immutable {
			db, seen := isDB[base]
			if !seen {
				var err error
				db, err = IsSQLite(filepath.Join(dataDir, filepath.FromSlash(base)))
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return nil, err
				}
				isDB[base] = db
			}
			if db {
				continue
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func sideFileBase(rel string) (string, bool) {
	for _, s := range sideSuffixes {
		if base, ok := strings.CutSuffix(rel, s); ok && base != "" && !strings.HasSuffix(base, "/") {
			return base, true
		}
	}
	return "", false
}

func matchAny(patterns []string, rel string) bool {
	for _, p := range patterns {
		if doublestar.MatchUnvalidated(p, rel) {
			return true
		}
	}
	return false
}

// matchSelfOrParent reports whether rel or one of its parent directories
// matches: "vector_db" as an include means the whole directory.
func matchSelfOrParent(patterns []string, rel string) bool {
	for p := rel; p != "." && p != ""; p = path.Dir(p) {
		if matchAny(patterns, p) {
			return true
		}
	}
	return false
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink (not followed)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeDevice != 0:
		return "device"
	default:
		return "irregular file"
	}
}

func joinRel(dir, rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }
