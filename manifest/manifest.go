// Package manifest defines owui-manifest.json, the file written last into a
// snapshot: a snapshot is complete if and only if its manifest exists and
// parses.
package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"strings"
	"time"
)

// FileName is the manifest's name inside a snapshot directory.
const FileName = "owui-manifest.json"

// FormatVersion is the manifest format this owui writes and reads.
const FormatVersion = "1"

// Manifest describes one complete snapshot.
type Manifest struct {
	FormatVersion string    `json:"format_version"`
	Backup        string    `json:"backup"`
	Snapshot      string    `json:"snapshot"`
	CreatedAt     time.Time `json:"created_at"`
	Instance      string    `json:"instance"`
	Consistency   string    `json:"consistency"`
	OwuiVersion   string    `json:"owui_version"`
	// Source describes the running instance the snapshot was taken from,
	// when owui found it through Docker.
	Source *Source `json:"source,omitempty"`
	// Captures says how each group of files that must be captured at one
	// moment (vector_db/) was captured.
	Captures []Capture `json:"captures,omitempty"`
	Files    []File    `json:"files"`
}

// Source is the Open WebUI instance a snapshot was taken from.
type Source struct {
	// DockerVolume is the volume holding the data directory, when it is one.
	DockerVolume string `json:"docker_volume,omitempty"`
	// Container is the Open WebUI container's name.
	Container string `json:"container,omitempty"`
	// Image is the reference the container was created from; ImageID the
	// image's content id; ImageDigest its repository digest
	// (name@sha256:…), when the image came from a registry.
	Image       string `json:"image,omitempty"`
	ImageID     string `json:"image_id,omitempty"`
	ImageDigest string `json:"image_digest,omitempty"`
	// OpenWebUIVersion is the image's org.opencontainers.image.version
	// label; AlembicVersion the schema revision in webui.db.
	OpenWebUIVersion string `json:"openwebui_version,omitempty"`
	AlembicVersion   string `json:"alembic_version,omitempty"`
	// Held lists the containers paused or stopped for the local capture.
	Held []Held `json:"held,omitempty"`
}

// Held is one container paused or stopped for a snapshot's local capture.
type Held struct {
	Container string `json:"container"`
	// Action is "pause" or "stop".
	Action string `json:"action"`
	// Millis is how long the container was paused, or from the stop
	// request until it had started again.
	Millis float64 `json:"ms"`
}

// Capture records how a group of files was captured together.
type Capture struct {
	// Group is the directory captured as a unit, e.g. "vector_db".
	Group string `json:"group"`
	// Method is how: e.g. "online-quiet-copy" (copied while the app ran,
	// verified unchanged before and after), "paused" or "stopped".
	Method string `json:"method"`
	// Attempts is how many captures it took until nothing changed during one.
	Attempts int `json:"attempts"`
	Files    int `json:"files"`
}

// File is one file of a snapshot. Path is slash-separated and relative to
// the snapshot directory.
type File struct {
	Path   string  `json:"path"`
	Size   int64   `json:"size"`
	SHA256 string  `json:"sha256"`
	SQLite *SQLite `json:"sqlite,omitempty"`
	// Secret marks a file whose content is a secret (Open WebUI's
	// .webui_secret_key): restored like any file, never printed.
	Secret bool `json:"secret,omitempty"`
	// Stored, when set, says the target holds the file compressed, as
	// StoredPath; Size and SHA256 above are those of the file itself.
	Stored *Stored `json:"stored,omitempty"`
}

// Stored is how a compressed file is kept on the target.
type Stored struct {
	// Encoding is EncodingZstd: the object is a zstd frame that the zstd
	// command line decompresses to the file.
	Encoding string `json:"encoding"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

// EncodingZstd is the one Stored.Encoding there is, with its file suffix.
const (
	EncodingZstd = "zstd"
	SuffixZstd   = ".zst"
)

// StoredPath is the name of f's object in the snapshot directory: Path,
// with the encoding's suffix when the file is stored compressed.
func (f File) StoredPath() string {
	if f.Stored != nil {
		return f.Path + SuffixZstd
	}
	return f.Path
}

// StoredSize is the size of f's object on the target.
func (f File) StoredSize() int64 {
	if f.Stored != nil {
		return f.Stored.Size
	}
	return f.Size
}

// StoredSHA256 is the SHA-256 of f's object on the target.
func (f File) StoredSHA256() string {
	if f.Stored != nil {
		return f.Stored.SHA256
	}
	return f.SHA256
}

// SameStored reports whether two files with the same content are kept the
// same way on a target, so that one's object can stand for the other's.
func SameStored(a, b File) bool {
	if (a.Stored == nil) != (b.Stored == nil) {
		return false
	}
	return a.Stored == nil || *a.Stored == *b.Stored
}

// StoredBytes is the sum of the sizes of the manifest's objects.
func (m *Manifest) StoredBytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.StoredSize()
	}
	return n
}

// SQLite records how a SQLite file was copied and what the copy holds.
type SQLite struct {
	IntegrityCheck string `json:"integrity_check"`
	JournalMode    string `json:"journal_mode,omitempty"`
	PageCount      int64  `json:"page_count,omitempty"`
	PageSize       int64  `json:"page_size,omitempty"`
	Method         string `json:"method,omitempty"`
	// SourceHoldMillis is how long the copy held its read transaction (and
	// in rollback-journal modes, the lock that makes the app's writers wait)
	// on the source.
	SourceHoldMillis float64 `json:"source_hold_ms,omitempty"`
}

// TotalSize is the sum of the sizes of the manifest's files.
func (m *Manifest) TotalSize() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Size
	}
	return n
}

// Encode returns the manifest as indented JSON.
func (m *Manifest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	// Everything but the files, indented; then one file per line, into
	// one buffer made for them. json.Encoder would hold the whole
	// manifest three times over (its buffer, the indented copy, the
	// output), which for 20,000 files is tens of MB.
	head := *m
	head.Files = nil
	h, err := json.MarshalIndent(&head, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	const nullFiles = `"files": null` + "\n}"
	if !bytes.HasSuffix(h, []byte(nullFiles)) {
		return nil, errors.New("encode manifest: files are not the last field")
	}
	h = h[:len(h)-len(nullFiles)]
	size := len(h) + 16
	for _, f := range m.Files {
		size += len(f.Path) + 140
	}
	out := make([]byte, 0, size)
	out = append(out, h...)
	out = append(out, `"files": [`...)
	for i := range m.Files {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, "\n    "...)
		b, err := json.Marshal(&m.Files[i])
		if err != nil {
			return nil, fmt.Errorf("encode manifest: %w", err)
		}
		out = append(out, b...)
	}
	if len(m.Files) > 0 {
		out = append(out, "\n  "...)
	}
	return append(out, "]\n}\n"...), nil
}

// SHA256 is the hex sha256 of the manifest as Encode writes it: what a
// target holds for a manifest owui wrote.
func (m *Manifest) SHA256() (string, error) {
	data, err := m.Encode()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// Decode parses and validates a manifest. Anything but white space after
// the JSON object makes it unparsable: Encode never writes that, so the
// file is damaged. (json.Unmarshal refuses it, and unlike a json.Decoder
// it does not copy data, which may be large.)
func Decode(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// ErrUnsafePath is returned for a manifest path that is absolute or escapes
// the snapshot directory.
var ErrUnsafePath = errors.New("unsafe path in manifest")

// Validate checks the manifest's required fields, that backup and
// snapshot are single path segments, and that every file path is a clean
// relative path inside the snapshot, listed once, and never both a file
// and a directory.
func (m *Manifest) Validate() error {
	if m.FormatVersion != FormatVersion {
		return fmt.Errorf("validate manifest: unsupported format_version %q", m.FormatVersion)
	}
	if m.Backup == "" || m.Snapshot == "" || m.CreatedAt.IsZero() {
		return errors.New("validate manifest: backup, snapshot and created_at are required")
	}
	// Decoding takes offsets such as +24:00 that encoding refuses.
	if _, err := m.CreatedAt.MarshalText(); err != nil {
		return fmt.Errorf("validate manifest: created_at: %w", err)
	}
	// Both name directories on the target that restore reads from.
	for _, seg := range []string{m.Backup, m.Snapshot} {
		if CheckPath(seg) != nil || strings.Contains(seg, "/") {
			return fmt.Errorf("validate manifest: %w: backup or snapshot %q is not a single path segment", ErrUnsafePath, seg)
		}
	}
	seen := make(map[string]bool, len(m.Files))
	stored := make(map[string]bool, len(m.Files))
	var total, storedTotal int64
	for _, f := range m.Files {
		if err := CheckPath(f.Path); err != nil {
			return fmt.Errorf("validate manifest: %w", err)
		}
		if f.Path == FileName {
			return fmt.Errorf("validate manifest: file list names the manifest itself")
		}
		if seen[f.Path] {
			return fmt.Errorf("validate manifest: %q listed twice", f.Path)
		}
		seen[f.Path] = true
		if f.Size < 0 || f.Size > math.MaxInt64-total {
			return fmt.Errorf("validate manifest: %q has a bad size %d (negative, or the sizes add up past 2^63 bytes)", f.Path, f.Size)
		}
		total += f.Size
		if !isSHA256(f.SHA256) {
			return fmt.Errorf("validate manifest: %q has a bad sha256 %q (want 64 lowercase hex digits)", f.Path, f.SHA256)
		}
		if st := f.Stored; st != nil {
			if st.Encoding != EncodingZstd {
				return fmt.Errorf("validate manifest: %q is stored with unknown encoding %q", f.Path, st.Encoding)
			}
			if st.Size < 0 || st.Size > math.MaxInt64-storedTotal {
				return fmt.Errorf("validate manifest: %q has a bad stored size %d", f.Path, st.Size)
			}
			storedTotal += st.Size
			if !isSHA256(st.SHA256) {
				return fmt.Errorf("validate manifest: %q has a bad stored sha256 %q (want 64 lowercase hex digits)", f.Path, st.SHA256)
			}
		}
		sp := f.StoredPath()
		if sp == FileName || stored[sp] {
			return fmt.Errorf("validate manifest: two files are stored as %q", sp)
		}
		stored[sp] = true
	}
	for _, f := range m.Files {
		for dir := path.Dir(f.Path); dir != "."; dir = path.Dir(dir) {
			if seen[dir] || stored[dir] {
				return fmt.Errorf("validate manifest: %q is listed as a file but %q is inside it", dir, f.Path)
			}
		}
	}
	return nil
}

// isSHA256 reports whether s is a sha256 as hex.EncodeToString writes it.
func isSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// CheckPath rejects paths that are empty, absolute, not clean, that climb
// out of the snapshot directory, or that hold a backslash or a NUL byte
// (which no file name can hold, and which C-string APIs would cut short).
func CheckPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") ||
		path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") || p == "." {
		return fmt.Errorf("%w: %q", ErrUnsafePath, p)
	}
	return nil
}
