package executor

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/owui/owui/manifest"
	"github.com/owui/owui/planner"
	"github.com/owui/owui/state"
)

// Verification is what one verification of a snapshot found.
type Verification struct {
	Backup, Target, Snapshot string
	ReadData                 bool
	// ManifestSHA256 is the checksum of the manifest verified against.
	ManifestSHA256 string
	// Problems names each failing file and what is wrong with it; empty
	// when the snapshot passed.
	Problems []string
}

// OK reports whether the snapshot passed.
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

// Err is nil when the snapshot passed, else an error naming every problem.
func (v *Verification) Err() error {
	if v.OK() {
		return nil
	}
	return fmt.Errorf("verify %s/%s on %s: %d problems: %s", v.Backup, v.Snapshot, v.Target, len(v.Problems), strings.Join(v.Problems, "; "))
}

// Verify checks snapshot id of backup on target and records the result in
// state. Without readData it lists the snapshot once and checks that every
// file of the manifest is there with its size; with readData it also
// downloads every file and checks its sha256, runs PRAGMA integrity_check
// on each SQLite file, and checks that the Open WebUI data holds together:
// every file row of webui.db under uploads/ has its file in the snapshot,
// and every vector segment chroma.sqlite3 names has its directory. The
// error is for a check that could not run (target unreachable, no
// manifest); what the check found is in the result.
func (e *Env) Verify(ctx context.Context, backup, tname, id string, readData bool) (*Verification, error) {
	wrap := func(err error) error { return fmt.Errorf("verify %s/%s on %s: %w", backup, id, tname, err) }
	t, err := e.Target(ctx, tname)
	if err != nil {
		return nil, wrap(err)
	}
	m, sum, err := t.ReadManifestSum(ctx, backup, id)
	if err != nil {
		return nil, wrap(err)
	}
	v := &Verification{Backup: backup, Target: tname, Snapshot: id, ReadData: readData, ManifestSHA256: sum}
	sizes, err := t.ListFiles(ctx, backup, id)
	if err != nil {
		return nil, wrap(err)
	}
	present := map[string]bool{}
	for _, f := range m.Files {
		size, ok := sizes[f.StoredPath()]
		switch {
		case !ok:
			v.problem("%s: missing on the target", f.StoredPath())
		case size != f.StoredSize():
			v.problem("%s: %d bytes on the target, the manifest says %d", f.StoredPath(), size, f.StoredSize())
		default:
			present[f.Path] = true
		}
	}
	if readData {
		if err := e.readData(ctx, t, m, present, v); err != nil {
			return nil, wrap(err)
		}
	}
	rec := state.VerificationRecord{Backup: backup, Target: tname, Snapshot: id, ManifestSHA256: sum,
		VerifiedAt: time.Now().UTC(), ReadData: readData, OK: v.OK(), Problems: v.Problems}
	if err := e.Store.PutVerification(ctx, rec); err != nil {
		return v, wrap(err)
	}
	return v, nil
}

func (v *Verification) problem(format string, args ...any) {
	v.Problems = append(v.Problems, strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " "))
}

// readData downloads every present file, checking its sha256 as it
// streams; SQLite files go to a temporary directory for integrity_check and
// the cross-reference checks, which it removes afterwards.
func (e *Env) readData(ctx context.Context, t fileGetter, m *manifest.Manifest, present map[string]bool, v *Verification) error {
	tmp, err := os.MkdirTemp("", "owui-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dbs := map[string]string{} // path in snapshot → local copy
	for i, f := range m.Files {
		if !present[f.Path] {
			continue
		}
		h := sha256.New()
		var w io.Writer = h
		var out *os.File
		if f.SQLite != nil {
			p := filepath.Join(tmp, fmt.Sprintf("%d.db", i))
			if out, err = os.Create(p); err != nil {
				return err
			}
			w = io.MultiWriter(h, out)
			dbs[f.Path] = p
		}
		_, err := readFile(ctx, t, m, f, w)
		if out != nil {
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			v.problem("%s: cannot be read: %v", f.Path, err)
			delete(dbs, f.Path)
			continue
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
			v.problem("%s: sha256 %s differs from the manifest's %s (corrupted or altered on the target)", f.Path, got[:12], f.SHA256[:min(12, len(f.SHA256))])
			delete(dbs, f.Path)
		}
	}
	paths := make([]string, 0, len(dbs))
	for p := range dbs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if res, err := integrityCheck(ctx, dbs[p]); err != nil {
			v.problem("%s: integrity_check could not run: %v", p, err)
			delete(dbs, p)
		} else if res != "ok" {
			v.problem("%s: integrity_check: %s", p, res)
		}
	}
	inSnapshot := map[string]bool{}
	for _, f := range m.Files {
		inSnapshot[f.Path] = present[f.Path]
	}
	if db, ok := dbs["webui.db"]; ok {
		verifyUploads(ctx, db, inSnapshot, v)
	}
	if db, ok := dbs["vector_db/chroma.sqlite3"]; ok {
		verifySegments(ctx, db, m, v)
	}
	return nil
}

// openRO opens a local SQLite copy read-only.
func openRO(path string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro"}
	return sql.Open("sqlite", u.String())
}

func integrityCheck(ctx context.Context, path string) (string, error) {
	db, err := openRO(path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return "", err
		}
		lines = append(lines, s)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	return strings.Join(lines, "; "), nil
}

// verifyUploads checks that every file row of webui.db whose path is under
// uploads/ has its file in the snapshot. Open WebUI stores absolute paths
// (/app/backend/data/uploads/<id>_<name>): the part from "uploads/" on is
// the path inside the snapshot.
func verifyUploads(ctx context.Context, path string, inSnapshot map[string]bool, v *Verification) {
	db, err := openRO(path)
	if err != nil {
		v.problem("webui.db: cannot open: %v", err)
		return
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT id, path FROM file WHERE path IS NOT NULL`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return // not an Open WebUI database with files: nothing to check
		}
		v.problem("webui.db: cannot read the file table: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id, p string
		if err := rows.Scan(&id, &p); err != nil {
			v.problem("webui.db: cannot read the file table: %v", err)
			return
		}
		i := strings.Index(p, "uploads/")
		if i < 0 {
			continue // stored elsewhere (S3, another directory)
		}
		rel := p[i:]
		if !inSnapshot[rel] {
			v.problem("%s: missing from the snapshot, but webui.db's file row %s points at it", rel, id)
		}
	}
	if err := rows.Err(); err != nil {
		v.problem("webui.db: cannot read the file table: %v", err)
	}
}

// verifySegments checks that every vector segment chroma.sqlite3 names has
// its directory under vector_db/ in the snapshot.
func verifySegments(ctx context.Context, path string, m *manifest.Manifest, v *Verification) {
	db, err := openRO(path)
	if err != nil {
		v.problem("vector_db/chroma.sqlite3: cannot open: %v", err)
		return
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT id FROM segments WHERE scope = 'VECTOR' ORDER BY id`)
	if err != nil {
		v.problem("vector_db/chroma.sqlite3: cannot read the segments table: %v", err)
		return
	}
	defer rows.Close()
	dirs := map[string]bool{}
	for _, f := range m.Files {
		if rest, ok := strings.CutPrefix(f.Path, "vector_db/"); ok {
			if d, _, ok := strings.Cut(rest, "/"); ok {
				dirs[d] = true
			}
		}
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			v.problem("vector_db/chroma.sqlite3: cannot read the segments table: %v", err)
			return
		}
		if !dirs[id] {
			v.problem("vector_db/%s/: missing from the snapshot, but chroma.sqlite3 names that vector segment", id)
		}
	}
	if err := rows.Err(); err != nil {
		v.problem("vector_db/chroma.sqlite3: cannot read the segments table: %v", err)
	}
}

// verify carries out a verify action. A verify without a snapshot id
// verifies the snapshot this run made on the target (made), and is skipped
// when there is none.
func (e *Env) verify(ctx context.Context, a planner.Action, made map[string]string) Outcome {
	o := Outcome{Action: a}
	id := a.Snapshot
	if id == "" {
		if id = made[a.Target]; id == "" {
			o.Skipped = "this run made no new snapshot to verify"
			return o
		}
		o.Snapshot = id
	}
	v, err := e.Verify(ctx, a.Backup, a.Target, id, a.ReadData)
	if err != nil {
		o.Err = err
		return o
	}
	o.Problems = v.Problems
	o.Err = v.Err()
	if o.Err != nil {
		e.hooks().Logf("%s on %s: snapshot %s FAILED verification: %s", a.Backup, a.Target, id, strings.Join(v.Problems, "; "))
	} else {
		e.hooks().Logf("%s on %s: snapshot %s verified", a.Backup, a.Target, id)
	}
	return o
}
