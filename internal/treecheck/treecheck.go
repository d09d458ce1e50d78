// Package treecheck compares a restored Open WebUI data directory with its
// source: every file byte for byte, except SQLite databases, which must pass
// integrity_check and hold the same rows in every table.
package treecheck

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Report says what Compare checked.
type Report struct {
	Files       int // files compared byte for byte
	Databases   int // SQLite databases compared by rows
	Rows        int64
	Differences []string
}

// OK reports whether the trees match.
func (r *Report) OK() bool { return len(r.Differences) == 0 }

// Compare checks that restored holds every file of src not matched by one
// of the exclude globs, and nothing else. SQLite side files (-wal, -shm,
// -journal) of the source are ignored: their content lives in the copy.
func Compare(src, restored string, exclude []string) (*Report, error) {
	want, err := listFiles(src, exclude)
	if err != nil {
		return nil, err
	}
	got, err := listFiles(restored, nil)
	if err != nil {
		return nil, err
	}
	r := &Report{}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			r.Differences = append(r.Differences, "extra file "+rel)
		}
	}
	for rel := range want {
		if _, ok := got[rel]; !ok {
			r.Differences = append(r.Differences, "missing file "+rel)
			continue
		}
		a, b := filepath.Join(src, rel), filepath.Join(restored, rel)
		isDB, err := isSQLite(a)
		if err != nil {
			return nil, err
		}
		if isDB {
			rows, diff, err := compareDB(a, b)
			if err != nil {
				return nil, fmt.Errorf("compare %s: %w", rel, err)
			}
			r.Databases++
			r.Rows += rows
			if diff != "" {
				r.Differences = append(r.Differences, rel+": "+diff)
			}
			continue
		}
		same, err := sameBytes(a, b)
		if err != nil {
			return nil, err
		}
		r.Files++
		if !same {
			r.Differences = append(r.Differences, rel+": content differs")
		}
	}
	sort.Strings(r.Differences)
	return r, nil
}

func listFiles(root string, exclude []string) (map[string]bool, error) {
	out := map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		for _, g := range exclude {
			if ok, _ := doublestar.Match(g, rel); ok {
				return nil
			}
		}
		for _, side := range []string{"-wal", "-shm", "-journal"} {
			if base, ok := strings.CutSuffix(p, side); ok {
				if db, _ := isSQLite(base); db {
					return nil
				}
			}
		}
		out[rel] = true
		return nil
	})
	return out, err
}

func isSQLite(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return false, nil
		}
		return false, err
	}
	defer f.Close()
	var hdr [16]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return false, nil
	}
	return bytes.Equal(hdr[:], []byte("SQLite format 3\x00")), nil
}

func sameBytes(a, b string) (bool, error) {
	ha, err := fileSum(a)
	if err != nil {
		return false, err
	}
	hb, err := fileSum(b)
	if err != nil {
		return false, err
	}
	return ha == hb, nil
}

func fileSum(p string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(p)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// compareDB checks b's integrity and that every table of a has the same
// row count and content checksum in b.
func compareDB(a, b string) (rows int64, diff string, err error) {
	da, err := sql.Open("sqlite", "file:"+a+"?mode=ro")
	if err != nil {
		return 0, "", err
	}
	defer da.Close()
	db, err := sql.Open("sqlite", "file:"+b+"?mode=ro")
	if err != nil {
		return 0, "", err
	}
	defer db.Close()
	var ic string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil {
		return 0, "", err
	}
	if ic != "ok" {
		return 0, "integrity_check: " + ic, nil
	}
	tables, err := tableNames(da)
	if err != nil {
		return 0, "", err
	}
	for _, t := range tables {
		ca, err := tableDigest(da, t)
		if err != nil {
			return 0, "", err
		}
		cb, err := tableDigest(db, t)
		if err != nil {
			return 0, fmt.Sprintf("table %s: %v", t, err), nil
		}
		if ca != cb {
			return 0, fmt.Sprintf("table %s differs (%s vs %s)", t, ca, cb), nil
		}
		rows += ca.rows
	}
	return rows, "", nil
}

func tableNames(d *sql.DB) ([]string, error) {
	rs, err := d.Query(`SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		var n string
		if err := rs.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rs.Err()
}

type digest struct {
	rows int64
	sum  string
}

func (d digest) String() string { return fmt.Sprintf("%d rows, %s", d.rows, d.sum[:12]) }

// tableDigest hashes a table's rows in rowid-independent order of their
// text rendering. Virtual tables (FTS) are digested through their content.
func tableDigest(d *sql.DB, table string) (digest, error) {
	rs, err := d.Query(`SELECT * FROM "` + strings.ReplaceAll(table, `"`, `""`) + `"`)
	if err != nil {
		return digest{}, err
	}
	defer rs.Close()
	cols, err := rs.Columns()
	if err != nil {
		return digest{}, err
	}
	var lines []string
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return digest{}, err
		}
		lines = append(lines, fmt.Sprintf("%q", vals))
	}
	if err := rs.Err(); err != nil {
		return digest{}, err
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		io.WriteString(h, l+"\n")
	}
	return digest{rows: int64(len(lines)), sum: fmt.Sprintf("%x", h.Sum(nil))}, nil
}
