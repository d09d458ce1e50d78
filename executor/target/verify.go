package target

import (
	"context"
	"fmt"
	"strings"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/walk"

	"github.com/owui/owui/manifest"
)

// ReadManifestSum is ReadManifest plus the hex sha256 of the manifest's
// bytes as stored, which a verification records.
func (t *Target) ReadManifestSum(ctx context.Context, backup, id string) (*manifest.Manifest, string, error) {
	m, sum, err := t.readManifest(ctx, backup, id)
	if err != nil {
		return nil, "", fmt.Errorf("read manifest of snapshot %s/%s on target %s: %w", backup, id, t.name, err)
	}
	return m, sum, nil
}

// ListFiles lists snapshot id of backup once, recursively, and returns the
// size of every file in it by its path inside the snapshot (slash
// separated). Through crypt, names and sizes are the decrypted ones.
func (t *Target) ListFiles(ctx context.Context, backup, id string) (map[string]int64, error) {
	dir, err := remotePath(backup, id, "")
	if err != nil {
		return nil, fmt.Errorf("list snapshot %s/%s on target %s: %w", backup, id, t.name, err)
	}
	out := map[string]int64{}
	err = walk.ListR(ctx, t.f, dir, true, -1, walk.ListObjects, func(entries fs.DirEntries) error {
		for _, e := range entries {
			if o, ok := e.(fs.Object); ok {
				out[strings.TrimPrefix(o.Remote(), dir+"/")] = o.Size()
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list snapshot %s/%s on target %s: %w", backup, id, t.name, err)
	}
	return out, nil
}
