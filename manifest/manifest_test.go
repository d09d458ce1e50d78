package manifest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func validManifest() *Manifest {
	return &Manifest{
		FormatVersion: FormatVersion,
		Backup:        "daily",
		Snapshot:      "2026-11-26T030000Z",
		CreatedAt:     time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC),
		Instance:      "main",
		Consistency:   "online",
		OwuiVersion:   "test",
		Files: []File{
			{Path: "webui.db", Size: 4096, SHA256: strings.Repeat("a", 64),
				SQLite: &SQLite{IntegrityCheck: "ok", JournalMode: "wal", PageCount: 1, Method: "backup-api"}},
			{Path: "uploads/x_y.pdf", Size: 10, SHA256: strings.Repeat("b", 64)},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	m := validManifest()
	data, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if m.TotalSize() != 4106 {
		t.Errorf("TotalSize = %d, want 4106", m.TotalSize())
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := map[string]struct {
		edit func(*Manifest)
		raw  string
	}{
		"truncated json":     {raw: `{"format_version":"1","backup":"daily"`},
		"not json":           {raw: "hello"},
		"future format":      {edit: func(m *Manifest) { m.FormatVersion = "2" }},
		"no backup":          {edit: func(m *Manifest) { m.Backup = "" }},
		"no created_at":      {edit: func(m *Manifest) { m.CreatedAt = time.Time{} }},
		"absolute path":      {edit: func(m *Manifest) { m.Files[1].Path = "/etc/passwd" }},
		"escaping path":      {edit: func(m *Manifest) { m.Files[1].Path = "../../etc/passwd" }},
		"inner dotdot":       {edit: func(m *Manifest) { m.Files[1].Path = "uploads/../../x" }},
		"unclean path":       {edit: func(m *Manifest) { m.Files[1].Path = "uploads//x" }},
		"backslash":          {edit: func(m *Manifest) { m.Files[1].Path = `uploads\..\x` }},
		"duplicate path":     {edit: func(m *Manifest) { m.Files[1].Path = "webui.db" }},
		"names the manifest": {edit: func(m *Manifest) { m.Files[1].Path = FileName }},
		"bad sha256":         {edit: func(m *Manifest) { m.Files[1].SHA256 = "abc" }},
		"negative size":      {edit: func(m *Manifest) { m.Files[1].Size = -1 }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			data := []byte(tc.raw)
			if tc.edit != nil {
				m := validManifest()
				tc.edit(m)
				var err error
				// Encode validates too; build the bytes without it.
				if _, err = m.Encode(); err == nil {
					t.Fatalf("Encode accepted the bad manifest")
				}
				data = []byte(mustJSON(t, m))
			}
			if _, err := Decode(data); err == nil {
				t.Errorf("Decode accepted it")
			}
		})
	}
}

func TestCheckPath(t *testing.T) {
	for _, p := range []string{"webui.db", "vector_db/3f0a/data_level0.bin", "uploads/a b (final).pdf", ".hidden"} {
		if err := CheckPath(p); err != nil {
			t.Errorf("CheckPath(%q) = %v, want nil", p, err)
		}
	}
	for _, p := range []string{"", ".", "..", "../x", "/x", "a/../../x", "a/./b", "a/", "a\x00b", `a\b`} {
		if err := CheckPath(p); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("CheckPath(%q) = %v, want ErrUnsafePath", p, err)
		}
	}
}
