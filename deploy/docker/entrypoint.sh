#!/bin/sh
# The image's entrypoint, run by tini: reads the gateway's API keys from a file (a Docker or Compose secret,
# one key per line or comma-separated; blank lines and # comments skipped) so they need not sit in the
# container's environment for `docker inspect` to show, then replaces itself with the command.
# CCGW_SERVER_API_KEYS, when set, wins over the file.
set -eu

keys_file="${GATEWAY_API_KEYS_FILE:-/run/secrets/ccgw_api_keys}"
# Not a CCGW_* name (the gateway refuses unknown ones), and of no use past this point.
unset GATEWAY_API_KEYS_FILE

if [ -z "${CCGW_SERVER_API_KEYS:-}" ] && [ -e "$keys_file" ]; then
  if [ ! -r "$keys_file" ]; then
    echo "ccgw-entrypoint: user $(id -u) cannot read the API keys file $keys_file" >&2
    exit 1
  fi
  CCGW_SERVER_API_KEYS=$(sed -e 's/#.*//' "$keys_file" | tr ',' '\n' | tr -d ' \t\r' | grep -v '^$' | paste -sd, -) || true
  if [ -z "$CCGW_SERVER_API_KEYS" ]; then
    echo "ccgw-entrypoint: the API keys file $keys_file holds no key" >&2
    exit 1
  fi
  export CCGW_SERVER_API_KEYS
fi

exec "$@"
