#!/usr/bin/env bash
# Validates everything under deploy/ without a Docker engine or a cluster:
#   - bash -n on the shell scripts;
#   - the compose file: docker-compose config (schema, references, interpolation), with and
#     without the `selfhosted` profile;
#   - the Helm chart: helm lint --strict, then helm template with the default values and
#     each values-*.yaml, every rendered manifest checked by kubernetes-validate --strict
#     against the Kubernetes versions below (schemas bundled: works offline);
#   - the CP__/AW__ variables the compose file, the chart and the Dockerfiles set: each
#     section and key must be a field the services' settings structs read;
#   - negative cases: broken inputs must be rejected, so none of the above can pass by
#     checking nothing.
# Installs what it needs (helm, kubernetes-validate, docker-compose) and caches it under
# ~/.cache/outbound-calling/. Run it alone or through ./dev test.
set -euo pipefail

DEPLOY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$DEPLOY/.." && pwd)"
# shellcheck source=lib/install.sh
. "$DEPLOY/lib/install.sh"

CHART="$DEPLOY/helm/outbound-calling"
# The newest version kubernetes-validate bundles, and the oldest the chart claims (kubeVersion).
K8S_VERSIONS="${K8S_VERSIONS:-1.37.0 1.27.0}"
KUBERNETES_VALIDATE="kubernetes-validate==1.37.0"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

failures=0
fail() { printf '\033[1;31mFAIL\033[0m %s\n' "$*" >&2; failures=$((failures + 1)); }
ok() { printf '  ok  %s\n' "$*" >&2; }

# expect_failure DESCRIPTION COMMAND...: the command must fail (a negative case).
expect_failure() {
  local what=$1; shift
  if "$@" > "$WORK/negative.log" 2>&1; then
    fail "negative case passed but must be rejected: $what"
  else
    ok "rejected as it must be: $what ($(grep -m1 -iE 'error|invalid|unsupported|undefined|no field' "$WORK/negative.log" | cut -c1-110))"
  fi
}

install_tools() {
  install_helm
  install_py_tool "$KUBERNETES_VALIDATE"
  apt_install docker-compose
  HELM=$(helm_bin)
  KV="$OC_VENV/bin/kubernetes-validate"
}

check_scripts() {
  local f
  for f in "$ROOT/dev" $(find "$DEPLOY" -name '*.sh' | sort); do
    if bash -n "$f"; then ok "bash -n ${f#"$ROOT"/}"; else fail "bash -n ${f#"$ROOT"/}"; fi
  done
}

# The secrets compose requires (`${VAR:?}`): validation values, never used by a deployment.
COMPOSE_SECRETS=(JWT_SECRET=validate-jwt ENCRYPTION_KEY=validate-key WORKER_API_KEY=validate-worker
  WORKER_TOKEN_SECRET=validate-token LIVEKIT_API_SECRET=validate-livekit-secret-0123456789abcdef)
compose() { env "${COMPOSE_SECRETS[@]}" docker-compose --project-directory "$DEPLOY" -f "$1" "${@:2}"; }
compose_bare() { docker-compose --project-directory "$DEPLOY" -f "$1" "${@:2}"; }

check_compose() {
  local profile
  for profile in "" selfhosted; do
    if compose "$DEPLOY/compose.yaml" ${profile:+--profile "$profile"} config -q; then
      ok "docker-compose config ${profile:+--profile $profile}"
    else
      fail "docker-compose config ${profile:+--profile $profile}"
    fi
  done
  # The LiveKit Cloud case (no profile) must start none of the self-hosted LiveKit services,
  # and nothing outside the profile may depend on them. (docker-compose 1.x lists every
  # service whatever the profile, so read the profiles.)
  local problems
  problems=$(compose "$DEPLOY/compose.yaml" config | /usr/bin/python3 -c '
import sys, yaml
services = yaml.safe_load(sys.stdin)["services"]
local = {name for name, s in services.items() if "selfhosted" in s.get("profiles", [])}
# docker-compose 1.x lists them with their profiles; Compose v2 leaves them out.
for name in ("redis", "livekit-server", "livekit-sip"):
    if name in services and name not in local:
        print(f"{name} is not in the selfhosted profile")
for name, s in services.items():
    if name not in local:
        for dep in set(s.get("depends_on", {})) & local:
            print(f"{name} depends on {dep}, which only runs in the selfhosted profile")
')
  if [ -z "$problems" ]; then ok "compose profiles: LiveKit Cloud runs without redis/livekit-server/livekit-sip"; else fail "compose profiles: $problems"; fi
}

# validate_manifests FILE LABEL: kubernetes-validate --strict against each version.
validate_manifests() {
  local file=$1 label=$2 version
  for version in $K8S_VERSIONS; do
    if "$KV" --strict --quiet -k "$version" "$file"; then
      ok "kubernetes-validate --strict -k $version: $label"
    else
      fail "kubernetes-validate --strict -k $version: $label"
    fi
  done
}

# The internal secrets the chart requires on first install: validation values only.
chart_secrets() {
  printf 'secrets:\n  values:\n'
  printf '    %s: validate-%s\n' jwtSecret jwt encryptionKey key workerApiKey worker workerTokenSecret token
}

render_bare() {
  local newest; newest=$(printf '%s\n' $K8S_VERSIONS | sort -V | tail -n 1)
  "$HELM" template outbound "$CHART" --namespace calls --kube-version "$newest" "$@"
}

render() { render_bare -f "$WORK/chart-secrets.yaml" "$@"; }

check_chart() {
  local values name
  for values in "" "$CHART"/values-*.yaml; do
    name=${values:+$(basename "$values")}; name=${name:-default values}
    if "$HELM" lint --strict "$CHART" -f "$WORK/chart-secrets.yaml" ${values:+-f "$values"} > "$WORK/lint.log" 2>&1; then
      ok "helm lint --strict ($name)"
    else
      cat "$WORK/lint.log" >&2; fail "helm lint --strict ($name)"
    fi
    if render ${values:+-f "$values"} > "$WORK/rendered.yaml"; then
      validate_manifests "$WORK/rendered.yaml" "$name"
    else
      fail "helm template ($name)"
    fi
  done
  # The worker's grace period must outlast its drain, whatever the drain is set to.
  local grace
  grace=$(render --set agentWorker.drainTimeoutSec=120 --show-only templates/agent-worker.yaml |
    sed -n 's/^ *terminationGracePeriodSeconds: *//p')
  if [ "${grace:-0}" -gt 120 ]; then ok "worker grace period $grace s > drain 120 s"; else fail "worker grace period '$grace' does not outlast a 120 s drain"; fi
}

# env_name_known NAME: every segment of a CP__/AW__ name must be a `pub NAME:` field in the
# crate's sources, except a map's keys (the segment after OPTIONS, STORE_OPTIONS or
# LLM_ENDPOINTS). Prints the segments that are not.
env_name_known() {
  local name=$1 src seg prev="" lower status=0
  case "$name" in CP__*) src="$ROOT/control-plane/src" ;; *) src="$ROOT/agent-worker/src" ;; esac
  for seg in $(printf '%s' "${name#*__}" | sed 's/__/ /g'); do
    case "$prev" in OPTIONS|STORE_OPTIONS|LLM_ENDPOINTS) prev=""; continue ;; esac
    prev=$seg
    lower=$(printf '%s' "$seg" | tr 'A-Z' 'a-z')
    if ! grep -rqE "pub $lower:" "$src"; then
      echo "$name: no field '$lower' in ${src#"$ROOT"/}"; status=1
    fi
  done
  return $status
}

# The CP__/AW__ names the compose file, the chart and the Dockerfiles set.
check_env_names() {
  local name bad=0
  for name in $(grep -rhoE '\b(CP|AW)__[A-Z0-9_]+' "$DEPLOY/compose.yaml" "$DEPLOY"/Dockerfile.* "$CHART/templates" "$CHART/values.yaml" | sort -u); do
    case "$name" in *SECTION__KEY*) continue ;; esac   # the pattern, in comments
    env_name_known "$name" >&2 || { fail "$name is not a setting the service reads"; bad=1; }
  done
  [ $bad -eq 0 ] && ok "every CP__/AW__ name matches a settings field"
  return 0
}

check_negative_cases() {
  expect_failure "compose file with an unknown key and a missing dependency" \
    compose "$DEPLOY/tests/broken-compose.yaml" config -q
  expect_failure "manifest with an unknown field and a string port" \
    "$KV" --strict --quiet "$DEPLOY/tests/invalid-manifest.yaml"
  render --set-string controlPlane.service.port=eighty > "$WORK/bad.yaml"
  expect_failure "chart rendered with controlPlane.service.port=eighty" \
    "$KV" --strict --quiet "$WORK/bad.yaml"
  expect_failure "chart rendered without a database URL" \
    render --set secrets.values.databaseUrl=
  expect_failure "a misspelt worker setting (AW__SERVER__LISTN)" env_name_known AW__SERVER__LISTN
  expect_failure "chart rendered without the internal secrets (nothing is generated)" \
    render_bare
  expect_failure "compose without JWT_SECRET and the other secrets (no built-in defaults)" \
    compose_bare "$DEPLOY/compose.yaml" config -q
}

main() {
  local start; start=$(date +%s)
  install_tools
  chart_secrets > "$WORK/chart-secrets.yaml"
  check_scripts
  check_compose
  check_chart
  check_env_names
  check_negative_cases
  if [ $failures -gt 0 ]; then die "deploy/ validation: $failures check(s) failed"; fi
  log "deploy/ is valid ($(( $(date +%s) - start ))s)"
}

main "$@"
