// Package targettest is the conformance suite every kind of target (local
// directory, S3, crypt over either, …) must pass, in the manner of rclone's
// fstest/fstests.
package targettest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/manifest"
)

const backup = "daily"

// A file of a snapshot: its path inside the snapshot and its content.
type file struct {
	rel  string
	data []byte
}

// files is a small Open WebUI snapshot: a database, a nested Chroma segment
// file, an empty upload and a multi-megabyte upload.
func files() []file {
	big := make([]byte, 3<<20+17)
	if _, err := rand.Read(big); err != nil {
		panic(err)
	}
	return []file{
		{"webui.db", []byte("SQLite format 3\x00 pretend database")},
		{"vector_db/0b6f6f6e-3c1f-4a8e-9d3c-5f2b8f1c2a10/data_level0.bin", bytes.Repeat([]byte{0xab}, 4096)},
		{"uploads/empty.txt", nil},
		{"uploads/big.bin", big},
	}
}

// Run runs the suite. open must return a new target with nothing under it,
// and is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) *target.Target) {
	t.Run("EmptyListing", func(t *testing.T) {
		tg := open(t)
		got, err := tg.ListSnapshots(context.Background(), backup)
		if err != nil || len(got) != 0 {
			t.Fatalf("ListSnapshots of a new target = %v, %v; want empty, nil", got, err)
		}
	})
	t.Run("CompleteSnapshot", func(t *testing.T) { testComplete(t, open(t)) })
	t.Run("MissingManifest", func(t *testing.T) {
		tg := open(t)
		ctx := context.Background()
		put(t, tg, "2026-11-26T030000Z", file{"webui.db", []byte("x")})
		got := list(t, tg)
		if len(got) != 1 || got[0].ID != "2026-11-26T030000Z" || got[0].Complete() || got[0].Problem == "" {
			t.Fatalf("ListSnapshots = %+v, want one incomplete snapshot with a Problem", got)
		}
		if _, err := tg.ReadManifest(ctx, backup, "2026-11-26T030000Z"); err == nil {
			t.Error("ReadManifest of a snapshot without manifest succeeded")
		}
	})
	t.Run("CorruptManifest", func(t *testing.T) {
		tg := open(t)
		id := "2026-11-26T030000Z"
		put(t, tg, id, file{"webui.db", []byte("x")}, file{manifest.FileName, []byte(`{"format_version": "1", "files": [`)})
		got := list(t, tg)
		if len(got) != 1 || got[0].Complete() || !strings.Contains(got[0].Problem, "unparsable") {
			t.Fatalf("ListSnapshots = %+v, want one snapshot with an unparsable manifest", got)
		}
	})
	t.Run("DotNamesIgnored", func(t *testing.T) {
		tg := open(t)
		put(t, tg, ".owui-staging", file{"webui.db", []byte("x")})
		complete(t, tg, "2026-11-26T030000Z", files()[:1])
		got := list(t, tg)
		if len(got) != 1 || got[0].ID != "2026-11-26T030000Z" {
			t.Fatalf("ListSnapshots = %+v, want only 2026-11-26T030000Z", got)
		}
	})
	t.Run("SortedByID", func(t *testing.T) {
		tg := open(t)
		ids := []string{"2026-11-27T030000Z", "2026-11-25T030000Z", "2026-11-26T030000Z"}
		for _, id := range ids {
			complete(t, tg, id, files()[:1])
		}
		var got []string
		for _, l := range list(t, tg) {
			got = append(got, l.ID)
		}
		want := []string{"2026-11-25T030000Z", "2026-11-26T030000Z", "2026-11-27T030000Z"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("ListSnapshots IDs (-want +got):\n%s", diff)
		}
	})
	t.Run("CopyExisting", func(t *testing.T) { testCopyExisting(t, open(t)) })
	t.Run("DeleteSnapshot", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("Lease", func(t *testing.T) { testLease(t, open(t)) })
}

// testLease checks the lease object's life: none, created, refused a second
// time, read back as written, never listed as a snapshot, replaced, deleted.
func testLease(t *testing.T, tg *target.Target) {
	ctx := context.Background()
	if l, err := tg.ReadLease(ctx, backup); err != nil || l != nil {
		t.Fatalf("ReadLease of a new target = %v, %v; want nil, nil", l, err)
	}
	started := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	mine := target.Lease{Holder: "a", Host: "h1", PID: 1, Command: "apply", Started: started, Expires: started.Add(time.Hour)}
	if err := tg.CreateLease(ctx, backup, &mine); err != nil {
		t.Fatalf("CreateLease: %v", err)
	}
	theirs := mine
	theirs.Holder, theirs.Host = "b", "h2"
	if err := tg.CreateLease(ctx, backup, &theirs); !errors.Is(err, target.ErrLeaseExists) {
		t.Fatalf("second CreateLease = %v, want ErrLeaseExists", err)
	}
	got, err := tg.ReadLease(ctx, backup)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&mine, got); diff != "" {
		t.Fatalf("ReadLease (-want +got):\n%s", diff)
	}
	complete(t, tg, "2026-11-26T030000Z", files()[:1])
	if l := list(t, tg); len(l) != 1 {
		t.Fatalf("ListSnapshots = %+v, want the one snapshot and not the lease", l)
	}
	if err := tg.CleanLeaseLeftovers(ctx, backup); err != nil {
		t.Fatal(err)
	}
	if err := tg.ReplaceLease(ctx, backup, &theirs); err != nil {
		t.Fatal(err)
	}
	if got, err := tg.ReadLease(ctx, backup); err != nil || got.Holder != "b" {
		t.Fatalf("ReadLease after ReplaceLease = %+v, %v; want holder b", got, err)
	}
	if err := tg.DeleteLease(ctx, backup); err != nil {
		t.Fatal(err)
	}
	if err := tg.DeleteLease(ctx, backup); err != nil {
		t.Fatalf("DeleteLease of no lease: %v", err)
	}
	if l, err := tg.ReadLease(ctx, backup); err != nil || l != nil {
		t.Fatalf("ReadLease after DeleteLease = %v, %v; want nil, nil", l, err)
	}
	if err := tg.CreateLease(ctx, backup, &theirs); err != nil {
		t.Fatalf("CreateLease after DeleteLease: %v", err)
	}
}

func testComplete(t *testing.T, tg *target.Target) {
	ctx := context.Background()
	id := "2026-11-26T030000Z"
	fs := files()
	before := tg.Stats()
	want := complete(t, tg, id, fs)
	got := list(t, tg)
	if len(got) != 1 || got[0].ID != id || got[0].Problem != "" {
		t.Fatalf("ListSnapshots = %+v, want one complete snapshot %s", got, id)
	}
	if sum := got[0].Manifest; sum == nil || !sum.CreatedAt.Equal(want.CreatedAt) || sum.Bytes != want.TotalSize() ||
		sum.Files != len(want.Files) || len(sum.SHA256) != 64 || sum.Size <= 0 || sum.ModTime.IsZero() {
		t.Errorf("listed summary %+v does not match the manifest written (created %s, %d bytes, %d files)",
			got[0].Manifest, want.CreatedAt, want.TotalSize(), len(want.Files))
	}
	m, err := tg.ReadManifest(ctx, backup, id)
	if err != nil {
		t.Fatalf("ReadManifest: %v", err)
	}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("ReadManifest (-want +got):\n%s", diff)
	}
	for _, f := range fs {
		checkContent(t, tg, id, f)
	}
	after := tg.Stats()
	if n := after.FilesUploaded - before.FilesUploaded; n != int64(len(fs)) {
		t.Errorf("Stats().FilesUploaded grew by %d, want %d", n, len(fs))
	}
	if sent := after.BytesUploaded - before.BytesUploaded; sent < want.TotalSize() {
		t.Errorf("Stats().BytesUploaded grew by %d, want at least the %d bytes of the files", sent, want.TotalSize())
	}
}

func testCopyExisting(t *testing.T, tg *target.Target) {
	ctx := context.Background()
	from, to := "2026-11-26T030000Z", "2026-11-27T030000Z"
	fs := files()
	complete(t, tg, from, fs)
	for _, f := range fs {
		before := tg.Stats()
		ok, err := tg.CopyExisting(ctx, backup, from, to, f.rel)
		if err != nil {
			t.Fatalf("CopyExisting(%s): %v", f.rel, err)
		}
		after := tg.Stats()
		if !ok {
			t.Logf("CopyExisting(%s) = false: uploading instead", f.rel)
			put(t, tg, to, f) // what the caller does
			continue
		}
		if sent := after.BytesUploaded - before.BytesUploaded; sent != 0 {
			t.Errorf("CopyExisting(%s) returned true but sent %d bytes", f.rel, sent)
		}
		if n := (after.FilesCopied + after.FilesLinked) - (before.FilesCopied + before.FilesLinked); n != 1 {
			t.Errorf("CopyExisting(%s) returned true but Stats counted %d copies or links", f.rel, n)
		}
		checkContent(t, tg, to, f)
	}
	ok, err := tg.CopyExisting(ctx, backup, from, to, "uploads/not-there")
	if ok || err != nil {
		t.Errorf("CopyExisting of a missing file = %v, %v; want false, nil", ok, err)
	}
	// Re-uploading a re-used file (a resumed run) must not change the
	// older snapshot, which a hard link shares the bytes with.
	changed := file{fs[0].rel, []byte("changed")}
	put(t, tg, to, changed)
	checkContent(t, tg, to, changed)
	checkContent(t, tg, from, fs[0])
}

func testDelete(t *testing.T, tg *target.Target) {
	ctx := context.Background()
	complete(t, tg, "2026-11-25T030000Z", files()[:1])
	complete(t, tg, "2026-11-26T030000Z", files())
	put(t, tg, "2026-11-27T030000Z", files()[1]) // half-made: nested file, no manifest
	for _, id := range []string{"2026-11-26T030000Z", "2026-11-27T030000Z", "2026-11-28T030000Z"} {
		if err := tg.DeleteSnapshot(ctx, backup, id); err != nil {
			t.Fatalf("DeleteSnapshot(%s): %v", id, err)
		}
	}
	got := list(t, tg)
	if len(got) != 1 || got[0].ID != "2026-11-25T030000Z" || !got[0].Complete() {
		t.Fatalf("after deletes ListSnapshots = %+v, want only the complete 2026-11-25T030000Z", got)
	}
	checkContent(t, tg, "2026-11-25T030000Z", files()[0])
}

// put uploads fs into snapshot id, through a local file as the executor does.
func put(t *testing.T, tg *target.Target, id string, fs ...file) {
	t.Helper()
	dir := t.TempDir()
	for i, f := range fs {
		p := filepath.Join(dir, strings.Repeat("f", i+1))
		if err := os.WriteFile(p, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := tg.PutFile(context.Background(), backup, id, f.rel, p); err != nil {
			t.Fatalf("PutFile(%s, %s): %v", id, f.rel, err)
		}
	}
}

// complete uploads fs and then their manifest, and returns the manifest.
func complete(t *testing.T, tg *target.Target, id string, fs []file) *manifest.Manifest {
	t.Helper()
	put(t, tg, id, fs...)
	m := &manifest.Manifest{
		FormatVersion: manifest.FormatVersion,
		Backup:        backup,
		Snapshot:      id,
		CreatedAt:     time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC),
		Instance:      "main",
		Consistency:   "online",
		OwuiVersion:   "test",
	}
	for _, f := range fs {
		sum := sha256.Sum256(f.data)
		m.Files = append(m.Files, manifest.File{Path: f.rel, Size: int64(len(f.data)), SHA256: hex.EncodeToString(sum[:])})
	}
	if _, err := tg.PutManifest(context.Background(), backup, id, m); err != nil {
		t.Fatalf("PutManifest(%s): %v", id, err)
	}
	return m
}

func list(t *testing.T, tg *target.Target) []target.Listing {
	t.Helper()
	got, err := tg.ListSnapshots(context.Background(), backup)
	if err != nil {
		t.Fatalf("ListSnapshots: %v", err)
	}
	return got
}

func checkContent(t *testing.T, tg *target.Target, id string, f file) {
	t.Helper()
	var buf bytes.Buffer
	n, err := tg.GetFile(context.Background(), backup, id, f.rel, &buf)
	if err != nil {
		t.Fatalf("GetFile(%s, %s): %v", id, f.rel, err)
	}
	if n != int64(len(f.data)) || !bytes.Equal(buf.Bytes(), f.data) {
		t.Fatalf("GetFile(%s, %s) = %d bytes, want the %d bytes put", id, f.rel, n, len(f.data))
	}
}
