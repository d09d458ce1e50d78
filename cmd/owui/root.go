package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rclone/rclone/fs"
	rclonelog "github.com/rclone/rclone/fs/log"
	"github.com/spf13/cobra"
)

// streams are the command's input and outputs; tests pass buffers.
type streams struct {
	In    io.Reader
	Out   io.Writer
	Err   io.Writer
	InTTY bool // standard input is a terminal (apply may ask)
	TTY   bool // standard output is a terminal (colour, progress bars)
}

// globalOptions are the flags every command takes.
type globalOptions struct {
	File     string
	Chdir    string
	StateDir string
	Now      string
	JSON     bool
	Verbose  bool
	NoColor  bool
	// LogFormat is "text" or "json" (--log-format).
	LogFormat string
	// MetricsFile, when set, is rewritten after every apply (--metrics-file).
	MetricsFile string
}

func (g *globalOptions) addFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVarP(&g.File, "file", "f", "owui.hcl", "policy file")
	f.StringVar(&g.Chdir, "chdir", "", "switch to this directory before reading the policy")
	f.StringVar(&g.StateDir, "state", "", "state directory (default .owui/ beside the policy, or $OWUI_STATE_DIR)")
	f.StringVar(&g.Now, "now", "", "plan as if at this RFC3339 time")
	f.BoolVar(&g.JSON, "json", false, "machine-readable output")
	f.BoolVarP(&g.Verbose, "verbose", "v", false, "say more")
	f.BoolVar(&g.NoColor, "no-color", false, "no colour in output (NO_COLOR is honoured too)")
	f.StringVar(&g.LogFormat, "log-format", logFormatText, "log lines on standard error: text or json")
	f.StringVar(&g.MetricsFile, "metrics-file", "", "write a Prometheus textfile-collector file here after every apply")
}

// now is --now, or the clock.
func (g *globalOptions) now() (time.Time, error) {
	if g.Now == "" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, g.Now)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse --now: %w", err)
	}
	return t.UTC(), nil
}

func (g *globalOptions) color(s streams) bool {
	_, noColor := os.LookupEnv("NO_COLOR")
	return s.TTY && !g.NoColor && !noColor
}

// quietRclone keeps rclone's own log lines to errors, or notices with -v:
// owui reports progress itself.
func quietRclone(ctx context.Context, verbose bool) {
	level := fs.LogLevelError
	if verbose {
		level = fs.LogLevelNotice
	}
	fs.GetConfig(ctx).LogLevel = level
	rclonelog.Handler.SetLevel(fs.LogLevelToSlog(level))
}

func newRootCmd(s streams) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:           "owui",
		Short:         "Declarative backups for self-hosted Open WebUI",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		quietRclone(cmd.Context(), g.Verbose)
		return checkLogFormat(g.LogFormat)
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	g.addFlags(root)
	root.AddCommand(
		newInitCmd(g, s),
		newValidateCmd(g, s),
		newFmtCmd(g, s),
		newPlanCmd(g, s),
		newApplyCmd(g, s),
		newSnapshotsCmd(g, s),
		newRefreshCmd(g, s),
		newRestoreCmd(g, s),
		newVerifyCmd(g, s),
		newRecoverCmd(g, s),
		newStatusCmd(g, s),
		newHistoryCmd(g, s),
		newScheduleCmd(g, s),
		newWatchCmd(g, s),
		newDemoCmd(g, s),
		newSampleCmd(s),
	)
	return root
}
