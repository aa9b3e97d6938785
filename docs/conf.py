"""Sphinx configuration of l4sim's documentation (``make docs``; ``make test`` builds it too).

The pages are Markdown (MyST). The reference part is generated from the code:
the commands and options from the argparse parser of :mod:`l4sim.cli`
(sphinx-argparse), the scenario keys from the pydantic models and the cost
names from :class:`l4sim.kernel.costs.Costs` (``_ext/l4sim_reference.py``),
the Python API from the docstrings (autodoc). A warning fails the build.
"""

import os
import sys
from importlib import metadata
from pathlib import Path

# document the source as it is: the compiled builds of the hot modules carry the
# same docstrings, but their signatures come from Cython, not from the source
os.environ["L4SIM_PURE_PYTHON"] = "1"
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "l4sim"
author = "the l4sim authors"
release = metadata.version("l4sim")  # written once, in pyproject.toml
copyright = "the l4sim authors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # the docstrings' Google-style sections (Attributes:)
    "sphinxarg.ext",
    "l4sim_reference",
]

source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_ext"]
# a link to a heading of a page ("model.md#modelling-choices-worth-knowing"), as on GitHub
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
# the examples' languages that Pygments knows under another name, or not at all
highlight_language = "text"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # a class's attributes as a field list, not as objects of their own
# the names a pydantic model adds to every class say nothing about its keys
autodoc_default_options = {"exclude-members": "model_config, model_fields, model_computed_fields"}

html_theme = "furo"
html_title = f"l4sim {release}"
html_static_path: list[str] = []
