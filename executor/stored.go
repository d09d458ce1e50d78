package executor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/owui/owui/executor/stage"
	"github.com/owui/owui/manifest"
)

// fileGetter is what reading a snapshot's files needs of a target.
type fileGetter interface {
	GetFile(ctx context.Context, backup, id, rel string, w io.Writer) (int64, error)
}

// errLongerThanManifest stops a download at the size the manifest gives.
var errLongerThanManifest = errors.New("longer than the manifest says")

// errStoppedReading ends a stored object's download once its decompression
// has failed.
var errStoppedReading = errors.New("stopped reading")

// readFile writes the bytes of f, in snapshot m on t, to w and returns how
// many it wrote: never more than f.Size (errLongerThanManifest past that).
// A file stored compressed is decompressed on the way, and its stored
// object checked against the manifest's stored size and SHA-256. Checking
// the bytes written against f.SHA256 is the caller's.
func readFile(ctx context.Context, t fileGetter, m *manifest.Manifest, f manifest.File, w io.Writer) (int64, error) {
	if f.Stored == nil {
		return t.GetFile(ctx, m.Backup, m.Snapshot, f.Path, &sizeCap{w: w, left: f.Size})
	}
	pr, pw := io.Pipe()
	h := sha256.New()
	type got struct {
		n   int64
		err error
	}
	done := make(chan got, 1)
	go func() {
		n, err := t.GetFile(ctx, m.Backup, m.Snapshot, f.StoredPath(), &sizeCap{w: io.MultiWriter(pw, h), left: f.Stored.Size})
		pw.CloseWithError(err) // nil: the decompressor sees the end
		done <- got{n, err}
	}()
	n, derr := stage.Decompress(pr, w, f.Size)
	pr.CloseWithError(errStoppedReading)
	g := <-done
	switch {
	case errors.Is(g.err, errLongerThanManifest):
		return n, fmt.Errorf("%s: more than the %d bytes the manifest says", f.StoredPath(), f.Stored.Size)
	case g.err != nil && !errors.Is(g.err, errStoppedReading):
		return n, g.err
	case errors.Is(derr, stage.ErrTooLong):
		return n, errLongerThanManifest
	case derr != nil:
		return n, fmt.Errorf("decompress %s: %w", f.StoredPath(), derr)
	case g.n != f.Stored.Size:
		return n, fmt.Errorf("%s: %d bytes, the manifest says %d", f.StoredPath(), g.n, f.Stored.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != f.Stored.SHA256 {
		return n, fmt.Errorf("%s: sha256 %s, the manifest says %s", f.StoredPath(), sum, f.Stored.SHA256)
	}
	return n, nil
}

// sizeCap passes at most left bytes to w and fails on any more.
type sizeCap struct {
	w    io.Writer
	left int64
}

func (c *sizeCap) Write(p []byte) (int, error) {
	if int64(len(p)) <= c.left {
		n, err := c.w.Write(p)
		c.left -= int64(n)
		return n, err
	}
	n, err := c.w.Write(p[:c.left])
	c.left -= int64(n)
	if err == nil {
		err = errLongerThanManifest
	}
	return n, err
}
