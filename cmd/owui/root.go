package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
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
	// CPUProfile and MemProfile name pprof files written by the command
	// run (hidden --cpuprofile and --memprofile, for performance work).
	CPUProfile, MemProfile string
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
	f.StringVar(&g.CPUProfile, "cpuprofile", "", "write a pprof CPU profile of the command to this file")
	f.StringVar(&g.MemProfile, "memprofile", "", "write a pprof heap profile to this file when the command ends")
	_ = f.MarkHidden("cpuprofile")
	_ = f.MarkHidden("memprofile")
}

// profile wraps the RunE of cmd, the command about to run, so that it
// writes the pprof profiles asked for, whether it succeeds or fails.
func (g *globalOptions) profile(cmd *cobra.Command) error {
	if g.CPUProfile == "" && g.MemProfile == "" || cmd.RunE == nil {
		return nil
	}
	var cpu *os.File
	if g.CPUProfile != "" {
		f, err := os.Create(g.CPUProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("cpu profile: %w", err)
		}
		cpu = f
	}
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		err := run(cmd, args)
		var perr error
		if cpu != nil {
			pprof.StopCPUProfile()
			perr = cpu.Close()
		}
		if g.MemProfile != "" {
			perr = errors.Join(perr, writeHeapProfile(g.MemProfile))
		}
		if perr == nil {
			return err
		}
		return errors.Join(err, fmt.Errorf("write profile: %w", perr))
	}
	return nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	return errors.Join(pprof.WriteHeapProfile(f), f.Close())
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
		if err := checkLogFormat(g.LogFormat); err != nil {
			return err
		}
		return g.profile(cmd)
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
		newUnlockCmd(g, s),
		newStatusCmd(g, s),
		newHistoryCmd(g, s),
		newScheduleCmd(g, s),
		newWatchCmd(g, s),
		newDemoCmd(g, s),
		newSampleCmd(s),
	)
	return root
}
