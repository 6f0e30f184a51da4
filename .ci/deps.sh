#!/usr/bin/env bash
# System packages the tests need besides Go, installed when missing:
#   tmux      the TUI test that runs the real binary in a terminal (cmd/stridemap/tui_test.go)
#   chromium  the HTML report's screenshot test (cmd/stridemap/report_test.go)
# Debian/Ubuntu; runs apt-get through sudo when not root. Idempotent.
set -euo pipefail

missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
echo "installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
