"""The package's two compiled parts, the skeleton stage's inner loops: the ``.skeleton`` text
reader (``mmnet.datasets.ntu_format``) and pre-normalisation (``mmnet.skeleton.transforms``);
those modules say why. Everything else about the package is in ``pyproject.toml``.

``optional``: where no C compiler is found the install still succeeds, and each falls back to
its NumPy / pure-Python twin with a warning: the same values, slower (docs/running.md).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "mmnet.datasets._skeleton_text",
            ["src/mmnet/datasets/_skeleton_text.c"],
            optional=True,
        ),
        Extension(
            "mmnet.skeleton._normalize",
            ["src/mmnet/skeleton/_normalize.c"],
            extra_compile_args=["-ffp-contract=off"],
            optional=True,
        ),
    ]
)
