package stage

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/owui/owui/manifest"
)

// corruptIndexDB makes a rollback-journal database whose index disagrees
// with its table: a valid b-tree that copies, which integrity_check fails.
func corruptIndexDB(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", fileURI(path, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)",
		"CREATE INDEX note_body ON note (body)",
		"INSERT INTO note (body) VALUES ('alpha'), ('beta'), ('gamma')",
		"PRAGMA writable_schema = ON",
		"UPDATE sqlite_schema SET sql = 'CREATE INDEX note_body ON note (id)' WHERE name = 'note_body'",
		"PRAGMA writable_schema = OFF",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestCopySQLiteLeavesTheCheck: CopySQLite copies without checking, and
// CheckSQLite then finds what integrity_check finds, reading the copy
// without writing to it or leaving a side file.
func TestCopySQLiteLeavesTheCheck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.db"), filepath.Join(dir, "bad.db")
	makeDB(t, good, "wal")
	corruptIndexDB(t, bad)
	for name, src := range map[string]string{"good": good, "bad": bad} {
		dst := filepath.Join(t.TempDir(), name+".db")
		info, err := CopySQLite(ctx, src, dst)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if info.IntegrityCheck != "" || info.PageCount == 0 {
			t.Errorf("%s: CopySQLite = %+v, want no check and a page count", name, info)
		}
		before, _, err := HashFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		res, err := CheckSQLite(ctx, dst)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if (res == "ok") != (name == "good") || name == "bad" && !strings.Contains(res, "note_body") {
			t.Errorf("%s: CheckSQLite = %q", name, res)
		}
		after, _, _ := HashFile(dst)
		if before != after {
			t.Errorf("%s: CheckSQLite changed the copy", name)
		}
		if left := names(t, filepath.Dir(dst)); len(left) != 1 {
			t.Errorf("%s: files beside the copy: %v", name, left)
		}
	}
	if info, err := SnapshotSQLite(ctx, bad, filepath.Join(t.TempDir(), "bad.db")); err != nil || info.IntegrityCheck == "ok" {
		t.Errorf("SnapshotSQLite of a corrupt database = %+v, %v; want its problems", info, err)
	}
}

// TestSQLiteChecks: copies are hashed as soon as they are added after
// Start, checked unless Known knows their bytes, and problems come back as
// results for the caller to refuse.
func TestSQLiteChecks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good, bad, known := filepath.Join(dir, "good.db"), filepath.Join(dir, "bad.db"), filepath.Join(dir, "known.db")
	makeDB(t, good, "delete")
	corruptIndexDB(t, bad)
	corruptIndexDB(t, known) // never checked: Known vouches for its bytes
	knownSum, _, err := HashFile(known)
	if err != nil {
		t.Fatal(err)
	}
	c := NewSQLiteChecks(ctx, func(rel, sum string) bool { return rel == "known.db" && sum == knownSum })
	c.Add("good.db", good)
	c.Start()
	c.Add("bad.db", bad)
	c.Add("known.db", known)
	hashes, err := c.Hashes()
	if err != nil {
		t.Fatal(err)
	}
	if len(hashes) != 3 || !hashes["known.db"].Reused || hashes["good.db"].Reused || hashes["known.db"].SHA256 != knownSum {
		t.Errorf("Hashes = %+v", hashes)
	}
	res, err := c.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res["good.db"] != "ok" || res["known.db"] != "ok" || res["bad.db"] == "ok" || res["bad.db"] == "" {
		t.Errorf("results = %q", res)
	}
	if took := c.Took(); len(took) != 2 || took["good.db"] <= 0 || took["bad.db"] <= 0 {
		t.Errorf("Took = %v, want the good and the bad copy's checks and not the known one's", took)
	}

	// A copy added again replaces the first; a dropped one is not
	// reported, whether its work had started or not.
	c = NewSQLiteChecks(ctx, nil)
	c.Add("a.db", bad)
	c.Add("b.db", bad)
	c.Add("a.db", good) // before Start: replaces the queued bad copy
	c.Start()
	c.Add("c.db", bad)
	c.Drop("b.db") // started
	c.Drop("c.db") // just started
	c.Drop("none.db")
	hashes, err = c.Hashes()
	if err != nil {
		t.Fatal(err)
	}
	goodSum, _, _ := HashFile(good)
	if len(hashes) != 1 || hashes["a.db"].SHA256 != goodSum {
		t.Errorf("Hashes after replacing and dropping = %+v", hashes)
	}
	if res, err = c.Wait(); err != nil || len(res) != 1 || res["a.db"] != "ok" {
		t.Errorf("results after replacing and dropping = %q, %v", res, err)
	}

	// Abandoned before Start: nothing runs, Abandon returns.
	c = NewSQLiteChecks(ctx, nil)
	c.Add("good.db", good)
	c.Abandon()
	if _, err := c.Wait(); err == nil {
		t.Errorf("Wait after Abandon = nil error")
	}
}

// TestCaptureGroupSkipsUnchangedFiles: a file Unchanged knows is not
// copied, its entry is the one Unchanged gives, and the copies of the
// others say whether they hold their sources' bytes.
func TestCaptureGroupSkipsUnchangedFiles(t *testing.T) {
	data := t.TempDir()
	makeDB(t, filepath.Join(data, "vector_db", "chroma.sqlite3"), "delete")
	write(t, filepath.Join(data, "vector_db", "seg", "header.bin"), "header")
	write(t, filepath.Join(data, "vector_db", "seg", "length.bin"), "length")
	ageFiles(t, data)
	staging := t.TempDir()
	asked := map[string]SourceState{}
	res, err := CaptureGroup(context.Background(), Group{
		Name: "vector_db", DataDir: data, StagingDir: staging, Checks: NewSQLiteChecks(context.Background(), nil),
		Unchanged: func(e Entry, st SourceState) (manifest.File, bool) {
			asked[e.Rel] = st
			if e.Rel == "vector_db/seg/header.bin" {
				return manifest.File{Path: e.Rel, Size: st.Size, SHA256: "known"}, true
			}
			return manifest.File{}, false
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(asked) != 3 {
		t.Errorf("Unchanged asked about %v, want all three files", asked)
	}
	for _, f := range res.Files {
		switch f.Path {
		case "vector_db/seg/header.bin":
			if f.Local != "" || f.SHA256 != "known" || !f.Cacheable {
				t.Errorf("unchanged file: %+v", f)
			}
			if _, err := os.Stat(filepath.Join(staging, "vector_db", "seg", "header.bin")); err == nil {
				t.Errorf("unchanged file staged")
			}
		case "vector_db/chroma.sqlite3":
			if f.Local == "" || !f.Cacheable || f.SQLite == nil || f.SQLite.Method != MethodSharedLockCopy || f.SHA256 != "" {
				t.Errorf("rollback-journal SQLite copy: %+v %+v", f, f.SQLite)
			}
		default:
			if f.Local == "" || !f.Cacheable || f.SHA256 == "" || f.Source.Size != 6 {
				t.Errorf("copied file: %+v", f)
			}
		}
	}
}

// ageFiles backdates every file under dir past the racy window.
func ageFiles(t *testing.T, dir string) {
	t.Helper()
	old := time.Now().Add(-2 * time.Second)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}
