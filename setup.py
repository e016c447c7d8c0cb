"""The package's one compiled part, the ``.skeleton`` text reader (``mmnet.datasets.ntu_format``
says why it is compiled). Everything else about the package is in ``pyproject.toml``.

``optional``: where no C compiler is found the install still succeeds, and the reader falls
back to its pure-Python line reader with a warning (the same values, parsing about 20x slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "mmnet.datasets._skeleton_text",
            ["src/mmnet/datasets/_skeleton_text.c"],
            optional=True,
        )
    ]
)
