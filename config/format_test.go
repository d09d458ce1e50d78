package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStarterValidates(t *testing.T) {
	tests := map[string]struct {
		dataDir     string
		wantDataDir string
	}{
		"default":                 {dataDir: "", wantDataDir: DefaultDataDir},
		"given":                   {dataDir: "/srv/open-webui", wantDataDir: "/srv/open-webui"},
		"needs escaping":          {dataDir: `/srv/a "quoted" ${dir}`, wantDataDir: `/srv/a "quoted" ${dir}`},
		"relative":                {dataDir: "data", wantDataDir: "/etc/owui/data"},
		"contains default target": {dataDir: "/var/backups", wantDataDir: "/var/backups"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := Starter(tc.dataDir)
			p, diags := Decode("owui.hcl", src, DecodeOptions{BaseDir: "/etc/owui"})
			if len(diags) > 0 {
				t.Fatalf("starter does not validate: %s\n%s", diags, src)
			}
			if got := p.Instances[0].DataDir; got != tc.wantDataDir {
				t.Errorf("DataDir = %q, want %q", got, tc.wantDataDir)
			}
			if diff := cmp.Diff(string(src), string(Format(src))); diff != "" {
				t.Errorf("starter is not canonically formatted (-starter +formatted):\n%s", diff)
			}
			if !strings.Contains(string(src), "# ") {
				t.Errorf("starter has no comments")
			}
		})
	}
}

func TestFormat(t *testing.T) {
	in := "backup \"daily\" {\ninstance=instance.main\n    to = [target.b2]\n  every=\"24h\"\n}\n"
	want := "backup \"daily\" {\n  instance = instance.main\n  to       = [target.b2]\n  every    = \"24h\"\n}\n"
	if diff := cmp.Diff(want, string(Format([]byte(in)))); diff != "" {
		t.Errorf("Format (-want +got):\n%s", diff)
	}
}
