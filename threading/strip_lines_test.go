package threading

import "testing"

// The feminine ending of a verb is a suffix, "(a)", not the letters
// "(", "a", ")": the "a" of "napisala" stays.
func TestTrimGenderSuffix(t *testing.T) {
	for in, want := range map[string]string{
		"Ana <a@x.test> napisał(a)":  "Ana <a@x.test> napisał",
		"Ана <a@x.test> написал(а).": "Ана <a@x.test> написал",
		"Ana <a@x.test> napisala":    "Ana <a@x.test> napisala",
		"Ana napisała . ":            "Ana napisała",
	} {
		if got := trimGenderSuffix(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
