package stage

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// benchHashCache is a HashCache that knows every file it was given: a warm
// cache, as on every run after the first (state.HashIndex is a map too).
type benchHashCache map[string]Hashed

func (m benchHashCache) Lookup(path string, size, mtimeNs int64, inode uint64) (string, bool) {
	h, ok := m[path]
	if !ok || h.Size != size || h.MtimeNs != mtimeNs || h.Inode != inode {
		return "", false
	}
	return h.SHA256, true
}

func benchInode(st os.FileInfo) uint64 {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return sys.Ino
	}
	return 0
}

// benchFiles writes n files of the given size (random content) into dir and
// returns their FileStats.
func benchFiles(b *testing.B, dir string, n int, size int) []FileStat {
	b.Helper()
	r := rand.New(rand.NewPCG(1, uint64(n)))
	buf := make([]byte, size)
	files := make([]FileStat, n)
	for i := range n {
		for j := 0; j+8 <= len(buf); j += 8 {
			v := r.Uint64()
			for k := range 8 {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("upload-%05d.bin", i))
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			b.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		files[i] = FileStat{Path: p, Size: st.Size(), MtimeNs: st.ModTime().UnixNano(), Inode: benchInode(st)}
	}
	return files
}

// BenchmarkHashFiles hashes N files with DefaultHashWorkers workers:
//   - cold: no cache entry, every file is read and hashed (from the page
//     cache: the files were just written; MB/s is the hashing rate);
//   - warm: every file is found in the cache, none is read (MB/s counts
//     the bytes the cache spared).
func BenchmarkHashFiles(b *testing.B) {
	ctx := context.Background()
	for _, c := range []struct{ n, size int }{{2000, 300 << 10}, {20000, 16 << 10}} {
		files := benchFiles(b, b.TempDir(), c.n, c.size)
		total := int64(c.n) * int64(c.size)
		warm := benchHashCache{}
		hashed, err := HashFiles(ctx, files, nil, 0)
		if err != nil {
			b.Fatal(err)
		}
		for _, h := range hashed {
			warm[h.Path] = h
		}
		name := fmt.Sprintf("files=%d/size=%dKiB", c.n, c.size>>10)
		b.Run("cold/"+name, func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := HashFiles(ctx, files, nil, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("warm/"+name, func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				out, err := HashFiles(ctx, files, warm, 0)
				if err != nil {
					b.Fatal(err)
				}
				if !out[0].Cached {
					b.Fatal("warm cache missed")
				}
			}
		})
	}
}
