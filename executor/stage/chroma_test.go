package stage

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/owui/owui/manifest"
)

// chromaDir extracts the real Chroma fixture into a fresh data directory
// and returns it with the directory of the segment that passed 1,000
// vectors (the one with index_metadata.pickle).
func chromaDir(t *testing.T) (data, segment string) {
	t.Helper()
	data = t.TempDir()
	untar(t, fixture(t, "vector_db-chroma-1.5.9.tar.gz"), data)
	matches, err := filepath.Glob(filepath.Join(data, "vector_db", "*", "index_metadata.pickle"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("segment with index_metadata.pickle: %v, %v", matches, err)
	}
	return data, filepath.Dir(matches[0])
}

func vectorGroup(data string, staging string) Group {
	return Group{Name: "vector_db", DataDir: data, StagingDir: staging, Attempts: 5}
}

// fastRetries shortens the pause between capture attempts for one test.
func fastRetries(t *testing.T) {
	old := retryDelay
	retryDelay = 5 * time.Millisecond
	t.Cleanup(func() { retryDelay = old })
}

// TestCaptureGroupRealChroma captures a directory a real Chroma server
// persisted: every file, the SQLite catalog through SnapshotSQLite, each
// copy identical to its source.
func TestCaptureGroupRealChroma(t *testing.T) {
	data, _ := chromaDir(t)
	staging := t.TempDir()
	res, err := CaptureGroup(context.Background(), vectorGroup(data, staging))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Capture
	if c.Group != "vector_db" || c.Method != MethodOnlineQuietCopy || c.Attempts != 1 || c.Files != 14 || len(res.Files) != 14 {
		t.Fatalf("capture = %+v with %d files; want vector_db, %s, 1 attempt, 14 files", c, len(res.Files), MethodOnlineQuietCopy)
	}
	for i, f := range res.Files {
		if i > 0 && res.Files[i-1].Path >= f.Path {
			t.Errorf("files not sorted: %s before %s", res.Files[i-1].Path, f.Path)
		}
		if f.Local != joinRel(staging, f.Path) {
			t.Errorf("%s staged at %s", f.Path, f.Local)
		}
		sum, size, err := HashFile(f.Local)
		if err != nil {
			t.Fatal(err)
		}
		if sum != f.SHA256 || size != f.Size {
			t.Errorf("%s: result says %d bytes %s, staged copy is %d bytes %s", f.Path, f.Size, f.SHA256, size, sum)
		}
		if f.Path == "vector_db/chroma.sqlite3" {
			if f.SQLite == nil || f.SQLite.IntegrityCheck != "ok" || f.SQLite.JournalMode != "delete" {
				t.Errorf("chroma.sqlite3: %+v", f.SQLite)
			}
			continue
		}
		if f.SQLite != nil {
			t.Errorf("%s recorded as SQLite", f.Path)
		}
		srcSum, _, err := HashFile(joinRel(data, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if srcSum != sum {
			t.Errorf("%s: copy differs from the source", f.Path)
		}
	}
}

// TestCaptureGroupKeepsHolesSparse: a sparse link_lists.bin is staged
// sparse, and hashed as the zeros its holes read as.
func TestCaptureGroupKeepsHolesSparse(t *testing.T) {
	data, seg := chromaDir(t)
	src := filepath.Join(seg, "link_lists.bin")
	f, err := os.OpenFile(src, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	const size = 16 << 20
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("links"), 8<<20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if blocks(t, src) > 1<<20 {
		t.Skip("the file system of the test's temporary directory does not keep files sparse")
	}
	staging := t.TempDir()
	res, err := CaptureGroup(context.Background(), vectorGroup(data, staging))
	if err != nil {
		t.Fatal(err)
	}
	dst := joinRel(staging, "vector_db/"+filepath.Base(seg)+"/link_lists.bin")
	want, _, err := HashFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		if f.Local == dst && (f.SHA256 != want || f.Size != size) {
			t.Errorf("link_lists.bin: %d bytes %s; want %d bytes %s", f.Size, f.SHA256, size, want)
		}
	}
	if got, _, _ := HashFile(dst); got != want {
		t.Errorf("staged link_lists.bin differs from the source")
	}
	if used := blocks(t, dst); used > 1<<20 {
		t.Errorf("staged copy of a %d-byte sparse file uses %d bytes on disk", size, used)
	}
}

// blocks returns the bytes a file occupies on disk.
func blocks(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

// segmentWriter rewrites a generation number in place at the start of two
// segment files, one after the other, as an HNSW flush rewrites several
// files: a capture that mixes generations is torn. stop waits for the
// writer and returns the last generation, complete in both files.
func segmentWriter(t *testing.T, a, b string) (stop func() uint64) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var last uint64
	writeGen := func(path string, g uint64) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if _, err := f.WriteAt(binary.BigEndian.AppendUint64(nil, g), 0); err != nil {
			t.Error(err)
		}
	}
	wg.Go(func() {
		for g := uint64(1); ; g++ {
			select {
			case <-done:
				return
			default:
			}
			writeGen(a, g)
			time.Sleep(300 * time.Microsecond)
			writeGen(b, g)
			last = g
			time.Sleep(300 * time.Microsecond)
		}
	})
	var once sync.Once
	return func() uint64 {
		once.Do(func() { close(done); wg.Wait() })
		return last
	}
}

func genOf(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint64(b[:8])
}

// TestCaptureGroupRetriesUntilQuiet: while a segment is being rewritten
// every attempt is discarded; once the writer stops, the next attempt
// succeeds and holds the writer's last complete state.
func TestCaptureGroupRetriesUntilQuiet(t *testing.T) {
	fastRetries(t)
	data, seg := chromaDir(t)
	a, b := filepath.Join(seg, "data_level0.bin"), filepath.Join(seg, "length.bin")
	stop := segmentWriter(t, a, b)
	defer stop()
	g := vectorGroup(data, t.TempDir())
	var whys []string
	g.OnRetry = func(attempt int, why error) {
		whys = append(whys, why.Error())
		if attempt == 2 {
			stop()
		}
	}
	res, err := CaptureGroup(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	last := stop()
	if res.Capture.Attempts != 3 {
		t.Errorf("attempts = %d, want 3 (two while the writer ran); retried because: %q", res.Capture.Attempts, whys)
	}
	rel := func(p string) string { r, _ := filepath.Rel(data, p); return filepath.ToSlash(r) }
	ga, gb := genOf(t, joinRel(g.StagingDir, rel(a))), genOf(t, joinRel(g.StagingDir, rel(b)))
	if ga != last || gb != last {
		t.Errorf("staged generations %d and %d; the writer's last complete one is %d", ga, gb, last)
	}
	for _, w := range whys {
		if !strings.Contains(w, "vector_db/") {
			t.Errorf("retry reason %q does not name the file", w)
		}
	}
}

// TestCaptureGroupHandsItsSQLiteCopiesToChecks: with Checks set, each
// attempt adds its copy of chroma.sqlite3 as soon as it is made, before
// the other files are copied, and drops it when the attempt is discarded:
// what Checks reports is the copy the capture kept, and nothing after a
// capture that gave up.
func TestCaptureGroupHandsItsSQLiteCopiesToChecks(t *testing.T) {
	fastRetries(t)
	ctx := context.Background()
	const rel = "vector_db/chroma.sqlite3"
	for _, givesUp := range []bool{false, true} {
		data, seg := chromaDir(t)
		g := vectorGroup(data, t.TempDir())
		g.Attempts = 3
		checks := NewSQLiteChecks(ctx, nil)
		checks.Start() // the discarded attempts' checks run, and are called off
		g.Checks = checks
		attempt := 1
		// Asked before each segment file is copied: the catalog's copy is
		// made and being checked by then. A segment file written to in
		// the first attempt (every attempt, givesUp) discards it.
		g.Unchanged = func(e Entry, _ SourceState) (manifest.File, bool) {
			if e.Kind == SQLite {
				return manifest.File{}, false
			}
			if n := len(checks.current()); n != 1 {
				t.Errorf("givesUp %v attempt %d: %d copies in Checks while the segment files are copied, want 1", givesUp, attempt, n)
			}
			if attempt == 1 || givesUp {
				f, err := os.OpenFile(filepath.Join(seg, "length.bin"), os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				_, err = f.Write([]byte{0})
				if err := errors.Join(err, f.Close()); err != nil {
					t.Fatal(err)
				}
			}
			return manifest.File{}, false
		}
		g.OnRetry = func(n int, why error) {
			if hashes, err := checks.Hashes(); err != nil || len(hashes) != 0 {
				t.Errorf("givesUp %v: Checks holds %v (%v) after attempt %d was discarded (%v)", givesUp, hashes, err, n, why)
			}
			attempt = n + 1
		}
		res, err := CaptureGroup(ctx, g)
		hashes, herr := checks.Hashes()
		results, werr := checks.Wait()
		if givesUp {
			if !errors.Is(err, ErrKeptChanging) {
				t.Fatalf("err = %v, want ErrKeptChanging", err)
			}
			if len(hashes) != 0 || len(results) != 0 || herr != nil || werr != nil {
				t.Errorf("after giving up, Checks reports %v %v (%v, %v)", hashes, results, herr, werr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if res.Capture.Attempts != 2 {
			t.Errorf("captured in %d attempts, want 2", res.Capture.Attempts)
		}
		staged := joinRel(g.StagingDir, rel)
		sum, size, err := HashFile(staged)
		if err != nil {
			t.Fatal(err)
		}
		if herr != nil || werr != nil || len(hashes) != 1 || hashes[rel].SHA256 != sum || hashes[rel].Size != size || results[rel] != "ok" {
			t.Errorf("Checks reports %+v %q (%v, %v); want the kept copy %s, ok", hashes, results, herr, werr, sum)
		}
		for _, f := range res.Files {
			if f.Path == rel && (f.SQLite == nil || f.SHA256 != "" || f.Local != staged) {
				t.Errorf("capture result for %s: %+v", rel, f)
			}
		}
	}
}

// TestCaptureGroupWaitsOutAnEmptyIndexMetadata: an empty
// index_metadata.pickle (Chroma between truncating and writing it) is
// retried like a change; one that stays empty is taken on the last
// attempt, so that the backup still happens.
func TestCaptureGroupWaitsOutAnEmptyIndexMetadata(t *testing.T) {
	fastRetries(t)
	for _, stays := range []bool{false, true} {
		data, seg := chromaDir(t)
		pickle := filepath.Join(seg, chromaIndexMetadata)
		full, err := os.ReadFile(pickle)
		if err != nil || len(full) == 0 {
			t.Fatalf("fixture pickle: %d bytes, %v", len(full), err)
		}
		if err := os.Truncate(pickle, 0); err != nil {
			t.Fatal(err)
		}
		g := vectorGroup(data, t.TempDir())
		g.Attempts = 3
		var whys []string
		g.OnRetry = func(attempt int, why error) {
			whys = append(whys, why.Error())
			if !stays {
				if err := os.WriteFile(pickle, full, 0o644); err != nil {
					t.Error(err)
				}
			}
		}
		res, err := CaptureGroup(context.Background(), g)
		if err != nil {
			t.Fatalf("stays empty %v: %v", stays, err)
		}
		want, wantAttempts := full, 2
		if stays {
			want, wantAttempts = nil, 3
		}
		rel, _ := filepath.Rel(data, pickle)
		got, err := os.ReadFile(joinRel(g.StagingDir, filepath.ToSlash(rel)))
		if err != nil || !bytes.Equal(got, want) || res.Capture.Attempts != wantAttempts {
			t.Errorf("stays empty %v: staged %d bytes (%v) after %d attempts; want %d bytes after %d", stays, len(got), err, res.Capture.Attempts, len(want), wantAttempts)
		}
		if len(whys) == 0 || !strings.Contains(whys[0], "index_metadata.pickle is empty") {
			t.Errorf("stays empty %v: retried because %q", stays, whys)
		}
	}
}

// TestCaptureGroupGivesUp: a group that never holds still fails with an
// error that says so and suggests pausing, and leaves nothing staged.
func TestCaptureGroupGivesUp(t *testing.T) {
	fastRetries(t)
	data, seg := chromaDir(t)
	stop := segmentWriter(t, filepath.Join(seg, "data_level0.bin"), filepath.Join(seg, "length.bin"))
	defer stop()
	g := vectorGroup(data, t.TempDir())
	g.Attempts = 3
	_, err := CaptureGroup(context.Background(), g)
	if !errors.Is(err, ErrKeptChanging) {
		t.Fatalf("err = %v, want ErrKeptChanging", err)
	}
	for _, want := range []string{"3 attempts", `consistency = "pause"`, "vector_db/"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if fileExists(filepath.Join(g.StagingDir, "vector_db")) {
		t.Error("a failed capture left files in the staging directory")
	}
}

// TestCaptureGroupPausedFailsOnChange: with the container paused nothing
// may change; a change is an error at the first attempt, not a retry.
func TestCaptureGroupPausedFailsOnChange(t *testing.T) {
	data, seg := chromaDir(t)
	stop := segmentWriter(t, filepath.Join(seg, "data_level0.bin"), filepath.Join(seg, "length.bin"))
	defer stop()
	g := vectorGroup(data, t.TempDir())
	g.Method, g.Attempts = MethodPaused, 1
	retried := false
	g.OnRetry = func(int, error) { retried = true }
	_, err := CaptureGroup(context.Background(), g)
	if !errors.Is(err, ErrChangedWhileQuiet) || retried {
		t.Fatalf("err = %v (retried %v), want ErrChangedWhileQuiet at once", err, retried)
	}
	stop()
	res, err := CaptureGroup(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	if res.Capture.Method != MethodPaused || res.Capture.Attempts != 1 {
		t.Errorf("capture = %+v", res.Capture)
	}
}

// TestGroupListingDiff: files that appear, disappear or change between two
// listings are named; an unchanged group has no difference.
func TestGroupListingDiff(t *testing.T) {
	data, seg := chromaDir(t)
	g := vectorGroup(data, "")
	list := func() *groupListing {
		t.Helper()
		l, err := listGroup(g)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	base := list()
	if err := base.diff(list()); err != nil {
		t.Fatalf("unchanged group: %v", err)
	}
	segRel := "vector_db/" + filepath.Base(seg)
	newSeg := filepath.Join(data, "vector_db", "11111111-2222-4333-8444-555555555555")
	write(t, filepath.Join(newSeg, "header.bin"), "hdr")
	if err := base.diff(list()); err == nil || !strings.Contains(err.Error(), "header.bin appeared") {
		t.Errorf("new segment: %v", err)
	}
	os.RemoveAll(newSeg)
	os.Remove(filepath.Join(seg, "length.bin"))
	if err := base.diff(list()); err == nil || err.Error() != segRel+"/length.bin disappeared" {
		t.Errorf("removed file: %v", err)
	}

	// A commit to chroma.sqlite3 moves its change counter.
	base = list()
	db, err := sql.Open("sqlite", fileURI(filepath.Join(data, "vector_db", "chroma.sqlite3"), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO max_seq_id (segment_id, seq_id) VALUES ('owui-test', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := base.diff(list()); err == nil || !strings.Contains(err.Error(), "change counter") {
		t.Errorf("commit to chroma.sqlite3: %v", err)
	}
}

// TestCaptureGroupNoticesAWriteMidCopy: one in-place write, same size,
// landing while the group is being copied, is caught by the comparison
// after the copy; the next attempt succeeds with the written state.
func TestCaptureGroupNoticesAWriteMidCopy(t *testing.T) {
	fastRetries(t)
	data, seg := chromaDir(t)
	big := filepath.Join(seg, "data_level0.bin")
	if err := os.WriteFile(big, []byte(strings.Repeat("vectors!", 16<<20)), 0o644); err != nil { // 128 MiB: long to copy
		t.Fatal(err)
	}
	time.Sleep(2 * racyWindow) // not racy when the first attempt starts
	g := vectorGroup(data, t.TempDir())
	var whys []string
	g.OnRetry = func(_ int, why error) { whys = append(whys, why.Error()) }
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(15 * time.Millisecond)
		f, err := os.OpenFile(big, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte("WRITTEN!"), 0); err != nil {
			t.Error(err)
		}
	})
	res, err := CaptureGroup(context.Background(), g)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Capture.Attempts != 2 || len(whys) != 1 || !strings.Contains(whys[0], "data_level0.bin was modified") {
		t.Fatalf("capture in %d attempts, retried because %q; want 2, data_level0.bin was modified", res.Capture.Attempts, whys)
	}
	rel, _ := filepath.Rel(data, big)
	b, err := os.ReadFile(joinRel(g.StagingDir, filepath.ToSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:8]) != "WRITTEN!" {
		t.Errorf("staged copy starts %q, want the written state", b[:8])
	}
}
