package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeEnv is an environment in which every variable is set.
func fakeEnv(name string) (string, bool) { return "example-" + name, true }

func TestExamplesDecode(t *testing.T) {
	files, err := filepath.Glob("../examples/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no examples found in ../examples")
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p, diags := Decode(path, src, DecodeOptions{LookupEnv: fakeEnv, BaseDir: "/etc/owui"})
			for _, d := range diags {
				t.Errorf("%s", d)
			}
			if p == nil || len(p.Backups) == 0 {
				t.Errorf("policy declares no backup")
			}
			if diff := cmp.Diff(string(src), string(Format(src))); diff != "" {
				t.Errorf("not in canonical format (-file +formatted):\n%s", diff)
			}
		})
	}
}
