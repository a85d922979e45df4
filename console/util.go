package console

import (
	"net/url"
	"runtime/debug"
)

func urlQuery(s string) string { return url.QueryEscape(s) }

// version is the module version from the build info ("(devel)" for a
// build from a checkout), with the VCS revision when the build has one.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
