"""The prefilter's trigger expressions and the pure-Python engine's keywords, built from the detectors of
:mod:`jwtobs.redact.patterns`.

The expressions are a superset of every detector: a line the scrubber would change always matches one of them
(``tests/redact/test_scan.py`` checks it against scrubbing every line). They are built from the detectors' own
name lists (secret stems, query parameter names) and keep only the benign field names that
``patterns.NOT_SECRET`` still excludes, so a change there can only make the prefilter looser, never miss a
detection. Every expression is valid for Hyperscan and for Python's ``re``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from jwtobs.redact import _regex
from jwtobs.redact import patterns as p

_NAME: Final = r"[A-Za-z0-9_\-]"
# JWS/JWE: a header of 8+ base64 characters starting "ew"/"ey" (the only starts of a JSON object header,
# see patterns.is_header), then two more dot-separated segments; padding and dots possibly percent-encoded; "+"
# and "/" too (a token in the standard alphabet: patterns.STD_JOSE). Case-sensitive; no condition on what precedes
# (tokens glued to words or escapes are found too).
_B64: Final = r"[A-Za-z0-9_\-+/]"
_PAD: Final = p.PAD_ONE + "{0,2}"
_DOT: Final = p.DOT
_T_JOSE: Final = r"e[wy]" + _B64 + r"{6,}" + _PAD + _DOT + _B64 + r"*" + _PAD + _DOT
# "Name: value" forms: the separator of patterns._SEP up to the value.
_T_SEP: Final = r"""(?:(?:\\\\){0,3}\\?["'])?[\]>]{0,2}[ \t]*(?:[:=]|,)"""  # (config["password"] = ...)
# (a name closed by "]" without a quote: PHP's print_r "[password] => x"; by Erlang's binary '<<"token">>, <<"x">>')
_T_AUTH: Final = r"authorization" + _T_SEP
_T_COOKIE: Final = r"cookie(?:" + _T_SEP + r"|\(version=)"  # (and the repr of http.cookiejar's Cookie)
_T_SCHEME: Final = r"(?:bearer|basic|dpop)" + p.SCHEME_GAP + r"(?:[A-Za-z0-9\-._~+/]|\\/|\\u00(?:2[BbFf]|3[Dd])){8}"
# URL userinfo: "://user:password@" (URL_USERINFO's own shape, the password possibly empty). Without the "://"
# ("Thread:Class@123", "[QuorumPeer:Server@774]", "user:x@host" in mail logs) 8 % of the lines of real system logs
# matched: 92 % of all candidate lines were clean lines scrubbed for nothing.
_T_USERINFO: Final = r"""(?:://|netloc=["'])[^\s/:@"'<>]*:[^\s/@"'<>]*@"""  # (netloc=: a SplitResult's repr)
# A token as the URL's user, no password (patterns.URL_USER: "https://<token>@github.com"; with ":x-oauth-basic" the
# form above): 20 of its characters or more before the "@"
_T_URL_USER: Final = r"""(?:://|netloc=["'])[A-Za-z0-9_.~\-]{20,}@"""
# The same written with value escapes (patterns.ESCAPED_URL_LEAD: PHP's JSON "https:\/\/u:pw@h", a URL percent-encoded
# in a query value "https%3A%2F%2Fu%3Apw%40h"), and the data source name of Go's MySQL driver (patterns.GO_DSN:
# "user:pw@tcp(host:3306)/db"); looser than the detectors (any user and password characters but blanks, quotes, "/").
_T_USERINFO_JSON: Final = r"""(?::\\/\\/|:\\u002[Ff]\\u002[Ff])[^\s/"'<>]*@"""
_T_USERINFO_PERCENT: Final = r"""%3[Aa]%2[Ff]%2[Ff][^\s/"'<>&]*(?:@|%40)"""
_T_GO_DSN: Final = r"""[^\s/:@"'<>()\[\]]*:[^\s/@"'<>]*@(?:tcp6?|udp|unix)\("""
# A userinfo cut short before its "@" (patterns.URL_USERINFO_CUT): a password with a character no port has, or 6+
# digits; wherever the line goes on (the detector wants a cut mark after it).
_T_USERINFO_CUT: Final = r"""://[^\s/:@"'<>\[\]]*:(?:[0-9]*[^\s/@"'<>0-9]|[0-9]{6})"""
_T_USERINFO_ALL: Final = (
    "(?:"
    + "|".join((_T_USERINFO, _T_URL_USER, _T_USERINFO_JSON, _T_USERINFO_PERCENT, _T_GO_DSN, _T_USERINFO_CUT))
    + ")"
)
# A line of a credential file: netrc's "machine h [login u] password X" (patterns.NETRC, caseless), PostgreSQL's
# "host:port:db:user:password" (patterns.PGPASS, from its literal hint)
_T_NETRC: Final = r"(?:machine|default)[ \t][^\n]*password[ \t]+[^\s]"
# A validation error's input under its field's path, on one line (pydantic's errors(), FastAPI's 422 body:
# patterns.VALIDATION_INPUT; its str() form puts the path on the line before, which a line reader cannot join).
_T_VALIDATION: Final = r"""['"]loc['"]:[ \t]*[\[(]"""
# A SQL statement's password (patterns.SQL_PASSWORD): "PASSWORD 'x'", "PASSWORD('x')", "IDENTIFIED [WITH p] BY ".
_T_SQL_PASSWORD: Final = (
    r"""(?:password(?:[ \t]+|[ \t]*\([ \t]*)["']|identified[ \t]+(?:with[ \t]+[A-Za-z0-9_]+[ \t]+)?by[ \t]"""
    r"""|set[ \t]+password[ \t]+for[ \t]+[^\s=]+[ \t]*=)"""  # (MySQL's "SET PASSWORD FOR 'bob'@'%' = 'x'")
)
# A password stated in a sentence (patterns.STATED_PASSWORD): "password [for <user>] is|was|[re]set to|changed to" and
# a value; looser (any 0-160 characters between the word and the verb).
_T_STATED_PASSWORD: Final = r"pass(?:word|phrase|code|wd)[^\n]{0,160}?[ \t](?:is|was|to)(?:[ \t]*:)?[ \t]+[^\s]"
# A variable given as a name and a value on one line (patterns.NAME_VALUE: {"name": "DB_PASSWORD", "value": ...},
# ParameterKey=X,ParameterValue=...), up to the separator after "value".
_T_Q: Final = r"""(?:\\?["'])?"""
_T_NAME_VALUE: Final = (
    rf"""(?:name|key){_T_Q}[ \t]*[:=][ \t]*{_T_Q}[A-Za-z_/][A-Za-z0-9_.\-/]*{_T_Q}(?:[ \t]*[,;][ \t]*|[ \t]+){_T_Q}"""
    rf"""(?:value|parametervalue){_T_Q}[ \t]*[:=]"""
)
# A (user, password) pair given to an HTTP client (patterns.AUTH_PAIR), up to the password's opening quote.
_T_AUTH_PAIR: Final = (
    r"""(?:auth(?:[ \t]*[=:][ \t]*(?:[A-Za-z_][A-Za-z0-9_.]*auth[ \t]*)?)?|login|simple_bind(?:_s)?\(?)[(\[][ \t]*"""
    r"""(?:'[^'\\\r\n]*'|"[^"\\\r\n]*")[ \t]*,[ \t]*["']"""
)
# A SASL initial response (patterns.SASL_RESPONSE): "AUTH PLAIN " and its first characters.
_T_SASL: Final = r"auth(?:enticate)?[ \t]+(?:plain|xoauth2|oauthbearer)[ \t]+[A-Za-z0-9+/]{4}"
# A login sent in the clear (patterns.PROTOCOL_LOGIN, case-sensitive): "PASS x", "AUTH x", "A1 LOGIN u x", '"AUTH" "x"'.
_T_PROTOCOL: Final = (
    r"(?:PASS|AUTH) [^\s'\\]|[0-9] LOGIN [^\s'\\]|\"(?:AUTH|auth)2?\" \"|(?:ACL|acl)\"? \"?(?:SETUSER|setuser)[ \"]"
)
# Oracle's thin JDBC URL with its credentials (patterns.JDBC_ORACLE), up to its "@".
_T_JDBC_ORACLE: Final = r"""jdbc:oracle:thin:[^\s/@:"']+/[^\s@"'\[][^\s@"']*@"""
# A command whose positional argument is a secret (patterns.CLI_POSITIONAL: "vault login X", "net use ... X").
# (Windows' programs also by their file's name: "schtasks.exe /p", "psexec64.exe", '"C:\\...\\net.exe" user')
_T_CLI_POSITIONAL: Final = (
    "(?:" + "|".join(re.escape(c) for c in p.CLI_POSITIONAL_WORDS) + r')[0-9]{0,2}(?:\.exe)?"?[ \t]'
)
# A password given to an IRC nickname service (patterns.NICKSERV): the service's name (or the "/ns" alias) and the
# command (patterns.NICKSERV_WORDS: the python engine's keywords).
_T_NICKSERV: Final = r"(?:nickserv[^\n]*|ns )(?:" + "|".join(p.NICKSERV_COMMANDS) + r")[ \t]"
# A logon "user/password@connect" given to one of Oracle's clients (patterns.ORACLE_LOGONS), caseless.
_T_ORACLE_LOGON: Final = "(?:" + "|".join(p.ORACLE_CLIENTS) + r")[^\n]*/[^\n]*@"
# A password set with chpasswd (patterns.CHPASSWD), ConvertTo-SecureString's parameter in PowerShell's module logging
# (patterns.PS_SECURESTRING_BINDING): their literal words.
_T_CHPASSWD: Final = (  # (and patterns.STDIN_PASSWD's readers, patterns.STDIN_PASSWD_TWICE's "x\\nx" piped to passwd)
    r"chpasswd|passwd[^\n]*(?:--stdin|[ \t]-[sf])|(?:echo|printf)[^\n]*\|[^\n]*(?:passwd|" + p.STDIN_LOGIN_WORD + ")"
)  # (session 38: one line echoed into passwd, or into a login's --password-stdin)
# The Cowrie honeypot's login line (patterns.COWRIE_LOGIN), caseless.
_T_COWRIE_LOGIN: Final = (
    r"login attempt \[[^\n]*\] (?:failed|succeeded)|login return, expect: \[[^\n]*/[^\n]*\]"
    r"|will auth with backend: [^\n]*/"
)
# A value a CI log's command declares secret (patterns.CI_SECRET), caseless.
_T_CI_SECRET: Final = r"::add-mask::|##vso\[task\.set(?:secret\]|variable[^\n]*issecret=true)"
# Session 39's forms in their tools' own words, caseless: a HashiCorp token's "SecretID: <uuid>" (patterns.SECRET_ID),
# Vault's "Unseal Key 1: <key>" (patterns.VAULT_KEY_LINE), a secret-named object's "value" member (patterns.
# NAMED_OBJECT_VALUE: '"db_password": {"value": "x"}', up to the member's quote), Dovecot's "AUTH<TAB>1<TAB>PLAIN<TAB>
# ...resp=<base64>" (patterns.DOVECOT_AUTH_RESP).
_T_SECRET_ID: Final = (
    r"""secret[ _\-]?id(?:\\?["'])?(?:[ \t]*[:=][ \t]*(?:\\?["'])?|[ \t]+)[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-"""
)
_T_VAULT_KEY: Final = r"(?:unseal|recovery) key [0-9]{1,3}:[ \t]+[A-Za-z0-9+/]{16}"
_T_NAMED_OBJECT: Final = r"""\\?"[ \t]*:[ \t]*\{[^\n]*\\?"value\\?"[ \t]*:[ \t]*\\?"[^"\\\n]"""
_T_DOVECOT_RESP: Final = r"auth\t[0-9]{1,10}\t(?:plain|xoauth2|oauthbearer)\t[^\n]*resp=[A-Za-z0-9+/]{4}"
# A password after its clear scheme's name (patterns.CLEAR_SCHEME: "{PLAIN}x"), an LDIF attribute's base64 value
# (patterns.LDIF_B64: "userPassword:: x", any name: the scrubber judges it), caseless.
_T_CLEAR_SCHEME: Final = r"""\{(?:plain|cleartext|clear)\}[^\s"'\\,;:]"""
_T_LDIF_B64: Final = r"[A-Za-z][A-Za-z0-9\-;]*::[ \t]+[A-Za-z0-9+/]{4}"
# A Netscape cookie file's line (patterns.COOKIE_JAR_LINE), caseless: the flags, the path, the expiry, the name.
_T_COOKIE_JAR: Final = r"\t(?:true|false)\t/[^\t\n]*\t(?:true|false)\t-?[0-9]+\t[^\t\n]+\t[^\t\n]"
_T_PS_BINDING: Final = r"parameterbinding\(convertto-securestring\)"
# An auditd record's command line (patterns.AUDIT_WORDS: EXECVE's argument count, PROCTITLE's field).
_T_AUDIT: Final = "(?:" + "|".join(re.escape(w) for w in p.AUDIT_WORDS) + ")"
# A request's signature as a hex digest after its name (patterns.HEX_SIGNATURE), caseless.
_T_HEX_SIGNATURE: Final = r"""signature(?:\\?["'])?[ \t]*[:=][ \t]*(?:\\?["']|\r?\n|(?:\\r)?\\n)?[ \t]*[0-9a-f]{32}"""
# A webhook's signature after its header's name (patterns.WEBHOOK_SIGNATURE), caseless: the name's last word, a
# separator, then a MAC's first 22 characters anywhere after it on the line.
_T_WEBHOOK_SIGNATURE: Final = (
    r"""(?:signature|hmac)[A-Za-z0-9_\-]{0,8}(?:\\?["'])?[ \t]*[:=,][^\n]*[A-Za-z0-9+/_\-]{22}"""
)
# An HTML meta element's name and content (patterns.META_CONTENT), caseless, up to the content's quote.
_T_META_CONTENT: Final = (
    r"""name[ \t]*=[ \t]*\\?["'][A-Za-z_][A-Za-z0-9_.\-]*\\?["'][ \t\r\n]+content[ \t]*=[ \t]*\\?["']"""
)
# Composer's tokens for a host (patterns.COMPOSER_AUTH, patterns.COMPOSER_CONFIG), caseless: the auth kind, then an
# object's "{" or the host after a ".".
_T_COMPOSER: Final = (
    p._COMPOSER_KINDS + r"""\\?"[ \t]*:[ \t\r\n]*\{"""
    r"|(?:" + p._COMPOSER_KINDS + r"|http-basic)\.[A-Za-z0-9]"
)
# A CAS ticket outside a query (patterns.CAS_TICKET_TEXT, case-sensitive): a prefix, its counter, a random part
# holding a run of 16 letters and digits (patterns.cas_ticket).
_T_CAS_TICKET: Final = p.CAS_TICKET_HINT + r"[0-9]*-[A-Za-z0-9_.\-]*[A-Za-z0-9]{16}"
# An OAuth code in a form body ("code=..." outside a query string).
_T_FORM_CODE: Final = r"code(?:=|%3[dD])"
# The same code as a quoted name's quoted value in a dict or JSON object (patterns.DICT_CODE), caseless.
_T_DICT_CODE: Final = r"""["']code\\?["'][ \t]*:[ \t]*\\?["'][a-z0-9_.~+/=\-]{16}"""
# A JWS signing input (header.payload, no signature: what JOSE libraries keep in their frames).
_T_SIGNING_INPUT: Final = r"eyJ" + _NAME + r"{5,}" + _PAD + _DOT + r"eyJ"
# An XML element with text content (<password>...</password>, <SecretAccessKey>...): whatever its name, which
# the scrubber judges; elements with text are rare in system logs.
_T_XML: Final = r"<[A-Za-z_][A-Za-z0-9_.:\-]*(?:[ \t][^<>]*)?>[^<\n]+</[A-Za-z_]"
# A command-line long option with a value (--token X, --client-secret "X"), whatever its name: a bare value's first
# character, or the quote of a quoted one (whose text may start with a blank or "-": --token "-S3cr3t").
_T_CLI_FLAG: Final = r"""--[A-Za-z][A-Za-z0-9_\-]*[ \t]+(?:["']|[^\s"'\-])"""
# A PEM private key's BEGIN armour (patterns.PEM_PRIVATE) and a JWK's "kty" member (patterns.JWK_KTY).
_T_PEM: Final = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY"
_T_JWK: Final = r"""kty\\{0,3}["'][ \t]*:"""
# Characters the detectors read as an ASCII letter (patterns.FOLD_TO_ASCII: the Kelvin sign, dotted and dotless I,
# long s: "TO\u212aEN", "COO\u212aIE", "pa\u017f\u017fword"): any line holding one is scrubbed.
_FOLDED: Final = tuple(c.encode() for c in sorted(p.FOLD_TO_ASCII))
_T_KELVIN: Final = "(?:" + "|".join("".join(f"\\x{b:02x}" for b in c) for c in _FOLDED) + ")"
# Last components of field names that name no secret ("token_fp", "session_state"...). Only those that
# patterns.NOT_SECRET still excludes are used (checked when the expressions are built).
_BENIGN_CANDIDATES: Final = (
    "fp fingerprint hash type types count len length bytes ttl expire expires expire_in expires_in expire_at "
    "expires_at exp iat nbf kind sink reason outcome endpoint endpoints url uri path method methods alg algs "
    "algorithm algorithms supported format name names header headers limit max min size lifetime timeout "
    "scheme schemes required enabled mode status state"
).split()


def _complement(words: Iterable[str]) -> str:
    """A regex matching any ``[A-Za-z0-9]*`` word that is not one of ``words`` (lower case, caseless use)."""
    trie: dict[str, Any] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node["$"] = True
    any_tail = "[A-Za-z0-9]*"

    def rec(node: dict[str, Any]) -> str:
        kids = sorted(k for k in node if k != "$")
        alts = [] if "$" in node else [""]  # the word may end here unless it is one of the words
        other = "".join(re.escape(k) + re.escape(k.upper()) if k.isalpha() else re.escape(k) for k in kids)
        alts.append(f"[^{other}\\W_]{any_tail}" if other else f"[A-Za-z0-9]{any_tail}")
        for k in kids:
            alts.append(f"[{k}{k.upper()}]" + rec(node[k]) if k.isalpha() else re.escape(k) + rec(node[k]))
        return "(?:" + "|".join(alts) + ")"

    return rec(trie)


def benign_words() -> list[str]:
    return [w for w in _BENIGN_CANDIDATES if "_" not in w and p.NOT_SECRET.match("x_" + w)]


def _field_trigger(stem: str, rest: str = "[A-Za-z0-9]*") -> str:
    benign = benign_words()
    tail = r"(?:(?:[_\-.][A-Za-z0-9]*)*[_\-.]" + _complement(benign) + ")?"  # ("fs.s3a.secret.key=")
    return stem + rest + tail + _T_SEP


def _field_stems() -> str:
    """The secret stems of the field trigger: all but the personal access token's (patterns.PAT_STEM: "pat" not
    followed by a letter, which Hyperscan cannot say with a lookahead), which has a trigger of its own ("pat_field":
    no letter in the rest of its word; the pure-Python engine checks it alone on the 6 % of real log lines holding
    "pat", "path" mostly, instead of every stem's trigger)."""
    return "(?:" + "|".join(stem for stem, _, _ in p._STEMS if stem != p.PAT_STEM) + ")"


def _spaced_trigger(stem: str) -> str:
    """A secret stem's name, blanks and a word not starting with "-" that holds a digit, or another character than
    a letter before a letter or digit (patterns.SPACED_FIELDS: "apikey 9f8e7d6c5b4a", Redis MONITOR's quoted
    '"requirepass" "x"'; "assertion failed:" and "sshpass -p" are none); or such a name after a "-" (an option) and
    any word."""
    symbol_then_alnum = r"[^A-Za-z0-9\s][^\s]*[A-Za-z0-9]"
    word = (
        stem
        + r"""[A-Za-z0-9_\-]*"?[ \t]+(?:[0-9]|[^\s\-A-Za-z0-9][^\s]*[A-Za-z0-9]|[A-Za-z][^\s]*(?:[0-9]|"""
        + symbol_then_alnum
        + "))"
    )
    option = "-[A-Za-z0-9_\\-]*" + stem + r"[A-Za-z0-9_\-]*[ \t]+[^\s\-]"  # (keytool's "-storepass changeit")
    return f"(?:{word}|{option})"


def _query_trigger(names: str) -> str:
    # (without the delimiter before the name, which makes the automaton 20x slower to build)
    return names + r"(?:=|%(?:25)?3[dD])"


@dataclass(frozen=True)
class Trigger:
    name: str
    expr: str
    caseless: bool
    multiline: bool = False


def _vendor_expr() -> str:
    """Every vendor key's start (its prefix and the first characters of its body, ``patterns.VENDOR_STARTS``, also
    written with value escapes, ``patterns.VENDOR_ESCAPED_STARTS``), and the fixed part of those anchored inside
    (``patterns.INFIX_STARTS``)."""
    return "(?:" + "|".join((*p.VENDOR_STARTS, *p.VENDOR_ESCAPED_STARTS, *p.INFIX_STARTS)) + ")"


def _cli_commands() -> tuple[str, ...]:
    """Commands whose short option takes a password (``sshpass -p``, ``mysql -p``...), from the detector."""
    return tuple(name for name, _ in p.CLI_SHORT)


def triggers() -> tuple[Trigger, ...]:
    """The prefilter's expressions, built from the current detectors' name lists."""
    names = p._QUERY_NAMES
    commands = "|".join(re.escape(c) for c in _cli_commands())
    out = (
        Trigger("jose", _T_JOSE, caseless=False),
        Trigger("authorization", _T_AUTH, caseless=True),
        Trigger("cookie", _T_COOKIE, caseless=True),
        Trigger("scheme", _T_SCHEME, caseless=True),
        Trigger("userinfo", _T_USERINFO_ALL, caseless=False),
        Trigger("netrc", _T_NETRC, caseless=True),
        Trigger("pgpass", p.PGPASS_HINT_HS, caseless=False),
        Trigger("query", _query_trigger(names), caseless=True),
        Trigger("field", _field_trigger(_field_stems()), caseless=True),
        Trigger("pat_field", _field_trigger(p.PAT_STEM_TRIGGER, ""), caseless=True),
        Trigger("form_code", _T_FORM_CODE, caseless=True),
        Trigger("dict_code", _T_DICT_CODE, caseless=True),
        Trigger("validation", _T_VALIDATION, caseless=False),
        Trigger("kelvin", _T_KELVIN, caseless=False),
        Trigger("pem", _T_PEM, caseless=False),
        Trigger("jwk", _T_JWK, caseless=False),
        Trigger("b64_pem", re.escape(p.B64_PEM_START) + "[A-Za-z0-9+/]{16}", caseless=False),
        Trigger("signing_input", _T_SIGNING_INPUT, caseless=False),
        Trigger("b64_jose", p.B64_JOSE_HINT.pattern, caseless=False),
        Trigger("xml", _T_XML, caseless=False),
        Trigger("cli_flag", _T_CLI_FLAG, caseless=True),
        Trigger("sql_password", _T_SQL_PASSWORD, caseless=True),
        Trigger("stated_password", _T_STATED_PASSWORD, caseless=True),
        Trigger("name_value", _T_NAME_VALUE, caseless=True),
        Trigger("auth_pair", _T_AUTH_PAIR, caseless=True),
        Trigger("php_login", p.PHP_LOGIN_CALLS, caseless=True),
        Trigger("cli_positional", _T_CLI_POSITIONAL, caseless=True),
        Trigger("jdbc_oracle", _T_JDBC_ORACLE, caseless=True),
        Trigger("sasl", _T_SASL, caseless=True),
        Trigger("protocol", _T_PROTOCOL, caseless=False),
        Trigger("spaced", _spaced_trigger(p.SPACED_STEM), caseless=True),
        # case-sensitive: the key shapes of gitleaks' and trufflehog's rules (prefix and the start of the body)
        Trigger(VENDOR_TRIGGER, _vendor_expr(), caseless=False),
        Trigger("cli_short", rf"(?:{commands})[^\n]*[ \t][-/]", caseless=True),  # (FreeRDP's "/p:")
        Trigger("nickserv", _T_NICKSERV, caseless=True),
        Trigger("audit", _T_AUDIT, caseless=False),
        Trigger("oracle_logon", _T_ORACLE_LOGON, caseless=True),
        Trigger("chpasswd", _T_CHPASSWD, caseless=True),
        Trigger("cowrie_login", _T_COWRIE_LOGIN, caseless=True),
        Trigger("ci_secret", _T_CI_SECRET, caseless=True),
        Trigger("cookie_jar", _T_COOKIE_JAR, caseless=True),
        Trigger("ps_binding", _T_PS_BINDING, caseless=True),
        Trigger("hex_signature", _T_HEX_SIGNATURE, caseless=True),
        Trigger("cas_ticket", _T_CAS_TICKET, caseless=False),
        Trigger("webhook_signature", _T_WEBHOOK_SIGNATURE, caseless=True),
        Trigger("meta_content", _T_META_CONTENT, caseless=True),
        Trigger("composer", _T_COMPOSER, caseless=True),
        Trigger("secret_id", _T_SECRET_ID, caseless=True),
        Trigger("vault_key", _T_VAULT_KEY, caseless=True),
        Trigger("named_object", _T_NAMED_OBJECT, caseless=True),
        Trigger("dovecot_resp", _T_DOVECOT_RESP, caseless=True),
        Trigger("clear_scheme", _T_CLEAR_SCHEME, caseless=True),
        Trigger("ldif_b64", _T_LDIF_B64, caseless=True),
    )
    return out


# The pure-Python engine: lower-case keywords, one of which every line matching a header, scheme, query, field,
# form-code or Kelvin trigger contains (every secret stem alternative contains one of STEM_WORDS; each query name
# is followed by "=" or "%3d"); a line holding one is a candidate only when one of those triggers matches it (the
# same expressions as the Hyperscan engine, in Python's re). JOSE and URL userinfo are searched with their own
# trigger expression over the raw block (each has a literal start: one pass in C).
#: keyword -> the triggers whose matches it stands for
_BASE_KEYWORDS: Final = {
    b"authorization": ("authorization",),
    b"cookie": ("cookie",),
    b"bearer": ("scheme",),
    b"basic": ("scheme",),
    b"dpop": ("scheme",),
    b"code=": ("form_code", "query"),
    b"%3d": ("form_code", "query"),
    b"code'": ("dict_code",),
    b'code"': ("dict_code",),
    b'code\\"': ("dict_code",),
    **{c: ("kelvin",) for c in _FOLDED},
    b"</": ("xml",),
    b"--": ("cli_flag",),
    b"-----begin": ("pem",),
    b"kty": ("jwk",),
    p.B64_PEM_START.lower().encode(): ("b64_pem",),
    b"'loc'": ("validation",),
    b'"loc"': ("validation",),
    b"password": ("sql_password", "stated_password", "chpasswd"),
    b"passphrase": ("stated_password",),
    b"passcode": ("stated_password",),
    b"identified": ("sql_password",),
    b"auth": ("auth_pair", "sasl", "protocol"),
    b"pass ": ("protocol",),
    b" login ": ("protocol",),
    b"setuser": ("protocol",),
    b"login(": ("auth_pair", "php_login"),
    **{word.encode(): ("php_login",) for word in p.PHP_LOGIN_WORDS},
    b"simple_bind": ("auth_pair",),
    b"jdbc:oracle": ("jdbc_oracle",),
    **{c.encode(): ("cli_positional",) for c in p.CLI_POSITIONAL_WORDS},
    **{w.encode(): ("nickserv",) for w in p.NICKSERV_WORDS},
    **{w.encode(): ("audit",) for w in p.AUDIT_WORDS},
    **{c.encode(): ("oracle_logon",) for c in p.ORACLE_CLIENTS},
    # (chpasswd, patterns.STDIN_PASSWD's passwd, smbpasswd, vncpasswd, ftpasswd; a password stated in a sentence)
    b"passwd": ("chpasswd", "stated_password"),
    **{w.encode(): ("cowrie_login",) for w in p.COWRIE_WORDS},
    **{w.encode(): ("ci_secret",) for w in p.CI_SECRET_WORDS},
    **{w.encode(): ("cookie_jar",) for w in p.COOKIE_JAR_WORDS},
    b"parameterbinding(convertto-securestring)": ("ps_binding",),
    b"signature": ("hex_signature", "webhook_signature"),
    b"hmac": ("webhook_signature",),
    b"pat": ("pat_field",),
    b"content": ("meta_content",),
    b"secret": ("secret_id",),
    **{w.encode(): ("vault_key",) for w in p.VAULT_KEY_WORDS},
    b"value": ("name_value", "named_object"),
    b"resp=": ("dovecot_resp",),
    **{w.encode(): ("clear_scheme",) for w in p.CLEAR_SCHEME_WORDS},
    b":: ": ("ldif_b64",),
    b"machine": ("netrc",),
    b"default": ("netrc",),
    # shorter words standing for several (a keyword holding another one is dropped): "sig" for sig= and
    # signature=, "sess" for session and phpsessid= (one pass over the block each instead of two)
    b"sig": ("query",),
    b"sess": ("query",),
}
#: the triggers found by an expression over the whole raw block rather than through keywords (case-sensitive
#: ones, or too many literals for keyword passes): ``(finder, triggers a line it hits must match)``; the finder
#: is implied by each of the triggers (JOSE and a signing input both start with a header and a dot)
_HEADER_DOT: Final = r"e[wy]" + _B64 + r"{6,}" + _PAD + _DOT


def block_finders() -> tuple[tuple[str, tuple[str, ...]], ...]:
    out: list[tuple[str, tuple[str, ...]]] = [
        (_HEADER_DOT, ("jose", "signing_input")),
        (_T_USERINFO, ("userinfo",)),
        (_T_USERINFO_CUT, ("userinfo",)),
        (_T_URL_USER, ("userinfo",)),
        # (the escaped URL leads and Go's DSN apart, each with a literal start)
        (r":\\(?:/|u002[Ff])", ("userinfo",)),
        (r"%3[Aa]%2[Ff]%2[Ff]", ("userinfo",)),
        (r"@(?:tcp6?|udp|unix)\(", ("userinfo",)),
        (p.PGPASS_HINT_HS, ("pgpass",)),
        (p.CAS_TICKET_HINT_RE, ("cas_ticket",)),  # (from its literal "T-": the other form tries every position)
    ]
    # the base64 of a JOSE header start, one expression per literal start (one expression starting with a class
    # of "Z", "V", "l" tries every "l": 3.4x slower over a log)
    out += [(hint, ("b64_jose",)) for hint in p.B64_JOSE_HINTS]
    # the detector's own search for the prefixes (patterns.VENDOR_GATE), one expression per leading character: each
    # then has a literal start (a C search loop) instead of trying every position (0.29 s instead of 0.48 s per 30
    # MB); a lead of more than two beginnings checks the character before it against a class of theirs first, so most
    # of its occurrences ("-", "_" in every log) are passed over without trying each beginning (session 22: the
    # pure-Python prefilter's vendor finders took 0.52 s instead of 0.43 s over 8 MB with the session's prefixes)
    for c, heads in sorted(p.VENDOR_LEADS.items()):
        quick = ""
        if len(heads) > 2 and all(len(h) >= 2 for h in heads):
            quick = f"(?<=[{p._class(h[-2] for h in heads)}].)"
        alt = re.escape(c) + quick + "(?:" + "|".join(f"(?<={re.escape(h)})" for h in heads) + ")"
        out.append((alt, ("vendor",)))
    out += [(re.escape(anchor), ("vendor",)) for anchor in p.INFIX_ANCHORS]
    out += [(start, ("vendor",)) for start in p.VENDOR_ESCAPED_STARTS]
    return tuple(out)


#: The vendor-key prefix trigger: the Hyperscan engine remembers its lines (the scanner batches them apart).
VENDOR_TRIGGER: Final = "vendor"
BLOCK_TRIGGERS: Final = ("jose", "signing_input", "userinfo", "b64_jose", "pgpass", "cas_ticket", VENDOR_TRIGGER)
#: Triggers of name=value forms whose detectors the scanner's fast path (:mod:`~jwtobs.redact.scan.fields`) runs
#: and judges itself: a line hit by these only is scrubbed only when that fast path says it may change.
JUDGED_TRIGGERS: Final = ("field", "form_code", "query")
#: The secret-stem field trigger: the Hyperscan engine judges each of its hits where it is reported
#: (:func:`~jwtobs.redact.scan.fields.field_hit_unchanged`).
FIELD_TRIGGER: Final = "field"
#: The XML element trigger: the Hyperscan engine drops its hits on an element whose text is a marker
#: (:func:`~jwtobs.redact.scan.fields.xml_hit_unchanged`).
XML_TRIGGER: Final = "xml"


def _literal_runs(stem: str) -> set[str]:
    """Literal runs every match of a stem expression contains (outside groups, classes and optional atoms)."""
    bare = re.sub(r"\((?:[^()]|\([^()]*\))*\)[?*+]?|\[[^\]]*\][?*+]?|\\.|.[?*]|[.^$+{}]", "|", stem)
    return {run for run in bare.split("|") if len(run) >= 3 and re.fullmatch(r"[a-z0-9_\-]+", run)}


def stem_words() -> tuple[bytes, ...]:
    """Words one of which every secret-stem match contains, few: for each stem of ``patterns._STEMS`` (stem,
    the scrubber's gate word, ...) a literal of the stem that other stems share ("key" for ``api[_-]?key`` and
    ``private[_-]?key``), else its gate word."""
    stems = [(stem, word) for stem, word, *_ in p._STEMS if stem != p.PAT_STEM]  # ("pat": its own trigger)
    runs = {stem: _literal_runs(stem) for stem, _ in stems}
    shared = {r for stem, _ in stems for r in runs[stem] if sum(r in rs for rs in runs.values()) > 1}
    out = set()
    for stem, word in stems:
        common = sorted(runs[stem] & shared)
        out.add(common[0] if common else word)
    return tuple(sorted(w.encode() for w in out))


def keyword_triggers() -> dict[bytes, frozenset[str]]:
    """The pure-Python engine's keywords, each with the triggers a line holding it is checked against: every
    match of a header, scheme, query, field, form-code, XML, CLI or Kelvin trigger holds a keyword standing for
    that trigger (each secret stem holds a stem word; each query name is followed by "=" or "%3d")."""
    stems = stem_words()
    words: dict[bytes, set[str]] = {w: set(t) for w, t in _BASE_KEYWORDS.items()}

    def add(word: bytes, *trig: str) -> None:
        words.setdefault(word, set()).update(trig)

    for stem in stems:
        add(stem, "field", "query")
    for word in p.COMPOSER_WORDS:  # (one is "bearer", the scheme's keyword too)
        add(word.encode(), "composer")
    for word in p.SPACED_WORDS:  # (each SPACED_FIELDS stem holds its gate word)
        add(word.encode(), "spaced")
    for command in _cli_commands():
        add(command.lower().encode(), "cli_short")
    for name in p._QUERY_NAMES.lower().removeprefix("(?:").removesuffix(")").split("|"):
        if any(w.decode() in name for w in stems):
            continue
        if not re.fullmatch(r"[a-z_\-]+", name):  # not a plain name: its longest word alone
            add(max(re.findall(r"[a-z]+", name) or [name], key=len).encode(), "query")
            continue
        add(name.encode() + b"=", "query")
    # a keyword holding another keyword needs no pass of its own: the shorter one stands for it too
    # ("authorization" -> "auth", "sshpass" -> "pass", "session" -> "sess")
    out: dict[bytes, set[str]] = {}
    for w in sorted(words, key=len):
        holder = next((o for o in sorted(words, key=len) if o != w and o in w), None)
        if holder is None:
            out.setdefault(w, set()).update(words[w])
        else:
            out.setdefault(holder, set()).update(words[w])
    return {w: frozenset(t) for w, t in sorted(out.items())}


def compiled(trig: tuple[Trigger, ...]) -> dict[str, re.Pattern[bytes]]:
    """The triggers as Python expressions on bytes: case-sensitive ones for the raw text, caseless ones for the
    ASCII-lower-cased text (every letter of a caseless trigger is lower case or in a class with both cases,
    the engine-equivalence tests check it), as Hyperscan's ASCII-only caseless matching."""
    return {t.name: _regex.compile(t.expr.encode()) for t in trig}
