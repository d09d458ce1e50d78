package target

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rclone/rclone/backend/crypt"
	"github.com/rclone/rclone/fs"
	"github.com/rclone/rclone/fs/object"
	"github.com/rclone/rclone/fs/operations"

	"github.com/owui/owui/manifest"
)

// maxManifestSize bounds what ReadManifest reads: a manifest lists files,
// about 200 bytes each; this allows some 300,000.
const maxManifestSize = 64 << 20

// Listing is one snapshot directory found on a target.
type Listing struct {
	ID string
	// Manifest sums up the manifest, nil when the snapshot is incomplete.
	// A listing keeps no more of it: a refresh lists every snapshot, and
	// the manifests of 20,000 files are megabytes each.
	Manifest *Summary
	// Problem says why the snapshot is incomplete (missing or unparsable
	// manifest); empty when it is complete.
	Problem string
}

// Summary is what a listing keeps of a snapshot's manifest.
type Summary struct {
	CreatedAt time.Time
	// Bytes and Files are the snapshot's total size and file count.
	Bytes int64
	Files int
	// SHA256 is the hex sha256 of the manifest's bytes as stored: refresh
	// compares it with what state recorded.
	SHA256 string
	// Size and ModTime are the manifest object's, as the target reports
	// them.
	Size    int64
	ModTime time.Time
}

// Complete reports whether the snapshot has a manifest that parses.
func (l Listing) Complete() bool { return l.Manifest != nil }

// KnownFunc is asked, for each snapshot's manifest object, whether its
// size and modification time are those of a manifest read before; it
// returns that manifest's Summary if so, and nil to have it read.
type KnownFunc func(id string, size int64, modTime time.Time) *Summary

// errNoManifest marks a snapshot directory without a manifest.
var errNoManifest = errors.New("no " + manifest.FileName)

// errBadManifest marks a manifest that exists but does not parse.
var errBadManifest = errors.New("unparsable " + manifest.FileName)

// ListSnapshots lists the snapshot directories of backup, sorted by ID,
// skipping names that start with "." (owui's own). A backup with no
// directory yet has no snapshots. Only a missing or unparsable manifest makes
// a snapshot incomplete; any other failure to read one fails the listing,
// so that a flaky network never makes complete snapshots look repairable.
func (t *Target) ListSnapshots(ctx context.Context, backup string) ([]Listing, error) {
	return t.ListSnapshotsKnown(ctx, backup, nil)
}

// ListSnapshotsKnown is ListSnapshots that reads only the manifests known
// does not recognise by their object's size and modification time (all of
// them when known is nil).
func (t *Target) ListSnapshotsKnown(ctx context.Context, backup string, known KnownFunc) ([]Listing, error) {
	wrap := func(err error) error {
		return fmt.Errorf("list snapshots of %s on target %s: %w", backup, t.name, t.readFailed(err))
	}
	if _, err := remotePath(backup, "x", ""); err != nil {
		return nil, wrap(err)
	}
	entries, err := t.f.List(ctx, backup)
	if errors.Is(err, fs.ErrorDirNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err)
	}
	var out []Listing
	for _, e := range entries {
		d, ok := e.(fs.Directory)
		if !ok {
			continue
		}
		id := path2base(d.Remote())
		if strings.HasPrefix(id, ".") {
			continue
		}
		l := Listing{ID: id}
		sum, err := t.summarize(ctx, backup, id, known)
		switch {
		case err == nil:
			l.Manifest = sum
		case errors.Is(err, errNoManifest), errors.Is(err, errBadManifest):
			l.Problem = err.Error()
		default:
			return nil, wrap(err)
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// summarize sums up the manifest of snapshot id: what known gives for its
// object, or what reading it gives.
func (t *Target) summarize(ctx context.Context, backup, id string, known KnownFunc) (*Summary, error) {
	o, err := t.manifestObject(ctx, backup, id)
	if err != nil {
		return nil, err
	}
	mod := o.ModTime(ctx)
	if known != nil {
		if sum := known(id, o.Size(), mod); sum != nil {
			return sum, nil
		}
	}
	m, sha, err := t.readManifestObject(ctx, o, backup, id)
	if err != nil {
		return nil, err
	}
	return &Summary{CreatedAt: m.CreatedAt, Bytes: m.TotalSize(), Files: len(m.Files), SHA256: sha, Size: o.Size(), ModTime: mod}, nil
}

func path2base(remote string) string {
	if i := strings.LastIndexByte(remote, '/'); i >= 0 {
		return remote[i+1:]
	}
	return remote
}

// ReadManifest reads and parses the manifest of snapshot id.
func (t *Target) ReadManifest(ctx context.Context, backup, id string) (*manifest.Manifest, error) {
	m, _, err := t.readManifest(ctx, backup, id)
	if err != nil {
		return nil, fmt.Errorf("read manifest of snapshot %s/%s on target %s: %w", backup, id, t.name, t.readFailed(err))
	}
	return m, nil
}

func (t *Target) readManifest(ctx context.Context, backup, id string) (*manifest.Manifest, string, error) {
	o, err := t.manifestObject(ctx, backup, id)
	if err != nil {
		return nil, "", err
	}
	return t.readManifestObject(ctx, o, backup, id)
}

// manifestObject finds the manifest of snapshot id, refusing one that is
// a symbolic link or too large to be a manifest.
func (t *Target) manifestObject(ctx context.Context, backup, id string) (fs.Object, error) {
	remote, err := remotePath(backup, id, manifest.FileName)
	if err != nil {
		return nil, err
	}
	if err := t.refuseLinks(remote); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadManifest, err)
	}
	o, err := t.f.NewObject(ctx, remote)
	if errors.Is(err, fs.ErrorObjectNotFound) || errors.Is(err, fs.ErrorIsDir) {
		return nil, errNoManifest
	}
	if err != nil {
		return nil, err
	}
	if o.Size() > maxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d a manifest may have", errBadManifest, o.Size(), maxManifestSize)
	}
	return o, nil
}

// readManifestObject reads and parses o, the manifest of snapshot id, and
// returns it with the sha256 of its bytes.
func (t *Target) readManifestObject(ctx context.Context, o fs.Object, backup, id string) (*manifest.Manifest, string, error) {
	in, err := operations.Open(ctx, o)
	if err != nil {
		return nil, "", classifyRead(err)
	}
	data, err := readAll(in, maxManifestSize+1, o.Size())
	cerr := in.Close()
	if err == nil {
		err = cerr
	}
	if err != nil {
		return nil, "", classifyRead(err)
	}
	if len(data) > maxManifestSize {
		return nil, "", fmt.Errorf("%w: larger than %d bytes", errBadManifest, maxManifestSize)
	}
	// A read cut short is the network's fault, not the manifest's: were it
	// called unparsable, the snapshot would look incomplete and be
	// "repaired" away.
	if size := o.Size(); size >= 0 && int64(len(data)) != size {
		return nil, "", fmt.Errorf("read %s: got %d of its %d bytes", manifest.FileName, len(data), size)
	}
	m, err := manifest.Decode(data)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", errBadManifest, err)
	}
	// Files are fetched by the names in the manifest: one copied into
	// another snapshot's directory would restore that other snapshot.
	if m.Backup != backup || m.Snapshot != id {
		return nil, "", fmt.Errorf("%w: it describes snapshot %s/%s, not the directory %s/%s it is in", errBadManifest, m.Backup, m.Snapshot, backup, id)
	}
	sum := sha256.Sum256(data)
	return m, hex.EncodeToString(sum[:]), nil
}

// readAll reads r to its end, but at most limit bytes, into a buffer
// made for size bytes (when size >= 0): a manifest of 20,000 files is
// several MB, and io.ReadAll's doubling would allocate it twice over.
func readAll(r io.Reader, limit, size int64) ([]byte, error) {
	if size < 0 || size >= limit {
		return io.ReadAll(io.LimitReader(r, limit))
	}
	buf := make([]byte, 0, size+1) // +1: the read that finds the end
	lr := io.LimitReader(r, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// classifyRead turns crypt's "this is not what was encrypted" errors into
// errBadManifest: the manifest is there but its content is damaged.
func classifyRead(err error) error {
	for _, bad := range []error{crypt.ErrorEncryptedFileTooShort, crypt.ErrorEncryptedFileBadHeader,
		crypt.ErrorEncryptedBadMagic, crypt.ErrorEncryptedBadBlock} {
		if errors.Is(err, bad) {
			return fmt.Errorf("%w: %w", errBadManifest, err)
		}
	}
	return err
}

// PutManifest writes the manifest of snapshot id, which makes the
// snapshot complete: callers write it after every file is in place. It
// returns the manifest's sha256 and its object's size and modification
// time, for state: a refresh then need not read it back.
func (t *Target) PutManifest(ctx context.Context, backup, id string, m *manifest.Manifest) (Summary, error) {
	wrap := func(err error) error {
		return fmt.Errorf("write manifest of snapshot %s/%s on target %s: %w", backup, id, t.name, t.writeFailed(err))
	}
	remote, err := remotePath(backup, id, manifest.FileName)
	if err != nil {
		return Summary{}, wrap(err)
	}
	data, err := m.Encode()
	if err != nil {
		return Summary{}, wrap(err)
	}
	if err := t.unlinkLocal(remote); err != nil {
		return Summary{}, wrap(err)
	}
	src := object.NewMemoryObject(remote, time.Now(), data)
	o, err := operations.Copy(ctx, t.f, nil, remote, &countingObject{Object: src, n: &t.stats.bytesUploaded})
	if err != nil {
		return Summary{}, wrap(err)
	}
	sum := sha256.Sum256(data)
	w := Summary{CreatedAt: m.CreatedAt, Bytes: m.TotalSize(), Files: len(m.Files), SHA256: hex.EncodeToString(sum[:])}
	if o != nil {
		w.Size, w.ModTime = o.Size(), o.ModTime(ctx)
	}
	return w, nil
}

// DeleteSnapshot removes snapshot id and everything in it. A snapshot that
// is half there, or already gone, is fine.
func (t *Target) DeleteSnapshot(ctx context.Context, backup, id string) error {
	wrap := func(err error) error {
		return fmt.Errorf("delete snapshot %s/%s on target %s: %w", backup, id, t.name, t.writeFailed(err))
	}
	remote, err := remotePath(backup, id, "")
	if err != nil {
		return wrap(err)
	}
	if _, err := t.f.List(ctx, remote); errors.Is(err, fs.ErrorDirNotFound) {
		return nil // already gone, or never made
	}
	// The manifest goes first: a delete cut short leaves an incomplete
	// snapshot, never a "complete" one with files missing.
	mremote, _ := remotePath(backup, id, manifest.FileName)
	if o, err := t.f.NewObject(ctx, mremote); err == nil {
		if err := operations.DeleteFile(ctx, o); err != nil {
			return wrap(err)
		}
	} else if !errors.Is(err, fs.ErrorObjectNotFound) && !errors.Is(err, fs.ErrorDirNotFound) {
		return wrap(err)
	}
	err = operations.Purge(ctx, t.f, remote)
	if err != nil && !errors.Is(err, fs.ErrorDirNotFound) {
		return wrap(err)
	}
	return nil
}
