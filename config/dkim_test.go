package config

import (
	"strings"
	"testing"
)

func TestDKIMKeysPairWithSelectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		keys string
		err  string
	}{
		{"one key, default selector", []string{"--dkim-key", "a.pem"}, "a.pem=deskmail", ""},
		{"two keys, two selectors", []string{"--dkim-key", "rsa.pem", "--dkim-key", "ed.pem", "--dkim-selector", "r1", "--dkim-selector", "e1"}, "rsa.pem=r1,ed.pem=e1", ""},
		{"two keys, the default selector", []string{"--dkim-key", "rsa.pem", "--dkim-key", "ed.pem"}, "", "one per dkim-key"},
		{"the same selector twice", []string{"--dkim-key", "rsa.pem", "--dkim-key", "ed.pem", "--dkim-selector", "s", "--dkim-selector", "S"}, "", "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.args, nil, "")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%v, want an error saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i, k := range c.DKIMKeys {
				got = append(got, k+"="+c.DKIMSelectors[i])
			}
			if strings.Join(got, ",") != tc.keys {
				t.Errorf("keys %q, want %q", got, tc.keys)
			}
		})
	}
	c, err := load(t, nil, nil, "dkim-key = [\"rsa.pem\", \"ed.pem\"]\ndkim-selector = [\"r1\", \"e1\"]\n")
	if err != nil || len(c.DKIMKeys) != 2 || c.DKIMSelectors[1] != "e1" {
		t.Errorf("from the file: %v %+v %+v", err, c.DKIMKeys, c.DKIMSelectors)
	}
}

func TestRoleForwardMustBeElsewhere(t *testing.T) {
	c, err := load(t, []string{"--domain", "help.test", "--role-forward", "Ops <ops@elsewhere.test>"}, nil, "")
	if err != nil || c.RoleForward != "ops@elsewhere.test" {
		t.Fatalf("%v %q", err, c.RoleForward)
	}
	for _, bad := range []string{"postmaster@help.test", "not an address"} {
		if _, err := load(t, []string{"--domain", "help.test", "--role-forward", bad}, nil, ""); err == nil || !strings.Contains(err.Error(), "role-forward") {
			t.Errorf("role-forward %q: %v", bad, err)
		}
	}
	// Our own domain however written: the SMTP server would accept these,
	// and the copy would come back (IDNA: bücher.test is xn--bcher-kva.test).
	for _, own := range []string{"ops@HELP.test", "ops@xn--bcher-kva.test", "ops@BÜCHER.test"} {
		if _, err := load(t, []string{"--domain", "help.test", "--domain", "bücher.test", "--role-forward", own}, nil, ""); err == nil || !strings.Contains(err.Error(), "own domains") {
			t.Errorf("role-forward %q to our own domain: %v, want refused", own, err)
		}
	}
}
