// Command deskmail is the email gateway of a helpdesk messaging system:
// `deskmail serve` runs the daemon, the other subcommands are operator
// tools over the same data folder.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/version"
)

// exitError carries a process exit code out of a command (sysexits for
// `deliver`, 1 for the rest).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "deskmail",
		Short:         "Email gateway for helpdesk messaging",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	root.Version = version.Get().Short() // deskmail --version; `deskmail version` says more
	completeSettings(root)
	addExamples(root)
	return root
}

// subcommands is filled by the init functions of the files of this
// package, one file per command.
var subcommands []func() *cobra.Command

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "deskmail:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}
