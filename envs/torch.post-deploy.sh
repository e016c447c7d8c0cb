#!/usr/bin/env bash
# Snakemake runs this once after creating the env (with the env active, from the working
# directory): install this checkout's mmnet package into it without touching its pins.
set -euo pipefail
pip install --no-deps "${MMNET_SOURCE:-$PWD}"
