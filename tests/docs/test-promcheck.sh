#!/bin/sh
# The strict Prometheus format checker on good and bad inputs.
set -e
exec python3 "${top_srcdir:-$(dirname "$0")/../..}/tests/docs/test_promcheck.py" -v
