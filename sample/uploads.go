package sample

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

const chunkSize = 1 << 20

// magic gives binary uploads the header their extension promises, so tools
// that sniff content see a PDF, a PNG or a zip container.
var magic = map[string]string{
	".pdf":  "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
	".png":  "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
	".jpg":  "\xff\xd8\xff\xe0\x00\x10JFIF\x00",
	".docx": "PK\x03\x04\x14\x00\x06\x00",
	".pptx": "PK\x03\x04\x14\x00\x06\x00",
}

func writeUploads(dir string, ups []upload, seed int64) error {
	buf := make([]byte, chunkSize)
	for _, u := range ups {
		if err := writeUpload(filepath.Join(dir, u.fileName()), u, seed, buf); err != nil {
			return err
		}
	}
	return nil
}

// writeUpload writes u's content: text for text types, a magic header and
// incompressible bytes otherwise. Each file has its own stream, keyed by its
// id, so AddUploads never repeats content.
func writeUpload(path string, u upload, seed int64, buf []byte) error {
	h := fnv.New64a()
	h.Write([]byte(u.ID))
	r := newRand(seed, streamFile, h.Sum64())
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write upload: %w", err)
	}
	var text []byte
	if isText(u.ContentType) {
		tg := &textGen{r: r}
		text = []byte(tg.markdown(int(min(u.Size, 64<<10))))
	}
	for off := int64(0); off < u.Size; {
		n := min(int64(len(buf)), u.Size-off)
		chunk := buf[:n]
		if text != nil {
			for i := 0; i < len(chunk); {
				i += copy(chunk[i:], text)
			}
		} else {
			fillRandom(r, chunk)
			if off == 0 {
				copy(chunk, magic[filepath.Ext(u.Name)])
			}
		}
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return fmt.Errorf("write upload: %w", err)
		}
		off += n
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write upload: %w", err)
	}
	return nil
}

// excerpt is the text Open WebUI would have extracted into file.data.
func excerpt(r *rand.Rand) string {
	tg := &textGen{r: r}
	s := tg.markdown(200 + r.IntN(1800))
	return strings.TrimSpace(s)
}
