package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/mta"
	"github.com/deskmail/deskmail/store"
)

func init() { subcommands = append(subcommands, newDKIMCmd) }

func newDKIMCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dkim", Short: "DKIM signing keys for outgoing email"}
	var out, algo, selector, domain string
	keygen := &cobra.Command{
		Use:   "keygen",
		Short: "Make a signing key and print the DNS record to publish",
		Long: "Make a DKIM signing key in --out (PEM, mode 0600; an existing file is never\n" +
			"overwritten) and print the TXT record to publish at SELECTOR._domainkey.DOMAIN.\n" +
			"Then start the daemon with --dkim-key FILE --dkim-selector SELECTOR. To sign\n" +
			"with both RSA and Ed25519 (RFC 8463), make one key of each with its own\n" +
			"selector and give --dkim-key and --dkim-selector once per key, in order.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var key crypto.Signer
			switch algo {
			case "rsa":
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					return err
				}
				key = k
			case "ed25519":
				_, k, err := ed25519.GenerateKey(rand.Reader)
				if err != nil {
					return err
				}
				key = k
			default:
				return fmt.Errorf("--algorithm: rsa or ed25519")
			}
			if _, err := os.Stat(out); err == nil {
				return fmt.Errorf("%s exists; choose another --out (or a new selector)", out)
			}
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				return err
			}
			if err := store.WriteFileAtomic(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				return err
			}
			record, err := mta.DKIMRecord(key)
			if err != nil {
				return err
			}
			// One TXT character-string holds at most 255 bytes (RFC 1035
			// §3.3.14); a 2048-bit key needs two, which DKIM joins.
			var parts []string
			for len(record) > 255 {
				parts, record = append(parts, record[:255]), record[255:]
			}
			parts = append(parts, record)
			fmt.Fprintf(cmd.OutOrStdout(), "%s._domainkey.%s. IN TXT ( \"%s\" )\n", selector, domain, strings.Join(parts, "\"\n\t\""))
			return nil
		},
	}
	f := keygen.Flags()
	f.StringVar(&out, "out", "dkim.pem", "file to write the private key to")
	algo = "rsa"
	f.Var(config.Choice(&algo, "rsa", "ed25519"), "algorithm", "rsa (2048 bits, verified everywhere) or ed25519 (RFC 8463; sign with both if you use it)")
	f.StringVar(&selector, "selector", "deskmail", "the selector (--dkim-selector of serve)")
	f.StringVar(&domain, "domain", "example.com", "the signing domain (--outbound-domain of serve)")
	cmd.AddCommand(keygen)
	return cmd
}
