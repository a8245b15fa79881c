// Package cli holds inferbench's commands: it binds flags and config files,
// validates them, builds the engine objects, runs them and maps errors to exit
// codes (0 success, 1 run failed, 2 bad usage or input, 3 the run completed
// but its verdict failed: an SLO, or --strict-load). Nothing else in the
// tree prints to the user or exits.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/report"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
	// ExitVerdict: the run completed but an SLO failed (or, with
	// --strict-load, the load was not delivered).
	ExitVerdict = 3
)

// Version is the tool version; the build may set it with -ldflags.
var Version = "0.1.0-dev"

// usageError marks an error caused by bad flags, arguments or input files.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usage error (exit code 2).
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// asUsage marks err as a usage error (exit code 2).
func asUsage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// app carries what every command shares.
type app struct {
	stdout, stderr io.Writer
	verbose        int
	cpuProfile     string
	log            *slog.Logger
}

// Execute runs the command line args (without the program name) and returns
// the exit code.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	msg := err.Error()
	fmt.Fprintf(stderr, "inferbench: %s\n", strings.TrimSpace(msg))
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return ExitUsage
	}
	var ve verdictError
	if errors.As(err, &ve) {
		return ExitVerdict
	}
	return ExitFailed
}

// isCobraUsage recognises cobra's own flag and argument errors, which it
// returns as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument",
		"invalid argument", "accepts ", "requires at least", "requires exactly", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "inferbench",
		Short:         "Benchmark OpenAI-compatible LLM inference endpoints",
		Long:          "inferbench issues requests on a schedule, times every streamed token, and publishes live metrics snapshots over ZeroMQ.\n\n" + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			level := slog.LevelWarn
			switch {
			case a.verbose >= 2:
				level = slog.LevelDebug
			case a.verbose == 1:
				level = slog.LevelInfo
			}
			report.Version = Version
			// Named in the note of every run directory this process locks.
			bench.SetHolder(cmd.CommandPath())
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			slog.SetDefault(a.log)
			if a.cpuProfile != "" {
				if f, err := os.Create(a.cpuProfile); err == nil {
					_ = pprof.StartCPUProfile(f)
				}
			}
		},
		PersistentPostRun: func(*cobra.Command, []string) {
			if a.cpuProfile != "" {
				pprof.StopCPUProfile()
			}
		},
	}
	root.PersistentFlags().CountVarP(&a.verbose, "verbose", "v", "log more (-v info, -vv debug)")
	root.PersistentFlags().StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile of the command to this file")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return asUsage(err) })
	root.AddCommand(a.reportCmd(), a.aggregateCmd())
	for _, add := range extraCommands {
		root.AddCommand(add(a))
	}
	return root
}

// extraCommands lets command files register themselves.
var extraCommands []func(*app) *cobra.Command

// logger returns the configured logger (a default before PersistentPreRun).
func (a *app) logger() *slog.Logger {
	if a.log == nil {
		return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return a.log
}
