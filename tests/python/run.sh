#!/usr/bin/env bash
# run.sh PYTHON LIBRARY_DIR PACKAGE_DIR TEST_FILE — one file of tests/python under
# pytest, with the package from PACKAGE_DIR over the libxfwd.so in LIBRARY_DIR.
# Skipped (77) where PYTHON is missing or lacks numpy or pytest (a build carried to
# another machine), rather than failed.
set -u
py=$1 libdir=$2 package=$3 file=$4
if [ ! -x "$py" ] || ! "$py" -c "import numpy, pytest" 2>/dev/null; then
  echo "skipped: $py with numpy and pytest not found (Debian: python3-numpy python3-pytest; or -DXFWD_PYTHON=...)"
  exit 77
fi
export XFWD_LIBRARY_DIR=$libdir PYTHONPATH=$package${PYTHONPATH:+:$PYTHONPATH} PYTHONDONTWRITEBYTECODE=1
exec "$py" -m pytest -q -rs -p no:cacheprovider "$file"
