"""The lock files: requirements/lock.txt pins every dependency pyproject.toml names (runtime and
test), within its bounds, with hashes, and this environment runs exactly those versions; make and CI
(which runs make test) install from it. The Docker image installs requirements/runtime.txt: the
same versions of the runtime part only."""

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
PATCHED = {"daphne", "autobahn", "twisted", "channels", "channels-redis", "djangorestframework"}


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(text) for text in project["dependencies"] + project["optional-dependencies"]["test"]]


def locked(lock: Path = LOCK) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes)."""
    pins: dict[str, tuple[str, list[str]]] = {}
    name = None
    for line in lock.read_text().splitlines():
        if match := re.match(r"([A-Za-z0-9_.-]+)==(\S+)", line):
            name = canonicalize_name(match[1])
            pins[name] = (match[2], [])
        elif name and (match := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            pins[name][1].append(match[1])
    return pins


def test_every_requirement_is_pinned_within_its_bounds_with_hashes():
    pins = locked()
    for requirement in pyproject_requirements():
        pinned, _ = pins[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(pinned, prereleases=True), (requirement, pinned)
    assert all(hashes for _, hashes in pins.values()), [name for name, (_, h) in pins.items() if not h]
    assert len(pins) > len(pyproject_requirements())  # their dependencies too


def test_the_patched_libraries_have_upper_bounds():
    bounded = {
        canonicalize_name(requirement.name)
        for requirement in pyproject_requirements()
        if any(spec.operator == "<" for spec in requirement.specifier)
    }
    assert bounded >= PATCHED


def test_this_environment_runs_the_locked_versions():
    drifted = {
        name: (pinned, version(name)) for name, (pinned, _) in locked().items() if version(name) != pinned
    }
    assert drifted == {}


def test_make_ci_and_the_image_install_from_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^\$\(STAMP\): pyproject\.toml \$\(LOCK\)$", makefile, re.M)
    assert "LOCK := requirements/lock.txt" in makefile
    assert "pip install $(PIP_QUIET) --require-hashes -r $(LOCK)" in makefile
    assert "pip install $(PIP_QUIET) --no-deps -e ." in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    from_lock = dockerfile.index("pip install --require-hashes -r requirements/runtime.txt")
    assert from_lock < dockerfile.index("pip install --no-deps .")


def test_the_image_lock_is_the_runtime_part_of_the_lock():
    runtime, full = locked(RUNTIME_LOCK), locked()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        assert canonicalize_name(Requirement(text).name) in runtime, text
    assert {name: pin for name, (pin, _) in runtime.items()} == {name: full[name][0] for name in runtime}
    assert all(hashes for _, hashes in runtime.values())
    for test_only in ("pytest", "playwright", "aiortc", "ruff"):
        assert test_only not in runtime
