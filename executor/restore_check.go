package executor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/owui/owui/docker"
	"github.com/owui/owui/manifest"
)

// webuiDB is Open WebUI's main database, relative to the data directory.
const webuiDB = "webui.db"

// ContainerUploads is where Open WebUI keeps uploads inside its container,
// the prefix of the file.path rows it writes there.
const ContainerUploads = docker.DataPath + "/uploads"

// UploadPaths is what a restore found in webui.db's file.path rows, which
// Open WebUI stores as absolute paths.
type UploadPaths struct {
	// Expected is the uploads directory the restored data is opened from.
	Expected string
	// Rows is how many file rows have a local (absolute) path.
	Rows int
	// Mismatched of them point elsewhere than Expected; Example is one.
	Mismatched int
	Example    string
	// Rewritten rows were changed by RewriteUploads: the restored webui.db
	// then differs from the manifest's checksum on purpose.
	Rewritten int
}

// checkUploads looks at the staged webui.db (after its checksum was
// checked) for file.path rows outside expected, and with RewriteUploads
// rewrites them. A snapshot without webui.db or a file table has nothing
// to check.
func checkUploads(ctx context.Context, stageDir, expected string, opts RestoreOptions) (UploadPaths, error) {
	if opts.UploadPrefix != "" {
		expected = strings.TrimSuffix(opts.UploadPrefix, "/")
	}
	up := UploadPaths{Expected: expected}
	p := filepath.Join(stageDir, webuiDB)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return up, nil
	}
	db, err := openSQLite(p, !opts.RewriteUploads)
	if err != nil {
		return up, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT id, path FROM file WHERE path LIKE '/%'`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return up, nil
		}
		return up, fmt.Errorf("read file paths of %s: %w", webuiDB, err)
	}
	rewrite := map[string]string{}
	for rows.Next() {
		var id, path string
		if err := rows.Scan(&id, &path); err != nil {
			rows.Close()
			return up, fmt.Errorf("read file paths of %s: %w", webuiDB, err)
		}
		up.Rows++
		if strings.HasPrefix(path, expected+"/") {
			continue
		}
		up.Mismatched++
		if up.Example == "" {
			up.Example = path
		}
		if i := strings.LastIndex(path, "/uploads/"); i >= 0 {
			rewrite[id] = expected + "/" + path[i+len("/uploads/"):]
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return up, fmt.Errorf("read file paths of %s: %w", webuiDB, err)
	}
	if !opts.RewriteUploads || len(rewrite) == 0 {
		return up, nil
	}
	n, err := rewritePaths(ctx, db, rewrite)
	if err != nil {
		return up, err
	}
	up.Rewritten = n
	up.Mismatched -= n
	if up.Mismatched == 0 {
		up.Example = ""
	}
	return up, db.Close()
}

// rewritePaths updates file.path rows in one transaction.
func rewritePaths(ctx context.Context, db *sql.DB, paths map[string]string) (int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("rewrite upload paths: %w", err)
	}
	defer tx.Rollback()
	n := 0
	for id, p := range paths {
		r, err := tx.ExecContext(ctx, `UPDATE file SET path = ? WHERE id = ?`, p, id)
		if err != nil {
			return 0, fmt.Errorf("rewrite upload paths: %w", err)
		}
		k, _ := r.RowsAffected()
		n += int(k)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("rewrite upload paths: %w", err)
	}
	return n, nil
}

func openSQLite(path string, readOnly bool) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "file", Path: abs}
	if readOnly {
		u.RawQuery = "mode=ro"
	}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// describeVersion names the Open WebUI release a snapshot comes from.
func describeVersion(s *manifest.Source) string {
	switch {
	case s == nil:
		return "an unknown release"
	case s.OpenWebUIVersion != "" && s.AlembicVersion != "":
		return fmt.Sprintf("%s (schema %s)", s.OpenWebUIVersion, s.AlembicVersion)
	case s.OpenWebUIVersion != "":
		return s.OpenWebUIVersion
	case s.AlembicVersion != "":
		return "schema revision " + s.AlembicVersion
	}
	return "an unknown release"
}

// snapshotNewer reports whether the snapshot's Open WebUI version is known
// and newer than image (an org.opencontainers.image.version label). With no
// image to compare with, it reports whether the snapshot names a version
// at all, so that a restore into a directory says which release to use.
func snapshotNewer(s *manifest.Source, image string) bool {
	if s == nil || (s.OpenWebUIVersion == "" && s.AlembicVersion == "") {
		return false
	}
	if image == "" {
		return true
	}
	a, ok1 := parseVersion(s.OpenWebUIVersion)
	b, ok2 := parseVersion(image)
	if !ok1 || !ok2 {
		return false
	}
	for i := range 3 {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

// parseVersion reads v0.6.18 or 0.6.18 (a pre-release suffix is ignored).
func parseVersion(v string) ([3]int, bool) {
	var out [3]int
	v = strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(v, "-+"); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return out, false
		}
		out[i] = n
	}
	return out, true
}
