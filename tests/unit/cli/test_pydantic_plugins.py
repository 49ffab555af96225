"""The ``sluice`` command skips Pydantic's plugin scan unless the user asks for it."""

from __future__ import annotations

import os
import subprocess
import sys

from sluice.cli import pydantic_plugins


def test_the_default_is_set_and_what_the_user_exported_wins() -> None:
    env: dict[str, str] = {}
    pydantic_plugins.skip(env)
    assert env == {"PYDANTIC_DISABLE_PLUGINS": "1"}
    env = {"PYDANTIC_DISABLE_PLUGINS": ""}  # "load them all"
    pydantic_plugins.skip(env)
    assert env == {"PYDANTIC_DISABLE_PLUGINS": ""}


def test_no_model_is_built_before_main_sets_it() -> None:
    # main() sets the default after `sluice.cli.app` is imported: a model built while
    # it imports would have scanned for plugins already (and cached what it found).
    code = (
        "import sluice.cli.app, sys;"
        "loader = sys.modules.get('pydantic.plugin._loader');"
        "print(loader is None or loader._plugins is None)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "True"
