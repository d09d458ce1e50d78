package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/owui/owui/config"
)

func newValidateCmd(g *globalOptions, s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Parse and check the policy",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			p, err := loadPolicy(g, s)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "The policy is valid: %d instance(s), %d target(s), %d backup(s).\n",
				len(p.Instances), len(p.Targets), len(p.Backups))
			return nil
		},
	}
}

// errNotFormatted is fmt --check's failure.
var errNotFormatted = errors.New("the policy is not canonically formatted; run owui fmt")

func newFmtCmd(g *globalOptions, s streams) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "fmt",
		Short: "Rewrite the policy in canonical format",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path := g.policyPath()
			src, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("read policy: %w", err)
			}
			out := config.Format(src)
			if bytes.Equal(out, src) {
				return nil
			}
			fmt.Fprintln(s.Out, path)
			if check {
				return errNotFormatted
			}
			return writeFileAtomic(path, out)
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only check; exit 1 if the file would change")
	return cmd
}

// writeFileAtomic replaces path with data through a temporary file beside it.
func writeFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".owui-fmt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// knownDataDirs are where Open WebUI's data usually lives on a Docker host.
var knownDataDirs = []string{
	"/var/lib/docker/volumes/open-webui/_data",
	"/opt/open-webui",
	"/srv/open-webui",
}

func newInitCmd(g *globalOptions, s streams) *cobra.Command {
	var dataDir string
	var force bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a commented starter owui.hcl",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			path := g.policyPath()
			if _, err := os.Stat(path); err == nil && !force {
				return fmt.Errorf("%s already exists (use --force to overwrite)", path)
			}
			if dataDir == "" {
				dataDir = detectDataDir()
			}
			if err := writeFileAtomic(path, config.Starter(dataDir)); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			fmt.Fprintf(s.Out, "Wrote %s for the data directory %s. Edit it, then run owui plan.\n", path, dataDir)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "Open WebUI data directory (default: detected)")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing policy")
	return cmd
}

// detectDataDir returns the first known location holding a webui.db.
func detectDataDir() string {
	for _, d := range knownDataDirs {
		if _, err := os.Stat(filepath.Join(d, "webui.db")); err == nil {
			return d
		}
	}
	return "/opt/open-webui"
}
