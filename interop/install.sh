#!/usr/bin/env bash
# Installs the pinned npm packages of package-lock.json (npm ci) into a cache
# directory keyed by the lock file's hash, and prints that directory's
# node_modules path. A rerun with the same lock file installs nothing.
# The cache root is $LIBRATO_INTEROP_CACHE, else $XDG_CACHE_HOME/librato-interop,
# else ~/.cache/librato-interop. Install scripts are not run: none of the
# clients needs one (modern-syslog, an optional statsd dependency for its
# syslog backend, stays unbuilt).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v npm >/dev/null || { echo "interop: npm is not installed" >&2; exit 1; }

root="${LIBRATO_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/librato-interop}"
key="$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)"
dir="$root/$key"
if [ ! -f "$dir/.installed" ]; then
	mkdir -p "$root"
	tmp="$(mktemp -d "$root/.tmp.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	cp "$here/package.json" "$here/package-lock.json" "$tmp/"
	(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error --cache "$root/npm-cache" >&2)
	touch "$tmp/.installed"
	# Another run may have finished first; either copy will do.
	mv -T "$tmp" "$dir" 2>/dev/null || true
fi
echo "$dir/node_modules"
