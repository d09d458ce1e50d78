package sample

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const tinyScale = 0.002

func generate(t testing.TB, opts Options) (string, *Stats) {
	t.Helper()
	dir := t.TempDir()
	st, err := Generate(dir, opts)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return dir, st
}

func openRO(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryStrings(t testing.TB, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func queryInt(t testing.TB, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func checkIntegrity(t *testing.T, db *sql.DB) {
	t.Helper()
	if got := queryStrings(t, db, "PRAGMA integrity_check"); !cmp.Equal(got, []string{"ok"}) {
		t.Errorf("integrity_check = %v", got)
	}
}

func listDir(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestGenerateTree(t *testing.T) {
	dir, st := generate(t, Options{Scale: tinyScale, Seed: 7})
	for _, p := range []string{"webui.db", "vector_db/chroma.sqlite3", "uploads", "cache", "audit.log"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	for _, p := range []string{"webui.db-wal", "webui.db-shm", "vector_db/chroma.sqlite3-journal"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("leftover %s", p)
		}
	}
	if st.Uploads < 5 || st.Chats < 3 || st.Users < 2 || st.Files <= st.Uploads || st.Bytes <= 0 {
		t.Errorf("stats = %+v", *st)
	}
	if n := len(listDir(t, filepath.Join(dir, "uploads"))); n != st.Uploads {
		t.Errorf("uploads/ holds %d files, Stats.Uploads = %d", n, st.Uploads)
	}
}

func TestWebUIDB(t *testing.T) {
	dir, st := generate(t, Options{Scale: tinyScale, Seed: 7, UploadPathPrefix: "/opt/open-webui/uploads"})
	db := openRO(t, filepath.Join(dir, "webui.db"))
	checkIntegrity(t, db)
	if got := queryStrings(t, db, "PRAGMA journal_mode"); !cmp.Equal(got, []string{"wal"}) {
		t.Errorf("journal_mode = %v, want wal", got)
	}
	if got := queryStrings(t, db, "SELECT version_num FROM alembic_version"); !cmp.Equal(got, []string{"f0bd01a18a3d"}) {
		t.Errorf("alembic_version = %v", got)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM chat"); n != st.Chats {
		t.Errorf("chat rows = %d, Stats.Chats = %d", n, st.Chats)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM user"); n != st.Users {
		t.Errorf("user rows = %d, Stats.Users = %d", n, st.Users)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM user u JOIN auth a ON a.id = u.id"); n != st.Users {
		t.Errorf("users with auth rows = %d, want %d", n, st.Users)
	}
	for _, q := range []string{
		"SELECT count(*) FROM knowledge_file kf LEFT JOIN file f ON f.id = kf.file_id WHERE f.id IS NULL",
		"SELECT count(*) FROM chat_message m LEFT JOIN chat c ON c.id = m.chat_id WHERE c.id IS NULL",
		"SELECT count(*) FROM chat WHERE json_valid(chat) = 0 OR json_valid(meta) = 0",
		"SELECT count(*) FROM file WHERE json_extract(meta, '$.size') IS NULL",
	} {
		if n := queryInt(t, db, q); n != 0 {
			t.Errorf("%s = %d, want 0", q, n)
		}
	}
	checkFilesMatchUploads(t, db, dir, "/opt/open-webui/uploads")
	checkChatJSON(t, db)
}

// checkFilesMatchUploads checks that file rows and uploads/ agree one to one.
func checkFilesMatchUploads(t *testing.T, db *sql.DB, dir, prefix string) {
	t.Helper()
	var fromRows []string
	for _, p := range queryStrings(t, db, "SELECT path FROM file") {
		rel, ok := strings.CutPrefix(p, prefix+"/")
		if !ok {
			t.Errorf("file.path %q is not under %q", p, prefix)
			continue
		}
		fromRows = append(fromRows, rel)
	}
	onDisk := listDir(t, filepath.Join(dir, "uploads"))
	sort.Strings(onDisk)
	if diff := cmp.Diff(onDisk, fromRows); diff != "" {
		t.Errorf("uploads/ vs file.path (-disk +rows):\n%s", diff)
	}
	rows, err := db.Query("SELECT id, filename, json_extract(meta, '$.size') FROM file")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		var size int64
		if err := rows.Scan(&id, &name, &size); err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(filepath.Join(dir, "uploads", id+"_"+name))
		if err != nil {
			t.Error(err)
		} else if info.Size() != size {
			t.Errorf("%s: size %d, meta.size %d", name, info.Size(), size)
		}
	}
}

// checkChatJSON checks the history tree of every chat: links agree both
// ways, currentId exists, and messages is the branch ending at currentId.
func checkChatJSON(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, raw := range queryStrings(t, db, "SELECT chat FROM chat") {
		var doc chatDoc
		if err := json.Unmarshal([]byte(raw), &doc); err != nil {
			t.Fatal(err)
		}
		h := doc.History.Messages
		for id, m := range h {
			if m.ID != id {
				t.Errorf("history key %s holds id %s", id, m.ID)
			}
			if m.ParentID != nil && !containsID(h[*m.ParentID], id) {
				t.Errorf("message %s missing from its parent's childrenIds", id)
			}
			for _, c := range m.ChildrenIDs {
				if h[c] == nil || h[c].ParentID == nil || *h[c].ParentID != id {
					t.Errorf("child %s of %s does not point back", c, id)
				}
			}
		}
		cur := h[doc.History.CurrentID]
		for i := len(doc.Messages) - 1; i >= 0; i-- {
			if cur == nil || doc.Messages[i].ID != cur.ID {
				t.Fatalf("chat %s: messages is not the branch ending at currentId", doc.ID)
			}
			if cur.ParentID == nil {
				cur = nil
			} else {
				cur = h[*cur.ParentID]
			}
		}
		if doc.Title == "" || len(doc.Models) == 0 {
			t.Errorf("chat %s: empty title or models", doc.ID)
		}
	}
}

func containsID(m *chatMessage, id string) bool {
	if m == nil {
		return false
	}
	for _, c := range m.ChildrenIDs {
		if c == id {
			return true
		}
	}
	return false
}

func TestChromaDB(t *testing.T) {
	dir, _ := generate(t, Options{Scale: tinyScale, Seed: 7})
	vdir := filepath.Join(dir, "vector_db")
	db := openRO(t, filepath.Join(vdir, "chroma.sqlite3"))
	checkIntegrity(t, db)
	if got := queryStrings(t, db, "PRAGMA journal_mode"); !cmp.Equal(got, []string{"delete"}) {
		t.Errorf("journal_mode = %v, want delete as Chroma leaves it", got)
	}
	var dirs []string
	for _, name := range listDir(t, vdir) {
		if name != "chroma.sqlite3" {
			dirs = append(dirs, name)
		}
	}
	sort.Strings(dirs)
	segs := queryStrings(t, db, "SELECT id FROM segments WHERE scope = 'VECTOR'")
	if diff := cmp.Diff(segs, dirs); diff != "" {
		t.Errorf("vector segments vs directories (-rows +dirs):\n%s", diff)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM collections"); n != 4 {
		t.Errorf("collections = %d, want the fixture's 3 plus 1 clone", n)
	}
	webui := openRO(t, filepath.Join(dir, "webui.db"))
	kbs := queryStrings(t, webui, "SELECT id FROM knowledge")
	cloned := queryStrings(t, db, "SELECT name FROM collections WHERE name IN ("+
		strings.TrimSuffix(strings.Repeat("?,", len(kbs)), ",")+")", anySlice(kbs)...)
	if diff := cmp.Diff(kbs, cloned); diff != "" {
		t.Errorf("knowledge ids vs collection names (-webui +chroma):\n%s", diff)
	}
	for _, q := range []string{
		// Every clone has as many embeddings, metadata and FTS rows as its source.
		`SELECT count(DISTINCT n) FROM (SELECT count(*) AS n FROM embeddings GROUP BY segment_id HAVING n > 100)`,
		`SELECT count(*) = (SELECT count(*) FROM embedding_fulltext_search) FROM embeddings`,
	} {
		if n := queryInt(t, db, q); n != 1 {
			t.Errorf("%s = %d, want 1", q, n)
		}
	}
	checkPickles(t, vdir)
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// checkPickles checks that each cloned index_metadata.pickle has the same
// length as the fixture's (a byte-for-byte id replacement keeps it valid).
func checkPickles(t *testing.T, vdir string) {
	t.Helper()
	var sizes []int64
	err := filepath.WalkDir(vdir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "index_metadata.pickle" {
			info, err := d.Info()
			if err != nil {
				return err
			}
			sizes = append(sizes, info.Size())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) != 2 || sizes[0] != sizes[1] {
		t.Errorf("index_metadata.pickle sizes = %v, want two equal", sizes)
	}
}

// treeHashes maps each file under dir to its SHA-256.
func treeHashes(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeterministic(t *testing.T) {
	a, _ := generate(t, Options{Scale: tinyScale, Seed: 42})
	b, _ := generate(t, Options{Scale: tinyScale, Seed: 42})
	if diff := cmp.Diff(treeHashes(t, a), treeHashes(t, b)); diff != "" {
		t.Errorf("same seed, different trees (-a +b):\n%s", diff)
	}
	c, _ := generate(t, Options{Scale: tinyScale, Seed: 43})
	ha, hc := treeHashes(t, a), treeHashes(t, c)
	if ha["audit.log"] == hc["audit.log"] || ha["webui.db"] == hc["webui.db"] {
		t.Error("different seeds gave identical audit.log or webui.db")
	}
}

func TestAddUploadsAndChats(t *testing.T) {
	opts := Options{Scale: tinyScale, Seed: 7}
	dir, st := generate(t, opts)
	for range 2 { // twice: the second call must not collide with the first
		if err := AddUploads(dir, 3, opts); err != nil {
			t.Fatalf("AddUploads: %v", err)
		}
		if err := AddChats(dir, 4, opts); err != nil {
			t.Fatalf("AddChats: %v", err)
		}
	}
	for _, p := range []string{"webui.db-wal", "webui.db-shm"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("leftover %s", p)
		}
	}
	db := openRO(t, filepath.Join(dir, "webui.db"))
	checkIntegrity(t, db)
	if n := queryInt(t, db, "SELECT count(*) FROM file"); n != st.Uploads+6 {
		t.Errorf("file rows = %d, want %d", n, st.Uploads+6)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM chat"); n != st.Chats+8 {
		t.Errorf("chat rows = %d, want %d", n, st.Chats+8)
	}
	if got := queryStrings(t, db, "PRAGMA journal_mode"); !cmp.Equal(got, []string{"wal"}) {
		t.Errorf("journal_mode = %v, want wal", got)
	}
	checkFilesMatchUploads(t, db, dir, DefaultUploadPathPrefix)
	checkChatJSON(t, db)
}

func TestGenerateRefusesExisting(t *testing.T) {
	dir, _ := generate(t, Options{Scale: tinyScale})
	if _, err := Generate(dir, Options{Scale: tinyScale}); err == nil {
		t.Error("second Generate into the same directory succeeded")
	}
	if _, err := Generate(t.TempDir(), Options{Scale: -1}); err == nil {
		t.Error("negative scale accepted")
	}
}

func BenchmarkGenerate(b *testing.B) {
	const scale = 0.1 // about 100 MB
	var st *Stats
	root := b.TempDir()
	for b.Loop() {
		dir := filepath.Join(root, "data")
		var err error
		if st, err = Generate(dir, Options{Scale: scale, Seed: 1}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.SetBytes(st.Bytes)
	b.ReportMetric(float64(st.Files), "files")
}
