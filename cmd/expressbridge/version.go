package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/expressbridge
//
// Without it the module version of a "go install …@version" build is used,
// and "dev" for a build from a work tree.
var version string

// versionString returns the version of this build.
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// revision is the VCS revision the binary was built from ("" when the
// build info has none: go test, or a build outside a work tree), with
// "+modified" when the work tree had uncommitted changes.
func revision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if rev == "" {
		return ""
	}
	return rev + modified
}

// versionLine is what "expressbridge version" prints.
func versionLine() string {
	if rev := revision(); rev != "" {
		return fmt.Sprintf("expressbridge %s (revision %s, %s)", versionString(), rev, runtime.Version())
	}
	return fmt.Sprintf("expressbridge %s (%s)", versionString(), runtime.Version())
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of expressbridge and of the Go it was built with",
		Long: `version prints "expressbridge VERSION (revision REV, GOVERSION)". VERSION is the
one set at build time with -ldflags "-X main.version=…", else the module
version of a "go install" build, else "dev". REV is the VCS revision the
binary was built from (go build stamps it from the git work tree), with
"+modified" when the tree had uncommitted changes; it is left out when the
build has none.`,
		Example: `  expressbridge version
  expressbridge version --json`,
		Args: cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			if a.json {
				a.writeJSON(struct {
					Version  string `json:"version"`
					Revision string `json:"revision,omitempty"`
					Go       string `json:"go"`
				}{versionString(), revision(), runtime.Version()})
				return
			}
			fmt.Fprintln(a.stdout, versionLine())
		},
	}
}
