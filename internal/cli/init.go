package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/inferbench/inferbench/internal/atomicfile"
	"github.com/inferbench/inferbench/internal/config"
)

func init() { extraCommands = append(extraCommands, (*app).initCmd) }

func (a *app) initCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init [FILE]",
		Short: "Write a commented example configuration (default inferbench.yaml; - for stdout)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "inferbench.yaml"
			if len(args) == 1 {
				path = args[0]
			}
			if path == "-" {
				_, err := a.stdout.Write(config.Example)
				return err
			}
			if _, err := os.Lstat(path); err == nil && !force {
				return usagef("init: %s exists (use --force to overwrite)", path)
			}
			if err := atomicfile.WriteFile(path, config.Example, 0o644); err != nil {
				return usagef("init: %v", err)
			}
			fmt.Fprintf(a.stderr, "inferbench: wrote %s; edit it, then: inferbench benchmark online --config %s\n", path, path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return cmd
}
