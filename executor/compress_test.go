package executor_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	rfs "github.com/rclone/rclone/fs"

	"github.com/owui/owui/executor"
	"github.com/owui/owui/internal/s3test"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/planner"
)

const zstdOn = `compression = "zstd"`

// fillChats makes webui.db worth compressing: rows of chat-like text.
func fillChats(t *testing.T, data string, n int) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(data, "webui.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range n {
		body := strings.Repeat("the model answered the question about backups. ", 20+i%7)
		if _, err := db.Exec("INSERT INTO chat (body) VALUES (?)", body); err != nil {
			t.Fatal(err)
		}
	}
}

func manifestFile(t *testing.T, m *manifest.Manifest, path string) manifest.File {
	t.Helper()
	for _, f := range m.Files {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("snapshot %s has no %s", m.Snapshot, path)
	return manifest.File{}
}

// TestCompressedSnapshots: with compression = "zstd" the SQLite copies are
// stored as <path>.zst, described in the manifest, and restore and verify
// --read-data give back the database byte for byte; an unchanged database
// re-uses the stored object; turning compression off stores it plainly
// again. Local and S3 targets.
func TestCompressedSnapshots(t *testing.T) {
	for _, kind := range []string{"local", "s3"} {
		t.Run(kind, func(t *testing.T) {
			data := dataDir(t, 3)
			fillChats(t, data, 400)
			var remote, dir string // dir: where the remote's files are
			switch kind {
			case "local":
				remote = filepath.Join(t.TempDir(), "backups")
				dir = remote
			case "s3":
				srv := s3test.StartServer(t)
				remote = srv.Remote
				dir = filepath.Join(srv.Dir, s3test.Bucket)
			}
			ctx := context.Background()
			logs := &logHooks{}
			e := newEnvWith(t, data, remote, zstdOn, logs)
			const compressedLog = "compressed the SQLite copies"

			res, _ := e.applyAt(t, ctx, t0)
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if !logs.contains(compressedLog) {
				t.Errorf("the first apply did not log %q", compressedLog)
			}
			id1 := planner.SnapshotID(t0)
			m1 := readManifest(t, dir, id1)
			db := manifestFile(t, m1, "webui.db")
			if db.Stored == nil || db.Stored.Encoding != manifest.EncodingZstd {
				t.Fatalf("webui.db stored as %+v, want zstd", db.Stored)
			}
			if db.Stored.Size*2 > db.Size {
				t.Errorf("webui.db: %d bytes stored for %d, want at least 2:1", db.Stored.Size, db.Size)
			}
			if _, err := os.Stat(filepath.Join(dir, "daily", id1, "webui.db")); !os.IsNotExist(err) {
				t.Errorf("the plain webui.db is on the target too (%v)", err)
			}
			if up := manifestFile(t, m1, "uploads/00000000-0000-4000-8000-000000000000_note0.txt"); up.Stored != nil {
				t.Errorf("an upload was compressed: %+v", up.Stored)
			}
			checkZstdObject(t, filepath.Join(dir, "daily", id1, "webui.db.zst"), db)

			want := fileSHA(t, filepath.Join(data, "webui.db"))
			checkRestoredDB(t, e, id1, want)
			if v, err := e.Verify(ctx, "daily", "t", id1, true); err != nil || !v.OK() {
				t.Fatalf("verify --read-data: %v %v", err, v)
			}

			// Nothing changed: the copy is not compressed again, and the
			// stored object is re-used, not sent.
			logs.lines = nil
			res, _ = e.applyAt(t, ctx, t0.Add(25*time.Hour))
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if o := snapshotOutcome(t, res); o.Uploaded != 0 {
				t.Errorf("unchanged data: %d files uploaded (%d bytes), want 0", o.Uploaded, o.BytesUploaded)
			}
			if logs.contains(compressedLog) {
				t.Errorf("unchanged data: the copy was compressed again")
			}
			id2 := planner.SnapshotID(t0.Add(25 * time.Hour))
			if got := manifestFile(t, readManifest(t, dir, id2), "webui.db"); !manifest.SameStored(got, db) || got.SHA256 != db.SHA256 {
				t.Errorf("second snapshot stores webui.db as %+v, want the first's %+v", got.Stored, db.Stored)
			}

			// The previous object is gone: the copy is compressed when it
			// has to be sent, to the very object the manifest records.
			removeObject(t, remote, "daily/"+id2+"/webui.db.zst")
			logs.lines = nil
			res, _ = e.applyAt(t, ctx, t0.Add(50*time.Hour))
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			if logs.contains(compressedLog) {
				t.Errorf("the copy was compressed before it was known to be needed")
			}
			if o := snapshotOutcome(t, res); o.Uploaded != 1 || o.BytesUploaded != db.Stored.Size {
				t.Errorf("previous object gone: %d files, %d bytes uploaded; want webui.db.zst alone, %d bytes", o.Uploaded, o.BytesUploaded, db.Stored.Size)
			}
			id3 := planner.SnapshotID(t0.Add(50 * time.Hour))
			if got := manifestFile(t, readManifest(t, dir, id3), "webui.db"); !manifest.SameStored(got, db) {
				t.Errorf("third snapshot stores webui.db as %+v, want %+v", got.Stored, db.Stored)
			}
			checkZstdObject(t, filepath.Join(dir, "daily", id3, "webui.db.zst"), db)

			// Compression off: the next snapshot stores webui.db plainly.
			plain := newEnvWith(t, data, remote, `compression = "none"`, nil)
			plain.Store, plain.StateDir = e.Store, e.StateDir
			res, _ = plain.applyAt(t, ctx, t0.Add(75*time.Hour))
			if err := res.Err(); err != nil {
				t.Fatal(err)
			}
			id4 := planner.SnapshotID(t0.Add(75 * time.Hour))
			if got := manifestFile(t, readManifest(t, dir, id4), "webui.db"); got.Stored != nil || got.SHA256 != db.SHA256 {
				t.Errorf("with compression off webui.db is stored as %+v", got.Stored)
			}
			if o := snapshotOutcome(t, res); o.Uploaded != 1 {
				t.Errorf("compression off: %d files uploaded, want webui.db alone", o.Uploaded)
			}
			if _, err := os.Stat(filepath.Join(dir, "daily", id4, "webui.db")); err != nil {
				t.Errorf("plain webui.db: %v", err)
			}
			checkRestoredDB(t, plain, id4, want)
			// And the compressed snapshots still restore under it.
			checkRestoredDB(t, plain, id1, want)
		})
	}
}

// removeObject deletes one object through the remote itself (a file
// removed behind an S3 server's back stays in its listings a while).
func removeObject(t *testing.T, remote, key string) {
	t.Helper()
	ctx := context.Background()
	f, err := rfs.NewFs(ctx, remote)
	if err != nil {
		t.Fatal(err)
	}
	o, err := f.NewObject(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Remove(ctx); err != nil {
		t.Fatal(err)
	}
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// checkRestoredDB restores snapshot id and checks that its webui.db is the
// one the manifest describes, and holds want's rows.
func checkRestoredDB(t *testing.T, e *env, id, wantSHA string) {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "restored")
	res, err := e.Restore(context.Background(), executor.RestoreOptions{Backup: "daily", Target: "t", Snapshot: id, Dir: dst})
	if err != nil {
		t.Fatalf("restore %s: %v", id, err)
	}
	f := manifestFile(t, res.Manifest, "webui.db")
	if got := fileSHA(t, filepath.Join(dst, "webui.db")); got != f.SHA256 {
		t.Errorf("restored webui.db of %s has sha256 %s, manifest says %s", id, got, f.SHA256)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dst, "webui.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM chat").Scan(&n); err != nil || n != 402 {
		t.Errorf("restored webui.db of %s holds %d chats (%v), want 402", id, n, err)
	}
}

// checkZstdObject checks that the stored object is what the manifest says,
// and that a plain zstd decoder (the command line where installed, as a
// user without owui would use it, and the Go decoder) gives back the
// database's bytes.
func checkZstdObject(t *testing.T, p string, f manifest.File) {
	t.Helper()
	if got := fileSHA(t, p); got != f.Stored.SHA256 {
		t.Errorf("%s: sha256 %s, manifest says stored %s", p, got, f.Stored.SHA256)
	}
	packed, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	raw, err := dec.DecodeAll(packed, nil)
	sum := sha256.Sum256(raw)
	if err != nil || hex.EncodeToString(sum[:]) != f.SHA256 {
		t.Errorf("zstd decodes %s to %d bytes with sha256 %x (%v), want the manifest's %s", p, len(raw), sum, err, f.SHA256)
	}
	if _, err := exec.LookPath("zstd"); err != nil {
		if os.Getenv("OWUI_REQUIRE_ZSTD") != "" {
			t.Fatal("zstd is not installed (OWUI_REQUIRE_ZSTD is set)")
		}
		t.Log("no zstd command line: skipped decoding with it")
		return
	}
	out, err := exec.Command("zstd", "-d", "-c", p).Output()
	if err != nil || !bytes.Equal(out, raw) {
		t.Errorf("zstd -d -c %s: %d bytes, %v; want the database's %d", p, len(out), err, len(raw))
	}
}

// TestRestoreHostileCompressedSnapshot: a compressed object that is not
// what the manifest says (a zstd bomb, corrupted or plain bytes, an unknown
// encoding) fails restore with the file named and nothing installed, and
// fails verify --read-data.
func TestRestoreHostileCompressedSnapshot(t *testing.T) {
	h := newHostileSnapshot(t, newRestoreCaseWith(t, dataDir(t, 3), zstdOn))
	obj := filepath.Join(h.snapDir, "webui.db.zst")
	// plantObject puts body in place of the stored object, and (with
	// matching) the manifest's stored size and hash to match it.
	plantObject := func(t *testing.T, body []byte, matching bool) {
		t.Helper()
		h.replace(t, "webui.db.zst", func(p string) error { return os.WriteFile(p, body, 0o644) })
		if !matching {
			return
		}
		sum := sha256.Sum256(body)
		h.setManifest(t, func(_ map[string]any, files []any) {
			file(t, files, "webui.db")["stored"] = map[string]any{"encoding": "zstd", "size": len(body), "sha256": hex.EncodeToString(sum[:])}
		})
	}
	zstdOf := func(t *testing.T, raw []byte) []byte {
		t.Helper()
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		return enc.EncodeAll(raw, nil)
	}
	dbBytes, err := os.ReadFile(filepath.Join(h.data, "webui.db"))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		plant func(t *testing.T)
		want  []string
	}{
		"unknown encoding": {
			plant: func(t *testing.T) {
				h.setManifest(t, func(_ map[string]any, files []any) {
					file(t, files, "webui.db")["stored"].(map[string]any)["encoding"] = "gzip"
				})
			},
			want: []string{"webui.db", `unknown encoding "gzip"`},
		},
		"zstd bomb": {
			// 256 MiB of zeros in a few KB: decompression stops at the
			// database's size.
			plant: func(t *testing.T) { plantObject(t, zstdOf(t, make([]byte, 256<<20)), true) },
			want:  []string{"check webui.db", "more than the", "bytes the manifest says"},
		},
		"corrupted object": {
			plant: func(t *testing.T) {
				b, err := os.ReadFile(obj)
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)/2] ^= 0xff
				plantObject(t, b, false)
			},
			want: []string{"webui.db"},
		},
		"corrupted object, manifest to match": {
			plant: func(t *testing.T) {
				raw := bytes.Clone(dbBytes)
				raw[len(raw)/2] ^= 0xff
				plantObject(t, zstdOf(t, raw), true)
			},
			want: []string{"check webui.db", "sha256"},
		},
		"plain bytes stored as zstd": {
			plant: func(t *testing.T) { plantObject(t, dbBytes, true) },
			want:  []string{"decompress webui.db.zst"},
		},
		"object longer than the manifest says": {
			plant: func(t *testing.T) {
				b, err := os.ReadFile(obj)
				if err != nil {
					t.Fatal(err)
				}
				plantObject(t, append(b, make([]byte, 1<<20)...), false)
			},
			want: []string{"webui.db.zst"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h.undoAfter(t)
			tc.plant(t)
			dest := filepath.Join(t.TempDir(), "restored")
			_, err := h.restore(t, executor.RestoreOptions{Dir: dest, Snapshot: h.m.Snapshot})
			if err == nil {
				t.Fatal("restore succeeded")
			}
			t.Logf("restore: %v", err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("restore error does not say %q:\n%v", w, err)
				}
			}
			if _, serr := os.Stat(dest); !os.IsNotExist(serr) {
				t.Errorf("restore left %s behind: %v", dest, serr)
			}
			v, err := h.env.Verify(context.Background(), "daily", "t", h.m.Snapshot, true)
			if err == nil && v.OK() {
				t.Error("verify --read-data found nothing wrong")
			}
		})
	}
}
