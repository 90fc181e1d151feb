"""sentry-sdk 3.0 (released during session 35) removed ``before_send_transaction``, ``include_local_variables`` and
``enable_logs`` and sends transactions as spans: ``sentry_sdk.init(**init_options(...))`` raised ``TypeError: Unknown
option`` from inside the SDK, and the hooks were written for 2.x's event model. The ``sentry`` extra now installs 2.x,
and ``init_options`` names the problem and the fix for any other major version."""

from __future__ import annotations

import pytest
import sentry_sdk.consts

from jwtobs.exceptions import ConfigurationError
from jwtobs.redact import sentry as jwtobs_sentry


def test_the_installed_sdk_is_a_supported_major() -> None:
    assert int(sentry_sdk.consts.VERSION.split(".")[0]) in jwtobs_sentry.SDK_MAJORS
    assert "before_send_transaction" in jwtobs_sentry.init_options()


@pytest.mark.parametrize("version", ["3.0.0", "3.1.2", "1.45.0"])
def test_another_major_is_a_clear_error(version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sentry_sdk.consts, "VERSION", version)
    with pytest.raises(ConfigurationError, match=rf"sentry-sdk {version} is installed.*sentry-sdk>=2,<3"):
        jwtobs_sentry.init_options(dsn=None)
