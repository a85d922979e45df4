package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/operators"
	"github.com/deskmail/deskmail/store"
)

func init() { subcommands = append(subcommands, newOperatorsCmd) }

// The operators commands manage the web console's accounts: through the
// running daemon's control socket, or on the stopped daemon's data folder.
func newOperatorsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "operators", Short: "Manage the web console's accounts (admin or viewer)"}
	var asJSON bool
	var role, passwordFile string
	sub := func(use, short string, args cobra.PositionalArgs, run func(w io.Writer, data string, args []string) error) *cobra.Command {
		return dataSubcommand(cmd, &asJSON, use, short, args, run)
	}
	add := sub("add NAME", "Add an account; the password is read from stdin (or --password-file)", cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
		pw, err := readPassword(passwordFile)
		if err != nil {
			return err
		}
		var o operators.Operator
		err = centerCall(data, http.MethodPost, "/v1/operators", operators.AccountInput{Name: args[0], Role: role, Password: pw}, &o, func(tx *store.Tx) error {
			hash, err := operators.HashPassword(pw)
			if err == nil {
				o, err = operators.AddAccount(tx, args[0], role, hash, "cli", time.Now())
			}
			return err
		})
		if err != nil || asJSON {
			return printJSON(w, err, o)
		}
		fmt.Fprintf(w, "operator %s added (%s)\n", o.Name, o.Role)
		return nil
	})
	role = operators.RoleViewer
	add.Flags().Var(config.Choice(&role, operators.RoleAdmin, operators.RoleViewer), "role", "admin (may change things) or viewer (reads only)")
	add.Flags().StringVar(&passwordFile, "password-file", "", "read the password from the first line of this file instead of stdin")
	sub("list", "List the accounts", cobra.NoArgs, func(w io.Writer, data string, _ []string) error {
		list, err := centerList(data, "/v1/operators", "operators", operators.Operators)
		if err != nil || asJSON {
			return printJSON(w, err, list)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tPASSWORD CHANGED")
		for _, o := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Name, o.Role, o.Created.Local().Format(time.DateTime), o.Password.Local().Format(time.DateTime))
		}
		return tw.Flush()
	})
	sub("remove NAME", "Remove an account and end its sessions", cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
		err := centerCall(data, http.MethodDelete, "/v1/operators/"+url.PathEscape(args[0]), nil, nil, func(tx *store.Tx) error {
			return operators.RemoveAccount(tx, args[0], "cli", time.Now())
		})
		if err == nil {
			fmt.Fprintf(w, "operator %s removed\n", args[0])
		}
		return err
	})
	passwd := sub("passwd NAME", "Set a new password (stdin or --password-file); the account's sessions end", cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
		pw, err := readPassword(passwordFile)
		if err != nil {
			return err
		}
		err = centerCall(data, http.MethodPut, "/v1/operators/"+url.PathEscape(args[0])+"/password", operators.AccountInput{Password: pw}, nil, func(tx *store.Tx) error {
			hash, err := operators.HashPassword(pw)
			if err == nil {
				err = operators.ChangePassword(tx, args[0], hash, "cli", time.Now())
			}
			return err
		})
		if err == nil {
			fmt.Fprintf(w, "password of %s changed\n", args[0])
		}
		return err
	})
	passwd.Flags().StringVar(&passwordFile, "password-file", "", "read the password from the first line of this file instead of stdin")
	return cmd
}

// readPassword reads the first line of file, or of stdin (without echo
// when stdin is a terminal).
func readPassword(file string) (string, error) {
	var r io.Reader = os.Stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		defer f.Close()
		r = f
	} else if fd := int(os.Stdin.Fd()); term.IsTerminal(fd) {
		fmt.Fprint(os.Stderr, "Password: ")
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", err
		}
		return string(b), operators.CheckPassword(string(b))
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	return pw, operators.CheckPassword(pw)
}
