package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// completeSettings gives shell completion the settings' types, as help
// shows them: a choice (type "text|json") completes to its words, and a
// number, size or duration completes to nothing rather than to file
// names. Flags of other types keep cobra's default (files).
func completeSettings(cmd *cobra.Command) {
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		var words []string
		choices, isChoice := f.Value.(interface{ Choices() []string })
		switch typ := f.Value.Type(); {
		case isChoice:
			words = choices.Choices()
		case strings.Contains(typ, "|"):
			words = strings.Split(typ, "|")
		case typ == "int", typ == "size", typ == "duration", typ == "float64", typ == "hours":
		default:
			return
		}
		_ = cmd.RegisterFlagCompletionFunc(f.Name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return words, cobra.ShellCompDirectiveNoFileComp
		})
	})
	for _, sub := range cmd.Commands() {
		completeSettings(sub)
	}
}
