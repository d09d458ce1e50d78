package executor

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/owui/owui/manifest"
)

// TestDestPathRefusesEscapes checks the destination-side guard on its own,
// for manifests that never went through manifest.Decode.
func TestDestPathRefusesEscapes(t *testing.T) {
	dest := t.TempDir()
	if err := os.Symlink(t.TempDir(), filepath.Join(dest, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		rel string
		// want is the sentinel the error wraps; nil with ok false means
		// any error.
		want error
		ok   bool
	}{
		"dotdot":        {"../x", manifest.ErrUnsafePath, false},
		"inner dotdot":  {"a/../../x", manifest.ErrUnsafePath, false},
		"absolute":      {"/etc/passwd", manifest.ErrUnsafePath, false},
		"link parent":   {"link/x", ErrLinkInDestination, false},
		"deep link":     {"link/a/b", ErrLinkInDestination, false},
		"staging name":  {stagePrefix + "x/y", manifest.ErrUnsafePath, false},
		"file in a way": {"file/x", nil, false},
		"fine":          {"uploads/a.txt", nil, true},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := destPath(dest, tc.rel)
			switch {
			case tc.ok && err != nil:
				t.Errorf("destPath(%q) = %v", tc.rel, err)
			case !tc.ok && err == nil:
				t.Errorf("destPath(%q) accepted it", tc.rel)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("destPath(%q) = %v, want %v", tc.rel, err, tc.want)
			}
		})
	}
}

// TestSnapshotNewer: the version warning fires only when both versions
// parse and the snapshot's is newer.
func TestSnapshotNewer(t *testing.T) {
	for name, tc := range map[string]struct {
		snap, image string
		want        bool
	}{
		"newer minor":    {"v0.6.18", "0.5.20", true},
		"newer patch":    {"0.6.18", "v0.6.9", true},
		"same":           {"v0.6.18", "v0.6.18", false},
		"older":          {"v0.5.0", "v0.6.18", false},
		"image unknown":  {"v0.6.18", "main", false},
		"snapshot none":  {"", "v0.6.18", false},
		"pre-release":    {"v0.7.0-rc1", "v0.6.18", true},
		"no image label": {"v0.6.18", "", true},
	} {
		t.Run(name, func(t *testing.T) {
			s := &manifest.Source{OpenWebUIVersion: tc.snap}
			if got := snapshotNewer(s, tc.image); got != tc.want {
				t.Errorf("snapshotNewer(%q, %q) = %v, want %v", tc.snap, tc.image, got, tc.want)
			}
		})
	}
}
