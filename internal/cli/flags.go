package cli

import (
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-librato/librato"
)

// tagsFlag collects repeated --tag k=v flags.
type tagsFlag map[string]string

func (t *tagsFlag) String() string {
	if t == nil || len(*t) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(*t)) {
		parts = append(parts, k+"="+(*t)[k])
	}
	return strings.Join(parts, ",")
}

func (t *tagsFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return fmt.Errorf("tag %q is not NAME=VALUE", s)
	}
	if *t == nil {
		*t = map[string]string{}
	}
	(*t)[k] = v
	return nil
}

// stringsFlag collects a repeated flag's values in order.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// choiceFlag is a string flag limited to a few values.
type choiceFlag struct {
	value   string
	choices []string
}

func newChoice(def string, choices ...string) *choiceFlag {
	return &choiceFlag{value: def, choices: choices}
}

func (c *choiceFlag) String() string {
	if c == nil {
		return ""
	}
	return c.value
}

func (c *choiceFlag) Set(v string) error {
	if !slices.Contains(c.choices, v) {
		return fmt.Errorf("%q is not one of %s", v, strings.Join(c.choices, ", "))
	}
	c.value = v
	return nil
}

// registerOutput registers the --output flag of a read command, and -o for it.
func registerOutput(fs *flag.FlagSet, f *choiceFlag, usage string) {
	fs.Var(f, "output", usage)
	fs.Var(f, "o", "short for --output")
}

// connFlags are the connection flags every API command takes.
type connFlags struct {
	user      string
	token     string
	url       string
	appOptics bool
	verbose   bool
	timeout   time.Duration
	// caFile, certFile and keyFile are the TLS files: a CA bundle to trust, a client certificate.
	caFile, certFile, keyFile string

	// isAppOptics and baseURL are set by connect: whether the client talks to AppOptics, and
	// the API base URL it uses.
	isAppOptics bool
	baseURL     string
}

func (c *connFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.user, "user", "", "account `email` (default $LIBRATO_USER)")
	fs.StringVar(&c.token, "token", "", "API `token` (default $LIBRATO_TOKEN, or $APPOPTICS_TOKEN with --appoptics); never printed")
	fs.StringVar(&c.url, "url", "", "API base `URL` (default $LIBRATO_URL, else the public API); a bare host URL gets /v1/")
	fs.BoolVar(&c.appOptics, "appoptics", false, "talk to the AppOptics API: token-only auth, tagged measurements only")
	fs.BoolVar(&c.verbose, "verbose", false, "log every request to stderr (credentials are never logged)")
	fs.DurationVar(&c.timeout, "timeout", librato.DefaultTimeout, "timeout of one HTTP attempt")
	fs.StringVar(&c.caFile, "ca", "", "PEM `file` of CA certificates to trust (default the system's)")
	fs.StringVar(&c.certFile, "cert", "", "PEM `file` of a client certificate (with --key)")
	fs.StringVar(&c.keyFile, "key", "", "PEM `file` of the client certificate's key (with --cert)")
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
	if (c.certFile == "") != (c.keyFile == "") {
		return nil, usageErrorf("--cert and --key go together")
	}
	if c.caFile != "" || c.certFile != "" {
		opts = append(opts, librato.WithTLS(c.caFile, c.certFile, c.keyFile))
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
	c.baseURL = librato.DefaultBaseURL
	if appOptics {
		c.baseURL = librato.DefaultAppOpticsBaseURL
	}
	if base != "" {
		c.baseURL, _ = normalizeBaseURL(base) // checked above
		if u, err := url.Parse(c.baseURL); err == nil && (u.Path == "" || u.Path == "/") {
			c.baseURL = strings.TrimSuffix(c.baseURL, "/") + "/v1/" // what the library does
		}
	}
	return cl, nil
}

// rangeFlags are the --start, --end and --resolution of the commands that read series
// (get, composite, export).
type rangeFlags struct {
	start, end timeFlag
	resolution int
}

func (f *rangeFlags) register(fs *flag.FlagSet) {
	fs.Var(&f.start, "start", "start `time` (default 24 hours ago)")
	fs.Var(&f.end, "end", "end `time` (default now)")
	f.resolution = 60
	fs.Var((*resolutionFlag)(&f.resolution), "resolution", "point `spacing`: seconds (300) or a duration (5m, 1h)")
}

// resolutionFlag is a resolution in whole seconds, written as seconds or as a duration.
type resolutionFlag int

func (r *resolutionFlag) String() string { return strconv.Itoa(int(*r)) }

func (r *resolutionFlag) Set(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		*r = resolutionFlag(n)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is neither seconds nor a duration such as 5m", s)
	}
	if d%time.Second != 0 {
		return fmt.Errorf("%q is not a whole number of seconds", s)
	}
	*r = resolutionFlag(d / time.Second)
	return nil
}

// check validates --resolution; the times are resolved at run time, against the clock.
func (f *rangeFlags) check() error {
	if f.resolution < 1 || f.resolution > librato.MaxResolution {
		return usageErrorf("--resolution %d is outside 1..%d", f.resolution, librato.MaxResolution)
	}
	return nil
}

// timeRange resolves --start and --end; the default range is the last 24 hours.
func (f *rangeFlags) timeRange(env *Env) (time.Time, time.Time, error) {
	now := env.now()
	from, err := f.start.resolve("start", now, now.Add(-24*time.Hour))
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	to, err := f.end.resolve("end", now, now)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if !to.After(from) {
		return time.Time{}, time.Time{}, usageErrorf("--end %s is not after --start %s", to.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339))
	}
	return from, to, nil
}
