"""Sphinx configuration for the qerror documentation.

Build (warnings are errors; the notebooks in ``../notebooks`` are executed)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

Environment variables:

``QERROR_INTERSPHINX=1``
    Link to the numpy, scipy, sympy, matplotlib and Python docs.  Off by default so
    that an offline build (CI has no internet) does not fail on fetching the
    inventories; when on, the inventories are fetched from the projects' sites, or
    read from ``docs/_intersphinx/<name>.inv`` if such a file exists.
``QERROR_NB_EXECUTE=off``
    Render the notebooks without executing them (quick local builds of the prose).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import qerror  # noqa: E402

# -- project -----------------------------------------------------------------------
project = "qerror"
author = "the qerror developers"
copyright = "the qerror developers"  # noqa: A001
version = release = qerror.__version__

# -- notebooks: ../notebooks is copied into docs/notebooks on every build ----------
# (one source of truth, no symlink; docs/notebooks is a build artefact, not committed)
_NB_SRC = ROOT / "notebooks"
_NB_DST = DOCS / "notebooks"
if _NB_SRC.is_dir():
    if _NB_DST.exists():
        shutil.rmtree(_NB_DST)
    shutil.copytree(_NB_SRC, _NB_DST, ignore=shutil.ignore_patterns(
        ".ipynb_checkpoints", "*.png", "*.npz", "*.npy"))

# -- extensions ----------------------------------------------------------------------
extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 served from _static/mathjax: no CDN, works offline
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinxcontrib.programoutput",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "_intersphinx", "Thumbs.db", ".DS_Store",
                    "**.ipynb_checkpoints"]

# MyST
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# myst-nb: execute every notebook on every build; an error fails the build
nb_execution_mode = "off" if os.environ.get("QERROR_NB_EXECUTE") == "off" else "force"
suppress_warnings = ["myst-nb.lexer"] if nb_execution_mode == "off" else []
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# text/markdown outputs (display(Markdown(...))) are parsed as MyST, with the page's
# extensions (tables, $...$ math), not as bare CommonMark
nb_render_markdown_format = "myst"

# The notebook kernels run with a private IPython directory whose kernel config raises
# the kernel application's log level: ipykernel warns "Kernel is running over TCP
# without encryption" once per kernel start (a local kernel on 127.0.0.1, nothing to
# act on).  Only the kernel process's own log is affected, not the notebooks' outputs.
_IPYDIR = DOCS / "_build" / ".ipython"
(_IPYDIR / "profile_default").mkdir(parents=True, exist_ok=True)
(_IPYDIR / "profile_default" / "ipython_kernel_config.py").write_text(
    'c.IPKernelApp.log_level = "ERROR"\n')
os.environ["IPYTHONDIR"] = str(_IPYDIR)
# the executed notebooks must draw inline: a MPLBACKEND inherited from the build's
# environment (CI sets Agg for the tests) would keep ipykernel from selecting its
# inline backend, and every notebook figure would be missing from the site
os.environ.pop("MPLBACKEND", None)

# autodoc + numpydoc
autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# intersphinx: opt-in (see the module docstring)
intersphinx_mapping: dict = {}
if os.environ.get("QERROR_INTERSPHINX") == "1":
    _SITES = {
        "python": "https://docs.python.org/3",
        "numpy": "https://numpy.org/doc/stable",
        "scipy": "https://docs.scipy.org/doc/scipy",
        "sympy": "https://docs.sympy.org/latest",
        "matplotlib": "https://matplotlib.org/stable",
    }
    for _name, _url in _SITES.items():
        _local = DOCS / "_intersphinx" / f"{_name}.inv"
        intersphinx_mapping[_name] = (_url, str(_local) if _local.exists() else None)

# -- HTML ------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"qerror {release}"
html_static_path: list = []
html_theme_options = {
    "description": "The mathematics of quantization error",
    "fixed_sidebar": True,
}
