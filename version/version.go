// Package version says which build of deskmail is running, from the
// build information the Go toolchain embeds in every binary
// (runtime/debug.ReadBuildInfo): the module version, the VCS revision and
// commit time, whether the tree had uncommitted changes, and the Go
// version. `deskmail version`, /readyz and the start-up log line show it,
// so an operator can tell which code answered without guessing.
package version

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Info is one build's identity. Fields the build did not record (a
// `go test` binary, a build outside a git checkout, -buildvcs=false) are
// empty.
type Info struct {
	Module    string `json:"module"`
	Version   string `json:"version"`            // module version, "(devel)" for a local build
	Revision  string `json:"revision,omitempty"` // full commit hash
	Time      string `json:"time,omitempty"`     // commit time, RFC 3339
	Modified  bool   `json:"modified"`           // built from a tree with uncommitted changes
	GoVersion string `json:"go_version"`
}

// Get reads the running binary's build information.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "unknown"}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo picks deskmail's identity out of bi.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{Module: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion}
	if in.Version == "" {
		in.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// Short is the one-word form for logs and /readyz: the module version,
// and the first 12 hex digits of the revision, "+dirty" when modified:
// "(devel) 1a2b3c4d5e6f+dirty".
func (in Info) Short() string {
	s := in.Version
	if in.Revision != "" {
		rev := in.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += " " + rev
		if in.Modified {
			s += "+dirty"
		}
	}
	return s
}

// String is the multi-line form `deskmail version` prints.
func (in Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "deskmail %s\n", in.Version)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "  %-9s %s\n", k+":", v)
		}
	}
	line("module", in.Module)
	line("revision", in.Revision)
	line("time", in.Time)
	if in.Revision != "" {
		line("modified", fmt.Sprint(in.Modified))
	}
	line("go", in.GoVersion)
	return b.String()
}
