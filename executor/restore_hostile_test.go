package executor_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/owui/owui/executor"
	"github.com/owui/owui/manifest"
)

// hostileSnapshot is a real snapshot on a local target, plus a directory
// outside everything (standing in for /etc) that symbolic links planted
// in the snapshot point at.
type hostileSnapshot struct {
	*restoreCase
	outside  string
	original []byte // the manifest as apply wrote it
	pristine string // a copy of the snapshot as apply wrote it
}

// newHostileSnapshot keeps rc's manifest and a copy of its snapshot as
// apply wrote them, for each case to be planted on and then undone.
func newHostileSnapshot(t *testing.T, rc *restoreCase) *hostileSnapshot {
	t.Helper()
	h := &hostileSnapshot{restoreCase: rc, outside: t.TempDir(), pristine: filepath.Join(t.TempDir(), "pristine")}
	var err error
	if h.original, err = os.ReadFile(filepath.Join(h.snapDir, manifest.FileName)); err != nil {
		t.Fatal(err)
	}
	if err := copyTree(h.snapDir, h.pristine); err != nil {
		t.Fatal(err)
	}
	return h
}

// undoAfter puts the snapshot back as apply wrote it when t ends.
func (h *hostileSnapshot) undoAfter(t *testing.T) {
	t.Cleanup(func() {
		if err := os.RemoveAll(h.snapDir); err != nil {
			t.Fatal(err)
		}
		if err := copyTree(h.pristine, h.snapDir); err != nil {
			t.Fatal(err)
		}
	})
}

// setManifest rewrites the snapshot's manifest through edit, which gets
// the manifest as generic JSON (so that it can hold wrong types) and its
// files array.
func (h *hostileSnapshot) setManifest(t *testing.T, edit func(m map[string]any, files []any)) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(h.original, &m); err != nil {
		t.Fatal(err)
	}
	edit(m, m["files"].([]any))
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	h.writeManifest(t, b)
}

func (h *hostileSnapshot) writeManifest(t *testing.T, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(h.snapDir, manifest.FileName), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// file returns the manifest entry (as generic JSON) of the first file
// whose path starts with prefix.
func file(t *testing.T, files []any, prefix string) map[string]any {
	t.Helper()
	for _, f := range files {
		if f := f.(map[string]any); strings.HasPrefix(f["path"].(string), prefix) {
			return f
		}
	}
	t.Fatalf("no file under %q in the manifest", prefix)
	return nil
}

// replace swaps rel in the snapshot for what make creates in its place.
// The old file is removed first: it may be a hard link to the source.
func (h *hostileSnapshot) replace(t *testing.T, rel string, make func(p string) error) {
	t.Helper()
	p := filepath.Join(h.snapDir, filepath.FromSlash(rel))
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := make(p); err != nil {
		t.Fatal(err)
	}
}

// fingerprint records every path under the given directories with its
// type, permissions, and content or link target, so that a change
// anywhere shows up in a diff.
func fingerprint(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) && p == dir {
				out[p] = "absent"
				return nil
			}
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			desc := fi.Mode().String()
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				to, err := os.Readlink(p)
				if err != nil {
					return err
				}
				desc += " -> " + to
			case fi.Mode().IsRegular():
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(b)
				desc += fmt.Sprintf(" %d %s", len(b), hex.EncodeToString(sum[:8]))
			}
			out[p] = desc
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestRestoreHostileSnapshot plants manifests and files on a local target
// as someone with write access to it could, and restores each. Every
// restore must fail with an error that names the problem and must leave
// everything as it was: no file written outside the --to directory, none
// left inside it, and the source and target untouched.
func TestRestoreHostileSnapshot(t *testing.T) {
	h := newHostileSnapshot(t, newRestoreCase(t, dataDir(t, 3)))
	passwd := filepath.Join(h.outside, "passwd")
	if err := os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	elsewhere := filepath.Join(h.outside, "elsewhere")
	if err := os.Mkdir(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	uploads, err := os.ReadDir(filepath.Join(h.snapDir, "uploads"))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range uploads { // same names, other bytes
		if err := os.WriteFile(filepath.Join(elsewhere, u.Name()), []byte("not the upload"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	type hostile struct {
		plant func(t *testing.T, h *hostileSnapshot)
		// want are substrings of the error; is, when set, a sentinel it wraps.
		want []string
		is   error
	}
	manifestEdit := func(edit func(m map[string]any, files []any)) func(*testing.T, *hostileSnapshot) {
		return func(t *testing.T, h *hostileSnapshot) { h.setManifest(t, edit) }
	}
	setPath := func(p string) func(*testing.T, *hostileSnapshot) {
		return manifestEdit(func(_ map[string]any, files []any) { file(t, files, "uploads/")["path"] = p })
	}
	tests := map[string]hostile{
		"size is a string": {
			plant: manifestEdit(func(_ map[string]any, files []any) { file(t, files, "webui.db")["size"] = "4096" }),
			want:  []string{"unparsable", "cannot unmarshal string", "size"},
		},
		"files is an object": {
			plant: manifestEdit(func(m map[string]any, _ []any) { m["files"] = map[string]any{"webui.db": 1} }),
			want:  []string{"unparsable", "cannot unmarshal object", "files"},
		},
		"format_version is a number": {
			plant: manifestEdit(func(m map[string]any, _ []any) { m["format_version"] = 1 }),
			want:  []string{"unparsable", "cannot unmarshal number", "format_version"},
		},
		"size 1<<62": {
			plant: manifestEdit(func(_ map[string]any, files []any) { file(t, files, "uploads/")["size"] = int64(1) << 62 }),
			want:  []string{"uploads/", "manifest says 4611686018427387904"},
		},
		"sizes past 2^63": {
			plant: manifestEdit(func(_ map[string]any, files []any) {
				for _, f := range files {
					f.(map[string]any)["size"] = int64(1) << 62
				}
			}),
			want: []string{"unparsable", "bad size 4611686018427387904"},
		},
		"negative size": {
			plant: manifestEdit(func(_ map[string]any, files []any) { file(t, files, "uploads/")["size"] = -1 }),
			want:  []string{"unparsable", "bad size -1"},
		},
		"dotdot path":         {plant: setPath("../escaped.txt"), want: []string{`"../escaped.txt"`}, is: manifest.ErrUnsafePath},
		"inner dotdot path":   {plant: setPath("uploads/../../../escaped.txt"), want: []string{`"uploads/../../../escaped.txt"`}, is: manifest.ErrUnsafePath},
		"absolute path":       {plant: setPath(passwd), want: []string{passwd}, is: manifest.ErrUnsafePath},
		"NUL byte in path":    {plant: setPath("uploads/x\x00/../../escaped"), want: []string{`\x00`}, is: manifest.ErrUnsafePath},
		"backslash in path":   {plant: setPath(`..\..\escaped.txt`), want: []string{`..\\..\\escaped.txt`}, is: manifest.ErrUnsafePath},
		"empty path":          {plant: setPath(""), want: []string{`unsafe path in manifest: ""`}, is: manifest.ErrUnsafePath},
		"staging name":        {plant: setPath(".owui-restore-x/y"), want: []string{"staging directory"}, is: manifest.ErrUnsafePath},
		"manifest names self": {plant: setPath(manifest.FileName), want: []string{"names the manifest itself"}},
		"duplicate path": {
			plant: manifestEdit(func(_ map[string]any, files []any) { file(t, files, "uploads/")["path"] = "webui.db" }),
			want:  []string{`"webui.db" listed twice`},
		},
		"file and directory": {
			plant: manifestEdit(func(m map[string]any, files []any) {
				dup := map[string]any{}
				for k, v := range file(t, files, "uploads/") {
					dup[k] = v
				}
				dup["path"] = "uploads"
				m["files"] = append(files, dup)
			}),
			want: []string{`"uploads" is listed as a file`},
		},
		"uppercase sha256": {
			plant: manifestEdit(func(_ map[string]any, files []any) {
				f := file(t, files, "uploads/")
				f["sha256"] = strings.ToUpper(f["sha256"].(string))
			}),
			want: []string{"unparsable", "bad sha256"},
		},
		"snapshot field climbs": {
			plant: manifestEdit(func(m map[string]any, _ []any) { m["snapshot"] = "../../outside" }),
			want:  []string{`"../../outside" is not a single path segment`},
			is:    manifest.ErrUnsafePath,
		},
		"future format": {
			plant: manifestEdit(func(m map[string]any, _ []any) { m["format_version"] = "2" }),
			want:  []string{"unsupported format_version"},
		},
		"trailing data": {
			plant: func(t *testing.T, h *hostileSnapshot) { h.writeManifest(t, append(h.original, `{"files":[]}`...)) },
			want:  []string{"unparsable", "after top-level value"},
		},
		"100 MB of garbage": {
			plant: func(t *testing.T, h *hostileSnapshot) {
				if testing.Short() {
					t.Skip("writes a 100 MB manifest")
				}
				h.writeManifest(t, []byte("{\"format_version\":\"1\",\x00garbage"))
				if err := os.Truncate(filepath.Join(h.snapDir, manifest.FileName), 100<<20); err != nil {
					t.Fatal(err)
				}
			},
			// Refused by its size before a byte of it is read.
			want: []string{"unparsable", "more than the"},
		},
		"webui.db is a symlink to a file outside": {
			plant: func(t *testing.T, h *hostileSnapshot) {
				h.replace(t, "webui.db", func(p string) error { return os.Symlink(passwd, p) })
			},
			want: []string{"webui.db", "is a symbolic link"},
		},
		"uploads is a symlink to a directory outside": {
			plant: func(t *testing.T, h *hostileSnapshot) {
				h.replace(t, "uploads", func(p string) error { return os.Symlink(elsewhere, p) })
			},
			want: []string{"uploads", "is a symbolic link"},
		},
		"a file is a directory on the target": {
			plant: func(t *testing.T, h *hostileSnapshot) {
				h.replace(t, "webui.db", func(p string) error { return os.MkdirAll(filepath.Join(p, "x"), 0o755) })
			},
			want: []string{"download webui.db"},
		},
		"a file is longer than the manifest says": {
			plant: func(t *testing.T, h *hostileSnapshot) {
				h.replace(t, "webui.db", func(p string) error { return os.WriteFile(p, make([]byte, 8<<20), 0o644) })
			},
			want: []string{"check webui.db", "more than the", "bytes the manifest says"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h.undoAfter(t)
			tc.plant(t, h)

			parent := t.TempDir()
			dest := filepath.Join(parent, "restored")
			watched := []string{parent, h.outside, h.data, h.remote}
			before := fingerprint(t, watched...)
			_, err := h.restore(t, executor.RestoreOptions{Dir: dest, Snapshot: h.m.Snapshot})
			if err == nil {
				t.Fatal("restore succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("restore error does not say %q:\n%v", w, err)
				}
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("restore error does not wrap %v:\n%v", tc.is, err)
			}
			if diff := cmp.Diff(before, fingerprint(t, watched...)); diff != "" {
				t.Errorf("restore changed files (-before +after):\n%s", diff)
			}
		})
	}
}

// copyTree copies the directory from to to, with permissions; the copy
// shares no inode with the original.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, fi.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, fi.Mode().Perm())
	})
}

// TestRestoreReadsNoLinkOnTarget: a snapshot whose uploads/ is a symbolic
// link to a directory outside the target must not restore, even when the
// files there match the manifest: restore reads the snapshot, nothing
// else on the machine.
func TestRestoreReadsNoLinkOnTarget(t *testing.T) {
	rc := newRestoreCase(t, dataDir(t, 2))
	moved := filepath.Join(t.TempDir(), "uploads")
	if err := copyTree(filepath.Join(rc.snapDir, "uploads"), moved); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(rc.snapDir, "uploads")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(moved, filepath.Join(rc.snapDir, "uploads")); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "restored")
	if _, err := rc.restore(t, executor.RestoreOptions{Dir: dest, Snapshot: rc.m.Snapshot}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("restore through uploads -> %s: %v, want a refusal naming the symbolic link", moved, err)
	}
}
