#!/usr/bin/env bash
# Deploy one environment from a CD pipeline: validate -> plan (saved as an artifact) -> apply that plan.
#
#   scripts/deploy.sh ENV [--prune]
#
# Secrets come only from the environment the pipeline gives this script (the references in
# environments/ENV.yaml: ${env:NAME} variables, ${file:PATH:KEY} files on the runner); none is
# passed on a command line or written by it. The logic is fraudctl's; this only chains it.
#
# Exit codes (fraudctl's, passed through):
#   0  nothing to change, or the changes were applied and everything is RUNNING
#   1  the repo is invalid, the plan failed, the saved plan went stale, or apply reported problems
#   3  usage error
# The plan is written to ${FRAUD_PLAN_DIR:-build/plans}/ENV-<UTC time>.json (the artifact to keep),
# and apply's result beside it as ...-apply.json.
set -uo pipefail

if [[ $# -lt 1 || "$1" == -* ]]; then
  echo "usage: scripts/deploy.sh ENV [--prune]" >&2
  exit 3
fi
env_name="$1"
shift
prune=()
for arg in "$@"; do
  case "$arg" in
    --prune) prune=(--prune) ;;
    *) echo "scripts/deploy.sh: unknown option $arg" >&2; exit 3 ;;
  esac
done

fraudctl="${FRAUDCTL:-fraudctl}"
plans="${FRAUD_PLAN_DIR:-build/plans}"
mkdir -p "$plans"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
plan_file="$plans/$env_name-$stamp.json"

echo "== validate (offline)" >&2
"$fraudctl" validate --env "$env_name" || exit 1

echo "== plan $env_name -> $plan_file" >&2
"$fraudctl" plan --env "$env_name" "${prune[@]}" --output json >"$plan_file"
rc=$?
case $rc in
  0) echo "no changes for $env_name" >&2; exit 0 ;;
  2) ;;  # changes pending: apply exactly this plan
  *) echo "plan failed (exit $rc); see $plan_file" >&2; exit 1 ;;
esac
"$fraudctl" plan --env "$env_name" "${prune[@]}" >&2 || true  # the same plan, readable, in the log

echo "== apply $env_name (the saved plan only)" >&2
"$fraudctl" apply --env "$env_name" "${prune[@]}" --plan "$plan_file" --auto-approve --output json \
  >"${plan_file%.json}-apply.json"
rc=$?
[[ $rc -eq 0 ]] && echo "applied $env_name" >&2 || echo "apply failed (exit $rc); see ${plan_file%.json}-apply.json" >&2
exit $rc
