#!/usr/bin/env bash
# Deploys the gateway to the current kubectl context in one command: renders a kustomize overlay, refuses
# while a REPLACE-ME placeholder is left in it, applies it and waits for the rollout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
overlays="$here/k8s/overlays"

usage() {
  cat <<USAGE
Usage: deploy/deploy.sh [-n] [-c CONTEXT] [-t TIMEOUT] OVERLAY

Applies a kustomize overlay of deploy/k8s/base with \`kubectl apply -k\` and waits for the
StatefulSet to roll out.

  OVERLAY     a folder name under deploy/k8s/overlays (e.g. example), or a path to a kustomize folder
  -n          dry run: validate against the cluster (--dry-run=server), change nothing
  -c CONTEXT  kubectl context to use (default: the current one)
  -t TIMEOUT  how long to wait for the rollout (default 10m)
  -h          show this help

Fill in every REPLACE-ME value (the Secret's API keys and Claude credentials) first:
the script refuses to apply an overlay that still has one.
USAGE
}

fail() {
  echo "deploy.sh: $*" >&2
  exit 1
}

dry_run=false
context=()
timeout=10m
while getopts ":nc:t:h" opt; do
  case "$opt" in
    n) dry_run=true ;;
    c) context=(--context "$OPTARG") ;;
    t) timeout="$OPTARG" ;;
    h) usage; exit 0 ;;
    :) usage >&2; fail "-$OPTARG needs a value" ;;
    *) usage >&2; fail "unknown option -$OPTARG" ;;
  esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { usage >&2; fail "name one overlay (folders under deploy/k8s/overlays: $(ls "$overlays" | tr '\n' ' '))"; }

if [ -d "$overlays/$1" ]; then dir="$overlays/$1"; else dir="$1"; fi
[ -f "$dir/kustomization.yaml" ] ||
  fail "no overlay $1: neither $overlays/$1 nor a folder with a kustomization.yaml"

command -v kubectl >/dev/null 2>&1 ||
  fail "kubectl not found on PATH: install it (https://kubernetes.io/docs/tasks/tools/) and point it at your cluster"

rendered="$(kubectl "${context[@]}" kustomize "$dir")" || fail "kustomize could not render $dir"

if placeholders="$(grep -n 'REPLACE-ME' <<<"$rendered")"; then
  echo "deploy.sh: $dir still has placeholders; set real values (see deploy/k8s/base/secret.yaml):" >&2
  # Names only: the lines may hold real secrets next to the placeholders.
  sed -E 's/^([0-9]+):[[:space:]]*([A-Za-z0-9_.-]+):.*/  rendered line \1: \2/' <<<"$placeholders" >&2
  exit 1
fi

# The StatefulSet's namespace, for the rollout: the overlay may set one, else kubectl's default applies.
namespace="$(awk '
  /^---/ { sts = 0 }
  /^kind: StatefulSet$/ { sts = 1 }
  sts && /^  namespace: / { print $2; exit }
' <<<"$rendered")"
ns=()
[ -n "$namespace" ] && ns=(--namespace "$namespace")

if $dry_run; then
  kubectl "${context[@]}" apply -k "$dir" --dry-run=server
  exit 0
fi

kubectl "${context[@]}" apply -k "$dir"
kubectl "${context[@]}" "${ns[@]}" rollout status statefulset/claude-code-gateway --timeout "$timeout"
