package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

func init() { subcommands = append(subcommands, newExplainCmd) }

// maxExplainBytes is how much of a file explain classifies: like the
// daemon, the loop guard sees a prefix of a large message.
const maxExplainBytes = 16 << 20

// explainOutput is the --json object: the loop guard's verdict and, with
// --data, where threading would put the email.
type explainOutput struct {
	Class   loopguard.Class           `json:"class"`
	Notify  bool                      `json:"notify"`
	Reasons []string                  `json:"reasons"`
	Bounce  *loopguard.BounceReport   `json:"bounce,omitempty"`
	Thread  *intake.ThreadExplanation `json:"thread,omitempty"`
	// Text is the message text as it would be appended to the
	// conversation, Quoted what stripping removed from the body.
	Text   string `json:"text"`
	Quoted string `json:"quoted"`
}

func newExplainCmd() *cobra.Command {
	var (
		asJSON   bool
		mailFrom string
		rcpts    []string
		dataDir  string
		storeURL string
		support  []string
	)
	cmd := &cobra.Command{
		Use:   "explain [--json] [--mail-from ADDR] [--rcpt ADDR] FILE.eml|-",
		Short: "Show how deskmail classifies an email (offline)",
		Long: `Explain runs the loop guard on a saved email (or stdin with "-") and prints
its class (human, auto_reply, bounce, bulk, looping), whether it would
notify anyone, the reasons, and what a bounce says about the email it
refers to. Nothing is stored or sent. With --json it also gives "text",
the message text as it would be appended to the conversation, and
"quoted", what quote and signature stripping removed.

With --data DIR (the daemon stopped), it also says which conversation the
email would be threaded into and how: "token", "references", "subject",
"new" or "none". The data folder is opened read-only.

Without --mail-from the reverse path is taken from the Return-Path header;
--mail-from '' (or '<>') means the null reverse path of notifications.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := readMessage(args[0], cmd.InOrStdin())
			if err != nil {
				return err
			}
			env := loopguard.Envelope{
				MailFrom: mailFrom,
				Rcpts:    rcpts,
				Offline:  !cmd.Flags().Changed("mail-from"),
			}
			opts := loopguard.Options{}
			path := filepath.Join(dataDir, intake.LoopSecretFile)
			if store.IsPostgres(storeURL) {
				// The nodes' shared marker key, from their database.
				k, err := store.ReadSharedSecret(cmd.Context(), storeURL, intake.LoopSecretFile)
				if err != nil {
					return err
				}
				if k != nil {
					secret, err := hex.DecodeString(strings.TrimSpace(string(k)))
					if err != nil {
						return fmt.Errorf("shared marker key: %w", err)
					}
					opts.Secrets = [][]byte{secret}
				}
			} else if _, statErr := os.Stat(path); dataDir != "" && statErr == nil {
				// The daemon's marker key, so deskmail's own mail coming
				// back is recognised offline too (never created here).
				secret, err := intake.LoadOrCreateSecret(path)
				if err != nil {
					return err
				}
				opts.Secrets = [][]byte{secret}
			}
			if _, statErr := os.Stat(filepath.Join(dataDir, threading.KeyFile)); dataDir != "" && statErr == nil {
				// The daemon's Message-ID keys: another system answering
				// our email is a hint, offline too (never created here).
				keys, err := threading.LoadOrCreateKeyring(dataDir)
				if err != nil {
					return err
				}
				opts.OwnMessageID = keys.IsOwnMessageID
			}
			v := loopguard.New(opts).Classify(env, raw)
			var thread *intake.ThreadExplanation
			if dataDir != "" || store.IsPostgres(storeURL) {
				t := intake.ExplainThreadIn(cmd.Context(), storeURL, dataDir, raw, rcpts, support)
				thread = &t
			}
			if asJSON {
				// A body that does not parse has no text: "" for both.
				body, _ := intake.ExplainBody(raw)
				return writeVerdictJSON(cmd.OutOrStdout(), v, thread, body)
			}
			return writeVerdictText(plainOut(cmd.OutOrStdout()), v, thread)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().StringVar(&mailFrom, "mail-from", "", "SMTP reverse path (MAIL FROM) the email came with")
	cmd.Flags().StringArrayVar(&rcpts, "rcpt", nil, "SMTP recipient (RCPT TO); repeatable")
	cmd.Flags().StringVar(&dataDir, "data", "", "data folder (read-only): its marker key recognises deskmail's own mail; its conversations show the threading")
	cmd.Flags().StringVar(&storeURL, "store", os.Getenv("DESKMAIL_STORE"), "the nodes' shared PostgreSQL database (postgres://...), read-only: its marker key and conversations, as --data gives for a bbolt folder")
	cmd.Flags().StringArrayVar(&support, "support-address", nil, "support address for the threading answer (default support@ each recipient domain); repeatable")
	return cmd
}

// readMessage reads at most maxExplainBytes of name, or of stdin for "-".
// Only a file that cannot be read is an error: any bytes get a verdict.
func readMessage(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read message: %w", err)
		}
		defer f.Close()
		r = f
	}
	raw, err := io.ReadAll(io.LimitReader(r, maxExplainBytes))
	if err != nil {
		return nil, fmt.Errorf("read message %s: %w", name, err)
	}
	return raw, nil
}

func writeVerdictJSON(w io.Writer, v loopguard.Verdict, thread *intake.ThreadExplanation, body intake.BodyExplanation) error {
	out := explainOutput{Class: v.Class, Notify: v.Notify(), Reasons: v.Reasons, Bounce: v.Bounce, Thread: thread,
		Text: body.Text, Quoted: body.Quoted}
	if out.Reasons == nil {
		out.Reasons = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeVerdictText(w io.Writer, v loopguard.Verdict, thread *intake.ThreadExplanation) error {
	var b strings.Builder
	fmt.Fprintf(&b, "class:   %s\n", v.Class)
	fmt.Fprintf(&b, "notify:  %v\n", v.Notify())
	b.WriteString("reasons:\n")
	for _, r := range v.Reasons {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	if br := v.Bounce; br != nil {
		b.WriteString("bounce:\n")
		fmt.Fprintf(&b, "  recipient:           %s\n", br.Recipient)
		fmt.Fprintf(&b, "  action:              %s\n", br.Action)
		fmt.Fprintf(&b, "  kind:                %s\n", br.Kind)
		fmt.Fprintf(&b, "  status:              %s\n", br.Status)
		fmt.Fprintf(&b, "  diagnostic:          %s\n", br.Diagnostic)
		fmt.Fprintf(&b, "  original message-id: %s\n", br.OriginalMessageID)
		if br.ReportingMTA != "" {
			fmt.Fprintf(&b, "  reporting MTA:       %s\n", br.ReportingMTA)
		}
		fmt.Fprintf(&b, "  format:              %s\n", br.Format)
		if br.OwnMail {
			b.WriteString("  own mail:            yes (the attached original carries a valid marker)\n")
		}
		if len(br.Recipients) > 1 {
			fmt.Fprintf(&b, "  recipients in report: %d\n", len(br.Recipients))
		}
	}
	if thread != nil {
		conv := "none"
		if thread.Conversation != nil {
			conv = *thread.Conversation
		}
		fmt.Fprintf(&b, "thread:  %s (by %s)\n", conv, thread.By)
		if thread.Reason != "" {
			fmt.Fprintf(&b, "  %s\n", thread.Reason)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
