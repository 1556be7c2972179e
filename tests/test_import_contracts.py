"""The core contract of .importlinter names imsuite's modules one by one (its composition roots may
import the apps); a module added to imsuite must be named there too, or lint-imports would not
look at it."""

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPOSITION_ROOTS = {"imsuite.__init__", "imsuite.asgi", "imsuite.routing", "imsuite.urls"}


def test_every_imsuite_module_is_under_the_core_contract() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    listed = set(config["importlinter:contract:core"]["source_modules"].split())
    modules = {f"imsuite.{path.stem}" for path in (ROOT / "imsuite").glob("*.py")} - COMPOSITION_ROOTS
    assert modules - listed == set()
    assert listed - modules == set()
