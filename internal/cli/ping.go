package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/go-librato/librato"
)

// pingCommand is the ping command (listed in the command table in cli.go).
var pingCommand = &commandInfo{
	name:    "ping",
	summary: "check that the API is reachable and accepts the credentials",
	usage:   "ping [--url URL] [--user U] [--token T] [--appoptics]",
	help: `Makes one cheap read (the first metric's name) and says whether the API answered and
whether it accepted the credentials.

Exit status: 0 reachable and credentials accepted; 1 the API could not be reached or
failed; 3 the API answered but refused the credentials (401 or 403); 2 usage error
(no credentials given at all).

Examples:
  librato ping
  LIBRATO_URL=http://127.0.0.1:8080 librato ping`,
	new: func() command { return &pingCmd{} },
}

// ExitCredentials is ping's status when the API answered but refused the credentials.
const ExitCredentials = 3

type pingCmd struct {
	conn connFlags
}

func (c *pingCmd) flags(fs *flag.FlagSet) { c.conn.register(fs) }

func (c *pingCmd) args(args []string) error {
	if len(args) > 0 {
		return usageErrorf("ping takes no arguments, got %q", args[0])
	}
	return nil
}

func (c *pingCmd) run(ctx context.Context, env *Env) error {
	cl, err := c.conn.connect(env, librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		return err
	}
	start := time.Now()
	err = cl.Ping(ctx)
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case err == nil:
		_, err = fmt.Fprintf(env.Stdout, "ok: %s answered in %s and accepted the credentials\n", c.conn.baseURL, took)
		return err
	case errors.Is(err, librato.ErrUnauthorized), errors.Is(err, librato.ErrForbidden):
		return &exitError{code: ExitCredentials, msg: fmt.Sprintf("%v\n%s", err, credentialsHint)}
	}
	return fmt.Errorf("the API was not reached or failed: %w", err)
}
