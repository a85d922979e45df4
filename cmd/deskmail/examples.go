package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples is the Examples section of every command's help, by command
// path without "deskmail ". One table, so a new command's missing example
// fails TestEveryCommandHasExamples instead of going unnoticed.
var examples = map[string]string{
	"": `deskmail serve --domain support.example.com
deskmail log --hours 2h --direction in
deskmail why --message 18ece6a1b2c3d4e5`,
	"automations":         "deskmail automations list",
	"automations list":    "deskmail automations list --json",
	"automations show":    "deskmail automations show closed-item-notice",
	"automations edit":    "deskmail automations edit closed-item-notice --file automation.json",
	"automations enable":  "deskmail automations enable closed-item-notice",
	"automations disable": "deskmail automations disable closed-item-notice",
	"automations delete":  "deskmail automations delete closed-item-notice",
	"bench":               "deskmail bench smtp --sessions 10 --messages 5000 --size 5KB",
	"bench smtp": `deskmail bench smtp --addr 127.0.0.1:2525 --sessions 20 --messages 10000 --size 5KB
deskmail bench smtp --new-conn --size 1MiB --duration 30s`,
	"bench pipeline": `deskmail bench pipeline --messages 2000 --pipeline-workers 8 --dns-delay 20ms
deskmail bench pipeline --messages 4000 --dns-delay 1ms --cpuprofile cpu.out --memprofile mem.out
deskmail bench pipeline --messages 3000 --nodes 2 --store postgres://postgres@127.0.0.1:5432/empty`,
	"bench pipeline-load": "deskmail bench pipeline-load --messages 2000 --sessions 10 --dns-delay 1ms   # run by bench pipeline",
	"bench dns":           "deskmail bench dns --dns-delay 1ms   # prints its address; answers until stdin closes",
	"bench pgwait":        "deskmail bench pgwait --store postgres://postgres@127.0.0.1:5432/db   # samples until stdin closes",
	"conversations":       "deskmail conversations list",
	"conversations list": `deskmail conversations list
deskmail conversations list --json`,
	"conversations show": `deskmail conversations show 18ece6a1b2c3d4e5
deskmail conversations show 18ece6a1b2c3d4e5 --json`,
	"db":         "deskmail db compact --data /var/lib/deskmail",
	"db compact": "deskmail db compact --data /var/lib/deskmail   # with the daemon stopped",
	"db copy": `deskmail db copy --from /var/lib/deskmail --to postgres://deskmail@db.example.com/deskmail
deskmail db copy --from postgres://deskmail@db.example.com/deskmail --to ./deskmail-data`,
	"db migrate": "deskmail db migrate --store postgres://deskmail@db.example.com/deskmail",
	"deliver": `deskmail deliver --config /etc/deskmail.toml -f ann@client.example -- support@example.com < message.eml
deskmail deliver -f '' -- support@example.com < bounce.eml   # the null reverse path`,
	"dkim": "deskmail dkim keygen --selector dm1 --domain support.example.com --out /etc/deskmail/dkim.pem",
	"dkim keygen": `deskmail dkim keygen --selector dm1 --domain support.example.com --out /etc/deskmail/dkim-rsa.pem
deskmail dkim keygen --algorithm ed25519 --selector dm2 --domain support.example.com --out /etc/deskmail/dkim-ed25519.pem`,
	"explain": `deskmail explain message.eml
deskmail explain --json --mail-from ann@client.example --rcpt support@example.com - < message.eml`,
	"inbound":       "deskmail inbound list --pending",
	"inbound list":  "deskmail inbound list --failed --json",
	"inbound retry": "deskmail inbound retry 18ece6a1b2c3d4e5\ndeskmail inbound retry --failed   # every failed email",
	"log": `deskmail log --hours 72
deskmail log --hours 2h --direction in --class human
deskmail log --direction out --status deferred --address ann@client.example
deskmail log --follow --json`,
	"operators":        "deskmail operators list",
	"operators add":    "deskmail operators add ann --role admin --password-file /root/ann.pass",
	"operators list":   "deskmail operators list --json",
	"operators passwd": "deskmail operators passwd ann   # reads the new password from stdin",
	"operators remove": "deskmail operators remove ann",
	"queue":            "deskmail queue list",
	"queue list":       "deskmail queue list --limit 50 --json",
	"queue show":       "deskmail queue show 18ece6a1b2c3d4e5",
	"queue cancel":     "deskmail queue cancel 18ece6a1b2c3d4e5",
	"queue retry":      "deskmail queue retry 18ece6a1b2c3d4e5",
	"queue suppressed": "deskmail queue suppressed --json",
	"queue unsuppress": "deskmail queue unsuppress ann@client.example",
	"serve": `deskmail serve   # SMTP 127.0.0.1:2525, HTTP 127.0.0.1:8025, data in ./deskmail-data
deskmail serve --config /etc/deskmail/deskmail.toml
deskmail serve --domain support.example.com --smtp-addr 0.0.0.0:25 --relay smtp.example.com:587`,
	"templates":         "deskmail templates list",
	"templates list":    "deskmail templates list --json",
	"templates show":    "deskmail templates show notification",
	"templates edit":    "deskmail templates edit notification --file notification.json",
	"templates preview": "deskmail templates preview notification",
	"templates reset":   "deskmail templates reset notification",
	"templates enable":  "deskmail templates enable welcome",
	"templates disable": "deskmail templates disable welcome",
	"version":           "deskmail version --json",
	"why": `deskmail why --message 18ece6a1b2c3d4e5
deskmail why --message 18ece6a1b2c3d4e5 --person ann --json`,
}

// addExamples fills in every command's Examples section from examples,
// indented as cobra's help prints them.
func addExamples(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), root.Name()), " ")
		if ex, ok := examples[path]; ok && c.Example == "" {
			c.Example = "  " + strings.ReplaceAll(ex, "\n", "\n  ")
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}
