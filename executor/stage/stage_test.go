package stage

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const fixtures = "../../../shared/fixtures" // /work/shared/fixtures from /work/main/executor/stage

func fixture(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(fixtures, name)
	if _, err := os.Stat(p); err != nil {
		if p2 := filepath.Join("/work/shared/fixtures", name); fileExists(p2) {
			return p2
		}
		t.Skipf("fixture %s not available: %v", name, err)
	}
	return p
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeDB creates a real SQLite database at path in the given journal mode.
func makeDB(t *testing.T, path, mode string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", fileURI(path, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{"PRAGMA journal_mode = " + mode, "CREATE TABLE t (x)", "INSERT INTO t VALUES (1)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIsSQLite(t *testing.T) {
	dir := t.TempDir()
	makeDB(t, filepath.Join(dir, "real.bin"), "delete")
	write(t, filepath.Join(dir, "fake.db"), "this is not a database, whatever its name says")
	write(t, filepath.Join(dir, "short.db"), "SQLite format")
	write(t, filepath.Join(dir, "empty.db"), "")
	write(t, filepath.Join(dir, "header-only"), "SQLite format 3\x00")
	tests := map[string]bool{
		"real.bin":    true,
		"fake.db":     false,
		"short.db":    false,
		"empty.db":    false,
		"header-only": true,
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := IsSQLite(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("IsSQLite = %v, want %v", got, want)
			}
		})
	}
	if _, err := IsSQLite(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
	if ok, err := IsSQLite(fixture(t, "webui-0.11.0-schema.db")); err != nil || !ok {
		t.Errorf("real Open WebUI webui.db: %v, %v", ok, err)
	}
}

// dataDir builds a small Open WebUI data directory.
func dataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	makeDB(t, filepath.Join(dir, "webui.db"), "wal")
	write(t, filepath.Join(dir, "webui.db-wal"), "wal bytes")
	write(t, filepath.Join(dir, "webui.db-shm"), "shm bytes")
	makeDB(t, filepath.Join(dir, "vector_db", "chroma.sqlite3"), "delete")
	write(t, filepath.Join(dir, "vector_db", "chroma.sqlite3-journal"), "journal")
	write(t, filepath.Join(dir, "vector_db", "seg", "data_level0.bin"), "vectors")
	write(t, filepath.Join(dir, "vector_db", "seg", "header.bin"), "hdr")
	write(t, filepath.Join(dir, "uploads", "f1_report.pdf"), "pdf")
	makeDB(t, filepath.Join(dir, "uploads", "f2_mine.db"), "delete") // an uploaded database stays an upload
	write(t, filepath.Join(dir, "uploads", "f2_mine.db-wal"), "uploaded too")
	write(t, filepath.Join(dir, "cache", "embedding", "model.bin"), "model")
	write(t, filepath.Join(dir, "cache", "whisper", "w.bin"), "w")
	write(t, filepath.Join(dir, "audit.log"), "log")
	write(t, filepath.Join(dir, "notes.db"), "not sqlite")
	write(t, filepath.Join(dir, "notes.db-wal"), "not a side file: notes.db is not SQLite")
	if err := os.Symlink("webui.db", filepath.Join(dir, "link.db")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if l, err := net.Listen("unix", filepath.Join(dir, "sock")); err == nil {
		t.Cleanup(func() { l.Close() })
	}
	return dir
}

type walked struct {
	Rel  string
	Kind Kind
}

func summarize(es []Entry) []walked {
	var out []walked
	for _, e := range es {
		out = append(out, walked{e.Rel, e.Kind})
	}
	return out
}

func TestScan(t *testing.T) {
	dir := dataDir(t)
	tests := map[string]struct {
		include, exclude []string
		want             []walked
	}{
		"everything": {
			want: []walked{
				{"audit.log", Other},
				{"cache/embedding/model.bin", Other},
				{"cache/whisper/w.bin", Other},
				{"notes.db", Other},
				{"notes.db-wal", Other},
				{"uploads/f1_report.pdf", Immutable},
				{"uploads/f2_mine.db", Immutable},
				{"uploads/f2_mine.db-wal", Immutable},
				{"vector_db/chroma.sqlite3", SQLite},
				{"vector_db/seg/data_level0.bin", Other},
				{"vector_db/seg/header.bin", Other},
				{"webui.db", SQLite},
			},
		},
		"default policy excludes": {
			exclude: []string{"cache/**", "audit.log"},
			want: []walked{
				{"notes.db", Other},
				{"notes.db-wal", Other},
				{"uploads/f1_report.pdf", Immutable},
				{"uploads/f2_mine.db", Immutable},
				{"uploads/f2_mine.db-wal", Immutable},
				{"vector_db/chroma.sqlite3", SQLite},
				{"vector_db/seg/data_level0.bin", Other},
				{"vector_db/seg/header.bin", Other},
				{"webui.db", SQLite},
			},
		},
		"include a directory by name and a glob": {
			include: []string{"vector_db", "*.db"},
			exclude: []string{"**/header.bin"},
			want: []walked{
				{"notes.db", Other},
				{"vector_db/chroma.sqlite3", SQLite},
				{"vector_db/seg/data_level0.bin", Other},
				{"webui.db", SQLite},
			},
		},
		"side file of an excluded database is still left out": {
			include: []string{"webui.db*"},
			exclude: []string{"webui.db"},
			want:    nil,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l, err := Scan(dir, tc.include, tc.exclude)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, summarize(l.Entries)); d != "" {
				t.Errorf("entries (-want +got):\n%s", d)
			}
		})
	}

	l, err := Scan(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(l.Skipped, "\n")
	for _, want := range []string{"link.db: symlink", "fifo: named pipe"} {
		if !strings.Contains(notes, want) {
			t.Errorf("skipped notes %q lack %q", notes, want)
		}
	}
	for _, e := range l.Entries {
		if e.Rel == "audit.log" {
			if e.Size != 3 || e.Inode == 0 || e.ModTime.IsZero() || !e.Mode.IsRegular() {
				t.Errorf("audit.log entry lacks stat data: %+v", e)
			}
		}
	}
	if _, err := Scan(dir, nil, []string{"cache/[**"}); err == nil {
		t.Error("a bad pattern was accepted")
	}
	if es, err := Walk(dir, nil, []string{"**"}); err != nil || len(es) != 0 {
		t.Errorf("Walk excluding everything = %v, %v", es, err)
	}
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			out, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			out.Close()
		}
	}
}

// TestScanRealChroma walks a directory persisted by a real Chroma server.
func TestScanRealChroma(t *testing.T) {
	dir := t.TempDir()
	untar(t, fixture(t, "vector_db-chroma-1.5.9.tar.gz"), dir)
	es, err := Walk(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[Kind]int{}
	for _, e := range es {
		kinds[e.Kind]++
		if (e.Kind == SQLite) != (e.Rel == "vector_db/chroma.sqlite3") {
			t.Errorf("%s: kind %v", e.Rel, e.Kind)
		}
	}
	if kinds[SQLite] != 1 || kinds[Other] != 13 || len(es) != 14 {
		t.Errorf("kinds = %v over %d files; want 1 sqlite and 13 segment files", kinds, len(es))
	}
	info, err := SnapshotSQLite(context.Background(), filepath.Join(dir, "vector_db", "chroma.sqlite3"), filepath.Join(t.TempDir(), "chroma.sqlite3"))
	if err != nil {
		t.Fatal(err)
	}
	if info.IntegrityCheck != "ok" || info.JournalMode != "delete" {
		t.Errorf("snapshot of the real chroma.sqlite3: %+v", info)
	}
}

func TestHashFile(t *testing.T) {
	dir := t.TempDir()
	data := strings.Repeat("open-webui ", 100000) // ~1 MB: several reads
	p := filepath.Join(dir, "f")
	write(t, p, data)
	sum, size, err := HashFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256([]byte(data))
	if sum != hex.EncodeToString(want[:]) || size != int64(len(data)) {
		t.Errorf("HashFile = %s, %d; want %x, %d", sum, size, want, len(data))
	}
	empty := filepath.Join(dir, "empty")
	write(t, empty, "")
	if sum, _, _ := HashFile(empty); sum != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("empty file hash = %s", sum)
	}
}

type mapCache map[string]string

func (m mapCache) Lookup(path string, size, mtimeNs int64, inode uint64) (string, bool) {
	s, ok := m[path]
	return s, ok
}

func TestHashFiles(t *testing.T) {
	dir := dataDir(t)
	es, err := Walk(dir, []string{"uploads/**"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var files []FileStat
	for _, e := range es {
		files = append(files, StatOf(dir, e))
	}
	cached := filepath.Join(dir, "uploads", "f1_report.pdf")
	got, err := HashFiles(context.Background(), files, mapCache{cached: "from-cache"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(files) {
		t.Fatalf("%d results for %d files", len(got), len(files))
	}
	for i, h := range got {
		if h.Path != files[i].Path {
			t.Errorf("result %d is for %s, want %s", i, h.Path, files[i].Path)
		}
		if h.Path == cached {
			if !h.Cached || h.SHA256 != "from-cache" {
				t.Errorf("cached file: %+v", h)
			}
			continue
		}
		want, _, err := HashFile(h.Path)
		if err != nil {
			t.Fatal(err)
		}
		if h.Cached || h.SHA256 != want {
			t.Errorf("%s: %+v, want sha256 %s", h.Path, h, want)
		}
	}
	// A file that grew since it was listed is an error, not a wrong hash.
	write(t, filepath.Join(dir, "uploads", "f1_report.pdf"), "pdf grew")
	if _, err := HashFiles(context.Background(), files, nil, 0); err == nil || !strings.Contains(err.Error(), "since it was listed") {
		t.Errorf("changed file: err = %v", err)
	}
}
