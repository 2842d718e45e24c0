package cli

import (
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/go-librato/librato"
)

// connFlags are the connection flags every API command takes.
type connFlags struct {
	user      string
	token     string
	url       string
	appOptics bool
	verbose   bool
	timeout   time.Duration

	// isAppOptics is set by connect: whether the client talks to AppOptics.
	isAppOptics bool
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.user, "user", "", "account `email` (default $LIBRATO_USER)")
	fs.StringVar(&c.token, "token", "", "API `token` (default $LIBRATO_TOKEN, or $APPOPTICS_TOKEN with --appoptics); never printed")
	fs.StringVar(&c.url, "url", "", "API base `URL` (default $LIBRATO_URL, else the public API); a bare host URL gets /v1/")
	fs.BoolVar(&c.appOptics, "appoptics", false, "talk to the AppOptics API: token-only auth, tagged measurements only")
	fs.BoolVar(&c.verbose, "verbose", false, "log every request to stderr (credentials are never logged)")
	fs.DurationVar(&c.timeout, "timeout", librato.DefaultTimeout, "timeout of one HTTP attempt")
}

// connect builds a client from the flags and the environment. Missing credentials are a usage
// error (exit 2): nothing was tried yet.
func (c *connFlags) connect(env *Env, opts ...librato.Option) (*librato.Client, error) {
	user := firstNonEmpty(c.user, env.getenv("LIBRATO_USER"))
	base := firstNonEmpty(c.url, env.getenv("LIBRATO_URL"))
	appOptics := c.appOptics
	token := c.token
	if token == "" {
		if appOptics {
			token = firstNonEmpty(env.getenv("APPOPTICS_TOKEN"), env.getenv("LIBRATO_TOKEN"))
		} else {
			token = env.getenv("LIBRATO_TOKEN")
			if token == "" && user == "" && env.getenv("APPOPTICS_TOKEN") != "" {
				token, appOptics = env.getenv("APPOPTICS_TOKEN"), true
			}
		}
	}
	if token == "" {
		return nil, usageErrorf("no API token: pass --token or set LIBRATO_TOKEN (APPOPTICS_TOKEN for AppOptics)")
	}
	if !appOptics && user == "" {
		return nil, usageErrorf("no user: pass --user or set LIBRATO_USER (the account email)")
	}
	opts = append([]librato.Option{librato.WithTimeout(c.timeout), librato.WithUserAgent("librato-cli/" + librato.Version)}, opts...)
	if base != "" {
		u, err := normalizeBaseURL(base)
		if err != nil {
			return nil, usageErrorf("%v", err)
		}
		opts = append(opts, librato.WithBaseURL(u))
	}
	if c.verbose {
		logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		opts = append(opts, librato.WithLogger(logger))
	}
	var (
		cl  *librato.Client
		err error
	)
	if appOptics {
		cl, err = librato.ConnectAppOptics(token, opts...)
	} else {
		cl, err = librato.Connect(user, token, opts...)
	}
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	c.isAppOptics = appOptics
	return cl, nil
}

// normalizeBaseURL accepts a server URL with or without the API path: "http://127.0.0.1:8080"
// (what `librato serve` prints) becomes "http://127.0.0.1:8080/v1/".
func normalizeBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		return "", fmt.Errorf("API URL must not contain credentials; use --user/--token")
	}
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		// Not quoted: a mistyped URL may still carry a token in its userinfo or query.
		return "", fmt.Errorf("API URL is not an absolute http(s) URL such as https://metrics-api.librato.com")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/"
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
