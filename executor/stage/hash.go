package stage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sync"
)

// HashFile returns the hex SHA-256 and the size of the file at path,
// reading it as a stream.
func HashFile(path string) (sha256hex string, size int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// HashCache finds a file's hash from an earlier run. A hit requires path,
// size, mtime (in nanoseconds) and inode all to match. state.HashIndex
// implements it.
type HashCache interface {
	Lookup(path string, size, mtimeNs int64, inode uint64) (string, bool)
}

// FileStat is a file to hash and the stat data its cache entry is keyed by.
type FileStat struct {
	Path    string
	Size    int64
	MtimeNs int64
	Inode   uint64
}

// StatOf returns the FileStat of an entry of dataDir.
func StatOf(dataDir string, e Entry) FileStat {
	return FileStat{Path: joinRel(dataDir, e.Rel), Size: e.Size, MtimeNs: e.ModTime.UnixNano(), Inode: e.Inode}
}

// Hashed is a file's hash; Cached says it came from the cache, so only the
// others need storing back.
type Hashed struct {
	FileStat
	SHA256 string
	Cached bool
}

// DefaultHashWorkers is how many files are hashed at once: enough to keep
// a disk and a core busy, few enough not to starve the running Open WebUI.
const DefaultHashWorkers = 3

// HashFiles hashes files with a few workers, taking what cache (may be nil)
// still knows. Results are in the order of files. A file whose size is no
// longer the size in its FileStat is an error: it changed since it was
// listed, and its hash would not describe the copy.
func HashFiles(ctx context.Context, files []FileStat, cache HashCache, workers int) ([]Hashed, error) {
	if workers <= 0 {
		workers = DefaultHashWorkers
	}
	out := make([]Hashed, len(files))
	jobs := make(chan int)
	errs := make(chan error, workers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range min(workers, max(len(files), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := hashOne(ctx, files[i], cache, &out[i]); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for i := range files {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func hashOne(ctx context.Context, f FileStat, cache HashCache, out *Hashed) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	out.FileStat = f
	if cache != nil {
		if sum, ok := cache.Lookup(f.Path, f.Size, f.MtimeNs, f.Inode); ok {
			out.SHA256, out.Cached = sum, true
			return nil
		}
	}
	sum, n, err := HashFile(f.Path)
	if err != nil {
		return err
	}
	if n != f.Size {
		return fmt.Errorf("hash %s: size changed from %d to %d since it was listed", f.Path, f.Size, n)
	}
	out.SHA256 = sum
	return nil
}
