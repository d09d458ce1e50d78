// Package target stores snapshots on a backup target: a local directory, any
// rclone remote, or an rclone connection string, optionally wrapped in rclone
// crypt. It is the only package that talks to rclone.
//
// Paths follow the remote layout of DESIGN.md: <root>/<backup>/<snapshot id>/
// holds the snapshot's files and, written last, owui-manifest.json.
package target

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/rclone/rclone/backend/crypt"
	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/cache"
	rconfig "github.com/rclone/rclone/fs/config"
	"github.com/rclone/rclone/fs/config/configfile"
	"github.com/rclone/rclone/fs/config/configmap"
	"github.com/rclone/rclone/fs/config/obscure"

	// Backends a target may name. crypt is imported above.
	_ "github.com/rclone/rclone/backend/alias"
	_ "github.com/rclone/rclone/backend/azureblob"
	_ "github.com/rclone/rclone/backend/b2"
	_ "github.com/rclone/rclone/backend/drive"
	_ "github.com/rclone/rclone/backend/dropbox"
	_ "github.com/rclone/rclone/backend/ftp"
	_ "github.com/rclone/rclone/backend/googlecloudstorage"
	_ "github.com/rclone/rclone/backend/local"
	_ "github.com/rclone/rclone/backend/onedrive"
	_ "github.com/rclone/rclone/backend/s3"
	_ "github.com/rclone/rclone/backend/sftp"
	_ "github.com/rclone/rclone/backend/smb"
	_ "github.com/rclone/rclone/backend/webdav"

	"github.com/owui/owui/config"
)

// Target is an opened backup target. Its methods are safe for concurrent use.
type Target struct {
	name    string // the target's name in the policy
	display string // the remote with secrets redacted
	f       fs.Fs  // root of the target: plain remote or crypt over it
	crypt   *crypt.Fs
	// localRoot is the directory on this machine that holds the target's
	// bytes (under crypt, the encrypted ones); empty when the target is not
	// local. It makes hard links possible.
	localRoot string
	stats     counters
}

// Stats counts what a Target has done since Open.
type Stats struct {
	// BytesUploaded is the bytes read from local sources and sent to the
	// target, retries included (plaintext size under crypt).
	BytesUploaded int64
	// FilesUploaded counts files sent by PutFile.
	FilesUploaded int64
	// FilesCopied counts files CopyExisting copied server-side.
	FilesCopied int64
	// FilesLinked counts files CopyExisting hard-linked.
	FilesLinked int64
}

type counters struct {
	bytesUploaded, filesUploaded, filesCopied, filesLinked atomic.Int64
}

var installConfig = sync.OnceFunc(func() {
	// rclone reads RCLONE_CONFIG through its --config flag, which a library
	// user does not have. A missing or unreadable file means "no named
	// remotes" rather than rclone's fatal exit or a warning on every run.
	p := rconfig.GetConfigPath()
	if env, ok := os.LookupEnv("RCLONE_CONFIG"); ok {
		p = env
	}
	if p != "" {
		if f, err := os.Open(p); err != nil {
			p = ""
		} else {
			_ = f.Close()
		}
	}
	if err := rconfig.SetConfigPath(p); err != nil {
		_ = rconfig.SetConfigPath("")
	}
	configfile.Install()
})

// Open connects to the target t. t.Remote is a local path, "name:path" of a
// remote in the user's rclone.conf (RCLONE_CONFIG honoured), or a connection
// string such as ":s3,provider=AWS,env_auth=true:bucket/path". With t.Crypt
// the remote is wrapped in rclone crypt (standard file name encryption), so
// a snapshot restores with plain `rclone copy` through a crypt remote that
// has the same passwords. A local target's root directory is created.
func Open(ctx context.Context, t *config.Target) (*Target, error) {
	installConfig()
	tg := &Target{name: t.Name, display: Redact(t.Remote)}
	if t.Crypt != nil {
		tg.display += " (crypt)"
	}
	if t.Remote == "" {
		return nil, fmt.Errorf("open target %s: remote is empty", t.Name)
	}
	base, err := cache.Get(ctx, t.Remote)
	if err != nil && !errors.Is(err, fs.ErrorIsFile) {
		return nil, fmt.Errorf("open target %s (%s): %w", t.Name, tg.display, err)
	}
	if errors.Is(err, fs.ErrorIsFile) {
		return nil, fmt.Errorf("open target %s (%s): remote is a file, not a directory", t.Name, tg.display)
	}
	// rclone's Fs cache shuts down entries unused for a while; a Target
	// may live for days in `owui watch`.
	cache.PinUntilFinalized(base, tg)
	tg.f = base
	if t.Crypt != nil {
		cf, err := newCrypt(ctx, t.Remote, t.Crypt)
		if err != nil {
			return nil, fmt.Errorf("open target %s (%s): %w", t.Name, tg.display, err)
		}
		tg.f, tg.crypt = cf, cf
	}
	if base.Features().IsLocal {
		tg.localRoot = base.Root()
		if err := tg.f.Mkdir(ctx, ""); err != nil {
			return nil, fmt.Errorf("create target %s (%s): %w", t.Name, tg.display, err)
		}
	}
	return tg, nil
}

// newCrypt wraps remote (already in rclone's Fs cache) in crypt. The Fs is
// built from a config map rather than a connection string so the remote
// needs no quoting and its secrets stay out of any error message.
func newCrypt(ctx context.Context, remote string, c *config.Crypt) (*crypt.Fs, error) {
	if c.Password == "" {
		return nil, errors.New("crypt password is empty")
	}
	ri, err := fs.Find("crypt")
	if err != nil {
		return nil, err
	}
	cfg := configmap.Simple{
		"remote":              remote,
		"filename_encryption": "standard",
		"password":            obscure.MustObscure(c.Password),
	}
	if c.Salt != "" {
		cfg["password2"] = obscure.MustObscure(c.Salt)
	}
	f, err := ri.NewFs(ctx, "owui-crypt", "", fs.ConfigMap(ri.Prefix, ri.Options, "", cfg))
	if err != nil {
		return nil, fmt.Errorf("set up crypt: %w", err)
	}
	cf, ok := f.(*crypt.Fs)
	if !ok {
		return nil, fmt.Errorf("set up crypt: unexpected Fs %T", f)
	}
	return cf, nil
}

// String is the remote for logs, with secrets redacted.
func (t *Target) String() string { return t.display }

// Name is the target's name in the policy.
func (t *Target) Name() string { return t.name }

// IsLocal reports whether the target's bytes live in a directory on this
// machine (plain, or under crypt). Such targets re-use unchanged files by
// hard link.
func (t *Target) IsLocal() bool { return t.localRoot != "" }

// Stats returns what the target has done since Open.
func (t *Target) Stats() Stats {
	return Stats{
		BytesUploaded: t.stats.bytesUploaded.Load(),
		FilesUploaded: t.stats.filesUploaded.Load(),
		FilesCopied:   t.stats.filesCopied.Load(),
		FilesLinked:   t.stats.filesLinked.Load(),
	}
}
