package config

import (
	"strings"
	"testing"
)

func TestCORSOrigins(t *testing.T) {
	c, err := load(t, nil, nil, "")
	if err != nil || len(c.CORSOrigins) != 0 || c.Demo {
		t.Fatalf("defaults: origins %v demo %v, %v", c.CORSOrigins, c.Demo, err)
	}
	c, err = load(t, []string{"--cors-origins", "https://App.Example.com/", "--cors-origins", "http://localhost:3000", "--demo"}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.CORSOrigins, " ") != "https://app.example.com http://localhost:3000" || !c.Demo {
		t.Fatalf("origins %v demo %v", c.CORSOrigins, c.Demo)
	}
	c, err = load(t, nil, []string{"DESKMAIL_CORS_ORIGINS=https://a.test, https://b.test"}, "")
	if err != nil || len(c.CORSOrigins) != 2 {
		t.Fatalf("from the environment: %v %v", c.CORSOrigins, err)
	}
	for _, bad := range []string{"*", "app.example.com", "https://app.example.com/path", "ftp://x.test", "https://u@x.test", "https://x.test?q=1", "https://"} {
		if _, err := load(t, []string{"--cors-origins", bad}, nil, ""); err == nil || !strings.Contains(err.Error(), "cors-origins") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
