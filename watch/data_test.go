package watch

import (
	"testing"

	"github.com/fsnotify/fsnotify"

	"github.com/owui/owui/config"
)

func TestWantsAndRelevant(t *testing.T) {
	b := &config.Backup{Name: "daily", Exclude: []string{"cache/**", "audit.log"}}
	only := &config.Backup{Name: "db", Include: []string{"webui.db"}, Exclude: nil}
	tests := map[string]struct {
		b    *config.Backup
		rel  string
		dir  bool
		want bool
	}{
		"database":             {b, "webui.db", false, true},
		"upload":               {b, "uploads/a.pdf", false, true},
		"cache excluded":       {b, "cache/whisper/model.bin", false, false},
		"cache dir skipped":    {b, "cache", true, false},
		"audit log excluded":   {b, "audit.log", false, false},
		"uploads dir watched":  {b, "uploads", true, true},
		"include only db":      {only, "uploads/a.pdf", false, false},
		"include only db file": {only, "webui.db", false, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := wants(tc.b, tc.rel, tc.dir); got != tc.want {
				t.Errorf("wants(%q, dir=%v) = %v, want %v", tc.rel, tc.dir, got, tc.want)
			}
		})
	}
	for rel, op := range map[string]fsnotify.Op{"webui.db-shm": fsnotify.Write, "webui.db-wal": fsnotify.Create, "webui.db": fsnotify.Chmod} {
		if relevant(fsnotify.Event{Name: rel, Op: op}, rel) {
			t.Errorf("%s %v counted as a change", rel, op)
		}
	}
	if !relevant(fsnotify.Event{Name: "webui.db-wal", Op: fsnotify.Write}, "webui.db-wal") {
		t.Error("a WAL write is a commit and must count")
	}
}
