package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/inferbench/inferbench/internal/fleet"
)

func init() { extraCommands = append(extraCommands, (*app).workerCmd) }

func (a *app) workerCmd() *cobra.Command {
	o := fleet.WorkerOptions{Timeout: fleet.DefaultTimeout}
	var keys string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Serve a fleet coordinator (inferbench benchmark … --fleet-size N): run its share of the load and stream the events",
		Long: "Connect to a coordinator (inferbench benchmark MODE … --fleet-size N --fleet-listen tcp://HOST:PORT), receive a job " +
			"(configuration and dataset), issue its share of the load at the coordinated times and stream every event back. " +
			"It serves further runs until stopped (--once: one run).\n\n" +
			"Exit codes: 0 done; 1 refused by the coordinator (duplicate name, a run in progress) or the coordinator was lost mid-run; " +
			"2 bad flags or the coordinator unreachable within --fleet-timeout.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Coordinator == "" {
				return usagef("--coordinator is required (tcp://HOST:PORT of the coordinator)")
			}
			if !strings.HasPrefix(o.Coordinator, "tcp://") {
				return usagef("--coordinator %q: want tcp://HOST:PORT", o.Coordinator)
			}
			if o.Timeout <= 0 {
				return usagef("--fleet-timeout %v: must be positive", o.Timeout)
			}
			if o.Name == "" {
				host, _ := os.Hostname()
				o.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
			}
			secure, err := clientSecurity(o.Coordinator, keys)
			if err != nil {
				return asUsage(err)
			}
			o.Secure = secure
			// A worker is a service: it says when it joins and what each
			// run did (-v adds debug lines).
			level := slog.LevelInfo
			if a.verbose >= 2 {
				level = slog.LevelDebug
			}
			o.Logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err = fleet.RunWorker(ctx, o)
			switch {
			case errors.Is(err, fleet.ErrUnreachable):
				return asUsage(err)
			case err != nil && errors.Is(err, context.Canceled):
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Coordinator, "coordinator", "", "the coordinator's address, tcp://HOST:PORT")
	f.StringVar(&o.Name, "name", "", "this worker's name, unique in the fleet (default HOSTNAME-PID)")
	f.BoolVar(&o.Once, "once", false, "exit after one run")
	f.DurationVar(&o.Timeout, "fleet-timeout", o.Timeout, "the coordinator is unreachable (or lost during a run) after this long without a message")
	f.StringVar(&keys, "fleet-keys", "", "directory of CURVE keys (required when the coordinator is not on loopback; see inferbench keygen)")
	return cmd
}
