package stage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// compressLevel is the zstd level of stored copies: zstd's default (3),
// which compresses the SQLite files several times over at hundreds of
// MB/s; higher levels cost far more time for a few percent.
const compressLevel = zstd.SpeedDefault

// Compressed is a file compressed by Compress.
type Compressed struct {
	Size   int64
	SHA256 string // of the compressed bytes
}

// Compress writes src compressed as one zstd frame, with a checksum, to dst
// (which the zstd command line opens) and returns its size and SHA-256.
// The same input gives the same bytes, so a copy compressed again matches
// the stored one. A dst left by a failed call is removed.
func Compress(ctx context.Context, src, dst string) (_ Compressed, err error) {
	in, err := os.Open(src)
	if err != nil {
		return Compressed{}, fmt.Errorf("compress: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return Compressed{}, fmt.Errorf("compress: %w", err)
	}
	defer func() {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("compress %s: %w", src, cerr)
		}
		if err != nil {
			_ = os.Remove(dst)
		}
	}()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(out, h)}
	// One goroutine per file: owui compresses two files at once, and an
	// encoder per core would hold its buffers for each.
	enc, err := zstd.NewWriter(cw, zstd.WithEncoderLevel(compressLevel), zstd.WithEncoderCRC(true), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return Compressed{}, fmt.Errorf("compress %s: %w", src, err)
	}
	if _, err := io.Copy(enc, ctxReader{ctx: ctx, r: in}); err != nil {
		_ = enc.Close()
		return Compressed{}, fmt.Errorf("compress %s: %w", src, err)
	}
	if err := enc.Close(); err != nil {
		return Compressed{}, fmt.Errorf("compress %s: %w", src, err)
	}
	return Compressed{Size: cw.n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// decoderMaxWindow bounds the memory a hostile frame can make the decoder
// take: the window Compress writes with is 8 MiB; this allows the zstd
// command line's frames up to level 19 too.
const decoderMaxWindow = 8 << 20

// ErrTooLong: a compressed object holds more bytes than its file's size.
var ErrTooLong = errors.New("decompresses to more bytes than the manifest says")

// Decompress writes what the zstd stream r decompresses to into w, at most
// limit bytes (ErrTooLong beyond that), and returns how many it wrote.
func Decompress(r io.Reader, w io.Writer, limit int64) (int64, error) {
	dec, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(decoderMaxWindow))
	if err != nil {
		return 0, err
	}
	defer dec.Close()
	n, err := io.Copy(w, io.LimitReader(dec, limit))
	if err != nil {
		return n, err
	}
	var one [1]byte
	switch m, err := dec.Read(one[:]); {
	case m > 0:
		return n, ErrTooLong
	case err != nil && !errors.Is(err, io.EOF):
		return n, err
	}
	return n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
