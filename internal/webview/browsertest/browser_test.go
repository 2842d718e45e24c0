package browsertest

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/internal/webview"
	"github.com/go-librato/librato/libratotest"
)

// now is the fake's clock: the page draws its windows up to it, so the screenshots show the same
// times on every run.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// bigPoints is the length of the series the render time is measured on.
const bigPoints = 10_000

// site is a libratotest server with known data and the web view in front of it, on loopback.
type site struct {
	srv    *libratotest.Server
	url    string
	client *librato.Client
	alert  librato.ID
}

func newSite(t *testing.T) *site {
	t.Helper()
	// A page size of 25 makes the page follow the API's paging: 60 source points come in 3 pages.
	srv := libratotest.NewUnstartedServer(libratotest.WithNow(func() time.Time { return now }),
		libratotest.WithMaxAge(0), libratotest.WithPageSize(25))
	hs := httptest.NewServer(webview.Handler(srv, srv))
	t.Cleanup(hs.Close)
	srv.URL = hs.URL
	c, err := srv.Client()
	require.NoError(t, err)
	s := &site{srv: srv, url: hs.URL, client: c}
	s.seed(t)
	return s
}

// seed stores: api.latency, 3 tagged series of 60 points a minute apart, with a jump after a
// deploy; jobs.queue, 2 source series of 60 points; big.series, one tagged series of bigPoints
// points; two annotation streams with one event each in the last hour; three alerts, one firing
// and one disabled.
func (s *site) seed(t *testing.T) {
	ctx := t.Context()
	start := now.Add(-time.Hour)
	var batch []librato.Measurement
	for i := range 60 {
		at := start.Add(time.Duration(i) * time.Minute)
		jump := 0.0
		if i >= 40 {
			jump = 30
		}
		for j, status := range []string{"200", "404", "500"} {
			batch = append(batch, librato.Measurement{Name: "api.latency", Time: at,
				Value: 50 - float64(j)*20 + 10*math.Sin(float64(i)/6) + jump, Tags: map[string]string{"status": status, "host": "web-1"}})
		}
		for j, src := range []string{"worker-1", "worker-2"} {
			batch = append(batch, librato.Measurement{Name: "jobs.queue", Time: at, Source: src, Value: float64(i%7 + 5*j)})
		}
	}
	bigStart := now.Add(-bigPoints * time.Minute)
	for i := range bigPoints {
		batch = append(batch, librato.Measurement{Name: "big.series", Time: bigStart.Add(time.Duration(i) * time.Minute),
			Value: 100 + 40*math.Sin(float64(i)/200) + float64(i%13), Tags: map[string]string{"region": "eu"}})
	}
	require.NoError(t, s.client.Submit(ctx, batch...))
	_, err := s.client.Annotations.Create(ctx, "deploys", librato.Annotation{Title: "deploy v1.2.3", Description: "api rollout", StartTime: start.Add(40 * time.Minute)})
	require.NoError(t, err)
	_, err = s.client.Annotations.Create(ctx, "ops", librato.Annotation{Title: "config change", StartTime: start.Add(20 * time.Minute)})
	require.NoError(t, err)
	a, err := s.client.Alerts.Create(ctx, librato.Alert{Name: "api.slow", Description: "latency over 70",
		Conditions: []librato.Condition{librato.Above("api.latency", 70)}})
	require.NoError(t, err)
	s.alert = a.ID
	require.True(t, s.srv.FireAlert(a.ID))
	_, err = s.client.Alerts.Create(ctx, librato.Alert{Name: "jobs.stuck", Conditions: []librato.Condition{librato.Absent("jobs.queue", 10*time.Minute)}})
	require.NoError(t, err)
	_, err = s.client.Alerts.Create(ctx, librato.Alert{Name: "big.low", Disabled: true, Conditions: []librato.Condition{librato.Below("big.series", 10)}})
	require.NoError(t, err)
}

// chromium finds Debian's Chromium: $LIBRATO_CHROMIUM, /usr/bin/chromium or chromium on the
// PATH. Without it the tests skip, or fail under CI=true (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("LIBRATO_CHROMIUM"), "/usr/bin/chromium"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install chromium); CI runs the browser tests")
	}
	t.Skip("chromium is not installed (apt-get install chromium; or set LIBRATO_CHROMIUM)")
	return ""
}

// browser starts a headless Chromium of its own for one test and answers the page's Basic auth
// challenge as a person at the prompt would, with user and password (an empty user cancels
// the prompt).
func browser(t *testing.T, user, password string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.DisableGPU,
		chromedp.NoSandbox, // the tests may run as root, where Chromium's sandbox refuses to start
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 860),
		// No connections of its own: this machine has no network but loopback.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Env("TZ=UTC"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })

	// Every request pauses (Fetch.enable without patterns) and goes on at once; a challenge is
	// answered. The answers run outside the listener, which must not call the browser itself.
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *fetch.EventRequestPaused:
			go chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		case *fetch.EventAuthRequired:
			resp := &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseProvideCredentials, Username: user, Password: password}
			if user == "" {
				resp = &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseCancelAuth}
			}
			go chromedp.Call(ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID, AuthChallengeResponse: resp})
		}
	}))
	handleAuth := true
	_, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &handleAuth})
	require.NoError(t, err)
	return ctx
}

// open loads the page at path (a hash route) with the server's credentials typed at the prompt.
func (s *site) open(t *testing.T, path string) context.Context {
	t.Helper()
	user, token := s.srv.Credentials()
	ctx := browser(t, user, token)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.url+"/"+path)))
	return ctx
}

// waitFor evaluates a JavaScript condition until it is true.
func waitFor(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			errText, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("error") ? document.getElementById("error").textContent : ""`))
			t.Fatalf("the page never showed %s (err %v; the page's error box: %q)", cond, err, errText)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	require.NoError(t, err, js)
	return v
}

// screenshot saves the page as NAME.png in the artifacts directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("LIBRATO_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	path := filepath.Join(dir, name+".png")
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}

// chartReady waits for the chart box to say it has drawn.
const chartReady = `document.querySelector("#chart[data-state=ready]")`

// inkOf returns JavaScript that counts the pixels of the chart's canvas drawn in a colour (as
// "#rrggbb", near enough for anti-aliasing): the lines of a series are in its colour, the grid
// and the axes are not.
func inkOf(color string) string {
	return `(() => {
  const want = [1, 3, 5].map(i => parseInt("` + color + `".slice(i, i + 2), 16));
  const c = document.querySelector("#chart canvas");
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i+3] > 160 && Math.abs(d[i] - want[0]) + Math.abs(d[i+1] - want[1]) + Math.abs(d[i+2] - want[2]) < 60) n++;
  }
  return n;
})()`
}

// The first series' colours in app.js, and the annotation markers'.
const (
	firstColor  = "#1f77b4"
	secondColor = "#d62728"
	thirdColor  = "#2ca02c"
	markerColor = "#b8860b"
)

func TestMetricList(t *testing.T) {
	s := newSite(t)
	ctx := s.open(t, "")
	waitFor(t, ctx, `document.querySelectorAll("#metrics tr").length === 3`)
	names := eval[[]string](t, ctx, `[...document.querySelectorAll("#metrics tr td:first-child a")].map(a => a.textContent)`)
	assert.Equal(t, []string{"api.latency", "big.series", "jobs.queue"}, names)
	types := eval[[]string](t, ctx, `[...document.querySelectorAll("#metrics tr td:nth-child(2)")].map(td => td.textContent)`)
	assert.Equal(t, []string{"gauge", "gauge", "gauge"}, types)
	screenshot(t, ctx, "metric-list")

	// Search asks the API (GET /v1/metrics?name=) and keeps the query in the address.
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#search"), "jobs")))
	waitFor(t, ctx, `document.querySelectorAll("#metrics tr").length === 1`)
	assert.Equal(t, "jobs.queue", eval[string](t, ctx, `document.querySelector("#metrics a").textContent`))
	assert.Equal(t, "1 metric match", eval[string](t, ctx, `document.getElementById("count").textContent`))
	assert.Contains(t, eval[string](t, ctx, `location.hash`), "q=jobs")

	// A click on a name opens its chart.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#metrics a"))))
	waitFor(t, ctx, chartReady)
	assert.Equal(t, "#/metric/jobs.queue", eval[string](t, ctx, `location.hash`))
}

func TestTaggedChartWithAnnotations(t *testing.T) {
	s := newSite(t)
	ctx := s.open(t, "#/metric/api.latency?range=3600&res=60")
	waitFor(t, ctx, chartReady)
	box := eval[map[string]string](t, ctx, `({...document.getElementById("chart").dataset})`)
	assert.Equal(t, "3", box["series"])
	assert.Equal(t, "180", box["points"])
	assert.Equal(t, "2", box["markers"])
	// What a person sees: a legend row per series, the lines drawn, the two markers with their titles.
	legend := eval[[]string](t, ctx, `[...document.querySelectorAll(".u-legend .u-series .u-label")].map(l => l.textContent)`)
	assert.Equal(t, []string{"time", "host=web-1, status=200", "host=web-1, status=404", "host=web-1, status=500"}, legend)
	for _, color := range []string{firstColor, secondColor, thirdColor} {
		assert.Greater(t, eval[int](t, ctx, inkOf(color)), 500, "the line in %s", color)
	}
	assert.Greater(t, eval[int](t, ctx, inkOf(markerColor)), 100, "the marker lines")
	markers := eval[[]string](t, ctx, `[...document.querySelectorAll("#chart .marker-label")].map(m => m.textContent)`)
	assert.Equal(t, []string{"config change", "deploy v1.2.3"}, markers)
	// The deploy marker sits where its time is on the axis: 40 of the 60 minutes along.
	frac := eval[float64](t, ctx, `(() => { const m = [...document.querySelectorAll("#chart .marker")][1]; return parseFloat(m.style.left) / m.parentElement.clientWidth; })()`)
	assert.InDelta(t, 40.0/60, frac, 0.02)
	rows := eval[[]string](t, ctx, `[...document.querySelectorAll("#markers tbody tr")].map(r => r.textContent)`)
	assert.Equal(t, []string{"2026-03-01 11:20:00opsconfig change", "2026-03-01 11:40:00deploysdeploy v1.2.3api rollout"}, rows)
	screenshot(t, ctx, "metric-chart")

	// Another range asks again: the last 15 minutes hold 15 points a series and no marker.
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#range"), "900"),
		chromedp.Evaluate[chromedp.Void](`void document.getElementById("range").dispatchEvent(new Event("change"))`)))
	waitFor(t, ctx, `document.getElementById("chart").dataset.points === "45"`)
	waitFor(t, ctx, chartReady)
	assert.Equal(t, "0", eval[string](t, ctx, `document.getElementById("chart").dataset.markers`))
	assert.Contains(t, eval[string](t, ctx, `location.hash`), "range=900")
}

// TestSourceChartFollowsPaging: 60 points a source come 25 at a time (query.next_time); the chart
// has them all.
func TestSourceChartFollowsPaging(t *testing.T) {
	s := newSite(t)
	ctx := s.open(t, "#/metric/jobs.queue?range=3600&res=60")
	waitFor(t, ctx, chartReady)
	assert.Equal(t, "2", eval[string](t, ctx, `document.getElementById("chart").dataset.series`))
	assert.Equal(t, "120", eval[string](t, ctx, `document.getElementById("chart").dataset.points`))
	legend := eval[[]string](t, ctx, `[...document.querySelectorAll(".u-legend .u-series .u-label")].map(l => l.textContent)`)
	assert.Equal(t, []string{"time", "source worker-1", "source worker-2"}, legend)
}

// TestLiveRefresh: a point and an annotation posted while the page is open appear without a
// reload, within the refresh interval (5 s).
func TestLiveRefresh(t *testing.T) {
	s := newSite(t)
	ctx := s.open(t, "#/metric/jobs.queue?range=3600&res=60")
	waitFor(t, ctx, chartReady)
	require.Equal(t, "120", eval[string](t, ctx, `document.getElementById("chart").dataset.points`))
	require.NoError(t, s.client.Submit(t.Context(), librato.Measurement{Name: "jobs.queue", Source: "worker-3", Value: 9, Time: now.Add(-time.Minute)}))
	_, err := s.client.Annotations.Create(t.Context(), "deploys", librato.Annotation{Title: "hotfix", StartTime: now.Add(-2 * time.Minute)})
	require.NoError(t, err)
	start := time.Now()
	waitFor(t, ctx, `document.getElementById("chart").dataset.points === "121" && document.getElementById("chart").dataset.markers === "3"`)
	waitFor(t, ctx, chartReady)
	assert.Less(t, time.Since(start), 10*time.Second, "within two refresh intervals")
	assert.Equal(t, "3", eval[string](t, ctx, `document.getElementById("chart").dataset.series`))
	assert.Contains(t, eval[[]string](t, ctx, `[...document.querySelectorAll("#chart .marker-label")].map(m => m.textContent)`), "hotfix")
}

// TestZoomSurvivesLiveRefresh: a range dragged on the chart stays through a refresh with new
// data; a double-click gives the window back.
func TestZoomSurvivesLiveRefresh(t *testing.T) {
	s := newSite(t)
	ctx := s.open(t, "#/metric/jobs.queue?range=3600&res=60")
	waitFor(t, ctx, chartReady)
	box := eval[map[string]float64](t, ctx, `(() => { const r = document.querySelector("#chart .u-over").getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; })()`)
	y := box["y"] + box["h"]/2
	from, to := box["x"]+box["w"]*0.2, box["x"]+box["w"]*0.5
	require.Equal(t, "false", eval[string](t, ctx, `document.getElementById("chart").dataset.zoomed`))
	held := func(p *input.DispatchMouseEventParams) { p.Button, p.Buttons = input.MouseButtonLeft, 1 }
	require.NoError(t, chromedp.Do(ctx,
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, from, y),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, from, y, held, chromedp.ClickCount(1)),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, (from+to)/2, y, held),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, to, y, held),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, to, y, chromedp.ButtonLeft, chromedp.ClickCount(1))))
	waitFor(t, ctx, `document.getElementById("chart").dataset.zoomed === "true"`)

	// A refresh (the next "updated" time) with a changed value: the same series, new data.
	require.NoError(t, s.client.Submit(t.Context(), librato.Measurement{Name: "jobs.queue", Source: "worker-1", Value: 1000, Time: now.Add(-30 * time.Minute)}))
	updated := eval[string](t, ctx, `document.getElementById("updated").textContent`)
	waitFor(t, ctx, `document.getElementById("updated").textContent !== `+strconv.Quote(updated))
	waitFor(t, ctx, chartReady)
	assert.Equal(t, "true", eval[string](t, ctx, `document.getElementById("chart").dataset.zoomed`), "the refresh kept the zoom")

	require.NoError(t, chromedp.Do(ctx, chromedp.MouseClickXY(box["x"]+box["w"]/2, y, chromedp.ClickCount(2))))
	waitFor(t, ctx, `document.getElementById("chart").dataset.zoomed === "false"`)
}

func TestAlertsAndTheirState(t *testing.T) {
	s := newSite(t)
	ctx := s.open(t, "#/alerts")
	waitFor(t, ctx, `document.querySelectorAll("#alerts tr").length === 3`)
	state := eval[map[string]string](t, ctx, `Object.fromEntries([...document.querySelectorAll("#alerts tr")].map(r => [r.dataset.alert, r.querySelector(".state").dataset.state]))`)
	assert.Equal(t, map[string]string{"api.slow": "firing", "jobs.stuck": "ok", "big.low": "disabled"}, state)
	assert.Equal(t, "3 alerts, 1 firing", eval[string](t, ctx, `document.getElementById("count").textContent`))
	assert.Equal(t, "average of api.latency above 70", eval[string](t, ctx, `document.querySelector("[data-alert='api.slow'] td:nth-child(3)").textContent`))
	screenshot(t, ctx, "alerts")

	// Cleared through the API, the alert reads ok at the next refresh.
	require.NoError(t, s.client.Alerts.Clear(t.Context(), s.alert))
	waitFor(t, ctx, `document.querySelector("[data-alert='api.slow'] .state").dataset.state === "ok"`)
}

func TestCompositeBox(t *testing.T) {
	s := newSite(t)
	ctx := s.open(t, "#/composite?range=3600&res=60")
	waitFor(t, ctx, `document.getElementById("chart").dataset.state === "idle"`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#compose"), `sum(s("api.latency", {"status": "*"}))`),
		chromedp.Click(chromedp.CSS(`#composite-form button`))))
	waitFor(t, ctx, chartReady)
	assert.Equal(t, "1", eval[string](t, ctx, `document.getElementById("chart").dataset.series`))
	assert.Equal(t, "60", eval[string](t, ctx, `document.getElementById("chart").dataset.points`))
	assert.Greater(t, eval[int](t, ctx, inkOf(firstColor)), 500)
	assert.Zero(t, eval[int](t, ctx, inkOf(secondColor)), "one series, one colour")
	screenshot(t, ctx, "composite")

	// Over source series, and a bad expression shows the API's own error.
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#compose-over"), "sources"),
		chromedp.SetValue(chromedp.CSS("#compose"), `s("jobs.queue", "worker-*")`),
		chromedp.Click(chromedp.CSS(`#composite-form button`))))
	waitFor(t, ctx, `document.getElementById("chart").dataset.series === "2"`)
	waitFor(t, ctx, chartReady)
	require.NoError(t, chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#compose"), `sum(s("api.latency"`),
		chromedp.Click(chromedp.CSS(`#composite-form button`))))
	waitFor(t, ctx, `!document.getElementById("error").hidden`)
	assert.Contains(t, eval[string](t, ctx, `document.getElementById("error").textContent`), "400 from /v1/metrics")
}

// TestBigSeriesRendersInUnderASecond: 10,000 points of one series, from the data's arrival to the
// chart drawn (data-render-ms), and the page's weight as the browser loaded it.
func TestBigSeriesRendersInUnderASecond(t *testing.T) {
	s := newSite(t)
	ctx := s.open(t, "#/metric/big.series?range=604800&res=60")
	waitFor(t, ctx, chartReady)
	// From the start of the navigation (the page's time origin) to the chart seen drawn (polled
	// every 50 ms): the page, its files, the server info, the 10,000 points and the annotations.
	loaded := eval[float64](t, ctx, `performance.now()`)
	assert.Equal(t, strconv.Itoa(bigPoints), eval[string](t, ctx, `document.getElementById("chart").dataset.points`))
	ms, err := strconv.ParseFloat(eval[string](t, ctx, `document.getElementById("chart").dataset.renderMs`), 64)
	require.NoError(t, err)
	assert.Less(t, ms, 1000.0, "render time of %d points", bigPoints)
	assert.Greater(t, eval[int](t, ctx, inkOf(firstColor)), 5000)

	// Draw it again a few times, each a new chart (a hash change routes anew).
	var times []string
	for range 5 {
		require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`void window.dispatchEvent(new HashChangeEvent("hashchange"))`)))
		waitFor(t, ctx, chartReady)
		times = append(times, eval[string](t, ctx, `document.getElementById("chart").dataset.renderMs`))
	}
	for _, v := range times {
		f, err := strconv.ParseFloat(v, 64)
		require.NoError(t, err)
		assert.Less(t, f, 1000.0)
	}
	weight := eval[float64](t, ctx, `performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"))
	  .filter(e => new URL(e.name).pathname === "/" || new URL(e.name).pathname.startsWith("/ui/") && !e.name.endsWith("server.json"))
	  .reduce((n, e) => n + e.decodedBodySize, 0)`)
	assert.Less(t, weight, 200.0*1024)
	t.Logf("%d points: first render %.1f ms, redraws %s ms; navigation to chart drawn %.0f ms; page weight %.0f bytes as loaded",
		bigPoints, ms, strings.Join(times, ", "), loaded, weight)
	screenshot(t, ctx, "big-series")
}

// TestWithoutCredentials: a prompt answered with nothing leaves the server's 401 text, and no
// request reached the API.
func TestWithoutCredentials(t *testing.T) {
	s := newSite(t)
	ctx := browser(t, "", "")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(s.url+"/")))
	waitFor(t, ctx, `document.body && document.body.innerText.includes("needs the server's credentials")`)
	for _, r := range s.srv.Requests() {
		assert.False(t, strings.HasPrefix(r.Path, "/v1/") && r.Method == "GET", fmt.Sprintf("%s %s", r.Method, r.Path))
	}
}

// TestMissingMetricAndOnePoint: a metric that is not there says so; a series of one point shows
// the point (a line needs two).
func TestMissingMetricAndOnePoint(t *testing.T) {
	s := newSite(t)
	ctx := s.open(t, "#/metric/nope")
	waitFor(t, ctx, `!document.getElementById("error").hidden`)
	assert.Equal(t, `There is no metric named "nope" on this server.`, eval[string](t, ctx, `document.getElementById("error").textContent`))
	assert.Equal(t, "error", eval[string](t, ctx, `document.getElementById("chart").dataset.state`))

	require.NoError(t, s.client.Submit(t.Context(), librato.Measurement{Name: "one.point", Value: 7, Time: now.Add(-10 * time.Minute), Tags: map[string]string{"host": "a"}}))
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`void (location.hash = "#/metric/one.point")`)))
	waitFor(t, ctx, chartReady)
	assert.Equal(t, "1", eval[string](t, ctx, `document.getElementById("chart").dataset.points`))
	assert.Greater(t, eval[int](t, ctx, inkOf(firstColor)), 10, "the point")
	assert.True(t, eval[bool](t, ctx, `document.getElementById("error").hidden`), "the error is gone")
}

// TestAppOpticsMode: with the token as the user name and no password, the tagged chart shows, and
// the page asks for no source-based series (the AppOptics API has none).
func TestAppOpticsMode(t *testing.T) {
	srv := libratotest.NewUnstartedServer(libratotest.WithNow(func() time.Time { return now }), libratotest.WithAppOptics())
	hs := httptest.NewServer(webview.Handler(srv, srv))
	t.Cleanup(hs.Close)
	srv.URL = hs.URL
	c, err := srv.Client()
	require.NoError(t, err)
	var batch []librato.Measurement
	for i := range 30 {
		batch = append(batch, librato.Measurement{Name: "ao.cpu", Value: float64(i), Time: now.Add(-time.Duration(i) * time.Minute), Tags: map[string]string{"host": "a"}})
	}
	require.NoError(t, c.Submit(t.Context(), batch...))
	_, token := srv.Credentials()
	ctx := browser(t, token, "")
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(hs.URL+"/#/metric/ao.cpu?range=3600&res=60")))
	waitFor(t, ctx, chartReady)
	assert.Equal(t, "30", eval[string](t, ctx, `document.getElementById("chart").dataset.points`))
	for _, r := range srv.Requests() {
		if r.Method == "GET" && r.Path == "/v1/metrics/ao.cpu" {
			assert.False(t, r.Query.Has("start_time"), "a source-based read in AppOptics mode: %v", r.Query)
		}
	}
}
