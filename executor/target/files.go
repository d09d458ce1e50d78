package target

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/fserrors"
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

// PutFile uploads the local file localPath as rel in snapshot id of backup:
// Send with no size to check and nothing owned.
func (t *Target) PutFile(ctx context.Context, backup, id, rel, localPath string) error {
	_, err := t.Send(ctx, backup, id, rel, localPath, SendOptions{Size: -1})
	return err
}

// SendOptions is what the caller of Send knows about the local file.
type SendOptions struct {
	// Size is the size the file must have, or -1. A file of another size
	// is an error: it changed since it was listed.
	Size int64
	// Owned says the file is owui's own staged copy, which nothing writes to
	// any more: a plain local target on the same file system takes it by
	// hard link rather than a copy of its bytes.
	Owned bool
}

// Sent is what Send did.
type Sent struct {
	// SHA256 is the hex SHA-256 of the bytes the target now holds, when Send
	// read them itself: every file a plain local target copies (see
	// HashesCopies). It is empty for a linked file (the caller's own bytes)
	// and for uploads through rclone.
	SHA256 string
	// Linked says the target took an owned file by hard link.
	Linked bool
}

// HashesCopies reports whether Send returns the SHA-256 of what it
// copied. That is the case on a plain local target (a directory on this
// machine, no crypt), where owui copies the bytes itself in one pass that
// also hashes them: rclone's local-to-local copy would read the source and
// the destination again for its MD5 check, which costs more than the copy.
func (t *Target) HashesCopies() bool { return t.localRoot != "" && t.crypt == nil }

// CanReuse reports whether CopyExisting can re-use a file of an older
// snapshot without sending its bytes (hard link or server-side copy).
func (t *Target) CanReuse() bool { return t.IsLocal() || t.f.Features().Copy != nil }

// Send uploads the local file localPath as rel in snapshot id of backup.
// On a plain local target owui writes the file itself, hashing the bytes as
// it copies them, or hard-links an owned file; elsewhere rclone's Copy
// with its retries, low-level retries and post-upload hash check applies.
// Either way a file already at rel is replaced, never written through, so
// that an older snapshot sharing it by hard link keeps its bytes.
func (t *Target) Send(ctx context.Context, backup, id, rel, localPath string, opt SendOptions) (Sent, error) {
	wrap := func(err error) error {
		return fmt.Errorf("upload %s to snapshot %s/%s on target %s: %w", rel, backup, id, t.name, err)
	}
	remote, err := remotePath(backup, id, rel)
	if err != nil {
		return Sent{}, wrap(err)
	}
	if t.HashesCopies() {
		sent, n, err := t.sendLocal(ctx, remote, localPath, opt)
		if err != nil {
			return Sent{}, wrap(t.writeFailed(err))
		}
		t.stats.bytesUploaded.Add(n)
		t.stats.filesUploaded.Add(1)
		return sent, nil
	}
	src, err := localObject(ctx, localPath)
	if err != nil {
		return Sent{}, wrap(err)
	}
	if opt.Size >= 0 && src.Size() != opt.Size {
		return Sent{}, wrap(fmt.Errorf("%s: %w", localPath, errSourceChanged))
	}
	if err := t.unlinkLocal(remote); err != nil {
		return Sent{}, wrap(err)
	}
	if _, err := operations.Copy(ctx, t.f, nil, remote, &countingObject{Object: src, n: &t.stats.bytesUploaded}); err != nil {
		return Sent{}, wrap(t.writeFailed(err))
	}
	t.stats.filesUploaded.Add(1)
	return Sent{}, nil
}

// errSourceChanged: the file to send is not the size it was listed with.
var errSourceChanged = errors.New("source file changed since it was listed")

// sendLocal writes localPath to remote on a plain local target and returns
// what it did and the bytes that are new on the target.
func (t *Target) sendLocal(ctx context.Context, remote, localPath string, opt SendOptions) (Sent, int64, error) {
	dst, _ := t.localPath(remote)
	if err := os.MkdirAll(filepath.Dir(dst), 0o777); err != nil {
		return Sent{}, 0, err
	}
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Sent{}, 0, err
	}
	if opt.Owned {
		if n, ok := linkOwned(localPath, dst, opt.Size); ok {
			return Sent{Linked: true}, n, nil
		}
	}
	sum, n, err := copyHashed(ctx, localPath, dst, opt.Size)
	if err != nil {
		return Sent{}, 0, err
	}
	return Sent{SHA256: sum}, n, nil
}

// linkOwned hard-links the staged file src to dst and gives it the mode a
// copy would have. It returns false, having left nothing at dst, when the
// link cannot be made (another file system, no hard links there) or src
// is not the size expected.
func linkOwned(src, dst string, size int64) (int64, bool) {
	if err := os.Link(src, dst); err != nil {
		return 0, false
	}
	st, err := os.Lstat(dst)
	if err != nil || !st.Mode().IsRegular() || (size >= 0 && st.Size() != size) {
		_ = os.Remove(dst)
		return 0, false
	}
	if err := os.Chmod(dst, 0o666&^umask()); err != nil {
		_ = os.Remove(dst)
		return 0, false
	}
	return st.Size(), true
}

// copyBufSize is the read size of copyHashed: big enough for few syscalls
// and the disk's read-ahead, small enough that Transfers of them are
// nothing beside the rest of owui's memory.
const copyBufSize = 1 << 20

var copyBufs = sync.Pool{New: func() any { return new([copyBufSize]byte) }}

// copyHashed copies src to the new file dst in one pass that also hashes
// the bytes, and gives dst src's modification time, as rclone does. The
// source must not change while it is read: a size other than size (when
// size >= 0) or a different size or modification time after the copy is
// errSourceChanged. On error dst is removed.
func copyHashed(ctx context.Context, src, dst string, size int64) (_ string, _ int64, err error) {
	in, err := os.Open(src)
	if err != nil {
		// Worded as rclone words it, so that the error is not taken for
		// one of the target's.
		return "", 0, fmt.Errorf("failed to open source object: %w", err)
	}
	defer in.Close()
	before, err := in.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("failed to open source object: %w", err)
	}
	if size >= 0 && before.Size() != size {
		return "", 0, fmt.Errorf("%s: %w", src, errSourceChanged)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return "", 0, err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(dst)
		}
	}()
	buf := copyBufs.Get().(*[copyBufSize]byte)
	defer copyBufs.Put(buf)
	h := sha256.New()
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		k, rerr := in.Read(buf[:])
		if k > 0 {
			if _, err := out.Write(buf[:k]); err != nil {
				return "", 0, err
			}
			h.Write(buf[:k])
			n += int64(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return "", 0, fmt.Errorf("read %s: %w", src, rerr)
		}
	}
	after, err := in.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", src, err)
	}
	if n != before.Size() || after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return "", 0, fmt.Errorf("%s: %w", src, errSourceChanged)
	}
	if err := out.Close(); err != nil {
		return "", 0, err
	}
	if err := os.Chtimes(dst, before.ModTime(), before.ModTime()); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ctxReader stops a long read when ctx is cancelled. It also hides any
// WriterTo of the reader, so that io.CopyBuffer uses the buffer it is given.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// umask is the process's file mode creation mask, which rclone's local
// backend and copyHashed leave to the kernel; a hard-linked file gets the
// mode a copy would have had. It is read from /proc (setting it to read it
// would race with every other goroutine creating files).
var umask = sync.OnceValue(func() os.FileMode {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o022
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return os.FileMode(m) & 0o777
			}
		}
	}
	return 0o022
})

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
		return fmt.Errorf("copy %s from snapshot %s/%s to %s on target %s: %w", rel, backup, fromID, toID, t.name, t.writeFailed(err))
	}
	srcRemote, err := remotePath(backup, fromID, rel)
	if err != nil {
		return false, wrap(err)
	}
	dstRemote, err := remotePath(backup, toID, rel)
	if err != nil {
		return false, wrap(err)
	}
	if t.HashesCopies() {
		ok, err := t.linkPlain(srcRemote, dstRemote)
		if err != nil {
			return false, wrap(err)
		}
		if ok {
			t.stats.filesLinked.Add(1)
		}
		return ok, nil
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
	// Features().Copy is the backend's own call, outside operations.Copy:
	// the low-level retries operations.Copy would make are made here.
	var dst fs.Object
	for try, tries := 1, max(fs.GetConfig(ctx).LowLevelRetries, 1); ; try++ {
		dst, err = doCopy(ctx, src, dstRemote)
		if err == nil || try >= tries || ctx.Err() != nil || !(fserrors.IsRetryError(err) || fserrors.ShouldRetry(err)) {
			break
		}
	}
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
	if ok, err := hardLink(from, to, 0o755); !ok || err != nil {
		return false, err
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

// linkPlain hard-links srcRemote to dstRemote on a plain local target with
// no round trip through rclone: for thousands of unchanged uploads the
// rclone objects cost more than the links. A missing source, or a link the
// file system refuses, yields false.
func (t *Target) linkPlain(srcRemote, dstRemote string) (bool, error) {
	from, _ := t.localPath(srcRemote)
	to, _ := t.localPath(dstRemote)
	st, err := os.Lstat(from)
	if err != nil || !st.Mode().IsRegular() {
		return false, nil
	}
	if ok, err := hardLink(from, to, 0o777); !ok || err != nil {
		return false, err
	}
	if lt, err := os.Lstat(to); err != nil || !os.SameFile(st, lt) {
		_ = os.Remove(to)
		return false, nil
	}
	return true, nil
}

// hardLink links to to from, making to's directory (with dirMode) and
// removing a file in the way (left by an apply killed under the same
// snapshot id) only when the link says so: three system calls a file where
// a no-change snapshot of 20,000 uploads is nothing but these links. A
// link the file system refuses yields false and no error; an error is a
// directory it could not make or a file it could not remove.
func hardLink(from, to string, dirMode os.FileMode) (bool, error) {
	err := os.Link(from, to)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(to), dirMode); err != nil {
			return false, err
		}
		err = os.Link(from, to)
	}
	if errors.Is(err, os.ErrExist) {
		if err := os.Remove(to); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, err
		}
		err = os.Link(from, to)
	}
	return err == nil, nil
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
	if err := t.refuseLinks(remote); err != nil {
		return 0, wrap(err)
	}
	var in io.ReadCloser
	if t.HashesCopies() {
		// A plain file here: rclone's object, accounting and re-opening
		// reader add nothing to reading it.
		p, _ := t.localPath(remote)
		in, err = os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	} else {
		var o fs.Object
		if o, err = t.f.NewObject(ctx, remote); err == nil {
			in, err = operations.Open(ctx, o)
		}
	}
	if err != nil {
		return 0, wrap(t.readFailed(err))
	}
	buf := copyBufs.Get().(*[copyBufSize]byte)
	defer copyBufs.Put(buf)
	n, err := io.CopyBuffer(w, ctxReader{ctx, in}, buf[:])
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
