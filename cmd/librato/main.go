// Command librato reads and writes Librato (and AppOptics) metrics from the command line,
// posts annotations from CI jobs and runs a local fake of the API. Run `librato help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-librato/librato/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
