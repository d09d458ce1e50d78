package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"
)

// benchManifest is a manifest shaped like the sample instance's: the two
// SQLite databases, audit.log, a few hundred vector_db/ files and n
// uploads.
func benchManifest(uploads int) *Manifest {
	m := &Manifest{
		FormatVersion: FormatVersion,
		Backup:        "daily",
		Snapshot:      "2026-11-26T030000Z",
		CreatedAt:     time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC),
		Instance:      "main",
		Consistency:   "online",
		OwuiVersion:   "0.1.0-dev",
		Captures:      []Capture{{Group: "vector_db", Method: "online-quiet-copy", Attempts: 1, Files: 274}},
	}
	sum := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:])
	}
	for _, db := range []string{"webui.db", "vector_db/chroma.sqlite3"} {
		m.Files = append(m.Files, File{Path: db, Size: 200 << 20, SHA256: sum(db), SQLite: &SQLite{
			IntegrityCheck: "ok", JournalMode: "wal", PageCount: 51200, PageSize: 4096,
			Method: "backup-api", SourceHoldMillis: 812.5,
		}})
	}
	m.Files = append(m.Files, File{Path: "audit.log", Size: 10e6, SHA256: sum("audit.log")})
	for i := range 274 {
		p := fmt.Sprintf("vector_db/%08x-81b1-4114-a1f1-fca7b24e20e4/data_level0.bin.%d", i/5, i%5)
		m.Files = append(m.Files, File{Path: p, Size: 64 << 10, SHA256: sum(p)})
	}
	for i := range uploads {
		p := fmt.Sprintf("uploads/%08x-b361-4f4c-8b2c-c68533304ffd_Quarterly Report %d.pdf", i, i)
		m.Files = append(m.Files, File{Path: p, Size: int64(300e3 + i), SHA256: sum(p)})
	}
	return m
}

// BenchmarkManifest encodes and decodes (with validation) manifests of
// 2,000 and 20,000 uploads: the default-scale sample instance and ×10.
func BenchmarkManifest(b *testing.B) {
	for _, n := range []int{2000, 20000} {
		m := benchManifest(n)
		data, err := m.Encode()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("encode/uploads=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Encode(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("decode/uploads=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				got, err := Decode(data)
				if err != nil {
					b.Fatal(err)
				}
				if len(got.Files) != len(m.Files) {
					b.Fatalf("%d files, want %d", len(got.Files), len(m.Files))
				}
			}
		})
	}
}
