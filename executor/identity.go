package executor

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"

	"github.com/owui/owui/docker"
	"github.com/owui/owui/executor/stage"
	"github.com/owui/owui/manifest"
)

// SecretKeyFile is the snapshot path of Open WebUI's generated secret key.
// It lies beside the data directory in the container (/app/backend), not
// in it: a restore puts it at the top of the restored directory, to be
// copied back to /app/backend/.webui_secret_key.
const SecretKeyFile = ".webui_secret_key"

// versionLabel is the OCI image label Open WebUI's images carry their
// release in; a container inherits its image's labels.
const versionLabel = "org.opencontainers.image.version"

// describeSource is the manifest's record of the instance a snapshot is
// taken from, as far as Docker tells.
func describeSource(src *source) *manifest.Source {
	if src == nil || !src.inst.UsesDocker() {
		return nil
	}
	ms := &manifest.Source{DockerVolume: src.inst.DockerVolume}
	if c := src.container; c != nil {
		ms.Container, ms.Image, ms.ImageID = c.Name, c.Image, c.ImageID
		ms.OpenWebUIVersion = c.Labels[versionLabel]
		if len(c.ImageDigests) > 0 {
			ms.ImageDigest = c.ImageDigests[0]
		}
	}
	return ms
}

// captureSecretKey copies Open WebUI's generated secret key out of its
// container into the staging area as SecretKeyFile, marked secret, when
// the container's environment does not set WEBUI_SECRET_KEY (then the key
// lives only in that file, outside the data volume, and a restore without
// it logs every user out and breaks stored credentials). Its content is
// never logged; only the staged file holds it.
func (e *Env) captureSecretKey(ctx context.Context, src *source, s *staged, listed []stage.Entry) error {
	c := src.container
	if c == nil {
		return nil
	}
	h := e.hooks()
	b := s.manifest.Backup
	if slices.Contains(c.EnvNames, "WEBUI_SECRET_KEY") {
		h.Logf("%s: container %s sets WEBUI_SECRET_KEY in its environment; keep that value with its deployment (owui does not copy environment values)", b, c.Name)
		return nil
	}
	if slices.ContainsFunc(listed, func(ent stage.Entry) bool { return ent.Rel == SecretKeyFile }) {
		h.Logf("%s: the data directory holds a %s of its own; the container's is not copied over it", b, SecretKeyFile)
		return nil
	}
	key, err := src.engine.CopyFile(ctx, c.ID, docker.SecretKeyPath)
	if err != nil {
		if isNotFound(err) {
			h.Logf("%s: warning: container %s has neither WEBUI_SECRET_KEY nor %s; no secret key to capture", b, c.Name, docker.SecretKeyPath)
			return nil
		}
		return fmt.Errorf("copy the secret key out of container %s: %w", c.Name, err)
	}
	dst := filepath.Join(s.dir, SecretKeyFile)
	if err := os.WriteFile(dst, key, 0o600); err != nil {
		return fmt.Errorf("stage the secret key: %w", err)
	}
	sum, size, err := stage.HashFile(dst)
	if err != nil {
		return fmt.Errorf("stage the secret key: %w", err)
	}
	s.add(manifest.File{Path: SecretKeyFile, Size: size, SHA256: sum, Secret: true}, dst)
	h.Logf("%s: captured the secret key of container %s (%s) as %s", b, c.Name, docker.SecretKeyPath, SecretKeyFile)
	return nil
}

// alembicVersion reads the schema revision of a staged copy of webui.db
// (never the live source): it names the Open WebUI release when the image
// has no version label.
func alembicVersion(ctx context.Context, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, `SELECT version_num FROM alembic_version LIMIT 1`).Scan(&v); err != nil {
		return "", fmt.Errorf("read alembic_version of %s: %w", filepath.Base(path), err)
	}
	return v, nil
}
