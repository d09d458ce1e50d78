package target

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// errSymlink marks a path on a local target that goes through a symbolic
// link. owui never writes one; reading through it could pull files from
// anywhere on this machine into a restore.
var errSymlink = errors.New("is a symbolic link; owui never writes one into a snapshot")

// refuseLinks fails when a component of remote, below the target's root,
// is a symbolic link on a local target. It checks nothing elsewhere.
func (t *Target) refuseLinks(remote string) error {
	full, ok := t.localPath(remote)
	if !ok {
		return nil
	}
	root := filepath.Clean(filepath.FromSlash(t.localRoot))
	rel, err := filepath.Rel(root, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Errorf("%s is outside the target", remote)
	}
	p := root
	for _, seg := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, seg)
		fi, err := os.Lstat(p)
		if err != nil {
			return nil // missing: the read that follows says so
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%s: %w", p, errSymlink)
		}
	}
	return nil
}
