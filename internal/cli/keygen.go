package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/inferbench/inferbench/internal/zcurve"
)

func init() { extraCommands = append(extraCommands, (*app).keygenCmd) }

// keyName is what --name may hold: it becomes a file name.
var keyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (a *app) keygenCmd() *cobra.Command {
	var out, name, role, check string
	var force bool
	cmd := &cobra.Command{
		Use:   "keygen --out DIR [--role coordinator|worker] [--name NAME] [--force] | keygen --check DIR",
		Short: "Write a CURVE key pair for a fleet coordinator or worker (key.public, key.secret 0600)",
		Long: `Write a CURVE key pair for a fleet coordinator or worker.

DIR gets key.secret (mode 0600) and key.public, the layout --fleet-keys reads.
With --name, the public key is also written as DIR/NAME.public, ready to copy.

Build the allow-list:
  - copy every worker's NAME.public into the coordinator's DIR/allowed/
  - copy the coordinator's key.public to every worker as DIR/coordinator.public

An existing key.secret is never replaced without --force.

keygen --check DIR reads a key directory as --fleet-keys does and prints its
public key and what it holds; a bad file is an error naming it (exit 2).
It writes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("check") {
				return a.keygenCheck(check)
			}
			if out == "" {
				return usagef("keygen: --out DIR is required")
			}
			if role != "coordinator" && role != "worker" {
				return usagef("keygen: --role %q: want coordinator or worker", role)
			}
			if name != "" && !keyName.MatchString(name) {
				return usagef("keygen: --name %q: want letters, digits, '.', '_' or '-' (it names a file)", name)
			}
			if f := name + zcurve.PublicSuffix; f == zcurve.PublicFile || f == zcurve.CoordinatorFile {
				return usagef("keygen: --name %q: %s is reserved in the key directory", name, f)
			}
			kp, err := zcurve.Generate()
			if err != nil {
				return err
			}
			if err := zcurve.WriteKeyPair(out, kp, force); err != nil {
				if errors.Is(err, zcurve.ErrExists) {
					return asUsage(fmt.Errorf("keygen: %w", err))
				}
				return fmt.Errorf("keygen: --out %s: %w", out, err)
			}
			pubCopy := ""
			if name != "" {
				pubCopy = filepath.Join(out, name+zcurve.PublicSuffix)
				if err := os.WriteFile(pubCopy, []byte(kp.Public+"\n"), 0o644); err != nil {
					return fmt.Errorf("keygen: %w", err)
				}
			}
			if role == "coordinator" {
				if err := os.MkdirAll(filepath.Join(out, zcurve.AllowedDir), 0o755); err != nil {
					return fmt.Errorf("keygen: %w", err)
				}
			}
			a.printKeygenNext(out, role, pubCopy, kp.Public)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "directory to write key.public and key.secret into (created 0700 if missing)")
	f.StringVar(&role, "role", "worker", "coordinator (also creates DIR/allowed/) or worker")
	f.StringVar(&name, "name", "", "also write the public key as DIR/NAME.public (e.g. the worker's --name)")
	f.BoolVar(&force, "force", false, "replace an existing key pair")
	f.StringVar(&check, "check", "", "read key directory DIR as --fleet-keys does and print what it holds, writing nothing")
	return cmd
}

// printKeygenNext tells the user where the key went and what to copy where.
func (a *app) printKeygenNext(out, role, pubCopy, public string) {
	pub := filepath.Join(out, zcurve.PublicFile)
	wrote := pub
	if pubCopy != "" {
		wrote += ", " + pubCopy
		pub = pubCopy
	}
	fmt.Fprintf(a.stdout, "public key %s\nwrote %s and %s (0600)\n", public, wrote, filepath.Join(out, zcurve.SecretFile))
	if role == "coordinator" {
		fmt.Fprintf(a.stdout, "next: copy each worker's public key into %s/, and %s to each worker's key directory as %s\n",
			filepath.Join(out, zcurve.AllowedDir), filepath.Join(out, zcurve.PublicFile), zcurve.CoordinatorFile)
		return
	}
	fmt.Fprintf(a.stdout, "next: copy %s into the coordinator's allowed/ directory, and the coordinator's key.public to %s\n",
		pub, filepath.Join(out, zcurve.CoordinatorFile))
}

// keygenCheck loads a key directory and describes it.
func (a *app) keygenCheck(dir string) error {
	if dir == "" {
		return usagef("keygen --check DIR: the directory is empty")
	}
	self, allow, server, err := zcurve.LoadDir(dir)
	if err != nil {
		return asUsage(fmt.Errorf("keygen --check: %w", err))
	}
	fmt.Fprintf(a.stdout, "public key %s\nallowed workers %d\n", self.Public, len(allow))
	if server != "" {
		fmt.Fprintf(a.stdout, "coordinator key %s\n", server)
	}
	return nil
}
