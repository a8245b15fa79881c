// Command inferbench benchmarks OpenAI-compatible LLM inference endpoints.
package main

import (
	"context"
	"os"

	"github.com/inferbench/inferbench/internal/cli"
)

func main() {
	os.Exit(cli.Execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
