package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/tokenizer"
)

func init() { extraCommands = append(extraCommands, (*app).tokensCmd) }

func (a *app) tokensCmd() *cobra.Command {
	var path string
	var special, countOnly bool
	cmd := &cobra.Command{
		Use:   "tokens --tokenizer PATH|NAME",
		Short: `Tokenize JSON lines {"text": ...} from stdin; print {"ids": [...], "count": N} per line`,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usagef("tokens: --tokenizer is required (a tokenizer.json file, a directory, or a Hugging Face model name)")
			}
			tok, err := a.loadTokenizer(cmd.Context(), path)
			if err != nil {
				return err
			}
			if err := tokenizer.RunTokens(cmd.InOrStdin(), a.stdout, tok, special, countOnly); err != nil {
				return asUsage(fmt.Errorf("tokens: stdin: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "tokenizer", "", "tokenizer.json file, directory, or Hugging Face model name")
	cmd.Flags().BoolVar(&special, "special", false, "add the special tokens the post-processor adds (e.g. BOS)")
	cmd.Flags().BoolVar(&countOnly, "count-only", false, `print only {"count": N}`)
	return cmd
}

// tokenizerCache is where model names are downloaded to.
func tokenizerCache() string {
	if d := os.Getenv("INFERBENCH_CACHE"); d != "" {
		return filepath.Join(d, "tokenizers")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "inferbench", "tokenizers")
	}
	return filepath.Join(os.TempDir(), "inferbench-tokenizers")
}

// loadTokenizer resolves a path or model name and loads it; every failure is
// a usage error naming the flag value.
func (a *app) loadTokenizer(ctx context.Context, nameOrPath string) (*tokenizer.Tokenizer, error) {
	local, err := tokenizer.Resolve(ctx, nameOrPath, tokenizerCache())
	if err != nil {
		return nil, asUsage(fmt.Errorf("--tokenizer %s: %w", nameOrPath, err))
	}
	tok, err := tokenizer.Load(local)
	if err != nil {
		return nil, asUsage(fmt.Errorf("--tokenizer %s: %w", nameOrPath, err))
	}
	return tok, nil
}

// countWithout counts tokens without special tokens: what ISL/OSL measure.
type countWithout struct{ t *tokenizer.Tokenizer }

func (c countWithout) Count(s string) int { return c.t.Count(s, false) }

// loadTokenCounter returns nil for "".
func (a *app) loadTokenCounter(ctx context.Context, nameOrPath string) (aggregator.TokenCounter, error) {
	if nameOrPath == "" {
		return nil, nil
	}
	tok, err := a.loadTokenizer(ctx, nameOrPath)
	if err != nil {
		return nil, err
	}
	return countWithout{tok}, nil
}
