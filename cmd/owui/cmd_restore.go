package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/owui/owui/executor"
)

func newRestoreCmd(g *globalOptions, s streams) *cobra.Command {
	opts := &executor.RestoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore BACKUP --to DIR",
		Short: "Restore a snapshot into a directory, checking every file's checksum",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Backup = args[0]
			return runRestore(cmd.Context(), g, *opts, s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Target, "target", "", "target to restore from (default: the backup's first)")
	f.StringVar(&opts.Snapshot, "snapshot", "latest", "snapshot id, or latest")
	f.StringVar(&opts.Dir, "to", "", "directory to restore into (must be empty)")
	f.BoolVar(&opts.Force, "force", false, "restore into a non-empty directory")
	return cmd
}

func runRestore(ctx context.Context, g *globalOptions, opts executor.RestoreOptions, s streams) error {
	if opts.Dir == "" {
		return errors.New("restore needs --to DIR")
	}
	ss, err := openSession(ctx, g, s)
	if err != nil {
		return err
	}
	defer ss.Close()
	m, err := ss.env.Restore(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "Restored snapshot %s of %s into %s: %d files, %s, every checksum matches the manifest.\n",
		m.Snapshot, m.Backup, opts.Dir, len(m.Files), executor.HumanBytes(m.TotalSize()))
	return nil
}
