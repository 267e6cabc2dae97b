#!/usr/bin/env bash
# `make demo`: a private mosquitto on loopback, the node on the synthetic street camera, and a live
# view of everything the node publishes. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${EDGE_DEMO_PORT:-18830}"
CONFIG="${EDGE_DEMO_CONFIG:-examples/demo.yaml}"
RUN="${EDGE_DEMO_DIR:-.demo}"
mkdir -p "$RUN/state"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  echo "port $PORT is already in use (another demo running?); set EDGE_DEMO_PORT to use another" >&2
  exit 1
fi

sed "s/@PORT@/$PORT/" tests/mosquitto/mosquitto.conf > "$RUN/mosquitto.conf"
broker_pid="" node_pid="" listen_pid=""
cleanup() {
  trap - INT TERM EXIT
  echo
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    echo "stopping the node…"
    kill -TERM "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  if [ -n "$listen_pid" ] && kill -0 "$listen_pid" 2>/dev/null; then
    sleep 0.5  # let the view print the node's goodbye
    kill -TERM "$listen_pid" 2>/dev/null || true
    wait "$listen_pid" 2>/dev/null || true
  fi
  if [ -n "$broker_pid" ] && kill -0 "$broker_pid" 2>/dev/null; then
    echo "stopping the broker…"
    kill -TERM "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  echo "demo stopped; node log: $RUN/node.log"
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM

# The broker, the node and the view run in sessions of their own, so Ctrl-C reaches only this script,
# which then stops them in order: the node first (it says `offline` and the view shows it), then the
# view, then the broker.
setsid "$MOSQUITTO" -c "$RUN/mosquitto.conf" 2>"$RUN/mosquitto.log" &
broker_pid=$!
for _ in $(seq 50); do
  grep -q "running" "$RUN/mosquitto.log" 2>/dev/null && break
  kill -0 "$broker_pid" 2>/dev/null || { cat "$RUN/mosquitto.log" >&2; exit 1; }
  sleep 0.1
done

# Development central keys: recordings are sealed to the central public key; the node cannot open them.
if [ ! -f "$RUN/keys/central_seal.pub" ]; then
  .venv/bin/edgectl keys --out "$RUN/keys" --device >/dev/null
fi
# A technician login for the diagnostics page (the password is shown below and kept only as a hash).
if [ ! -f "$RUN/technicians" ]; then
  umask 077
  .venv/bin/python - "$RUN/technicians" "$RUN/technician-password" <<'PY'
import secrets, sys
from edge.provision.technicians import hash_password
password = secrets.token_urlsafe(12)
open(sys.argv[1], "w").write(f"demo:{hash_password(password)}\n")
open(sys.argv[2], "w").write(password + "\n")
PY
  umask 022
fi
.venv/bin/edge validate --config "$CONFIG"
# The demo config names port 18830; a copy points at another port when EDGE_DEMO_PORT asks for one.
sed -e "s/^  port: 18830$/  port: $PORT/" -e "s|\.demo/|$RUN/|g" "$CONFIG" > "$RUN/node.yaml"
# Installation step a technician does once, and again after the camera's settings change (a new resolution
# is a new view, and the node blanks every frame until it is approved): approve the view, so tamper
# detection has its reference.
camera_key=$(sed -n '/^camera:/,/^[a-z]/p' "$RUN/node.yaml" | sha256sum | cut -c1-16)
if [ ! -f "$RUN/state/privacy/reference.npz" ] || [ "$(cat "$RUN/approved-camera" 2>/dev/null)" != "$camera_key" ]; then
  .venv/bin/edge approve-view --config "$RUN/node.yaml" --actor demo-technician 2>>"$RUN/node.log"
  echo "$camera_key" > "$RUN/approved-camera"
fi
setsid .venv/bin/python -m edge run --config "$RUN/node.yaml" 2>>"$RUN/node.log" &
node_pid=$!
cat <<MSG
edge demo: node on the synthetic street camera, broker on 127.0.0.1:$PORT
  node log:      $RUN/node.log
  recordings:    $RUN/state/recordings (sealed; open with edgectl decrypt --key $RUN/keys/central_seal.key)
  raw messages:  mosquitto_sub -p $PORT -t 'cams/#' -v
  diagnostics:   http://127.0.0.1:$(sed -n 's/^  port: \([0-9]*\)$/\1/p' "$RUN/node.yaml" | tail -n 1)  (login demo, password $(cat "$RUN/technician-password"))
Ctrl-C stops everything.

MSG
setsid .venv/bin/edgectl listen --port "$PORT" &
listen_pid=$!
# Stop when the node dies on its own, too, so a crash is visible instead of a silent view.
while kill -0 "$node_pid" 2>/dev/null && kill -0 "$listen_pid" 2>/dev/null; do
  wait -n "$node_pid" "$listen_pid" 2>/dev/null || true
done
kill "$listen_pid" 2>/dev/null || true
if ! kill -0 "$node_pid" 2>/dev/null; then
  echo "the node exited; last lines of $RUN/node.log:" >&2
  tail -n 20 "$RUN/node.log" >&2
  node_pid=""
  exit 1
fi
