#!/usr/bin/env bash
# First install on a fresh Raspberry Pi OS / Debian, from a copy of this source tree on the node:
#   sudo provisioning/install.sh --node-id cam-0042 --site "Meir 1" --location 51.218,4.411 \
#        --masks masks.yaml --mqtt-host broker.fleet.example --central-key commands=commands.pub ...
# Installs the few system packages a node needs (when missing), creates /opt/edge/venv with the package,
# then hands over to `edge provision` with every argument given here. Safe to run again: each step checks
# before it acts, and a second run reports "unchanged". Offline nodes: EDGE_WHEELHOUSE=/path/to/wheels.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
venv=/opt/edge/venv
if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: run as root (sudo); it creates a system user and writes /etc/edge" >&2
  exit 1
fi
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
need=()
installed python3-venv || need+=(python3-venv)
command -v useradd >/dev/null 2>&1 || need+=(passwd)
# On a Raspberry Pi the camera stack (libcamera and its Python bindings) comes from apt, not PyPI.
if grep -qi "raspberry pi" /proc/device-tree/model 2>/dev/null; then
  installed python3-picamera2 || need+=(python3-picamera2)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
pip_source=()
[ -n "${EDGE_WHEELHOUSE:-}" ] && pip_source=(--no-index --find-links "$EDGE_WHEELHOUSE")
if [ ! -x "$venv/bin/edge" ]; then
  echo "creating $venv"
  python3 -m venv --system-site-packages "$venv"
  "$venv/bin/python" -m pip install --quiet --no-cache-dir "${pip_source[@]}" "$src"
fi
# `edge provision` upgrades the venv when the source tree carries a different version.
exec "$venv/bin/edge" provision --source "$src" ${EDGE_WHEELHOUSE:+--wheelhouse "$EDGE_WHEELHOUSE"} "$@"
