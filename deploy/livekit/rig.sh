#!/usr/bin/env bash
# LiveKit test rig on loopback: Redis, livekit-server, livekit-sip and scripted SIP callees
# (sipp) standing in for the carrier.
#
#   deploy/livekit/rig.sh install            install what is missing (apt, go install), cached
#   deploy/livekit/rig.sh start [--no-sip]   start Redis, livekit-server and livekit-sip
#   deploy/livekit/rig.sh callee NAME SCENARIO [SIPP ARGS...]
#                                            start a sipp callee (SCENARIO: answer, busy,
#                                            decline, no-answer, hangup, or an .xml path)
#   deploy/livekit/rig.sh env                print the rig's ports and keys (shell syntax)
#   deploy/livekit/rig.sh token [GRANTS]     print an HS256 access token for the rig's key
#                                            (GRANTS: JSON claims, default SIP + room admin)
#   deploy/livekit/rig.sh twirp SERVICE/METHOD JSON
#                                            call the Twirp API, e.g. twirp SIP/ListSIPOutboundTrunk '{}'
#   deploy/livekit/rig.sh stop               stop everything the rig started
#
# Or source it and call the functions (install_livekit_tools, start_redis,
# start_livekit_server, start_livekit_sip, start_callee, stop_all). Every function is
# idempotent: a running component is reused, a cached binary is not rebuilt.
#
# State (configs, pid files, logs, ports) lives in $LK_RIG_DIR (default target/livekit-rig
# in the checkout). Binaries are cached per version under $LK_BIN_CACHE (default
# ~/.cache/outbound-calling/go-bin/NAME-VERSION), so a second run builds nothing.
#
# --no-sip starts Redis and livekit-server only: the SIP API then answers
# CreateSIPParticipant with 503 {"code":"unavailable","msg":"twirp error unknown: no
# response from servers"}. It is for checks that need no SIP, never a stand-in for it.
set -euo pipefail

RIG_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RIG_ROOT="$(cd "$RIG_SRC/../.." && pwd)"

# apt_install, go_install, install_livekit_server, livekit_server_bin, log, die (shared with
# ./dev). LK_BIN_CACHE, LK_BUILD_JOBS, LK_GO_TOOLCHAIN and LK_SERVER_VERSION still apply.
# shellcheck source=../lib/install.sh
. "$RIG_SRC/../lib/install.sh"
LK_BIN_CACHE="$OC_GO_BIN"
LK_RIG_DIR="${LK_RIG_DIR:-$RIG_ROOT/target/livekit-rig}"
LK_API_KEY="${LK_API_KEY:-devkey}"
# livekit-server v1.13 wants 32+ characters ("secret is too short" otherwise).
LK_API_SECRET="${LK_API_SECRET:-rig-secret-for-loopback-tests-only-0123456789}"
LK_LOG_LEVEL="${LK_LOG_LEVEL:-debug}"
LK_START_TIMEOUT="${LK_START_TIMEOUT:-60}"

# --- ports -------------------------------------------------------------------------------

# Ports taken by any TCP or UDP socket (listening or bound) on this machine.
used_ports() {
  ss -Htuan 2>/dev/null | awk '{ n = split($5, a, ":"); print a[n] }' | sort -un
}

# free_port BASE [COUNT]: the first port >= BASE such that BASE..BASE+COUNT-1 are all
# unused for TCP and UDP and not handed out earlier in this run.
RIG_TAKEN=" "
free_port() {
  local base=$1 count=${2:-1} used port p ok
  used=" $(used_ports | tr '\n' ' ') "
  for port in $(seq "$base" $(( base + 2000 ))); do
    ok=1
    for p in $(seq "$port" $(( port + count - 1 ))); do
      case "$used$RIG_TAKEN" in *" $p "*) ok=0; break ;; esac
    done
    if [ $ok -eq 1 ]; then
      for p in $(seq "$port" $(( port + count - 1 ))); do RIG_TAKEN="$RIG_TAKEN$p "; done
      echo "$port"; return 0
    fi
  done
  die "no $count free port(s) near $base"
}

# --- state -------------------------------------------------------------------------------

state_file() { echo "$LK_RIG_DIR/$1"; }

# running NAME: true when NAME.pid names a live process.
running() {
  local pidf; pidf=$(state_file "$1.pid")
  [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null
}

# save_env KEY VALUE: record a port or setting in rig.env (sourced by `env` and by tests).
save_env() {
  local f; f=$(state_file rig.env)
  touch "$f"
  grep -v "^$1=" "$f" > "$f.tmp" || true
  printf '%s=%q\n' "$1" "$2" >> "$f.tmp"
  mv "$f.tmp" "$f"
}

load_env() {
  local f; f=$(state_file rig.env)
  # shellcheck disable=SC1090
  [ -f "$f" ] && . "$f"
  return 0
}

# render TEMPLATE OUT: replace every {{NAME}} by the value of the shell variable NAME.
render() {
  local tmpl=$1 out=$2 text name
  text=$(cat "$tmpl")
  for name in $(grep -o '{{[A-Z0-9_]*}}' "$tmpl" | tr -d '{}' | sort -u); do
    [ -n "${!name:-}" ] || die "render $tmpl: $name is not set"
    text=${text//"{{$name}}"/"${!name}"}
  done
  printf '%s\n' "$text" > "$out"
}

# wait_until SECONDS DESCRIPTION PIDNAME COMMAND...: retry COMMAND until it succeeds; give up
# (showing the log) when the time is over or the process died.
wait_until() {
  local timeout=$1 what=$2 name=$3; shift 3
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if ! running "$name"; then
      tail -n 40 "$(state_file "$name.log")" >&2 || true
      die "$what exited during start-up (log: $(state_file "$name.log"))"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 40 "$(state_file "$name.log")" >&2 || true
      die "$what not healthy after ${timeout}s (log: $(state_file "$name.log"))"
    fi
    sleep 0.5
  done
}

# spawn NAME COMMAND...: start COMMAND in the background, logging to NAME.log.
spawn() {
  local name=$1; shift
  mkdir -p "$LK_RIG_DIR"
  nohup "$@" > "$(state_file "$name.log")" 2>&1 < /dev/null &
  echo $! > "$(state_file "$name.pid")"
}

# --- installing --------------------------------------------------------------------------

install_rig_packages() {
  # ss (iproute2) finds free ports, curl checks health, sipp (package sip-tester) is the callee.
  apt_install iproute2 curl redis-server sip-tester
}

install_livekit_tools() {
  install_rig_packages
  install_livekit_server
  [ "${1:-}" = "--no-sip" ] || install_livekit_sip
}

server_bin() { livekit_server_bin; }
sip_bin() { livekit_sip_bin; }

# --- starting ----------------------------------------------------------------------------

start_redis() {
  mkdir -p "$LK_RIG_DIR"
  load_env
  if running redis; then log "Redis already running on 127.0.0.1:$REDIS_PORT"; return 0; fi
  command -v redis-server >/dev/null || apt_install redis-server
  REDIS_PORT=$(free_port 16379)
  save_env REDIS_PORT "$REDIS_PORT"
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  # In-memory only: no RDB/AOF files, nothing survives a stop.
  spawn redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --dir "$LK_RIG_DIR" --daemonize no --protected-mode yes
  wait_until "$LK_START_TIMEOUT" "Redis" redis redis_ok
}

redis_ok() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

start_livekit_server() {
  mkdir -p "$LK_RIG_DIR"
  load_env
  if running livekit-server; then
    log "livekit-server already running on 127.0.0.1:$LK_HTTP_PORT"; return 0
  fi
  [ -n "${REDIS_PORT:-}" ] && running redis || start_redis
  local bin; bin=$(server_bin)
  [ -x "$bin" ] || install_livekit_server
  LK_HTTP_PORT=$(free_port 17880)
  LK_RTC_TCP_PORT=$(free_port $(( LK_HTTP_PORT + 1 )))
  LK_RTC_UDP_PORT=$(free_port $(( LK_RTC_TCP_PORT + 1 )))
  save_env LK_HTTP_PORT "$LK_HTTP_PORT"
  save_env LK_RTC_TCP_PORT "$LK_RTC_TCP_PORT"
  save_env LK_RTC_UDP_PORT "$LK_RTC_UDP_PORT"
  save_env LIVEKIT_URL "ws://127.0.0.1:$LK_HTTP_PORT"
  save_env LIVEKIT_API_KEY "$LK_API_KEY"
  save_env LIVEKIT_API_SECRET "$LK_API_SECRET"
  render "$RIG_SRC/livekit-server.yaml.tmpl" "$(state_file livekit-server.yaml)"
  log "starting livekit-server $LK_SERVER_VERSION on 127.0.0.1:$LK_HTTP_PORT (rtc tcp $LK_RTC_TCP_PORT, udp $LK_RTC_UDP_PORT)"
  spawn livekit-server "$bin" --config "$(state_file livekit-server.yaml)"
  # GET / answers 200 "OK" once the HTTP server (signalling and Twirp) is up.
  wait_until "$LK_START_TIMEOUT" "livekit-server" livekit-server livekit_server_ok
}

livekit_server_ok() {
  [ "$(curl -fsS --max-time 2 "http://127.0.0.1:$LK_HTTP_PORT/" 2>/dev/null)" = "OK" ]
}

start_livekit_sip() {
  mkdir -p "$LK_RIG_DIR"
  load_env
  if running livekit-sip; then log "livekit-sip already running on 127.0.0.1:$SIP_PORT"; return 0; fi
  running livekit-server || start_livekit_server
  load_env
  local bin; bin=$(sip_bin)
  [ -x "$bin" ] || install_livekit_sip
  SIP_PORT=$(free_port 15060)
  SIP_HEALTH_PORT=$(free_port 18090)
  SIP_RTP_START=$(free_port 30000 100)
  SIP_RTP_END=$(( SIP_RTP_START + 99 ))
  save_env SIP_PORT "$SIP_PORT"
  save_env SIP_HEALTH_PORT "$SIP_HEALTH_PORT"
  save_env SIP_RTP_START "$SIP_RTP_START"
  save_env SIP_RTP_END "$SIP_RTP_END"
  render "$RIG_SRC/sip.yaml.tmpl" "$(state_file sip.yaml)"
  log "starting livekit-sip $LK_SIP_VERSION on 127.0.0.1:$SIP_PORT (rtp $SIP_RTP_START-$SIP_RTP_END)"
  spawn livekit-sip "$bin" --config "$(state_file sip.yaml)"
  wait_until "$LK_START_TIMEOUT" "livekit-sip" livekit-sip livekit_sip_ok
}

livekit_sip_ok() {
  [ "$(curl -fsS --max-time 2 "http://127.0.0.1:$SIP_HEALTH_PORT/" 2>/dev/null)" = "OK" ]
}

# start_callee NAME SCENARIO [SIPP ARGS...]: a sipp UAS on 127.0.0.1 playing the carrier's
# callee. SCENARIO is answer, busy, decline, no-answer, hangup (deploy/livekit/sipp/callee-*.xml)
# or a scenario file. It takes calls until stopped; point an outbound trunk's address at
# 127.0.0.1:$CALLEE_<NAME>_PORT. Extra args go to sipp, e.g. -d 2000 (ring time in ms) or
# -set talk_ms 5000 (hangup).
start_callee() {
  local name=$1 scenario=$2; shift 2
  [[ "$name" =~ ^[a-z0-9_]+$ ]] || die "callee name must be [a-z0-9_]+: $name"
  mkdir -p "$LK_RIG_DIR"
  load_env
  local var; var="CALLEE_$(printf '%s' "$name" | tr 'a-z' 'A-Z')_PORT"
  if running "callee-$name"; then log "callee $name already running on 127.0.0.1:${!var}"; return 0; fi
  command -v sipp >/dev/null || apt_install sip-tester
  local file="$scenario"
  [ -f "$file" ] || file="$RIG_SRC/sipp/callee-$scenario.xml"
  [ -f "$file" ] || die "no sipp scenario $scenario"
  local port media
  port=$(free_port 15070)
  media=$(free_port 31000 4)
  save_env "$var" "$port"
  log "starting callee $name ($(basename "$file")) on 127.0.0.1:$port"
  # -rtp_echo sends the caller's RTP back from the SDP's media port; -aa answers stray INFO,
  # NOTIFY, OPTIONS and UPDATE with 200; -trace_msg logs every SIP message to callee-NAME.msg.
  spawn "callee-$name" sipp -sf "$file" -i 127.0.0.1 -p "$port" -mi 127.0.0.1 -mp "$media" \
    -rtp_echo -aa -nostdin -trace_msg -message_file "$(state_file "callee-$name.msg")" \
    -trace_err -error_file "$(state_file "callee-$name.err")" "$@"
  wait_until "$LK_START_TIMEOUT" "callee $name" "callee-$name" udp_listening "$port"
}

udp_listening() { ss -Hlnu "sport = :$1" 2>/dev/null | grep -q .; }

# --- stopping ----------------------------------------------------------------------------

stop_one() {
  local name=$1 pidf pid i
  pidf=$(state_file "$name.pid")
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidf"
}

stop_all() {
  [ -d "$LK_RIG_DIR" ] || return 0
  local f
  for f in "$LK_RIG_DIR"/callee-*.pid; do
    [ -e "$f" ] && stop_one "$(basename "$f" .pid)"
  done
  stop_one livekit-sip
  stop_one livekit-server
  stop_one redis
  rm -f "$(state_file rig.env)"
  log "LiveKit rig stopped"
}

# --- manual checks -----------------------------------------------------------------------

# rig_token [GRANTS_JSON]: a LiveKit access token (JWT, HS256) for the rig's key pair, valid
# for 10 minutes; GRANTS_JSON is merged into the claims (default: room and SIP admin).
rig_token() {
  local grants='{"video":{"roomCreate":true,"roomList":true,"roomAdmin":true},"sip":{"admin":true,"call":true}}'
  [ -n "${1:-}" ] && grants=$1
  load_env
  python3 - "${LIVEKIT_API_KEY:-$LK_API_KEY}" "${LIVEKIT_API_SECRET:-$LK_API_SECRET}" "$grants" <<'PY'
import base64, hashlib, hmac, json, sys, time
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
key, secret, grants = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
now = int(time.time())
claims = {"iss": key, "sub": "rig", "nbf": now - 5, "exp": now + 600, **grants}
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
body = b64(json.dumps(claims, separators=(",", ":")).encode())
sig = b64(hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
}

# rig_twirp SERVICE/METHOD JSON [GRANTS_JSON]: POST /twirp/livekit.SERVICE/METHOD.
rig_twirp() {
  load_env
  [ -n "${LK_HTTP_PORT:-}" ] || die "the rig is not running (deploy/livekit/rig.sh start)"
  curl -sS -w '\n' -X POST -H "Authorization: Bearer $(rig_token "${3:-}")" \
    -H 'Content-Type: application/json' \
    "http://127.0.0.1:$LK_HTTP_PORT/twirp/livekit.$1" -d "$2"
}

# --- command line ------------------------------------------------------------------------

rig_main() {
  case "${1:-}" in
    install) shift; install_livekit_tools "$@" ;;
    start)
      shift
      install_livekit_tools "$@"
      start_redis
      start_livekit_server
      [ "${1:-}" = "--no-sip" ] || start_livekit_sip
      cat "$(state_file rig.env)"
      ;;
    callee) shift; [ $# -ge 2 ] || die "usage: rig.sh callee NAME SCENARIO [SIPP ARGS...]"; start_callee "$@" ;;
    env) [ -f "$(state_file rig.env)" ] || die "the rig is not running"; cat "$(state_file rig.env)" ;;
    token) shift; rig_token "$@" ;;
    twirp) shift; [ $# -ge 2 ] || die "usage: rig.sh twirp SERVICE/METHOD JSON [GRANTS_JSON]"; rig_twirp "$@" ;;
    stop) stop_all ;;
    *) echo "usage: deploy/livekit/rig.sh install [--no-sip] | start [--no-sip] | callee NAME SCENARIO [ARGS] | env | token [GRANTS] | twirp SERVICE/METHOD JSON | stop" >&2; exit 2 ;;
  esac
}

# Run as a command, or source it for the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then rig_main "$@"; fi
