package executor

import (
	"context"

	"github.com/owui/owui/config"
	"github.com/owui/owui/executor/stage"
	"github.com/owui/owui/planner"
)

// Windows measures, for each named pause or stop backup, what its
// quiet window would hold if it started now: the containers it would pause
// or stop, and the files it would copy meanwhile (found by a stat walk of
// the data directory, as the capture would list them). The planner turns
// that into an estimate in the snapshot's reason. A backup whose instance
// cannot be resolved gets a Window that says why; Windows never fails.
func (e *Env) Windows(ctx context.Context, backups []string) map[string]planner.Window {
	out := map[string]planner.Window{}
	sources := map[string]*source{}
	errs := map[string]error{}
	for _, name := range backups {
		b := e.Policy.Backup(name)
		if b == nil || b.Consistency != config.ConsistencyPause && b.Consistency != config.ConsistencyStop {
			continue
		}
		inst := e.Policy.Instance(b.Instance)
		if inst == nil {
			continue
		}
		src, seen := sources[inst.Name]
		err := errs[inst.Name]
		if !seen {
			src, err = e.resolve(ctx, inst)
			sources[inst.Name], errs[inst.Name] = src, err
		}
		if err != nil {
			out[b.Name] = planner.Window{Unknown: err.Error()}
			continue
		}
		out[b.Name] = measureWindow(src, b)
	}
	return out
}

func measureWindow(src *source, b *config.Backup) planner.Window {
	var w planner.Window
	for _, c := range src.toHold(b.Consistency) {
		if c.State == "running" {
			w.Held = append(w.Held, c.Name)
		} else {
			w.Idle = append(w.Idle, c.Name)
		}
	}
	listing, err := stage.Scan(src.dataDir, b.Include, b.Exclude)
	if err != nil {
		return planner.Window{Unknown: err.Error()}
	}
	for _, ent := range listing.Entries {
		if ent.Kind == stage.Immutable && groupOf(ent.Rel) == "" {
			continue // uploads/ are hashed and sent after the window
		}
		w.Files++
		w.Bytes += ent.Size
	}
	return w
}
