package cli

import (
	"github.com/spf13/pflag"

	"github.com/inferbench/inferbench/internal/config"
)

// checkDatasetFlags rejects dataset flags that contradict each other, before
// they are applied (applying them in turn would silently keep the last one):
// --dataset with --synthetic, and --input-len or --output-len with no
// synthetic prompts to shape (neither --synthetic, nor a synthetic section in
// --config that --dataset does not replace). file is the configuration read
// from --config, or the defaults.
func checkDatasetFlags(fs *pflag.FlagSet, file *config.Run) error {
	if fs.Changed("trace") && (fs.Changed("dataset") || fs.Changed("synthetic")) {
		return usagef("--trace brings the prompts: drop --dataset and --synthetic")
	}
	if fs.Changed("dataset") && fs.Changed("synthetic") {
		return usagef("--dataset and --synthetic exclude each other: give a dataset file or synthetic prompts, not both")
	}
	synthetic := fs.Changed("synthetic") || (file.Dataset.Synthetic != nil && !fs.Changed("dataset"))
	for _, name := range []string{"input-len", "output-len", "shared-prefix-len", "num-prefixes"} {
		if fs.Changed(name) && !synthetic {
			return usagef("--%s shapes synthetic prompts only: add --synthetic N (or drop --%s)", name, name)
		}
	}
	return nil
}
