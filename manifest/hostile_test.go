package manifest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// hostileJSON builds a manifest document whose files array is files (raw
// JSON), with header fields overridable through extra (raw JSON members).
func hostileJSON(files, extra string) string {
	head := `"format_version":"1","backup":"daily","snapshot":"2026-11-26T030000Z","created_at":"2026-11-26T03:00:00Z"`
	if extra != "" {
		head = extra
	}
	return fmt.Sprintf(`{%s,"files":[%s]}`, head, files)
}

func hostileFile(path string, size int64) string {
	return fmt.Sprintf(`{"path":%q,"size":%d,"sha256":%q}`, path, size, strings.Repeat("a", 64))
}

// TestDecodeHostile: manifests as someone with write access to a target
// could plant them. Each is refused with an error that names the problem,
// and unsafe paths wrap ErrUnsafePath.
func TestDecodeHostile(t *testing.T) {
	ok := hostileFile("webui.db", 10)
	tests := map[string]struct {
		data   string
		want   string // in the error
		unsafe bool   // wraps ErrUnsafePath
	}{
		"files not an array":    {data: `{"format_version":"1","backup":"d","snapshot":"s","created_at":"2026-11-26T03:00:00Z","files":"webui.db"}`, want: "cannot unmarshal string"},
		"size a string":         {data: hostileJSON(`{"path":"webui.db","size":"10","sha256":"`+strings.Repeat("a", 64)+`"}`, ""), want: "cannot unmarshal string"},
		"size a float":          {data: hostileJSON(`{"path":"webui.db","size":1.5,"sha256":"`+strings.Repeat("a", 64)+`"}`, ""), want: "cannot unmarshal number 1.5"},
		"size beyond int64":     {data: hostileJSON(`{"path":"webui.db","size":1e30,"sha256":"`+strings.Repeat("a", 64)+`"}`, ""), want: "cannot unmarshal number 1e30"},
		"path a number":         {data: hostileJSON(`{"path":7,"size":1,"sha256":"`+strings.Repeat("a", 64)+`"}`, ""), want: "cannot unmarshal number"},
		"format version int":    {data: hostileJSON(ok, `"format_version":1,"backup":"d","snapshot":"s","created_at":"2026-11-26T03:00:00Z"`), want: "cannot unmarshal number"},
		"created_at offset 24h": {data: hostileJSON(ok, `"format_version":"1","backup":"d","snapshot":"s","created_at":"2026-11-26T03:00:00+24:00"`), want: "created_at: Time.MarshalText: timezone hour outside of range"},
		"created_at not time":   {data: hostileJSON(ok, `"format_version":"1","backup":"d","snapshot":"s","created_at":"yesterday"`), want: "cannot parse"},
		"top level array":       {data: `[` + ok + `]`, want: "cannot unmarshal array"},
		"trailing garbage":      {data: hostileJSON(ok, "") + `{"format_version":"1"}`, want: "after top-level value"},
		"sizes overflow":        {data: hostileJSON(hostileFile("a", 1<<62)+","+hostileFile("b", 1<<62), ""), want: `"b" has a bad size`},
		"negative size":         {data: hostileJSON(hostileFile("a", -1), ""), want: `"a" has a bad size -1`},
		"dotdot":                {data: hostileJSON(hostileFile("../../etc/passwd", 1), ""), want: `"../../etc/passwd"`, unsafe: true},
		"inner dotdot":          {data: hostileJSON(hostileFile("uploads/../../x", 1), ""), want: `"uploads/../../x"`, unsafe: true},
		"absolute":              {data: hostileJSON(hostileFile("/etc/passwd", 1), ""), want: `"/etc/passwd"`, unsafe: true},
		"NUL byte":              {data: hostileJSON(`{"path":"webui.db\u0000.txt","size":1,"sha256":"`+strings.Repeat("a", 64)+`"}`, ""), want: `"webui.db\x00.txt"`, unsafe: true},
		"backslash":             {data: hostileJSON(hostileFile(`uploads\..\..\x`, 1), ""), want: `uploads\\..\\..\\x`, unsafe: true},
		"empty path":            {data: hostileJSON(hostileFile("", 1), ""), want: `""`, unsafe: true},
		"dot path":              {data: hostileJSON(hostileFile(".", 1), ""), want: `"."`, unsafe: true},
		"trailing slash":        {data: hostileJSON(hostileFile("uploads/", 1), ""), want: `"uploads/"`, unsafe: true},
		"duplicate path":        {data: hostileJSON(ok+","+ok, ""), want: `"webui.db" listed twice`},
		"file and directory":    {data: hostileJSON(hostileFile("uploads", 1)+","+hostileFile("uploads/x", 1), ""), want: `"uploads" is listed as a file but "uploads/x" is inside it`},
		"directory then file":   {data: hostileJSON(hostileFile("a/b/c", 1)+","+hostileFile("a", 1), ""), want: `"a" is listed as a file`},
		"uppercase sha256":      {data: hostileJSON(`{"path":"a","size":1,"sha256":"`+strings.Repeat("A", 64)+`"}`, ""), want: "bad sha256"},
		"non-hex sha256":        {data: hostileJSON(`{"path":"a","size":1,"sha256":"`+strings.Repeat("z", 64)+`"}`, ""), want: "bad sha256"},
		"snapshot climbs":       {data: hostileJSON(ok, `"format_version":"1","backup":"daily","snapshot":"..","created_at":"2026-11-26T03:00:00Z"`), want: `".." is not a single path segment`, unsafe: true},
		"snapshot has slash":    {data: hostileJSON(ok, `"format_version":"1","backup":"daily","snapshot":"a/b","created_at":"2026-11-26T03:00:00Z"`), want: `"a/b" is not a single path segment`, unsafe: true},
		"backup absolute":       {data: hostileJSON(ok, `"format_version":"1","backup":"/etc","snapshot":"s","created_at":"2026-11-26T03:00:00Z"`), want: `"/etc" is not a single path segment`, unsafe: true},
		"manifest names self":   {data: hostileJSON(hostileFile(FileName, 1), ""), want: "names the manifest itself"},
		"deeply nested arrays":  {data: strings.Repeat("[", 100000), want: "decode manifest"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := Decode([]byte(tc.data))
			if err == nil {
				t.Fatalf("Decode accepted it: %+v", m)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode error %q does not say %q", err, tc.want)
			}
			if tc.unsafe != errors.Is(err, ErrUnsafePath) {
				t.Errorf("Decode error %q: wraps ErrUnsafePath = %v, want %v", err, errors.Is(err, ErrUnsafePath), tc.unsafe)
			}
		})
	}
}

// TestDecodeAcceptsOddButSafe: names a real data directory can hold are
// not refused just for looking unusual.
func TestDecodeAcceptsOddButSafe(t *testing.T) {
	for _, p := range []string{"uploads/a\nb.txt", "uploads/..hidden", "uploads/...", "uploads/ü ñ.pdf", "uploads/a:b"} {
		if _, err := Decode([]byte(hostileJSON(hostileFile(p, 1), ""))); err != nil {
			t.Errorf("Decode refused path %q: %v", p, err)
		}
	}
	if _, err := Decode([]byte(hostileJSON(hostileFile("a", 1), "") + "\n\t ")); err != nil {
		t.Errorf("Decode refused trailing white space: %v", err)
	}
}
