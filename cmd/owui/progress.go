package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/owui/owui/executor"
)

// cliHooks renders executor progress: log lines always, and on a terminal a
// progress bar per snapshot and target with bytes, rate and ETA.
type cliHooks struct {
	mu   sync.Mutex
	w    io.Writer
	tty  bool
	bars map[string]*progressbar.ProgressBar
}

var _ executor.Hooks = (*cliHooks)(nil)

// newHooks writes to standard error, so standard output stays clean for
// --json.
func newHooks(s streams, _ bool) *cliHooks {
	return &cliHooks{w: s.Err, tty: s.TTY, bars: map[string]*progressbar.ProgressBar{}}
}

// Logf implements executor.Hooks.
func (h *cliHooks) Logf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range h.bars {
		_ = b.Clear()
	}
	fmt.Fprintf(h.w, format+"\n", args...)
}

// Progress implements executor.Hooks.
func (h *cliHooks) Progress(backup, target string, done, total int64) {
	if !h.tty {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := backup + " → " + target
	bar, ok := h.bars[key]
	if !ok {
		bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(h.w),
			progressbar.OptionSetDescription(key),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		h.bars[key] = bar
	}
	_ = bar.Set64(done)
	if done >= total {
		_ = bar.Finish()
		delete(h.bars, key)
	}
}
