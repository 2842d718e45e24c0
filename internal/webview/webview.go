// Package webview is the browser view of `librato serve`: a metric list with
// search, a chart per metric with its series, annotation markers and a legend,
// the alerts and their state, a composite query box, refreshed live while data
// arrives.
//
// The page is a view over the fake's API, not a second way to the data: its
// script reads the same /v1/ endpoints every client reads (metrics,
// measurements, annotations, alerts, composite queries), with the browser's
// Basic auth credentials, so what it shows is what a client would get. The
// only endpoint of its own, /ui/server.json, says which mode the server runs
// in and what time its clock says.
//
// Charts are drawn by uPlot 1.6.32 (https://github.com/leeoniya/uPlot, MIT, its
// license in static/uPlot.LICENSE), a canvas chart made for time series: 51 KB
// and fast at tens of thousands of points. Its files are the npm package's
// dist/uPlot.iife.min.js and dist/uPlot.min.css, unchanged; to update, `npm
// pack uplot@VERSION` and copy those two files and LICENSE. Everything the
// page needs is embedded, so it works with no network.
package webview

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"

	"github.com/go-librato/librato/libratotest"
)

//go:embed static
var static embed.FS

// assets is static/ as the root of the file server.
var assets, _ = fs.Sub(static, "static")

// AssetsPath is the URL path under which the page's script, styles and chart
// library are served.
const AssetsPath = "/ui/"

// Handler returns api with the web view served next to it: GET / (the page)
// and GET /ui/... (its files and /ui/server.json) go to the view, every other
// request to api. srv is the server api serves: the view takes its
// credentials check, its mode and its clock.
//
// A request without the server's credentials gets a 401 with a Basic
// challenge, so a browser asks for the user and token (in AppOptics mode: the
// token as the user name, no password) and then sends them with the page's
// API requests too.
func Handler(srv *libratotest.Server, api http.Handler) http.Handler {
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := r.URL.Path == "/" || r.URL.Path == "/index.html"
		if !page && !strings.HasPrefix(r.URL.Path, AssetsPath) {
			api.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "the web view is read only: use GET", http.StatusMethodNotAllowed)
			return
		}
		if !srv.Authorized(r) {
			realm := "librato serve: user and token"
			if srv.AppOptics() {
				realm = "librato serve (AppOptics): the token as the user name"
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`", charset="UTF-8"`)
			http.Error(w, "the web view needs the server's credentials (see 'librato serve --help')", http.StatusUnauthorized)
			return
		}
		h := w.Header()
		// The page runs only its own files and talks only to this server.
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Revalidated on each load: a new binary serves new files at the same paths.
		h.Set("Cache-Control", "no-cache")
		switch {
		case page:
			serveFile(w, r, "index.html")
		case r.URL.Path == AssetsPath+"server.json":
			serverInfo(w, srv)
		default:
			http.StripPrefix(strings.TrimSuffix(AssetsPath, "/"), files).ServeHTTP(w, r)
		}
	})
}

// serveFile writes one embedded file (http.FileServer would redirect
// /index.html to /).
func serveFile(w http.ResponseWriter, r *http.Request, name string) {
	b, err := fs.ReadFile(assets, name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(b)
}

// ServerInfo is the body of GET /ui/server.json: what the page cannot learn
// from the API itself.
type ServerInfo struct {
	// AppOptics is true when the server serves only the tagged API, so the
	// page does not ask for source-based (legacy) series.
	AppOptics bool `json:"appoptics"`
	// Now is the server's clock in Unix seconds: the page's time ranges end
	// at it, so a server with a fixed clock (libratotest.WithNow) shows its
	// data too.
	Now int64 `json:"now"`
}

func serverInfo(w http.ResponseWriter, srv *libratotest.Server) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ServerInfo{AppOptics: srv.AppOptics(), Now: srv.Now().Unix()})
}
