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

// versionLine is what "expressbridge version" prints.
func versionLine() string {
	return fmt.Sprintf("expressbridge %s (%s)", versionString(), runtime.Version())
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of expressbridge and of the Go it was built with",
		Long: `version prints "expressbridge VERSION (GOVERSION)". VERSION is the one set at
build time with -ldflags "-X main.version=…", else the module version of a
"go install" build, else "dev".`,
		Example: `  expressbridge version
  expressbridge version --json`,
		Args: cobra.NoArgs,
		Run: func(*cobra.Command, []string) {
			if a.json {
				a.writeJSON(struct {
					Version string `json:"version"`
					Go      string `json:"go"`
				}{versionString(), runtime.Version()})
				return
			}
			fmt.Fprintln(a.stdout, versionLine())
		},
	}
}
