package main

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/owui/owui/executor"
)

// cliHooks renders executor progress: each step as a log line (slog), and on
// a terminal with text logs a progress bar per snapshot and target with
// bytes, rate and ETA.
type cliHooks struct {
	mu   sync.Mutex
	w    io.Writer
	log  *slog.Logger
	bars bool
	bar  map[string]*progressbar.ProgressBar
}

var _ executor.Hooks = (*cliHooks)(nil)

// newHooks writes to standard error, so standard output stays clean for
// --json.
func newHooks(g *globalOptions, s streams) *cliHooks {
	return &cliHooks{
		w:    s.Err,
		log:  newLogger(g, s.Err, s.TTY),
		bars: s.TTY && g.LogFormat != logFormatJSON,
		bar:  map[string]*progressbar.ProgressBar{},
	}
}

// Logf implements executor.Hooks.
func (h *cliHooks) Logf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, b := range h.bar {
		_ = b.Clear()
	}
	h.log.Info(fmt.Sprintf(format, args...))
}

// Progress implements executor.Hooks.
func (h *cliHooks) Progress(backup, target string, done, total int64) {
	if !h.bars {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	key := backup + " → " + target
	bar, ok := h.bar[key]
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
		h.bar[key] = bar
	}
	_ = bar.Set64(done)
	if done >= total {
		_ = bar.Finish()
		delete(h.bar, key)
	}
}
