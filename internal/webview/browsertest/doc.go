// Package browsertest drives the web view of `librato serve` in a real browser: headless
// Chromium from Debian's packages (chromium), started by the tests through the DevTools
// protocol (github.com/chromedp/chromedp), against the view over a libratotest server with known
// data. It is a module of its own so that the browser driver stays out of the librato module's
// dependencies. The tests save screenshots in $LIBRATO_ARTIFACTS (default ./artifacts).
package browsertest
