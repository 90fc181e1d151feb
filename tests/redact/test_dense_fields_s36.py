"""Session 36: one line without blanks made of secret fields (an attacker's header or JSON body that an application
logs) was scrubbed in time quadratic in its length: each field read the rest of the line as the word after its
separator, or walked a chain of labels to its end, before deciding whether to extend its value over it
(``"token":"token",…`` 64 KB 0.24 s, 256 KB 3.5 s, 1 MB ~55 s; ``'pwd': ',…`` 1.3 s for 64 KB; a logging call that
stalls a request). A value's name is judged before the word is read, where a word ends and where the next marker
starts are remembered for the whole run (``scrub._Ahead``), and a value extends over at most ``scrub._EXTEND_MAX``
words: the same cost per KB at 64 KB and 256 KB (``benchmarks/bench_redact.py``, *dense secret fields*). Every field
is still redacted.
"""

from __future__ import annotations

import re
import time

import pytest

from jwtobs import config
from jwtobs.redact import scrub
from tests.redact.test_adversarial import LINEAR_RATIO

MARKER = re.compile(r"\[REDACTED:secret_field:[0-9a-z]{1,16}-[0-9a-f]{12}\]")


@pytest.fixture(autouse=True)
def _key() -> None:
    config.configure(fingerprint_key=b"redact-session-36-dense-fields", from_env=False)


def _cpu(text: str) -> float:
    start = time.thread_time()
    scrub(text)
    return time.thread_time() - start


@pytest.mark.parametrize(
    "unit",
    [
        '"token":"token",',
        '"password":"hunter2x",',
        "\"token\":\"token\",'token':'token',",
        '\\"token\\":\\"token\\",',
        "'pwd': ',",
        'password="token":"token",',
        '"secret": ?access_token=a.',
    ],
)
def test_a_line_of_secret_fields_is_scrubbed_in_linear_time(unit: str) -> None:
    small = unit * (64 * 1024 // len(unit))
    large = unit * (256 * 1024 // len(unit))
    # interleaved, the faster of two runs each: a busy moment slows neither size alone
    t_small = min(_cpu(small), _cpu(small))
    t_large = min(_cpu(large), _cpu(large))
    # linear: ~4x for 4x the text; quadratic (before): ~14x
    assert t_large < LINEAR_RATIO * max(t_small, 1e-3), (t_small, t_large)


def test_every_field_of_the_line_is_still_redacted() -> None:
    n = 500
    out = scrub("{" + '"token":"token",' * n + '"password":"s3cr3t-Value-9"}')
    assert out.count('"token":"[REDACTED:secret_field:') == n
    assert "s3cr3t-Value-9" not in out and len(MARKER.findall(out)) == n + 1
    # a secret name as a JSON value followed by another key is no (name, value) pair: the next field is read
    assert scrub('{"auth":"password","method":"basic"}') == '{"auth":"password","method":"basic"}'
    assert "s3cr3t-Value-9" not in scrub("('password', 's3cr3t-Value-9')")
