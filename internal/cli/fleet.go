package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/spf13/pflag"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/fleet"
	"github.com/inferbench/inferbench/internal/zcurve"
)

// fleetOpts are the coordinator flags of the benchmark commands: with
// --fleet-size the run's load is issued by that many `inferbench worker`
// processes (see package fleet) and this process aggregates.
type fleetOpts struct {
	size    int
	listen  string
	wait    time.Duration
	timeout time.Duration
	onLoss  string
	keys    string
}

func fleetFlags(fs *pflag.FlagSet, o *fleetOpts) {
	fs.IntVar(&o.size, "fleet-size", 0, "coordinator mode: run the benchmark on this many worker processes (inferbench worker; needs --fleet-listen)")
	fs.StringVar(&o.listen, "fleet-listen", "", "fleet: address the workers connect to, tcp://HOST:PORT")
	fs.DurationVar(&o.wait, "fleet-wait", fleet.DefaultWait, "fleet: how long to wait for every worker to join")
	fs.DurationVar(&o.timeout, "fleet-timeout", fleet.DefaultTimeout, "fleet: a worker silent this long is lost")
	fs.StringVar(&o.onLoss, "fleet-on-loss", fleet.OnLossContinue, "fleet: a lost worker makes the run continue (its load is not delivered; the report says so) or abort")
	fs.StringVar(&o.keys, "fleet-keys", "", "fleet: directory of CURVE keys (required when --fleet-listen is not loopback; see inferbench keygen)")
}

// enabled reports whether the flags ask for a fleet run; a bad
// combination is a usage error.
func (o *fleetOpts) enabled(fs *pflag.FlagSet) (bool, error) {
	if !fs.Changed("fleet-size") {
		for _, name := range []string{"fleet-listen", "fleet-wait", "fleet-timeout", "fleet-on-loss", "fleet-keys"} {
			if fs.Changed(name) {
				return false, usagef("--%s needs --fleet-size", name)
			}
		}
		return false, nil
	}
	switch {
	case o.size < 1:
		return false, usagef("--fleet-size %d: want at least 1 worker", o.size)
	case o.listen == "":
		return false, usagef("--fleet-size needs --fleet-listen tcp://HOST:PORT")
	case !strings.HasPrefix(o.listen, "tcp://"):
		return false, usagef("--fleet-listen %q: want tcp://HOST:PORT", o.listen)
	case o.onLoss != fleet.OnLossContinue && o.onLoss != fleet.OnLossAbort:
		return false, usagef("--fleet-on-loss %q: want continue or abort", o.onLoss)
	case o.wait <= 0:
		return false, usagef("--fleet-wait %v: must be positive", o.wait)
	case o.timeout <= 0:
		return false, usagef("--fleet-timeout %v: must be positive", o.timeout)
	}
	if _, err := serverSecurity(o.listen, o.keys); err != nil {
		return false, asUsage(err)
	}
	return true, nil
}

// coordinator is a fleet run's coordinator as the benchmark command holds it.
type coordinator struct {
	o   *fleetOpts
	c   *fleet.Coordinator
	run *fleet.Run
}

// listenFleet checks that the run can be split over the fleet and binds
// the fleet address (usage errors when it cannot).
func listenFleet(o *fleetOpts, runner *bench.Runner, log *slog.Logger) (*coordinator, error) {
	if err := fleet.Check(runner.Config(), runner.Dataset(), o.size); err != nil {
		return nil, usagef("--fleet-size %d: %v", o.size, err)
	}
	secure, err := serverSecurity(o.listen, o.keys)
	if err != nil {
		return nil, asUsage(err)
	}
	c, err := fleet.Listen(fleet.Options{Listen: o.listen, Size: o.size, Timeout: o.timeout, OnLoss: o.onLoss, Logger: log, Secure: secure})
	if err != nil {
		return nil, asUsage(err)
	}
	return &coordinator{o: o, c: c}, nil
}

// wait waits for the workers (a signal ends the wait), then makes the
// runner's events come from them.
func (fc *coordinator) wait(ctx context.Context, a *app, runner *bench.Runner) error {
	fmt.Fprintf(a.stderr, "inferbench: waiting up to %v for %d workers on %s (inferbench worker --coordinator %s)\n",
		fc.o.wait, fc.o.size, fc.c.Endpoint(), fc.c.Endpoint())
	wctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := fc.c.Wait(wctx, fc.o.wait); err != nil {
		if errors.Is(err, context.Canceled) {
			return errors.New("interrupted while waiting for the fleet's workers")
		}
		return err
	}
	fmt.Fprintf(a.stderr, "inferbench: fleet ready: %s\n", strings.Join(fc.c.Workers(), ", "))
	runner.NewSource = func(pub bus.Publisher[event.Record]) (bench.Source, error) {
		var run *fleet.Run
		var err error
		if runner.Arrivals != nil {
			// A trace replay: the prompts are synthesized here, once, and
			// dealt to the workers with their issue times.
			run, err = fc.c.ReplaySource(runner.Config(), runner.Dataset(), fleet.Replay{Arrivals: runner.Arrivals, Sample: runner.Samples}, pub)
		} else {
			run, err = fc.c.Source(runner.Config(), runner.Dataset(), pub)
		}
		if err != nil {
			// A nil *fleet.Run in a bench.Source would not compare equal to nil.
			return nil, err
		}
		fc.run = run
		return run, nil
	}
	return nil
}

func (fc *coordinator) close() {
	if fc != nil {
		_ = fc.c.Close()
	}
}

// serverSecurity returns the CURVE setup of the coordinator's socket from
// the key directory: nil on loopback without keys; an error (a usage
// error for the caller) off loopback without keys, or for a key directory
// that does not hold valid keys.
func serverSecurity(listen, keys string) (func(*zmq.Socket) error, error) {
	if keys == "" {
		if zcurve.NeedsCurve(listen) {
			return nil, fmt.Errorf("--fleet-listen %s is not loopback: CURVE keys required: see inferbench keygen (then --fleet-keys DIR)", listen)
		}
		return nil, nil
	}
	self, allow, _, err := zcurve.LoadDir(keys)
	if err != nil {
		return nil, fmt.Errorf("--fleet-keys %s: %w", keys, err)
	}
	if len(allow) == 0 {
		return nil, fmt.Errorf("--fleet-keys %s: no worker keys in %s: copy each worker's .public file there", keys, filepath.Join(keys, "allowed"))
	}
	return func(s *zmq.Socket) error { return zcurve.ApplyServer(s, self, allow) }, nil
}

// clientSecurity is serverSecurity for a worker's sockets: its key pair and
// the coordinator's public key (coordinator.public).
func clientSecurity(coordinator, keys string) (func(*zmq.Socket) error, error) {
	if keys == "" {
		if zcurve.NeedsCurve(coordinator) {
			return nil, fmt.Errorf("--coordinator %s is not loopback: CURVE keys required: see inferbench keygen (then --fleet-keys DIR)", coordinator)
		}
		return nil, nil
	}
	self, _, server, err := zcurve.LoadDir(keys)
	if err != nil {
		return nil, fmt.Errorf("--fleet-keys %s: %w", keys, err)
	}
	if server == "" {
		return nil, fmt.Errorf("--fleet-keys %s: no coordinator.public: copy the coordinator's key.public there under that name", keys)
	}
	return func(s *zmq.Socket) error { return zcurve.ApplyClient(s, self, server) }, nil
}
