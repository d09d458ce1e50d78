package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/owui/owui/config"
	"github.com/owui/owui/unitgen"
)

type scheduleOptions struct {
	Kind    string // systemd or cron
	Install bool
	User    bool
	Dir     string
	Binary  string
}

func newScheduleCmd(g *globalOptions, s streams) *cobra.Command {
	opts := &scheduleOptions{}
	cmd := &cobra.Command{
		Use:   "schedule systemd|cron",
		Short: "Print or install a systemd timer (and a watch-mode service), or a crontab line, that runs owui apply",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Kind = args[0]
			if err := opts.validate(); err != nil {
				return err
			}
			return runSchedule(cmd.Context(), g, *opts, s)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Install, "install", false, "write the files where systemd (or cron) reads them, instead of printing them")
	f.BoolVar(&opts.User, "user", false, "user units (systemctl --user) or the user's crontab, instead of system-wide")
	f.StringVar(&opts.Dir, "dir", "", "write the files into this directory")
	f.StringVar(&opts.Binary, "binary", "", "the owui executable the units run (default: this one)")
	return cmd
}

func (o scheduleOptions) validate() error {
	if o.Kind != "systemd" && o.Kind != "cron" {
		return fmt.Errorf("schedule %q: use systemd or cron", o.Kind)
	}
	if o.Install && o.Dir != "" {
		return errors.New("--install and --dir: choose one")
	}
	return nil
}

func runSchedule(ctx context.Context, g *globalOptions, opts scheduleOptions, s streams) error {
	p, err := loadPolicy(g, s)
	if err != nil {
		return err
	}
	uo, err := unitOptions(g, opts, p, s)
	if err != nil {
		return err
	}
	if opts.Kind == "cron" {
		return writeCron(ctx, opts, uo, s)
	}
	files := unitgen.Systemd(uo)
	dir := opts.Dir
	if opts.Install {
		if dir, err = systemdDir(opts.User); err != nil {
			return err
		}
	}
	if dir == "" {
		for _, f := range files {
			fmt.Fprintf(s.Out, "# ---- %s ----\n%s\n", f.Name, f.Content)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		if err := os.WriteFile(path, []byte(f.Content), 0o644); err != nil {
			return fmt.Errorf("write unit: %w", err)
		}
		fmt.Fprintf(s.Out, "Wrote %s\n", path)
	}
	sc := "systemctl"
	if opts.User {
		sc += " --user"
	}
	fmt.Fprintf(s.Out, "\nThen: %s daemon-reload && %s enable --now %s\n(or, for watch mode instead of the timer: %s enable --now %s)\n",
		sc, sc, unitgen.ApplyTimer, sc, unitgen.WatchService)
	return nil
}

// unitOptions makes every path the units name absolute. Without --state or
// OWUI_STATE_DIR the units keep state where systemd's StateDirectory= puts
// it; cron keeps owui's default beside the policy.
func unitOptions(g *globalOptions, opts scheduleOptions, p *config.Policy, s streams) (unitgen.Options, error) {
	bin := opts.Binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return unitgen.Options{}, fmt.Errorf("find the owui executable (pass --binary): %w", err)
		}
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		bin = exe
		if strings.HasPrefix(bin, os.TempDir()) {
			fmt.Fprintf(s.Err, "Warning: %s looks like a temporary build (go run?); install owui and pass --binary.\n", bin)
		}
	}
	abs := func(p string) (string, error) { return filepath.Abs(p) }
	bin, err := abs(bin)
	if err != nil {
		return unitgen.Options{}, err
	}
	policy, err := abs(g.policyPath())
	if err != nil {
		return unitgen.Options{}, err
	}
	uo := unitgen.Options{Binary: bin, Policy: policy, User: opts.User, Slots: unitgen.Slots(p), Version: version}
	explicit := g.StateDir != "" || os.Getenv("OWUI_STATE_DIR") != ""
	switch {
	case explicit || opts.Kind == "cron":
		if uo.StateDir, err = abs(g.stateDir()); err != nil {
			return uo, err
		}
		uo.WritePaths = append(uo.WritePaths, uo.StateDir)
	case opts.User:
		base := os.Getenv("XDG_STATE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return uo, fmt.Errorf("find the home directory for user units: %w", err)
			}
			base = filepath.Join(home, ".local", "state")
		}
		uo.StateDir, uo.StateDirectory = filepath.Join(base, "owui"), "owui"
	default:
		uo.StateDir, uo.StateDirectory = "/var/lib/owui", "owui"
	}
	if uo.StateDirectory != "" {
		fmt.Fprintf(s.Err, "Note: the units keep owui's state in %s; run owui by hand with --state %s (or OWUI_STATE_DIR) so both share the lock and the history.\n", uo.StateDir, uo.StateDir)
	}
	if g.MetricsFile != "" {
		if uo.MetricsFile, err = abs(g.MetricsFile); err != nil {
			return uo, err
		}
		uo.WritePaths = append(uo.WritePaths, filepath.Dir(uo.MetricsFile))
	}
	for _, t := range p.Targets {
		if t.IsLocal() {
			uo.WritePaths = append(uo.WritePaths, t.Remote)
		}
	}
	return uo, nil
}

func systemdDir(user bool) (string, error) {
	if !user {
		return "/etc/systemd/system", nil
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "systemd", "user"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the home directory for user units: %w", err)
	}
	return filepath.Join(home, ".config", "systemd", "user"), nil
}

// writeCron prints the crontab lines, writes them as a cron.d file (into
// /etc/cron.d with --install, or --dir), or adds them to the user's crontab
// (--install --user).
func writeCron(ctx context.Context, opts scheduleOptions, uo unitgen.Options, s streams) error {
	switch {
	case opts.Install && opts.User:
		return installUserCrontab(ctx, unitgen.Cron(uo, ""), s)
	case opts.Install || opts.Dir != "":
		dir := opts.Dir
		if dir == "" {
			dir = "/etc/cron.d"
		}
		user := "root"
		if opts.User {
			user = os.Getenv("USER")
		}
		path := filepath.Join(dir, "owui")
		if err := os.WriteFile(path, []byte(unitgen.Cron(uo, user)), 0o644); err != nil {
			return fmt.Errorf("write crontab: %w", err)
		}
		fmt.Fprintf(s.Out, "Wrote %s\n", path)
		return nil
	default:
		fmt.Fprint(s.Out, unitgen.Cron(uo, ""))
		return nil
	}
}

// installUserCrontab appends the lines to the user's crontab, replacing
// owui's earlier ones (those following its header comment).
func installUserCrontab(ctx context.Context, lines string, s streams) error {
	cur, err := exec.CommandContext(ctx, "crontab", "-l").Output()
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return fmt.Errorf("read the crontab: %w", err)
		}
		cur = nil // no crontab yet
	}
	var keep []string
	skipping := false
	for _, l := range strings.Split(strings.TrimRight(string(cur), "\n"), "\n") {
		if strings.Contains(l, "Generated by `owui schedule`") || strings.HasPrefix(l, "# crontab for owui apply") {
			skipping = true
		}
		if skipping && (l == "" || !strings.HasPrefix(l, "#") && !strings.Contains(l, "owui")) && !strings.HasPrefix(l, "SHELL=") {
			skipping = false
		}
		if !skipping && l != "" {
			keep = append(keep, l)
		}
	}
	next := strings.Join(keep, "\n")
	if next != "" {
		next += "\n"
	}
	next += lines
	cmd := exec.CommandContext(ctx, "crontab", "-")
	cmd.Stdin = bytes.NewBufferString(next)
	cmd.Stderr = s.Err
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("install the crontab: %w", err)
	}
	fmt.Fprintln(s.Out, "Installed in your crontab (crontab -l shows it).")
	return nil
}
