package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/deskmail/deskmail", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-30T21:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		}}
	in := FromBuildInfo(bi)
	want := Info{Module: "github.com/deskmail/deskmail", Version: "v1.2.3", Revision: "0123456789abcdef0123456789abcdef01234567",
		Time: "2026-11-30T21:00:00Z", Modified: true, GoVersion: "go1.26.8"}
	if in != want {
		t.Fatalf("FromBuildInfo = %+v, want %+v", in, want)
	}
	if s := in.Short(); s != "v1.2.3 0123456789ab+dirty" {
		t.Errorf("Short = %q", s)
	}
	for _, w := range []string{"deskmail v1.2.3\n", "revision: 0123456789abcdef0123456789abcdef01234567", "time:     2026-11-30T21:00:00Z", "modified: true", "go:       go1.26.8"} {
		if !strings.Contains(in.String(), w) {
			t.Errorf("String lacks %q:\n%s", w, in.String())
		}
	}
}

func TestFromBuildInfoWithoutVCS(t *testing.T) {
	in := FromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/deskmail/deskmail"}})
	if in.Version != "(devel)" || in.Revision != "" || in.Short() != "(devel)" || strings.Contains(in.String(), "modified") {
		t.Errorf("%+v / %q / %q", in, in.Short(), in.String())
	}
}

// TestGetInATestBinary: a test binary has build info, with the Go version.
func TestGetInATestBinary(t *testing.T) {
	if in := Get(); in.GoVersion == "" || in.Version == "" {
		t.Errorf("Get() = %+v", in)
	}
}
