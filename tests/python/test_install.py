"""test_install.py — the package installs offline with pip and the system's build
tools (`pip install --no-build-isolation`, no index), and the installed copy finds
libxfwd through XFWD_LIBRARY_DIR and computes."""
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

import xfwd

from conftest import GOLDEN

PACKAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")


def test_pip_install(tmp_path):
    for tool in ("pip", "setuptools"):
        if importlib.util.find_spec(tool) is None:
            pytest.skip(f"{sys.executable} has no {tool} (Debian: python3-pip, python3-setuptools)")
    src = tmp_path / "src"   # a copy: pip builds in place and leaves build/ behind
    shutil.copytree(PACKAGE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-build-isolation", "--no-index",
                    "--no-deps", "--target", str(site), str(src)], check=True)
    env = dict(os.environ, PYTHONPATH=str(site))
    if os.sep in xfwd.library_path:  # the library this session loaded, wherever the child runs
        env["XFWD_LIBRARY_DIR"] = os.path.dirname(os.path.abspath(xfwd.library_path))
    code = (
        "import sys, xfwd\n"
        f"assert xfwd.__file__.startswith({str(site)!r}), xfwd.__file__\n"
        f"with xfwd.Model({os.path.join(GOLDEN, 'qwen3-tiny')!r}, backend='cpu') as m:\n"
        "    h = m.hidden([[1, 2, 3]])\n"
        "assert h[0].shape == (3, 64)\n"
        "print(xfwd.library_path)\n")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    print("installed package loaded", r.stdout.strip())
