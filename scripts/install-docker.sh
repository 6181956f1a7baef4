#!/usr/bin/env bash
# Installs what real-Docker tests and the demo need, from Debian's packages, when missing:
# the engine (dockerd, from docker.io) and debootstrap (builds the offline python image).
# Runs unattended (CI, no stdin); as root, or through passwordless sudo.
set -euo pipefail
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
export DEBIAN_FRONTEND=noninteractive
echo "installing ${need[*]} (apt-get)"
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
