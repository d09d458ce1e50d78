package stage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompressRoundTrip: Compress gives the same bytes every time (so a
// copy compressed again matches the stored object), reports their size and
// hash, and Decompress gives the input back, stopping at its limit.
func TestCompressRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "webui.db")
	raw := []byte(strings.Repeat("a chat about backups and restores; ", 30000))
	if err := os.WriteFile(src, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := Compress(ctx, src, filepath.Join(dir, "a.zst"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compress(ctx, src, filepath.Join(dir, "b.zst"))
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("compressed twice: %+v and %+v", a, b)
	}
	packed, err := os.ReadFile(filepath.Join(dir, "a.zst"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(packed)
	if int64(len(packed)) != a.Size || hex.EncodeToString(sum[:]) != a.SHA256 || a.Size*10 > int64(len(raw)) {
		t.Errorf("Compress says %+v; the file has %d bytes, sha256 %x (input %d bytes)", a, len(packed), sum, len(raw))
	}
	if fi, err := os.Stat(filepath.Join(dir, "a.zst")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode(), err)
	}

	var out bytes.Buffer
	n, err := Decompress(bytes.NewReader(packed), &out, int64(len(raw)))
	if err != nil || n != int64(len(raw)) || !bytes.Equal(out.Bytes(), raw) {
		t.Errorf("Decompress: %d bytes, %v; want the input back", n, err)
	}
	out.Reset()
	n, err = Decompress(bytes.NewReader(packed), &out, int64(len(raw))-1)
	if !errors.Is(err, ErrTooLong) || n != int64(len(raw))-1 {
		t.Errorf("Decompress one byte short of its size: %d bytes, %v; want ErrTooLong", n, err)
	}
	if _, err := Decompress(bytes.NewReader(raw), &out, int64(len(raw))); err == nil {
		t.Error("Decompress accepted bytes that are not zstd")
	}
}

// TestCompressCancelled: a cancelled Compress leaves no file behind.
func TestCompressCancelled(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "webui.db")
	if err := os.WriteFile(src, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dst := filepath.Join(dir, "webui.db.zst")
	if _, err := Compress(ctx, src, dst); !errors.Is(err, context.Canceled) {
		t.Errorf("Compress with a cancelled context: %v", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Errorf("a cancelled Compress left %s: %v", dst, err)
	}
}
