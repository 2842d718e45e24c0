package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-librato/librato/libratotest"
)

// faultAdminPath is where `librato serve` takes one-shot faults.
const faultAdminPath = "/admin/faults"

// serveFaultsHelp is the fault injection part of `librato serve --help`.
const serveFaultsHelp = `Fault injection, to test a client's retries and error handling:
  Steady faults (flags) hit a share of the API requests, evenly spaced: --fail-rate 0.25
  answers every fourth request with --fail-status (503 unless set; 429 and 403 get the
  API's rate-limit body, 5xx an {"errors":{"system":[...]}} body), with a Retry-After
  header of --retry-after seconds if set; --drop-rate closes connections without an
  answer; --latency delays every request. --fault-path (a trailing * makes it a prefix)
  and --fault-method narrow them down.
  One-shot faults: POST ` + faultAdminPath + ` with the server's credentials and a JSON body
    {"status":503,"count":2,"method":"POST","path":"/v1/measurements"}
  fields: status, body (default: the API's body for the status), retry_after (seconds),
  drop (true: close the connection), latency ("1.5s"), count (default 1) or rate
  (0-1, steady), method, path. GET ` + faultAdminPath + ` lists the faults in force,
  DELETE ` + faultAdminPath + ` removes them all (the flags' too). Faults come before the
  credentials check, as a proxy's would; the admin endpoint itself is never faulted.`

// serveFaultsExamples are the fault injection examples of `librato serve --help`.
const serveFaultsExamples = `  librato serve --fail-rate 0.1 --fail-status 429 --retry-after 2 --fault-path /v1/measurements
  librato serve --latency 300ms --drop-rate 0.05
  curl -u test@example.com:libratotest-token -H 'Content-Type: application/json' \
    -d '{"status":503,"count":2,"method":"POST","path":"/v1/measurements"}' \
    http://127.0.0.1:8080` + faultAdminPath + `
  curl -u test@example.com:libratotest-token -X DELETE http://127.0.0.1:8080` + faultAdminPath

// serveFaults holds the steady fault flags of `librato serve`.
type serveFaults struct {
	failRate   float64
	failStatus int
	retryAfter int
	dropRate   float64
	latency    time.Duration
	path       string
	method     string
}

func (f *serveFaults) flags(fs *flag.FlagSet) {
	fs.Float64Var(&f.failRate, "fail-rate", 0, "answer this `share` (0-1) of API requests with --fail-status")
	fs.IntVar(&f.failStatus, "fail-status", http.StatusServiceUnavailable, "`status` of the --fail-rate answers (400-599)")
	fs.IntVar(&f.retryAfter, "retry-after", 0, "Retry-After `seconds` on the --fail-rate answers (0: no header)")
	fs.Float64Var(&f.dropRate, "drop-rate", 0, "close the connection of this `share` (0-1) of API requests without an answer")
	fs.DurationVar(&f.latency, "latency", 0, "delay every API request by this `duration`")
	fs.StringVar(&f.path, "fault-path", "", "apply the fault flags only to this URL `path` (a trailing * makes it a prefix)")
	fs.StringVar(&f.method, "fault-method", "", "apply the fault flags only to this HTTP `method`")
}

// list returns the faults the flags ask for.
func (f *serveFaults) list() []libratotest.Fault {
	var out []libratotest.Fault
	base := libratotest.Fault{Method: f.method, Path: f.path}
	if f.latency != 0 {
		l := base
		l.Latency, l.Rate = f.latency, 1
		out = append(out, l)
	}
	if f.failRate != 0 {
		s := base
		s.Status, s.RetryAfter, s.Rate = f.failStatus, f.retryAfter, f.failRate
		out = append(out, s)
	}
	if f.dropRate != 0 {
		d := base
		d.Drop, d.Rate = true, f.dropRate
		out = append(out, d)
	}
	return out
}

// check validates the flags (args calls it, before anything listens).
func (f *serveFaults) check() error {
	if f.retryAfter != 0 && f.failRate == 0 {
		return usageErrorf("--retry-after needs --fail-rate")
	}
	if f.failStatus != http.StatusServiceUnavailable && f.failRate == 0 {
		return usageErrorf("--fail-status needs --fail-rate")
	}
	if (f.path != "" || f.method != "") && len(f.list()) == 0 {
		return usageErrorf("--fault-path and --fault-method need --fail-rate, --drop-rate or --latency")
	}
	for _, fl := range f.list() {
		if err := fl.Validate(); err != nil {
			return usageErrorf("fault flags: %v", err)
		}
	}
	return nil
}

// install adds the flags' faults to srv.
func (f *serveFaults) install(srv *libratotest.Server) error {
	for _, fl := range f.list() {
		if err := srv.AddFault(fl); err != nil {
			return err
		}
	}
	return nil
}

// faultWire is a fault as the admin endpoint reads and writes it.
type faultWire struct {
	Method     string  `json:"method,omitempty"`
	Path       string  `json:"path,omitempty"`
	Status     int     `json:"status,omitempty"`
	Body       string  `json:"body,omitempty"`
	RetryAfter int     `json:"retry_after,omitempty"`
	Drop       bool    `json:"drop,omitempty"`
	Latency    string  `json:"latency,omitempty"`
	Count      int     `json:"count,omitempty"`
	Rate       float64 `json:"rate,omitempty"`
}

func (w faultWire) fault() (libratotest.Fault, error) {
	f := libratotest.Fault{Method: w.Method, Path: w.Path, Status: w.Status, Body: w.Body,
		RetryAfter: w.RetryAfter, Drop: w.Drop, Count: w.Count, Rate: w.Rate}
	if w.Latency != "" {
		d, err := time.ParseDuration(w.Latency)
		if err != nil {
			return f, fmt.Errorf("latency %q is not a duration (e.g. \"1.5s\")", w.Latency)
		}
		f.Latency = d
	}
	if f.Count == 0 && f.Rate == 0 {
		f.Count = 1
	}
	return f, nil
}

func wireOf(f libratotest.Fault) faultWire {
	w := faultWire{Method: f.Method, Path: f.Path, Status: f.Status, Body: f.Body,
		RetryAfter: f.RetryAfter, Drop: f.Drop, Count: f.Count, Rate: f.Rate}
	if f.Latency != 0 {
		w.Latency = f.Latency.String()
	}
	return w
}

// withFaultAdmin serves the fault admin endpoint next to srv.
func withFaultAdmin(srv *libratotest.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != faultAdminPath {
			srv.ServeHTTP(w, r)
			return
		}
		if !srv.Authorized(r) {
			writeAdminError(w, http.StatusUnauthorized, "Authorization Required")
			return
		}
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost:
			f, err := decodeFault(r)
			if err == nil {
				err = srv.AddFault(f)
			}
			if err != nil {
				writeAdminError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "libratotest: "))
				return
			}
		case http.MethodDelete:
			srv.ClearFaults()
		default:
			w.Header().Set("Allow", "GET, POST, DELETE")
			writeAdminError(w, http.StatusMethodNotAllowed, "use GET, POST or DELETE")
			return
		}
		list := []faultWire{}
		for _, f := range srv.Faults() {
			list = append(list, wireOf(f))
		}
		status := http.StatusOK
		if r.Method == http.MethodPost {
			status = http.StatusCreated
		}
		writeAdminJSON(w, status, map[string]any{"faults": list})
	})
}

// decodeFault reads one fault from a POST body.
func decodeFault(r *http.Request) (libratotest.Fault, error) {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	var in faultWire
	if err := dec.Decode(&in); err != nil {
		if errors.Is(err, io.EOF) {
			return libratotest.Fault{}, errors.New("the body must be a JSON fault, e.g. {\"status\":503}")
		}
		return libratotest.Fault{}, fmt.Errorf("the body is not a fault: %v", err)
	}
	return in.fault()
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeAdminError(w http.ResponseWriter, status int, msg string) {
	writeAdminJSON(w, status, map[string]any{"errors": map[string]any{"request": []string{msg}}})
}
