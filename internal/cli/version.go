package cli

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/go-librato/librato"
)

// versionCommand is the version command (listed in the command table in cli.go).
var versionCommand = &commandInfo{
	name:    "version",
	summary: "print the version of the command and library",
	usage:   "version",
	help: `Prints the library version, the Go version and the platform.

Example:
  librato version`,
	new: func() command { return &versionCmd{} },
}

type versionCmd struct{}

func (c *versionCmd) flags(fs *flag.FlagSet) {}

func (c *versionCmd) args(args []string) error {
	if len(args) > 0 {
		return usageErrorf("version takes no arguments")
	}
	return nil
}

func (c *versionCmd) run(ctx context.Context, env *Env) error {
	v := librato.Version
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v += " (module " + bi.Main.Version + ")"
	}
	_, err := fmt.Fprintf(env.Stdout, "librato %s %s %s/%s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}
