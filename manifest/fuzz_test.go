package manifest

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzDecode feeds arbitrary bytes to Decode, which reads manifests from
// targets that anyone with write access to the bucket can change. Whatever
// Decode accepts must be valid, name only safe paths, and survive an
// Encode/Decode round trip unchanged.
func FuzzDecode(f *testing.F) {
	good, err := validManifest().Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"format_version":"1","backup":"b","snapshot":"s","created_at":"2026-01-02T03:04:05+14:00","files":null}`))
	f.Add([]byte(`{"format_version":"1","backup":"b","snapshot":"s","created_at":"0001-01-01T00:00:01Z","files":[{"path":"a\u0000b","size":1,"sha256":"` + sha('c') + `"}]}`))
	f.Add([]byte(`{"format_version":"1","backup":"b","snapshot":"s","created_at":"2026-01-02T03:04:05Z","files":[{"path":"uploads","size":4611686018427387904,"sha256":"` + sha('d') + `"},{"path":"uploads/x","size":1,"sha256":"` + sha('d') + `"}]}`))
	f.Add([]byte(`{"format_version":1,"files":"x"}`))
	f.Add([]byte(`{"format_version":"1"} trailing`))

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			if m != nil {
				t.Fatalf("Decode returned a manifest along with %v", err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Decode accepted a manifest that Validate refuses: %v", err)
		}
		for _, file := range m.Files {
			if err := CheckPath(file.Path); err != nil {
				t.Fatalf("Decode accepted path %q: %v", file.Path, err)
			}
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded manifest: %v", err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode of Encode output: %v\n%s", err, enc)
		}
		// An empty list and an absent one are the same manifest (omitempty).
		if diff := cmp.Diff(m, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip changed the manifest (-decoded +re-decoded):\n%s", diff)
		}
		enc2, err := again.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("Encode is not stable:\n%s\n---\n%s", enc, enc2)
		}
		_ = m.TotalSize()
	})
}

// sha is a well-formed sha256 made of one repeated hex digit.
func sha(c byte) string { return string(bytes.Repeat([]byte{c}, 64)) }
