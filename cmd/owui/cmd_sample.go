package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/owui/owui/internal/units"
	"github.com/owui/owui/sample"
)

// newSampleCmd is a hidden helper for benchmarks and demos: it generates or
// changes a sample Open WebUI data directory.
func newSampleCmd(s streams) *cobra.Command {
	var opts sample.Options
	var uploads, chats int
	cmd := &cobra.Command{
		Use:    "sample DIR",
		Short:  "Generate a sample Open WebUI data directory, or add uploads and chats to one",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			dir := args[0]
			if uploads == 0 && chats == 0 {
				st, err := sample.Generate(dir, opts)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.Out, "%s: %d files, %s, %d uploads, %d chats\n", dir, st.Files, units.Bytes(st.Bytes), st.Uploads, st.Chats)
				return nil
			}
			if err := sample.AddUploads(dir, uploads, opts); err != nil {
				return err
			}
			if err := sample.AddChats(dir, chats, opts); err != nil {
				return err
			}
			fmt.Fprintf(s.Out, "%s: added %d uploads and %d chats\n", dir, uploads, chats)
			return nil
		},
	}
	f := cmd.Flags()
	f.Float64Var(&opts.Scale, "scale", 1, "size (1 ≈ 1 GB)")
	f.Int64Var(&opts.Seed, "seed", 1, "random seed")
	f.IntVar(&uploads, "add-uploads", 0, "add this many uploads to an existing directory")
	f.IntVar(&chats, "add-chats", 0, "add this many chats to an existing directory")
	return cmd
}
