#!/usr/bin/env bash
# Prepare this checkout on Debian or Ubuntu: system packages, a virtualenv in .venv,
# and the pinned Python dependencies. Idempotent; `--test` adds what the test suite
# needs. Sourced by demo.sh and test.sh, or run on its own.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

with_test=0
[[ "${1:-}" == "--test" ]] && with_test=1

as_root() { if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# Invoice and contract PDFs need a Chromium (services/pdf.py): CRM_CHROMIUM_PATH, else
# Debian's package; without apt-get, Playwright's own download (below, once .venv exists).
need_playwright_browser=0
if [[ -z "${CRM_CHROMIUM_PATH:-}" ]] && ! command -v chromium >/dev/null; then
  if command -v apt-get >/dev/null; then missing+=(chromium); else need_playwright_browser=1; fi
fi
if [[ $with_test -eq 1 ]]; then
  # Real components the tests drive: Dovecot (IMAP), poppler (pdftotext).
  command -v dovecot >/dev/null || missing+=(dovecot-imapd)
  command -v pdftotext >/dev/null || missing+=(poppler-utils)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "Installing system packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "Python 3.11 or newer is required (found $(python3 --version))." >&2
  exit 1
}

[[ -x .venv/bin/python ]] || python3 -m venv .venv
# Reinstall only when the dependency files change. The test extras, once installed, are
# kept (and stamped) until then: a plain setup (demo.sh) after test.sh, or the other way
# round, installs nothing.
deps=$( (cat pyproject.toml constraints.txt) | sha256sum | cut -c1-16)
base_stamp=.venv/.crm-deps-$deps
test_stamp=.venv/.crm-deps-$deps-test
if [[ $with_test -eq 1 && ! -f "$test_stamp" ]] || [[ ! -f "$base_stamp" && ! -f "$test_stamp" ]]; then
  echo "Installing Python dependencies into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  extras=""
  [[ $with_test -eq 1 ]] && extras="[test]"
  .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".${extras}"
  rm -f .venv/.crm-deps-*
  touch "$base_stamp"
  if [[ $with_test -eq 1 ]]; then touch "$test_stamp"; fi
fi

if [[ $need_playwright_browser -eq 1 ]]; then
  echo "No Chromium found and no apt-get: installing Playwright's Chromium"
  .venv/bin/python -m playwright install chromium
fi
