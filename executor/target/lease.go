package target

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/fserrors"
	"github.com/rclone/rclone/fs/object"
	"github.com/rclone/rclone/fs/operations"
)

// LeaseName is the object under <backup>/ that holds the lease of the run
// working on that prefix (DESIGN.md, remote layout). Its name starts with
// ".", so it is never taken for a snapshot.
const LeaseName = ".owui-lock"

// leaseTmpPrefix starts the names of leases being created on local targets,
// before they are linked into place.
const leaseTmpPrefix = LeaseName + "."

// leaseWriteTries is how often a lease write is tried on transient errors.
const leaseWriteTries = 5

// maxLeaseSize bounds what ReadLease reads.
const maxLeaseSize = 64 << 10

// Lease says which owui run works on a backup's prefix of a target, and
// until when. A run renews it while it works; once Expires has passed,
// another run may take it over.
type Lease struct {
	// Holder is a random token naming one run; it is how a run recognises
	// its own lease.
	Holder  string    `json:"holder"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Started time.Time `json:"started_at"`
	Expires time.Time `json:"expires_at"`
	Version string    `json:"owui_version,omitempty"`
}

// String names the holder for messages.
func (l *Lease) String() string {
	return fmt.Sprintf("pid %d on %s (%s, started %s, lease expires %s)", l.PID, l.Host, l.Command,
		l.Started.UTC().Format(time.RFC3339), l.Expires.UTC().Format(time.RFC3339))
}

// ErrLeaseExists is returned by CreateLease when the backup already has a
// lease.
var ErrLeaseExists = errors.New("lease exists")

func leaseRemote(backup string) (string, error) {
	if _, err := remotePath(backup, "x", ""); err != nil {
		return "", err
	}
	return backup + "/" + LeaseName, nil
}

// ReadLease returns the lease of backup, or nil when it has none. A lease
// that does not parse is returned as an error: it is someone's, and guessing
// whose would risk pruning under them.
func (t *Target) ReadLease(ctx context.Context, backup string) (*Lease, error) {
	wrap := func(err error) error {
		return fmt.Errorf("read lease of %s on target %s: %w", backup, t.name, t.readFailed(err))
	}
	remote, err := leaseRemote(backup)
	if err != nil {
		return nil, wrap(err)
	}
	o, err := t.f.NewObject(ctx, remote)
	if errors.Is(err, fs.ErrorObjectNotFound) || errors.Is(err, fs.ErrorDirNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err)
	}
	in, err := operations.Open(ctx, o)
	if errors.Is(err, fs.ErrorObjectNotFound) {
		return nil, nil // released between the lookup and the read
	}
	if err != nil {
		return nil, wrap(err)
	}
	data, err := io.ReadAll(io.LimitReader(in, maxLeaseSize+1))
	cerr := in.Close()
	if err == nil {
		err = cerr
	}
	if err != nil {
		return nil, wrap(err)
	}
	if len(data) > maxLeaseSize {
		return nil, wrap(fmt.Errorf("lease is larger than %d bytes", maxLeaseSize))
	}
	var l Lease
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, wrap(fmt.Errorf("lease does not parse: %w", err))
	}
	if l.Holder == "" {
		return nil, wrap(errors.New("lease names no holder"))
	}
	return &l, nil
}

// AtomicLeases reports whether CreateLease is atomic on this target. Where
// it is not (object stores through rclone have no create-if-absent), the
// caller waits a moment after writing and reads the lease back: the last
// writer wins, and every other run sees it has lost.
func (t *Target) AtomicLeases() bool { return t.localRoot != "" }

// CreateLease writes l as the lease of backup unless it already has one,
// in which case it returns ErrLeaseExists. On local targets the lease is
// written under a temporary name and hard-linked into place, which fails
// when the name exists; elsewhere the check and the write are two steps
// (see AtomicLeases).
func (t *Target) CreateLease(ctx context.Context, backup string, l *Lease) error {
	wrap := func(err error) error {
		return fmt.Errorf("create lease of %s on target %s: %w", backup, t.name, t.writeFailed(err))
	}
	remote, err := leaseRemote(backup)
	if err != nil {
		return wrap(err)
	}
	if !t.AtomicLeases() {
		if _, err := t.f.NewObject(ctx, remote); err == nil {
			return ErrLeaseExists
		} else if !errors.Is(err, fs.ErrorObjectNotFound) && !errors.Is(err, fs.ErrorDirNotFound) {
			return wrap(err)
		}
		if err := t.writeLease(ctx, remote, l); err != nil {
			return wrap(err)
		}
		return nil
	}
	tmp := backup + "/" + leaseTmpPrefix + l.Holder
	if err := t.writeLease(ctx, tmp, l); err != nil {
		return wrap(err)
	}
	from, _ := t.localPath(tmp)
	to, _ := t.localPath(remote)
	defer os.Remove(from)
	// The hard link fails when the name exists: the atomic create.
	if err := os.Link(from, to); err != nil {
		if errors.Is(err, os.ErrExist) {
			return ErrLeaseExists
		}
		return wrap(err)
	}
	return nil
}

// ReplaceLease writes l over the lease of backup, whoever holds it: to
// renew a lease, or to take over an expired one.
func (t *Target) ReplaceLease(ctx context.Context, backup string, l *Lease) error {
	remote, err := leaseRemote(backup)
	if err == nil {
		err = t.writeLease(ctx, remote, l)
	}
	if err != nil {
		return fmt.Errorf("write lease of %s on target %s: %w", backup, t.name, t.writeFailed(err))
	}
	return nil
}

// DeleteLease removes the lease of backup, and the backup's directory
// when that leaves it empty; a missing lease is fine.
func (t *Target) DeleteLease(ctx context.Context, backup string) error {
	wrap := func(err error) error {
		return fmt.Errorf("delete lease of %s on target %s: %w", backup, t.name, t.writeFailed(err))
	}
	remote, err := leaseRemote(backup)
	if err != nil {
		return wrap(err)
	}
	o, err := t.f.NewObject(ctx, remote)
	if errors.Is(err, fs.ErrorObjectNotFound) || errors.Is(err, fs.ErrorDirNotFound) {
		return nil
	}
	if err == nil {
		err = operations.DeleteFile(ctx, o)
	}
	if err != nil && !errors.Is(err, fs.ErrorObjectNotFound) {
		return wrap(err)
	}
	// A run that failed before writing anything leaves no trace: Rmdir
	// removes the backup's directory only if the lease was all it held.
	_ = t.f.Rmdir(ctx, backup)
	return nil
}

// CleanLeaseLeftovers removes temporary lease files that a run killed while
// creating its lease left under backup's prefix. Call it while holding the
// lease.
func (t *Target) CleanLeaseLeftovers(ctx context.Context, backup string) error {
	if !t.AtomicLeases() {
		return nil
	}
	entries, err := t.f.List(ctx, backup)
	if errors.Is(err, fs.ErrorDirNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s on target %s: %w", backup, t.name, err)
	}
	for _, e := range entries {
		o, ok := e.(fs.Object)
		if !ok || !strings.HasPrefix(path2base(o.Remote()), leaseTmpPrefix) {
			continue
		}
		if err := operations.DeleteFile(ctx, o); err != nil && !errors.Is(err, fs.ErrorObjectNotFound) {
			return fmt.Errorf("remove %s on target %s: %w", o.Remote(), t.name, err)
		}
	}
	return nil
}

// writeLease writes l as remote. It goes around operations.Copy, whose
// post-upload check fails, and deletes the object, when another run has
// written the same name meanwhile: that race is what leases are for, and
// the caller's read-back settles it. On local targets the lease is written
// aside and renamed into place, so a reader never sees half of one.
func (t *Target) writeLease(ctx context.Context, remote string, l *Lease) error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	put := func(name string) error {
		// Backends do not retry a Put themselves (its reader cannot be
		// rewound); operations.Copy would, so this does likewise.
		var err error
		for try := 1; try <= leaseWriteTries; try++ {
			info := object.NewStaticObjectInfo(name, time.Now(), int64(len(data)), true, nil, t.f)
			if _, err = t.f.Put(ctx, bytes.NewReader(data), info); err == nil ||
				!(fserrors.IsRetryError(err) || fserrors.ShouldRetry(err)) {
				return err
			}
			select {
			case <-ctx.Done():
				return err
			case <-time.After(time.Duration(try) * 100 * time.Millisecond):
			}
		}
		return err
	}
	if !t.AtomicLeases() {
		return put(remote)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	tmp := path.Dir(remote) + "/" + leaseTmpPrefix + l.Holder + "." + hex.EncodeToString(b)
	if err := put(tmp); err != nil {
		return err
	}
	from, _ := t.localPath(tmp)
	to, _ := t.localPath(remote)
	if err := os.Rename(from, to); err != nil {
		_ = os.Remove(from)
		return err
	}
	return nil
}
