package executor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/owui/owui/executor/target"
	"github.com/owui/owui/manifest"
	"github.com/owui/owui/state"
)

// finishChecks waits for the integrity_check of every SQLite copy and
// records the results in the manifest, before any target writes it. It
// logs what each check that ran found and how long it took.
func (s *staged) finishChecks(logf func(format string, args ...any)) {
	defer close(s.sqliteDone)
	res, err := s.sqlite.Wait()
	if err != nil {
		s.sqliteErr = err
		return
	}
	if took := s.sqlite.Took(); len(took) > 0 {
		var ran []string
		for _, rel := range slices.Sorted(maps.Keys(took)) {
			verdict := "ok"
			if res[rel] != "ok" {
				verdict = "failed" // the error below says how
			}
			ran = append(ran, fmt.Sprintf("%s %s in %s", rel, verdict, took[rel].Round(time.Millisecond)))
		}
		logf("%s: integrity_check of the SQLite copies: %s", s.manifest.Backup, strings.Join(ran, ", "))
	}
	var bad []error
	for i := range s.manifest.Files {
		f := &s.manifest.Files[i]
		if _, ok := s.unstaged[f.Path]; ok || f.SQLite == nil {
			continue // not copied: the previous snapshot's check stands
		}
		r, ok := res[f.Path]
		if !ok {
			bad = append(bad, fmt.Errorf("the copy of %s was never checked", f.Path))
			continue
		}
		f.SQLite.IntegrityCheck = r
		if r != "ok" {
			bad = append(bad, fmt.Errorf("copy of %s fails integrity_check: %s", f.Path, r))
		}
	}
	s.sqliteErr = errors.Join(bad...)
}

// checked waits for finishChecks: nil once every SQLite copy passed.
func (s *staged) checked(ctx context.Context) error {
	select {
	case <-s.sqliteDone:
		return s.sqliteErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sent is what sending one snapshot to one target did.
type sent struct {
	Uploaded, Reused int
	BytesUploaded    int64
	// Manifest is what PutManifest wrote, once the snapshot is complete.
	Manifest target.Summary
}

// send copies a staged snapshot to one target: files unchanged since the
// previous complete snapshot there are re-used without sending bytes (hard
// link or server-side copy), others uploaded; the manifest goes last, once
// every SQLite copy passed its integrity_check. Where the target hashes
// what it copies, a file whose bytes are not those the manifest records
// fails the snapshot.
func (e *Env) send(ctx context.Context, t *target.Target, tname string, s *staged, prev *manifest.Manifest) (sent, error) {
	m := s.manifest
	prevFiles := byPath(prev)
	var total int64
	for _, f := range m.Files {
		total += f.Size
	}
	var done, uploadedBytes atomic.Int64
	var uploaded, reused atomic.Int32
	h := e.hooks()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.transfers())
	for i := range m.Files {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			// Only this goroutine writes f: a file hashed on send belongs
			// to a backup with this one target.
			f := &m.Files[i]
			if p, ok := prevFiles.find(f.Path); ok && f.SHA256 != "" && p.Size == f.Size && p.SHA256 == f.SHA256 && manifest.SameStored(p, *f) {
				ok, err := t.CopyExisting(gctx, m.Backup, prev.Snapshot, m.Snapshot, f.StoredPath())
				if err != nil {
					return fmt.Errorf("re-use %s from %s: %w", f.Path, prev.Snapshot, err)
				}
				if ok {
					reused.Add(1)
					h.Progress(m.Backup, tname, done.Add(f.Size), total)
					return nil
				}
			}
			local, err := s.sendable(gctx, f)
			if err != nil {
				return fmt.Errorf("upload %s: %w", f.Path, err)
			}
			r, err := t.Send(gctx, m.Backup, m.Snapshot, f.StoredPath(), local, target.SendOptions{Size: f.StoredSize(), Owned: s.owned(local)})
			if err != nil {
				return fmt.Errorf("upload %s: %w", f.Path, err)
			}
			if err := e.settleHash(gctx, f, local, r); err != nil {
				return err
			}
			uploaded.Add(1)
			uploadedBytes.Add(f.StoredSize())
			h.Progress(m.Backup, tname, done.Add(f.Size), total)
			return nil
		})
	}
	res := func() sent {
		return sent{Uploaded: int(uploaded.Load()), Reused: int(reused.Load()), BytesUploaded: uploadedBytes.Load()}
	}
	if err := g.Wait(); err != nil {
		return res(), err
	}
	if err := s.checked(ctx); err != nil {
		return res(), err
	}
	if err := ctx.Err(); err != nil {
		return res(), err
	}
	if err := e.storeSentHashes(ctx, s); err != nil {
		h.Logf("warning: %s: %v", m.Backup, err)
	}
	written, err := t.PutManifest(ctx, m.Backup, m.Snapshot, m)
	if err != nil {
		return res(), fmt.Errorf("write manifest: %w", err)
	}
	r := res()
	r.Manifest = written
	return r, nil
}

// filesByPath is a manifest's files sorted by path, to look up without a
// map (tens of thousands of entries).
type filesByPath []manifest.File

// byPath returns m's files sorted by path; owui writes them sorted, so
// normally no copy is made.
func byPath(m *manifest.Manifest) filesByPath {
	if m == nil {
		return nil
	}
	cmpPath := func(a, b manifest.File) int { return strings.Compare(a.Path, b.Path) }
	if slices.IsSortedFunc(m.Files, cmpPath) {
		return m.Files
	}
	return slices.SortedFunc(slices.Values(m.Files), cmpPath)
}

func (fs filesByPath) find(path string) (manifest.File, bool) {
	i, ok := slices.BinarySearchFunc(fs, path, func(f manifest.File, p string) int { return strings.Compare(f.Path, p) })
	if !ok {
		return manifest.File{}, false
	}
	return fs[i], true
}

// settleHash compares what the target hashed as it copied f (if it did)
// with the manifest, or, for a file hashed on send, records it there.
func (e *Env) settleHash(ctx context.Context, f *manifest.File, local string, r target.Sent) error {
	switch {
	case f.SHA256 == "":
		if r.SHA256 == "" {
			return fmt.Errorf("upload %s: the target did not hash it", f.Path)
		}
		f.SHA256 = r.SHA256
	case r.SHA256 != "" && r.SHA256 != f.StoredSHA256():
		// The bytes read are not those hashed before: the file changed in
		// place, or the cache entry is stale. Forget it, so that the next
		// run reads the file again.
		if err := e.Store.ForgetHash(ctx, local); err != nil {
			e.hooks().Logf("warning: %v", err)
		}
		return fmt.Errorf("upload %s: its content changed since it was hashed (sha256 %s, copied %s)", f.Path, f.StoredSHA256(), r.SHA256)
	}
	return nil
}

// storeSentHashes adds the hashes computed on send to the hash cache.
func (e *Env) storeSentHashes(ctx context.Context, s *staged) error {
	if len(s.hashOnSend) == 0 {
		return nil
	}
	fresh := make([]state.HashEntry, 0, len(s.hashOnSend))
	for _, f := range s.manifest.Files {
		if k, ok := s.hashOnSend[f.Path]; ok && f.SHA256 != "" {
			fresh = append(fresh, state.HashEntry{Path: s.localOf(f.Path), Size: k.size, MtimeNs: k.mtimeNs, Inode: k.inode, SHA256: f.SHA256})
		}
	}
	if err := e.Store.StoreHashes(ctx, fresh); err != nil {
		return fmt.Errorf("store hash cache: %w", err)
	}
	return nil
}
