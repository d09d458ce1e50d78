// Package faultfs is an rclone backend, "owuifault", that wraps a real
// remote and injects the faults a real remote cannot be made to produce on
// demand: the Nth write failing, transient errors that a retry cures, slow
// or hung writes, short reads, a full or read-only target.
//
// It is a test helper: only _test.go files and test helpers import it
// (DESIGN.md: a fake only for a fault a real component cannot produce, and
// then it wraps the real thing). Every fs.Fs and fs.Object method delegates
// to the wrapped remote; faults are injected in front of the delegation.
//
// A remote is a connection string such as
//
//	:owuifault,remote='/srv/backups',fail_every=5,name=f1:
//
// Options:
//
//	remote           the wrapped remote (required); a path, "name:path" or a connection string
//	name             the key under which Lookup finds this Fs's Counters
//	fail_every=N     every Nth write fails with a permanent, non-retriable error
//	fail_after=N     every write after the first N fails the same way
//	transient_every=N  every Nth write fails once with an error rclone retries (N >= 2)
//	delay=DURATION   each write waits this long first (honouring its context)
//	hang=true        writes block until their context is done
//	short_reads=MODE reads end early: "true" or "truncate" ends them at half
//	                 the object with io.EOF (silent truncation); "error" ends
//	                 the first read at half with io.ErrUnexpectedEOF and
//	                 fails every resumed read at once
//	full=true        writes fail with ENOSPC, as the local backend reports a full disk
//	read_only=true   writes, deletes and Mkdir fail with EROFS
//	match=GLOB       faults touch only objects whose base name matches (path.Match)
//
// Writes are Put, Update and server-side Copy; Mkdir is not counted. The
// wrapper never reports itself local (rclone's Features.IsLocal), so owui
// sends every byte through it instead of hard-linking behind its back.
package faultfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"syscall"
	"time"

	"github.com/rclone/rclone/backend/overview"
	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/cache"
	"github.com/rclone/rclone/fs/config/configmap"
	"github.com/rclone/rclone/fs/config/configstruct"
	"github.com/rclone/rclone/fs/fserrors"
	"github.com/rclone/rclone/fs/fspath"
)

// BackendName is the name the backend is registered under.
const BackendName = "owuifault"

func init() {
	fs.Register(&fs.RegInfo{
		Name:        BackendName,
		Description: "Fault injection over another remote (owui tests only)",
		NewFs:       NewFs,
		// Not one of rclone's own backends: it has no embedded overview.
		Overview: new(overview.BackendConfig),
		Options: []fs.Option{
			{Name: "remote", Required: true, Help: "Remote to wrap."},
			{Name: "name", Default: "", Help: "Key of this Fs's counters for Lookup."},
			{Name: "fail_every", Default: 0, Help: "Every Nth write fails permanently."},
			{Name: "fail_after", Default: -1, Help: "Every write after the first N fails permanently."},
			{Name: "transient_every", Default: 0, Help: "Every Nth write fails once with a retriable error."},
			{Name: "delay", Default: fs.Duration(0), Help: "Each write waits this long first."},
			{Name: "hang", Default: false, Help: "Writes block until their context is done."},
			{Name: "short_reads", Default: "", Help: "truncate (or true) or error."},
			{Name: "full", Default: false, Help: "Writes fail with ENOSPC."},
			{Name: "read_only", Default: false, Help: "Writes and deletes fail with EROFS."},
			{Name: "match", Default: "", Help: "Only objects whose base name matches this glob are faulted."},
		},
	})
}

// Options are the backend's options.
type Options struct {
	Remote         string      `config:"remote"`
	Name           string      `config:"name"`
	FailEvery      int         `config:"fail_every"`
	FailAfter      int         `config:"fail_after"`
	TransientEvery int         `config:"transient_every"`
	Delay          fs.Duration `config:"delay"`
	Hang           bool        `config:"hang"`
	ShortReads     string      `config:"short_reads"`
	Full           bool        `config:"full"`
	ReadOnly       bool        `config:"read_only"`
	Match          string      `config:"match"`
}

// Short read modes.
const (
	shortOff      = ""
	shortTruncate = "truncate"
	shortError    = "error"
)

func (o *Options) check() error {
	switch o.ShortReads {
	case "", "false":
		o.ShortReads = shortOff
	case "true", shortTruncate:
		o.ShortReads = shortTruncate
	case shortError:
	default:
		return fmt.Errorf("short_reads: want truncate, true or error, not %q", o.ShortReads)
	}
	if o.TransientEvery == 1 {
		return errors.New("transient_every=1 would fail every retry too; use 2 or more")
	}
	if o.FailEvery < 0 || o.TransientEvery < 0 {
		return errors.New("fail_every and transient_every must not be negative")
	}
	if _, err := path.Match(o.Match, ""); err != nil {
		return fmt.Errorf("match: %w", err)
	}
	return nil
}

// Fs wraps another Fs and injects faults into its writes and reads.
type Fs struct {
	fs.Fs
	name     string
	root     string
	opt      Options
	c        *Counters
	features *fs.Features
	wrapper  fs.Fs
}

// Interfaces the wrapper implements; Mask drops those its base lacks.
var (
	_ fs.Fs        = (*Fs)(nil)
	_ fs.Copier    = (*Fs)(nil)
	_ fs.Purger    = (*Fs)(nil)
	_ fs.ListRer   = (*Fs)(nil)
	_ fs.UnWrapper = (*Fs)(nil)
	_ fs.Wrapper   = (*Fs)(nil)
)

// NewFs opens the wrapped remote and returns the wrapper around it.
func NewFs(ctx context.Context, name, root string, m configmap.Mapper) (fs.Fs, error) {
	opt := Options{}
	if err := configstruct.Set(m, &opt); err != nil {
		return nil, err
	}
	if opt.Remote == "" {
		return nil, errors.New("owuifault: remote is empty")
	}
	if err := opt.check(); err != nil {
		return nil, fmt.Errorf("owuifault: %w", err)
	}
	base, err := cache.Get(ctx, fspath.JoinRootPath(opt.Remote, root))
	if err != nil && !errors.Is(err, fs.ErrorIsFile) {
		return nil, fmt.Errorf("owuifault: open %s: %w", opt.Remote, err)
	}
	f := &Fs{Fs: base, name: name, root: root, opt: opt, c: counters(opt.Name)}
	if errors.Is(err, fs.ErrorIsFile) {
		f.root = path.Dir(root)
		if f.root == "." || f.root == "/" {
			f.root = ""
		}
	}
	f.features = (&fs.Features{
		CanHaveEmptyDirectories: true,
		BucketBased:             true,
		BucketBasedRootOK:       true,
		SlowHash:                true,
		ServerSideAcrossConfigs: true,
	}).Fill(ctx, f).Mask(ctx, base).WrapsFs(f, base)
	cache.PinUntilFinalized(base, f)
	return f, err
}

// Name of the remote (as passed into NewFs).
func (f *Fs) Name() string { return f.name }

// Root of the remote (as passed into NewFs).
func (f *Fs) Root() string { return f.root }

// String describes the wrapper and what it wraps.
func (f *Fs) String() string { return fmt.Sprintf("owuifault[%s]", f.Fs) }

// Features are the base's, masked to what the wrapper passes on; IsLocal
// is never set.
func (f *Fs) Features() *fs.Features { return f.features }

// UnWrap returns the wrapped Fs.
func (f *Fs) UnWrap() fs.Fs { return f.Fs }

// WrapFs returns the Fs that wraps this one, if any.
func (f *Fs) WrapFs() fs.Fs { return f.wrapper }

// SetWrapper records the Fs that wraps this one.
func (f *Fs) SetWrapper(wrapper fs.Fs) { f.wrapper = wrapper }

// Counters returns the counters of this Fs.
func (f *Fs) Counters() *Counters { return f.c }

// matches reports whether faults apply to remote.
func (f *Fs) matches(remote string) bool {
	if f.opt.Match == "" {
		return true
	}
	ok, _ := path.Match(f.opt.Match, path.Base(remote))
	return ok
}

// refuse is the error of a full or read-only target for op on remote, or
// nil: a full disk refuses new files and directories (not deletes or
// metadata), a read-only one every change. It has the shape the local
// backend returns, an *os.PathError over an errno.
func (f *Fs) refuse(op, remote string) error {
	if !f.matches(remote) {
		return nil
	}
	var errno syscall.Errno
	switch {
	case f.opt.ReadOnly:
		errno = syscall.EROFS
	case f.opt.Full && (op == "open" || op == "mkdir"):
		errno = syscall.ENOSPC
	default:
		return nil
	}
	f.c.refused.Add(1)
	return &os.PathError{Op: op, Path: path.Join(f.root, remote), Err: errno}
}

// refuseDir is refuse for a directory operation, which match never selects.
func (f *Fs) refuseDir(op, dir string) error {
	if f.opt.Match != "" {
		return nil
	}
	return f.refuse(op, dir)
}

// beforeWrite counts a write of remote and returns the fault to inject
// instead of it, or nil to go ahead. It waits out a delay, a hang or a
// Hold first.
func (f *Fs) beforeWrite(ctx context.Context, remote string) error {
	if !f.matches(remote) {
		return nil
	}
	n := f.c.writes.Add(1)
	if err := f.c.wait(ctx); err != nil {
		return err
	}
	if f.opt.Hang {
		f.c.hung.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}
	if d := time.Duration(f.opt.Delay); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := f.refuse("open", remote); err != nil {
		return err
	}
	switch {
	case f.opt.FailEvery > 0 && n%int64(f.opt.FailEvery) == 0:
		f.c.failed.Add(1)
		return fserrors.NoRetryError(fmt.Errorf("owuifault: injected failure of write %d (%s; fail_every=%d)", n, remote, f.opt.FailEvery))
	case f.opt.FailAfter >= 0 && n > int64(f.opt.FailAfter):
		f.c.failed.Add(1)
		return fserrors.NoRetryError(fmt.Errorf("owuifault: injected failure of write %d (%s; fail_after=%d)", n, remote, f.opt.FailAfter))
	case f.opt.TransientEvery > 0 && n%int64(f.opt.TransientEvery) == 0:
		f.c.transient.Add(1)
		return fserrors.RetryError(fmt.Errorf("owuifault: injected transient failure of write %d (%s; transient_every=%d)", n, remote, f.opt.TransientEvery))
	}
	return nil
}

// afterWrite counts a write that reached the base.
func (f *Fs) afterWrite(remote string, err error) {
	switch {
	case !f.matches(remote):
	case err == nil:
		f.c.succeeded.Add(1)
	default:
		f.c.baseErrors.Add(1)
	}
}

// Put uploads through the base unless a fault is injected.
func (f *Fs) Put(ctx context.Context, in io.Reader, src fs.ObjectInfo, options ...fs.OpenOption) (fs.Object, error) {
	if err := f.beforeWrite(ctx, src.Remote()); err != nil {
		return nil, err
	}
	o, err := f.Fs.Put(ctx, in, src, options...)
	f.afterWrite(src.Remote(), err)
	return f.wrap(o), err
}

// Copy copies server-side through the base unless a fault is injected.
func (f *Fs) Copy(ctx context.Context, src fs.Object, remote string) (fs.Object, error) {
	do := f.Fs.Features().Copy
	if do == nil {
		return nil, fs.ErrorCantCopy
	}
	if w, ok := src.(*Object); ok {
		src = w.Object
	}
	if err := f.beforeWrite(ctx, remote); err != nil {
		return nil, err
	}
	o, err := do(ctx, src, remote)
	f.afterWrite(remote, err)
	return f.wrap(o), err
}

// Mkdir is refused by a full or read-only wrapper, and not counted.
func (f *Fs) Mkdir(ctx context.Context, dir string) error {
	if err := f.refuseDir("mkdir", dir); err != nil {
		return err
	}
	return f.Fs.Mkdir(ctx, dir)
}

// Rmdir is refused by a read-only wrapper.
func (f *Fs) Rmdir(ctx context.Context, dir string) error {
	if err := f.refuseDir("remove", dir); err != nil {
		return err
	}
	return f.Fs.Rmdir(ctx, dir)
}

// Purge is refused by a read-only wrapper.
func (f *Fs) Purge(ctx context.Context, dir string) error {
	do := f.Fs.Features().Purge
	if do == nil {
		return fs.ErrorCantPurge
	}
	if err := f.refuseDir("remove", dir); err != nil {
		return err
	}
	return do(ctx, dir)
}

// NewObject finds remote in the base.
func (f *Fs) NewObject(ctx context.Context, remote string) (fs.Object, error) {
	o, err := f.Fs.NewObject(ctx, remote)
	return f.wrap(o), err
}

// List lists dir in the base.
func (f *Fs) List(ctx context.Context, dir string) (fs.DirEntries, error) {
	entries, err := f.Fs.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	return f.wrapEntries(entries), nil
}

// ListR lists dir recursively in the base.
func (f *Fs) ListR(ctx context.Context, dir string, callback fs.ListRCallback) error {
	do := f.Fs.Features().ListR
	if do == nil {
		return fs.ErrorNotImplemented
	}
	return do(ctx, dir, func(entries fs.DirEntries) error {
		return callback(f.wrapEntries(entries))
	})
}

func (f *Fs) wrapEntries(entries fs.DirEntries) fs.DirEntries {
	for i, e := range entries {
		if o, ok := e.(fs.Object); ok {
			entries[i] = f.wrap(o)
		}
	}
	return entries
}

func (f *Fs) wrap(o fs.Object) fs.Object {
	if o == nil {
		return nil
	}
	return &Object{Object: o, f: f}
}
