package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/owui/owui/executor"
	"github.com/owui/owui/planner"
)

// Log formats for --log-format.
const (
	logFormatText = "text"
	logFormatJSON = "json"
)

func checkLogFormat(f string) error {
	switch f {
	case logFormatText, logFormatJSON:
		return nil
	}
	return fmt.Errorf("--log-format %q: use %q or %q", f, logFormatText, logFormatJSON)
}

// newLogger returns the logger for executor progress and per-action
// outcomes, on standard error: key=value text (without timestamps on a
// terminal, where the reader sees them happen) or one JSON object a line for
// journald and log shippers. -v logs debug lines too.
func newLogger(g *globalOptions, w io.Writer, tty bool) *slog.Logger {
	level := slog.LevelInfo
	if g.Verbose {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if g.LogFormat == logFormatJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	if tty {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logOutcomes writes one line per action of an apply with its outcome.
func logOutcomes(log *slog.Logger, res *executor.Result) {
	for _, o := range res.Outcomes {
		a := o.Action
		attrs := []slog.Attr{
			slog.String("action", string(a.Kind)),
			slog.String("backup", a.Backup),
			slog.String("target", a.Target),
		}
		snap := a.Snapshot
		if a.Kind == planner.KindSnapshot {
			snap = o.Snapshot
		}
		if snap != "" {
			attrs = append(attrs, slog.String("snapshot", snap))
		}
		level := slog.LevelInfo
		switch {
		case o.Err != nil:
			level = slog.LevelError
			attrs = append(attrs, slog.String("result", "error"), slog.String("error", o.Err.Error()))
		case o.Skipped != "":
			level = slog.LevelWarn
			attrs = append(attrs, slog.String("result", "skipped"), slog.String("why", o.Skipped))
		default:
			attrs = append(attrs, slog.String("result", "ok"))
		}
		if a.Kind == planner.KindSnapshot && o.Err == nil {
			attrs = append(attrs, slog.Int("files", o.Files), slog.Int64("bytes", o.Bytes),
				slog.Int("uploaded", o.Uploaded), slog.Int("reused", o.Reused), slog.Int64("bytes_uploaded", o.BytesUploaded))
		}
		log.LogAttrs(context.Background(), level, "action", attrs...)
	}
}
