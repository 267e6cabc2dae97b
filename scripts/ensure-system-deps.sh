#!/usr/bin/env bash
# Installs the Debian / Raspberry Pi OS packages the node and its tests need, if they are missing.
set -euo pipefail
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf ] || need+=(fonts-dejavu-core)
# systemd-analyze and systemctl --root check the units (tests/test_systemd_units.py); installing the package
# in a container does not make systemd PID 1. openssl cross-checks the dev CA's certificates.
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# useradd / groupadd (tests that provision an image root as root); part of every Debian base system.
command -v useradd >/dev/null 2>&1 || [ -x /usr/sbin/useradd ] || need+=(passwd)
# Headless Chromium and its matching driver drive the diagnostics page in tests/test_diagnostics_browser.py
# (Debian's chromium-driver is built from the same source version, so the two always match).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
# `--train` (make models): the fonts the training plates are drawn with (models/training/platesynth.py).
if [ "${1:-}" = "--train" ]; then
  [ -f /usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Bold.ttf ] || need+=(fonts-roboto-unhinted)
  [ -f /usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Bold.otf ] || need+=(fonts-urw-base35)
  [ -f /usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf ] || need+=(fonts-liberation2)
  [ -f /usr/share/fonts/truetype/freefont/FreeSansBold.ttf ] || need+=(fonts-freefont-ttf)
  [ -f /usr/share/fonts/opentype/b612/B612-Bold.otf ] || need+=(fonts-b612)
  [ -f /usr/share/fonts/truetype/noto/NotoSans-Bold.ttf ] || need+=(fonts-noto-core)
fi
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The packaged broker must not hold port 1883 on a development machine; we start private instances.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet mosquitto 2>/dev/null; then
  $sudo systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
