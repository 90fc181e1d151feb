"""Session 21: public modules of an extra that is not installed say which extra to install."""

from __future__ import annotations

import importlib
import sys

import pytest


def test_import_simulate_without_pyjwt_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: ``import jwtobs.simulate`` in a core install raised "No module named 'jwt'" (the analysis,
    integrations and OTel modules already named their extra)."""
    monkeypatch.setitem(sys.modules, "jwt", None)
    for mod in [m for m in sys.modules if m == "jwtobs.simulate" or m.startswith("jwtobs.simulate.")]:
        monkeypatch.delitem(sys.modules, mod)
    with pytest.raises(ModuleNotFoundError) as info:
        importlib.import_module("jwtobs.simulate")
    assert str(info.value) == "jwtobs.simulate needs jwt, which is not installed: pip install 'jwtobs[pyjwt]'"
    assert info.value.name == "jwt"
