#!/usr/bin/env bash
# Installs the services the test suite runs for real (Debian packages), if they are missing:
# redis-server (shared limits across processes), PostgreSQL (the storage and API legs) and
# Chromium with its chromedriver (the dashboard's browser tests, tests/dashboard/) and nginx
# (the load balancer in front of two instances in tests/topology/).
# Idempotent; needs root (CI and the dev machines run as root) or passwordless sudo.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
echo "test-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
