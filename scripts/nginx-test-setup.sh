#!/usr/bin/env bash
# Makes real nginx (with ngx_http_auth_request_module) available for test/callers/nginx-auth-request.test.ts.
# Installs Debian's package only when `nginx` is missing and we run as root; never assumes it is present.
# Always exits 0 so the rest of the suite still runs: when nginx is unusable it says so loudly here and
# the jest integration test fails (under CI=true) instead of skipping.
set -uo pipefail

find_nginx() {
  command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true
}

NGINX="$(find_nginx)"
if [ -z "$NGINX" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "== nginx missing: installing Debian's nginx package"
    # Docker images ship policy-rc.d exit 101, so the package does not start a system nginx on :80.
    export DEBIAN_FRONTEND=noninteractive
    apt-get update && apt-get install -y nginx
    NGINX="$(find_nginx)"
  else
    echo "WARNING: nginx is not installed and we are not root (or have no apt-get); cannot install it" >&2
  fi
fi

if [ -z "$NGINX" ]; then
  echo "ERROR: nginx unavailable; the nginx auth_request integration test will fail" >&2
  exit 0
fi

# The integration test needs auth_request compiled in (Debian's nginx-core has it).
if ! "$NGINX" -V 2>&1 | grep -q -- '--with-http_auth_request_module'; then
  echo "ERROR: $NGINX lacks --with-http_auth_request_module; the nginx integration test will fail" >&2
  exit 0
fi
echo "== nginx ready: $("$NGINX" -v 2>&1) at $NGINX"
