package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sync/atomic"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/operations"

	"github.com/owui/owui/manifest"
)

// remotePath is the path of rel inside snapshot id of backup, relative to
// the target's root. It refuses names that would leave the snapshot.
func remotePath(backup, id, rel string) (string, error) {
	for _, seg := range []string{backup, id} {
		if seg == "" || seg == "." || seg == ".." || path.Base(seg) != seg {
			return "", fmt.Errorf("%w: %q", manifest.ErrUnsafePath, seg)
		}
	}
	if rel == "" {
		return backup + "/" + id, nil
	}
	if err := manifest.CheckPath(rel); err != nil {
		return "", err
	}
	return backup + "/" + id + "/" + rel, nil
}

// PutFile uploads the local file localPath as rel in snapshot id of backup.
// rclone's retries, low-level retries and post-upload hash check apply.
func (t *Target) PutFile(ctx context.Context, backup, id, rel, localPath string) error {
	wrap := func(err error) error {
		return fmt.Errorf("upload %s to snapshot %s/%s on target %s: %w", rel, backup, id, t.name, err)
	}
	remote, err := remotePath(backup, id, rel)
	if err != nil {
		return wrap(err)
	}
	src, err := localObject(ctx, localPath)
	if err != nil {
		return wrap(err)
	}
	if err := t.unlinkLocal(remote); err != nil {
		return wrap(err)
	}
	if _, err := operations.Copy(ctx, t.f, nil, remote, &countingObject{Object: src, n: &t.stats.bytesUploaded}); err != nil {
		return wrap(err)
	}
	t.stats.filesUploaded.Add(1)
	return nil
}

// localObject opens the local file p as an rclone object.
func localObject(ctx context.Context, p string) (fs.Object, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	// An absolute path never parses as "remote:path", whatever it holds.
	dir, err := fs.NewFs(ctx, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	o, err := dir.NewObject(ctx, filepath.Base(abs))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	return o, nil
}

// unlinkLocal removes remote from a local target before it is written, so
// that a file hard-linked from an older snapshot is replaced rather than
// rewritten in place (which would change the older snapshot too).
func (t *Target) unlinkLocal(remote string) error {
	p, ok := t.localPath(remote)
	if !ok {
		return nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// localPath is where remote's bytes live on this machine, for local targets.
func (t *Target) localPath(remote string) (string, bool) {
	if t.localRoot == "" {
		return "", false
	}
	if t.crypt != nil {
		remote = t.crypt.EncryptFileName(remote)
	}
	return filepath.Join(filepath.FromSlash(t.localRoot), filepath.FromSlash(remote)), true
}

// CopyExisting makes rel of snapshot toID a copy of rel of snapshot fromID
// without sending its bytes: a hard link on a local target, a server-side
// copy where the backend has one. It returns false, and no error, when
// neither is possible or the source is missing: the caller then uploads.
func (t *Target) CopyExisting(ctx context.Context, backup, fromID, toID, rel string) (bool, error) {
	wrap := func(err error) error {
		return fmt.Errorf("copy %s from snapshot %s/%s to %s on target %s: %w", rel, backup, fromID, toID, t.name, err)
	}
	srcRemote, err := remotePath(backup, fromID, rel)
	if err != nil {
		return false, wrap(err)
	}
	dstRemote, err := remotePath(backup, toID, rel)
	if err != nil {
		return false, wrap(err)
	}
	src, err := t.f.NewObject(ctx, srcRemote)
	if errors.Is(err, fs.ErrorObjectNotFound) || errors.Is(err, fs.ErrorIsDir) {
		return false, nil
	}
	if err != nil {
		return false, wrap(err)
	}
	if t.IsLocal() {
		ok, err := t.link(ctx, src, srcRemote, dstRemote)
		if err != nil {
			return false, wrap(err)
		}
		if ok {
			t.stats.filesLinked.Add(1)
		}
		return ok, nil
	}
	doCopy := t.f.Features().Copy
	if doCopy == nil {
		return false, nil
	}
	dst, err := doCopy(ctx, src, dstRemote)
	if errors.Is(err, fs.ErrorCantCopy) {
		return false, nil
	}
	if err != nil {
		return false, wrap(err)
	}
	if dst.Size() != src.Size() {
		return false, wrap(fmt.Errorf("server-side copy has %d bytes, want %d", dst.Size(), src.Size()))
	}
	t.stats.filesCopied.Add(1)
	return true, nil
}

// link hard-links srcRemote to dstRemote on a local target. Failures the
// filesystem may legitimately have (no hard links on this mount, a
// cross-device bind mount) yield false so the caller uploads instead.
func (t *Target) link(ctx context.Context, src fs.Object, srcRemote, dstRemote string) (bool, error) {
	from, _ := t.localPath(srcRemote)
	to, _ := t.localPath(dstRemote)
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return false, err
	}
	if err := os.Remove(to); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	if err := os.Link(from, to); err != nil {
		return false, nil
	}
	// Check through rclone that the link is the file it should be, in case
	// the local path was computed differently from rclone's own encoding.
	dst, err := t.f.NewObject(ctx, dstRemote)
	if err != nil || dst.Size() != src.Size() {
		_ = os.Remove(to)
		return false, nil
	}
	return true, nil
}

// GetFile writes rel of snapshot id to w and returns the bytes written.
// Reads resume after transient errors (rclone's low-level retries).
func (t *Target) GetFile(ctx context.Context, backup, id, rel string, w io.Writer) (int64, error) {
	wrap := func(err error) error {
		return fmt.Errorf("download %s from snapshot %s/%s on target %s: %w", rel, backup, id, t.name, err)
	}
	remote, err := remotePath(backup, id, rel)
	if err != nil {
		return 0, wrap(err)
	}
	o, err := t.f.NewObject(ctx, remote)
	if err != nil {
		return 0, wrap(err)
	}
	in, err := operations.Open(ctx, o)
	if err != nil {
		return 0, wrap(err)
	}
	n, err := io.Copy(w, in)
	cerr := in.Close()
	if err == nil {
		err = cerr
	}
	if err != nil {
		return n, wrap(err)
	}
	return n, nil
}

// countingObject counts the bytes read from an upload's source, so Stats
// reports what went over the wire (retries included), not file sizes.
type countingObject struct {
	fs.Object
	n *atomic.Int64
}

// Open opens the source and counts what is read from it.
func (o *countingObject) Open(ctx context.Context, options ...fs.OpenOption) (io.ReadCloser, error) {
	in, err := o.Object.Open(ctx, options...)
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: in, n: o.n}, nil
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}
