package executor_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/owui/owui/executor"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/sample"
)

// restoreCase is a data directory snapshotted once to a local target.
type restoreCase struct {
	env     *env
	data    string
	remote  string
	m       *manifest.Manifest
	snapDir string
}

func newRestoreCase(t *testing.T, data string) *restoreCase {
	t.Helper()
	return newRestoreCaseWith(t, data, "")
}

// newRestoreCaseWith is newRestoreCase with extra attributes in the
// backup block.
func newRestoreCaseWith(t *testing.T, data, extra string) *restoreCase {
	t.Helper()
	remote := filepath.Join(t.TempDir(), "backups")
	e := newEnvWith(t, data, remote, extra, nil)
	res, _ := e.applyAt(t, context.Background(), time.Now())
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(filepath.Join(remote, "daily"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("target holds %v, %v", ents, err)
	}
	snapDir := filepath.Join(remote, "daily", ents[0].Name())
	b, err := os.ReadFile(filepath.Join(snapDir, manifest.FileName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return &restoreCase{env: e, data: data, remote: remote, m: m, snapDir: snapDir}
}

func (rc *restoreCase) restore(t *testing.T, opts executor.RestoreOptions) (*executor.RestoreResult, error) {
	t.Helper()
	opts.Backup = "daily"
	return rc.env.Restore(context.Background(), opts)
}

// tree lists every path under dir (nil when dir does not exist).
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestoreRejectsCraftedManifest: a manifest on the target that names
// ../ or absolute paths is refused with a clear error, and nothing is
// written inside or outside the destination.
func TestRestoreRejectsCraftedManifest(t *testing.T) {
	for name, bad := range map[string]string{
		"dotdot":   "../escaped.txt",
		"nested":   "uploads/../../escaped.txt",
		"absolute": "/tmp/escaped.txt",
	} {
		t.Run(name, func(t *testing.T) {
			rc := newRestoreCase(t, dataDir(t, 2))
			var raw map[string]any
			b, _ := os.ReadFile(filepath.Join(rc.snapDir, manifest.FileName))
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			files := raw["files"].([]any)
			files[len(files)-1].(map[string]any)["path"] = bad
			b, _ = json.Marshal(raw)
			if err := os.WriteFile(filepath.Join(rc.snapDir, manifest.FileName), b, 0o644); err != nil {
				t.Fatal(err)
			}
			parent := t.TempDir()
			dest := filepath.Join(parent, "restored")
			_, err := rc.restore(t, executor.RestoreOptions{Dir: dest, Snapshot: rc.m.Snapshot})
			if !errors.Is(err, manifest.ErrUnsafePath) || !strings.Contains(err.Error(), bad) {
				t.Fatalf("restore with %q in the manifest: %v, want an unsafe path error naming it", bad, err)
			}
			if got := tree(t, parent); len(got) != 1 {
				t.Errorf("restore wrote %v", got)
			}
		})
	}
}

// TestRestoreRefusesLinkInDestination: with --force into a directory that
// holds uploads -> elsewhere, restore refuses before writing anything, and
// nothing reaches the link's target.
func TestRestoreRefusesLinkInDestination(t *testing.T) {
	rc := newRestoreCase(t, dataDir(t, 2))
	dest := filepath.Join(t.TempDir(), "restored")
	outside := t.TempDir()
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dest, "uploads")); err != nil {
		t.Fatal(err)
	}
	for _, dry := range []bool{true, false} {
		_, err := rc.restore(t, executor.RestoreOptions{Dir: dest, Force: true, DryRun: dry})
		if !errors.Is(err, executor.ErrLinkInDestination) {
			t.Fatalf("restore (dry run %v) through uploads -> %s: %v, want ErrLinkInDestination", dry, outside, err)
		}
	}
	if got := tree(t, outside); len(got) != 1 {
		t.Errorf("restore wrote through the link: %v", got)
	}
	if got := tree(t, dest); len(got) != 2 {
		t.Errorf("restore left %v in the destination", got)
	}
}

// TestRestoreDryRunWritesNothing lists every file and creates nothing.
func TestRestoreDryRunWritesNothing(t *testing.T) {
	rc := newRestoreCase(t, dataDir(t, 3))
	dest := filepath.Join(t.TempDir(), "restored")
	res, err := rc.restore(t, executor.RestoreOptions{Dir: dest, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Planned) != len(rc.m.Files) {
		t.Errorf("dry run plans %d files, the manifest has %d", len(res.Planned), len(rc.m.Files))
	}
	if _, err := os.Lstat(dest); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run created %s (%v)", dest, err)
	}
}

// TestRestoreFailureLeavesNothing: a file altered on the target fails its
// checksum, and the destination is left as it was (here: absent), with
// no partial file or staging directory.
func TestRestoreFailureLeavesNothing(t *testing.T) {
	rc := newRestoreCase(t, dataDir(t, 3))
	var victim string
	for _, f := range rc.m.Files {
		if strings.HasPrefix(f.Path, "uploads/") {
			victim = filepath.Join(rc.snapDir, filepath.FromSlash(f.Path))
		}
	}
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 1
	os.Remove(victim) // a hard link to the source's upload: do not alter the source
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "restored")
	if _, err := rc.restore(t, executor.RestoreOptions{Dir: dest}); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("restore of an altered file: %v, want a sha256 mismatch", err)
	}
	if got := tree(t, dest); got != nil {
		t.Errorf("failed restore left %v", got)
	}
}

// TestRestoreForceMovesAside: with --force, a file in the way is moved to
// DIR.before-restore-<time>, not overwritten; progress reaches the total.
func TestRestoreForceMovesAside(t *testing.T) {
	rc := newRestoreCase(t, dataDir(t, 2))
	hooks := &progressHooks{}
	rc.env.Hooks = hooks
	dest := filepath.Join(t.TempDir(), "restored")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, "webui.db"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.restore(t, executor.RestoreOptions{Dir: dest}); !errors.Is(err, executor.ErrDestinationNotEmpty) {
		t.Fatalf("restore into a non-empty dir without --force: %v", err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res, err := rc.restore(t, executor.RestoreOptions{Dir: dest, Force: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	aside := dest + ".before-restore-20260102T030405Z"
	if res.Aside != aside || res.Replaced != 1 {
		t.Errorf("aside %q (%d replaced), want %q (1)", res.Aside, res.Replaced, aside)
	}
	if b, err := os.ReadFile(filepath.Join(aside, "webui.db")); err != nil || string(b) != "old" {
		t.Errorf("moved-aside webui.db: %q, %v", b, err)
	}
	if hooks.last != rc.m.TotalSize() || hooks.total != rc.m.TotalSize() {
		t.Errorf("progress ended at %d of %d, want %d", hooks.last, hooks.total, rc.m.TotalSize())
	}
}

type progressHooks struct {
	executor.NopHooks
	mu          sync.Mutex
	last, total int64
}

func (h *progressHooks) Progress(_, _ string, done, total int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = max(h.last, done)
	h.total = total
}

// TestRestoreRewriteUploadPaths: Open WebUI's absolute file.path rows are
// reported when they point outside DIR/uploads, and rewritten on request
// in the restored copy only.
func TestRestoreRewriteUploadPaths(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if _, err := sample.Generate(data, sample.Options{Scale: 0.002, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	rc := newRestoreCase(t, data)
	plain := filepath.Join(t.TempDir(), "plain")
	res, err := rc.restore(t, executor.RestoreOptions{Dir: plain})
	if err != nil {
		t.Fatal(err)
	}
	up := res.Uploads
	if up.Rows == 0 || up.Mismatched != up.Rows || !strings.HasPrefix(up.Example, sample.DefaultUploadPathPrefix+"/") || up.Expected != filepath.Join(plain, "uploads") {
		t.Errorf("plain restore: %+v, want every row reported against %s", up, filepath.Join(plain, "uploads"))
	}

	fixed := filepath.Join(t.TempDir(), "fixed")
	res, err = rc.restore(t, executor.RestoreOptions{Dir: fixed, RewriteUploads: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploads.Rewritten != up.Rows || res.Uploads.Mismatched != 0 {
		t.Errorf("rewrite: %+v, want %d rows rewritten", res.Uploads, up.Rows)
	}
	db, err := sql.Open("sqlite", filepath.Join(fixed, "webui.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT path FROM file`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		n++
		if _, err := os.Stat(p); err != nil || !strings.HasPrefix(p, filepath.Join(fixed, "uploads")+"/") {
			t.Errorf("rewritten path %q: %v", p, err)
		}
	}
	if n != up.Rows {
		t.Errorf("%d file rows after the rewrite, %d before", n, up.Rows)
	}
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check of the rewritten webui.db: %q, %v", check, err)
	}
}

// TestRestoreInPlaceDataDir: an instance without a container needs
// --force (owui cannot stop it); then its data is moved aside whole and
// the snapshot takes its place.
func TestRestoreInPlaceDataDir(t *testing.T) {
	data := dataDir(t, 2)
	rc := newRestoreCase(t, data)
	if err := os.WriteFile(filepath.Join(data, "after-snapshot.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.restore(t, executor.RestoreOptions{InPlace: true}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("in-place restore of an instance owui cannot stop: %v, want a refusal naming --force", err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	res, err := rc.restore(t, executor.RestoreOptions{InPlace: true, Force: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	aside := data + ".before-restore-20260102T030405Z"
	if res.Aside != aside || len(res.Rollback) == 0 {
		t.Errorf("aside %q, rollback %q", res.Aside, res.Rollback)
	}
	if _, err := os.Stat(filepath.Join(aside, "after-snapshot.txt")); err != nil {
		t.Errorf("the old data was not moved aside: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "after-snapshot.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir still holds a file the snapshot lacks (%v)", err)
	}
	if got, want := len(tree(t, data)), len(tree(t, aside))-1; got != want {
		t.Errorf("data dir holds %d paths after the restore, the old one %d plus the extra file", got, want+1)
	}
}
