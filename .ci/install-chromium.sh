#!/usr/bin/env bash
# Installs Debian's chromium for the HTML report's screenshot test
# (cmd/stridemap: TestHTMLReportScreenshot). Idempotent: does nothing when
# chromium is already on PATH. Needs root (or sudo) and apt.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
	echo "chromium already installed: $(command -v chromium)"
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo="sudo"
	else
		echo "install-chromium: need root or sudo to apt-get install chromium" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
$sudo apt-get install -y chromium
command -v chromium >/dev/null 2>&1 || { echo "install-chromium: chromium is still not on PATH" >&2; exit 1; }
echo "chromium installed: $(chromium --version 2>/dev/null || command -v chromium)"
