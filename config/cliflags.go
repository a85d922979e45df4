package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Typed flag values for the CLI's own flags (not settings), so every
// command's help shows what a flag takes and a wrong value is refused with
// the reason: `--class foo` exits 1 naming the classes.

// Choice takes one of allowed (any case); help shows the words as its type
// ("in|out"). An empty default means "no filter" and is not a choice.
func Choice(p *string, allowed ...string) pflag.Value { return choiceValue{p, allowed} }

// Size takes a byte count with a unit (ParseSize: 5KB, 1MiB, 2048).
func Size(p *int64) pflag.Value { return sizeValue{p} }

// Hours takes how far back to look: a plain number of hours ("72",
// "1.5") or a duration ("2h", "90m", "1h30m").
func Hours(p *float64) pflag.Value { return hoursValue{p} }

type hoursValue struct{ p *float64 }

func (h hoursValue) Set(v string) error {
	v = strings.TrimSpace(v)
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		d, derr := time.ParseDuration(v)
		if derr != nil {
			return fmt.Errorf("%q is neither hours (72, 1.5) nor a duration (2h, 90m)", v)
		}
		n = d.Hours()
	}
	if n <= 0 {
		return fmt.Errorf("%q: must be more than zero", v)
	}
	*h.p = n
	return nil
}

func (h hoursValue) String() string { return strconv.FormatFloat(*h.p, 'f', -1, 64) }
func (h hoursValue) Type() string   { return "hours" }
