// Package interop runs real third-party Librato clients, unmodified, from the
// npm registry against a `librato serve` it starts on a free loopback port:
// librato-node, and the statsd daemon with statsd-librato-backend; and against
// `librato statsd`: the same packets to both StatsD servers must arrive the same
// (statsd_parity_test.go), and the hot-shots client sends to ours. Each test
// computes what the client must have sent from the client's documented
// behaviour and reads it back through the REST API.
//
// The npm packages are pinned by package.json and package-lock.json and
// installed by install.sh (npm ci) into a cache directory keyed by the lock
// file, so reruns install nothing; .ci/run installs node and npm when
// missing and runs the suite. Without node the tests skip, except under
// CI=true, where a missing node fails them.
package interop
