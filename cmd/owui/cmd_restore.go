package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/owui/owui/executor"
	"github.com/owui/owui/internal/units"
)

// rewriteToDestination is --rewrite-upload-paths given without a prefix.
const rewriteToDestination = "\x00destination"

// restoreOptions are owui restore's flags.
type restoreOptions struct {
	executor.RestoreOptions
	rewrite string
}

func (o *restoreOptions) AddFlags(f interface {
	StringVar(*string, string, string, string)
	BoolVar(*bool, string, bool, string)
}) {
	f.StringVar(&o.Target, "target", "", "target to restore from (default: the backup's first)")
	f.StringVar(&o.Snapshot, "snapshot", "latest", "snapshot id, or latest")
	f.StringVar(&o.Dir, "to", "", "directory to restore into (must be empty)")
	f.BoolVar(&o.Force, "force", false, "restore into a non-empty directory (files in the way are moved aside), or in place into an instance owui cannot stop")
	f.BoolVar(&o.DryRun, "dry-run", false, "list what would be written, and write nothing")
	f.BoolVar(&o.InPlace, "in-place", false, "restore into the instance itself: stop its containers, move its data aside, restore, start them")
	f.StringVar(&o.rewrite, "rewrite-upload-paths", "", "rewrite webui.db's file.path rows in the restored copy: alone, into the restored uploads/ directory; =PREFIX, into PREFIX")
}

// validate checks the flags and turns them into executor options.
func (o *restoreOptions) validate() (executor.RestoreOptions, error) {
	r := o.RestoreOptions
	switch {
	case r.InPlace && r.Dir != "":
		return r, errors.New("restore takes --to DIR or --in-place, not both")
	case !r.InPlace && r.Dir == "":
		return r, errors.New("restore needs --to DIR, or --in-place to restore into the instance")
	}
	if o.rewrite != "" {
		r.RewriteUploads = true
		if o.rewrite != rewriteToDestination {
			if !strings.HasPrefix(o.rewrite, "/") {
				return r, fmt.Errorf("--rewrite-upload-paths %q: the prefix must be an absolute path", o.rewrite)
			}
			r.UploadPrefix = o.rewrite
		}
	}
	return r, nil
}

func newRestoreCmd(g *globalOptions, s streams) *cobra.Command {
	opts := &restoreOptions{}
	cmd := &cobra.Command{
		Use:   "restore BACKUP (--to DIR | --in-place)",
		Short: "Restore a snapshot into a directory or into the instance, checking every file's checksum",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Backup = args[0]
			ro, err := opts.validate()
			if err != nil {
				return err
			}
			return runRestore(cmd.Context(), g, ro, s)
		},
	}
	opts.AddFlags(cmd.Flags())
	cmd.Flags().Lookup("rewrite-upload-paths").NoOptDefVal = rewriteToDestination
	return cmd
}

// runRestore restores. Restore reads only the targets, so it works on a
// machine with nothing but the policy; when the state here records no
// snapshot, it is rebuilt from the targets' manifests afterwards.
func runRestore(ctx context.Context, g *globalOptions, opts executor.RestoreOptions, s streams) (err error) {
	ss, err := openSession(ctx, g, s)
	if err != nil {
		return err
	}
	defer ss.Close()
	recs, err := ss.store.Snapshots(ctx)
	if err != nil {
		return err
	}
	noState := len(recs) == 0
	if opts.InPlace && !opts.DryRun {
		unlock, err := ss.lock(ctx, s, "restore")
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, unlock()) }()
	}
	ss.env.Hooks = newHooks(g, s)
	res, err := ss.env.Restore(ctx, opts)
	if err != nil {
		return err
	}
	printRestore(s.Out, opts, res)
	if noState && !opts.DryRun {
		r, unreachable, err := ss.refreshSave(ctx)
		if err != nil {
			return fmt.Errorf("rebuild state from the targets: %w", err)
		}
		fmt.Fprintf(s.Out, "The state here recorded no snapshot: rebuilt it from the targets' manifests (%d snapshots).\n", len(r.Observed.Snapshots))
		return unreachable
	}
	return nil
}

// printRestore says what the restore did, what to look out for, and for
// an in-place restore how to roll it back.
func printRestore(w io.Writer, opts executor.RestoreOptions, res *executor.RestoreResult) {
	m := res.Manifest
	for _, msg := range res.Warnings {
		fmt.Fprintf(w, "Warning: %s.\n", msg)
	}
	if opts.DryRun {
		fmt.Fprintf(w, "Would restore snapshot %s of %s from %s into %s (%d files, %s):\n",
			m.Snapshot, m.Backup, res.Target, res.Dir, len(m.Files), units.Bytes(m.TotalSize()))
		for _, f := range res.Planned {
			note := ""
			if f.Exists {
				note = "  (in the way: moved aside with --force)"
			}
			fmt.Fprintf(w, "  %12d  %s%s\n", f.Size, f.Path, note)
		}
		if opts.InPlace {
			fmt.Fprintf(w, "It would stop %s, move what %s holds to %s, restore, and start them again.\n",
				orNothing(res.Containers), res.Dir, res.Aside)
		}
		fmt.Fprintln(w, "Nothing was written (--dry-run).")
		return
	}
	fmt.Fprintf(w, "Restored snapshot %s of %s from %s into %s: %d files, %s, every checksum matches the manifest.\n",
		m.Snapshot, m.Backup, res.Target, res.Dir, len(m.Files), units.Bytes(m.TotalSize()))
	if res.Replaced > 0 {
		fmt.Fprintf(w, "%d files that were in the way were moved to %s.\n", res.Replaced, res.Aside)
	}
	printUploads(w, res.Uploads)
	if opts.InPlace {
		fmt.Fprintf(w, "The previous data is in %s (nothing was deleted); %s stopped and started again.\n", res.Aside, orNothing(res.Containers))
		fmt.Fprintln(w, "To roll back:")
		for _, c := range res.Rollback {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	for _, f := range m.Files {
		if f.Secret {
			fmt.Fprintf(w, "The snapshot holds Open WebUI's secret key as %s: copy it to /app/backend/%s in the container (docker cp), or set WEBUI_SECRET_KEY.\n", f.Path, f.Path)
		}
	}
}

func printUploads(w io.Writer, up executor.UploadPaths) {
	if up.Rewritten > 0 {
		fmt.Fprintf(w, "Rewrote %d of %d upload paths in the restored webui.db to %s/…; that webui.db now differs from the manifest's checksum on purpose.\n",
			up.Rewritten, up.Rows, up.Expected)
	}
	if up.Mismatched > 0 {
		fmt.Fprintf(w, "Warning: %d of %d file.path rows in webui.db point outside %s (e.g. %s).\n", up.Mismatched, up.Rows, up.Expected, up.Example)
		if up.Expected != executor.ContainerUploads {
			fmt.Fprintf(w, "  Fine if this directory is mounted at %s in a container; to open it from here, restore again with --rewrite-upload-paths.\n", "/app/backend/data")
		}
	}
}

func orNothing(names []string) string {
	if len(names) == 0 {
		return "no container"
	}
	return "container " + strings.Join(names, ", ")
}
