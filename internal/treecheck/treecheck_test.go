package treecheck

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, body := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func makeDB(t *testing.T, path string, rows ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE TABLE chat (id INTEGER PRIMARY KEY, body TEXT)"); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if _, err := db.Exec("INSERT INTO chat (body) VALUES (?)", r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCompare(t *testing.T) {
	tests := map[string]struct {
		edit func(t *testing.T, restored string)
		want string // substring of a difference; "" means the trees match
	}{
		"identical":      {edit: func(*testing.T, string) {}},
		"changed file":   {edit: func(t *testing.T, r string) { writeTree(t, r, map[string]string{"uploads/a.txt": "A!"}) }, want: "uploads/a.txt: content differs"},
		"missing file":   {edit: func(t *testing.T, r string) { os.Remove(filepath.Join(r, "uploads/a.txt")) }, want: "missing file uploads/a.txt"},
		"extra file":     {edit: func(t *testing.T, r string) { writeTree(t, r, map[string]string{"x": "x"}) }, want: "extra file x"},
		"excluded found": {edit: func(t *testing.T, r string) { writeTree(t, r, map[string]string{"cache/m": "m"}) }, want: "extra file cache/m"},
		"changed row": {edit: func(t *testing.T, r string) {
			os.Remove(filepath.Join(r, "webui.db"))
			makeDB(t, filepath.Join(r, "webui.db"), "hello", "world!")
		}, want: "webui.db: table chat differs"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src, restored := t.TempDir(), t.TempDir()
			writeTree(t, src, map[string]string{"uploads/a.txt": "A", "cache/m": "m"})
			writeTree(t, restored, map[string]string{"uploads/a.txt": "A"})
			makeDB(t, filepath.Join(src, "webui.db"), "hello", "world")
			makeDB(t, filepath.Join(restored, "webui.db"), "hello", "world")
			tc.edit(t, restored)
			rep, err := Compare(src, restored, []string{"cache/**"})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(rep.Differences, "; ")
			if tc.want == "" && !rep.OK() {
				t.Fatalf("differences: %s", got)
			}
			if tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("differences %q lack %q", got, tc.want)
			}
			if tc.want == "" && (rep.Databases != 1 || rep.Rows != 2 || rep.Files != 1) {
				t.Errorf("report = %+v", rep)
			}
		})
	}
}
