"""sentry-sdk 3.0 (released during session 35) removed ``before_send_transaction``, ``include_local_variables`` and
``enable_logs`` and sends transactions as spans: ``sentry_sdk.init(**init_options(...))`` raised ``TypeError: Unknown
option`` from inside the SDK, and the hooks were written for 2.x's event model. Session 35 pinned the extra to 2.x;
session 36 supports 3.x too (tests/redact/test_sentry_s36.py), and ``init_options`` names the problem and the fix
for any other major version."""

from __future__ import annotations

import pytest
import sentry_sdk.consts

from jwtobs.exceptions import ConfigurationError
from jwtobs.redact import sentry as jwtobs_sentry


def test_the_installed_sdk_is_a_supported_major() -> None:
    major = int(sentry_sdk.consts.VERSION.split(".")[0])
    assert major in jwtobs_sentry.SDK_MAJORS
    opts = jwtobs_sentry.init_options()
    assert ("before_send_transaction" in opts) is (major == 2)
    assert ("before_send_span" in opts) is (major >= 3)


@pytest.mark.parametrize("version", ["4.0.0", "1.45.0"])
def test_another_major_is_a_clear_error(version: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sentry_sdk.consts, "VERSION", version)
    with pytest.raises(ConfigurationError, match=rf"sentry-sdk {version} is installed.*sentry-sdk>=2,<4"):
        jwtobs_sentry.init_options(dsn=None)
