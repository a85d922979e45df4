package config

import (
	"strings"
	"testing"
)

func TestHours(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		err  string
	}{
		{"72", 72, ""}, {"1.5", 1.5, ""}, {"2h", 2, ""}, {"90m", 1.5, ""}, {"1h30m", 1.5, ""},
		{"0", 0, "more than zero"}, {"-2h", 0, "more than zero"}, {"two", 0, "neither hours"},
	} {
		var h float64
		err := Hours(&h).Set(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Hours(%q): %v, want an error saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || h != tc.want {
			t.Errorf("Hours(%q) = %v, %v; want %v", tc.in, h, err, tc.want)
		}
	}
}

func TestChoiceNamesTheChoices(t *testing.T) {
	var s string
	v := Choice(&s, "in", "out")
	if err := v.Set("OUT"); err != nil || s != "out" {
		t.Fatalf("Set(OUT) = %v, %q", err, s)
	}
	err := v.Set("sideways")
	if err == nil || !strings.Contains(err.Error(), "in, out") || v.Type() != "in|out" {
		t.Fatalf("Set(sideways) = %v; type %q", err, v.Type())
	}
}
