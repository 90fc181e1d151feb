"""Session 30: leak samples and real log lines from material the project did not write.

* Nosey Parker's rules (https://github.com/praetorian-inc/noseyparker, ``crates/noseyparker/data/default/builtin/
  rules``): each rule's examples embedded in a log line (alone, after a log prefix, in a JSON record) went through
  ``scrub()``, the stdlib logging redactor and ``jwtobs scan``; of 368 credential examples 93 leaked. Fixed here, by
  the value's shape or the sentence's: vendor keys of known shapes (Adafruit IO, Dependency-Track, Jina, Tavily, New
  Relic's admin and query keys, Pixie, crates.io, Twitch stream keys, Microsoft Teams webhook URLs), a URL's password
  holding an "@", a password stated in a sentence ("the password is 'x'", "password reset to x"), an environment
  variable's ``*_PASS``; and, on the examples that hold no secret, a template's or a shell's expression
  (``#{password}``, ``$(cat ...)``, ``{{ vault_pw }}``) and an ARN as a secret-named field's value are kept.
* lnav's log-format samples (https://github.com/tstack/lnav, ``src/formats/*.json``): an Android logcat line whose
  tag ends in "Session" and whose message starts with a method's name (``VirtualCameraSession: processCaptureRequest:
  ...``) was read as a session id.

The lines below are written for these tests in those shapes; every secret is synthetic and assembled at run time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import jwtobs
from jwtobs.redact import scrub
from tests.redact.test_leaks_s19 import MARKER, _each_redacted, _kept_and_scanned
from tests.redact.test_leaks_s22 import _run, _uuid


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key="redact-session-30-key", fingerprint_key_id="s")


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_HEX = "0123456789abcdef"
_PW = "Vq8k" + "ASAOsE1n"

# -- vendor keys of known shapes (Nosey Parker's rules) -----------------------------------------------------------
_ADAFRUIT = "aio" + "_" + _run(_ALNUM, 28, "adafruit")
_DTRACK = "odt" + "_" + _run(_ALNUM, 32, "dependency-track")
_JINA = "jina" + "_" + _run(_HEX, 32, "jina") + _run(_ALNUM, 28, "jina-2")
_TAVILY = "tvly" + "-" + _run(_ALNUM, 32, "tavily")
_TAVILY_DEV = "tvly" + "-dev-" + _run(_ALNUM, 32, "tavily-dev")
_NR_ADMIN = "NRAA" + "-" + _run(_HEX, 27, "newrelic-admin")
_NR_QUERY = "NRIQ" + "-" + _run(_ALNUM + "-_", 32, "newrelic-query")
_PIXIE = "px" + "-dep-" + _uuid("pixie")
_CRATES = "cio" + _run(_ALNUM, 32, "crates")
_TWITCH = "live" + "_126031192_" + _run(_ALNUM, 30, "twitch")
_TEAMS = (
    "outlook.office.com/webhook/"
    + _uuid("teams-group")
    + "@"
    + _uuid("teams-tenant")
    + "/IncomingWebhook/"
    + _run(_HEX, 32, "teams")
    + "/"
    + _uuid("teams-connector")
)
_TEAMS_B2 = (
    "webhook.office.com/webhookb2/"
    + _uuid("teams-group-2")
    + "@"
    + _uuid("teams-tenant-2")
    + "/IncomingWebhook/"
    + _run(_ALNUM, 32, "teams-2")
    + "/"
    + _uuid("teams-connector-2")
    + "/V2"
    + _run(_ALNUM, 40, "teams-v2")
)
VENDOR_LEAKS = [
    (f'#define IO_KEY       "{_ADAFRUIT}"', _ADAFRUIT),
    (f"uploading BOM to dtrack with key {_DTRACK}", _DTRACK),
    (f"JINA_KEY = os.getenv('JINA_KEY','{_JINA}')", _JINA),
    (f"TavilyClient(api_key={_TAVILY!r})", _TAVILY),
    (f"search failed for {_TAVILY_DEV}: 401", _TAVILY_DEV),
    (f"admin_access:{_NR_ADMIN}", _NR_ADMIN),
    (f'  "querykey": "{_NR_QUERY}",', _NR_QUERY),
    (f"MW_PX_DEPLOY_KEY={_PIXIE} helm install pixie", _PIXIE),
    (f"Bearer: {_CRATES}", _CRATES),
    (f"ffmpeg -f flv rtmp://live.twitch.tv/app/{_TWITCH}", _TWITCH),
    (f"STREAM_KEY={_TWITCH}", _TWITCH),
    (f"curl -H 'Content-Type: application/json' -d @card.json https://{_TEAMS}", _TEAMS),
    (f"notify: posting to https://contoso.{_TEAMS_B2} status=200", _TEAMS_B2),
]
VENDOR_KEPT = [
    "live_reload=true aio_version=3 odt_export=done",
    "a precious ciotola, live_2024_summary.csv",
    "NRAA-1 NRIQ-2 tvly-test px-dep-1 jina_ai",
    "https://outlook.office.com/webhook/ returned 404",
    "live_126031192_short",
]


def test_a_vendor_key_of_a_known_shape_is_redacted(tmp_path: Path) -> None:
    """Before: 12 of these 13 lines kept the key (Tavily's after ``api_key=`` was redacted as the field's value)."""
    _each_redacted(VENDOR_LEAKS, VENDOR_KEPT, tmp_path / "vendor.log")
    for text, _ in VENDOR_LEAKS:
        out = scrub(text)
        assert "[REDACTED:api_key:" in out, out


# -- a URL's password holding "@", a password stated in a sentence, an environment variable's *_PASS --------------
_AT_PW = "bria" + "@pass135!"
FORM_LEAKS = [
    (f"connecting to mongodb+srv://hpapp:{_AT_PW}@cluster0.x1y2z.mongodb.net/app?retryWrites=true", _AT_PW),
    (f"DATABASE_URL=postgres://app:{_AT_PW}@db.internal:5432/app", _AT_PW),
    (f"The password is '{_PW}'", _PW),
    (f"Your temporary password is: {_PW}", _PW),
    (f"Initial admin password is {_PW}", _PW),
    (f'Ensure the password for user "postgres" is "{_PW}".', _PW),
    (f"user bob: password reset to {_PW}", _PW),
    (f"password for alice was changed to `{_PW}`", _PW),
    (f"the password has been set to '{_PW}'", _PW),
    (f"REACT_APP_PASS={_PW[:4].lower()}duke", _PW[:4].lower() + "duke"),
    (f'export SMTP_PASS="{_PW}"', _PW),
]
FORM_KEPT = [
    "password is incorrect",
    "Password is too short",
    "password is 8 characters long",
    "The password is '%s'",
    'your password is "not set"',
    "WARNING: password is stored in plaintext",
    "password is set to the default",
    "user password was changed to a new value",
    "the password is ***",
    "Password is Expired",
    'password is "required"',
    "see https://host.example/x@v2 and mail alice@example.com",
    "db_pass=whiteduke PASS: test_login.py::test_x 1 PASS, 0 FAIL",
]


def test_a_password_in_a_url_with_an_at_stated_in_a_sentence_or_under_a_pass_name_is_redacted(tmp_path: Path) -> None:
    """Before: 7 of these 11 lines kept the password whole (stated in a sentence, an environment variable's
    ``*_PASS`` word) and the two URLs the part of it after its "@"."""
    _each_redacted(FORM_LEAKS, FORM_KEPT, tmp_path / "forms.log")
    out = scrub(FORM_LEAKS[0][0])
    assert "@cluster0.x1y2z.mongodb.net/app" in out and len(MARKER.findall(out)) == 1, out
    assert scrub(f"the password is {_PW}.").endswith("].")  # (the sentence's end kept)


# -- values that hold no secret: templates, shell expressions, ARNs; a method's name after an Android tag ----------
KEPT = [
    'text << "Password=#{password}, "',
    "PASSWORD=$(cat /run/secrets/db_password) ./start.sh",
    'password="{{ vault_db_password }}"',
    "password: {{ .Values.db.password }}",
    "password=%(db_password)s host=%(host)s",
    'token=<%= ENV["API_TOKEN"] %>',
    '"password": "&lt;YOUR_PASSWORD&gt;"',
    'IAMUserChangePassword = "arn:aws:iam::aws:policy/IAMUserChangePassword"',
    "secret=arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
    '{"SecretArn": "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x-AbCd"}',
    # lnav's logcat samples: a tag ending in "Session", then a method's name
    "05-26 11:18:41.509  1000 23402 23402 V VirtualCameraSession: processCaptureRequest: CaptureRequest "
    "{ frameNumber:102 }",
    "05-26 11:18:41.512  1000 1523 1600 D MediaSession: onPlaybackStateChanged: state=3",
    "session: onPlaybackStateChanged state=3",
]
STILL_REDACTED = [
    # the same forms holding a value
    f"password={_PW} (from $(cat /run/secrets/db))",
    f"password=arn:{_PW}",
    f"session: {_PW}",
    "session=abcdEfghIjklMnop1",
    f"password: processCaptureRequest{_PW}",
]


def test_a_template_an_arn_or_a_method_name_is_kept(tmp_path: Path) -> None:
    """Before: 10 of these lines changed (a template's or a shell's expression, an ARN under a secret's name, a
    method's name after an Android tag read as a session id)."""
    _kept_and_scanned(KEPT, [], tmp_path / "none.log")
    for line in STILL_REDACTED:
        out = scrub(line)
        assert out != line and MARKER.search(out), out
