package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

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
			flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
			if force {
				flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
			}
			f, err := os.OpenFile(path, flags, 0o644)
			if errors.Is(err, fs.ErrExist) {
				return usagef("init: %s exists (use --force to overwrite)", path)
			}
			if err != nil {
				return usagef("init: %v", err)
			}
			if _, err := f.Write(config.Example); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "inferbench: wrote %s; edit it, then: inferbench benchmark online --config %s\n", path, path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	return cmd
}
