"""The password policy, applied wherever a password is set (create, change, reset, `wes create-user`).

- At least `MIN_LENGTH` (12) characters, at most `MAX_LENGTH` (200: argon2 hashes whatever it is given, a megabyte
  too). Length is what makes a password hard to guess (NIST SP 800-63B §5.1.1); no composition rules.
- Not one of the 30,000 most common passwords: the list the `zxcvbn` package ships (Dropbox's zxcvbn, MIT; built
  from leaked-password corpora), compared case-insensitively, both as typed and with leading and trailing digits
  and punctuation stripped ("Password2026!" is "password").
- Not derived from the account: what is left after removing the user name, the parts of the full name and the
  codes of the user's sites (each of 3+ characters, case-insensitive) must hold at least `MIN_OWN` letters and
  digits and not be a common password ("picker1-2026-picker1" is refused, and so is "alice" + "12345678").

A refusal is `Invalid` (422) with code `weak_password` and details {"field", "reason"}, reason one of
`too_short`, `too_long`, `common`, `user_derived`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from zxcvbn.frequency_lists import FREQUENCY_LISTS

from backend.errors import Invalid

MIN_LENGTH = 12
MAX_LENGTH = 200
MIN_OWN = 8
_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """zxcvbn's list of the most common passwords (lower case)."""
    words = FREQUENCY_LISTS["passwords"]
    return frozenset(words.split(",") if isinstance(words, str) else words)


def _is_common(candidate: str) -> bool:
    common = common_passwords()
    lowered = candidate.lower()
    core = _EDGES.sub("", lowered)
    return lowered in common or (len(core) >= 3 and core in common)


def _refuse(reason: str, message: str, field: str) -> Invalid:
    return Invalid(message, code="weak_password", details={"field": field, "reason": reason})


def check_password(password: str, *, username: str, full_name: str = "", site_codes: Iterable[str] = (),
                   field: str = "password") -> None:
    """Raise `Invalid` (weak_password) unless `password` meets the policy above for this account."""
    if len(password) < MIN_LENGTH:
        raise _refuse("too_short", f"a password needs at least {MIN_LENGTH} characters", field)
    if len(password) > MAX_LENGTH:
        raise _refuse("too_long", f"a password has at most {MAX_LENGTH} characters", field)
    if _is_common(password):
        raise _refuse("common", "this password is among the most common ones: choose another", field)
    words = {username.lower(), *(part.lower() for part in re.split(r"[\s,.'-]+", full_name)),
             *(code.lower() for code in site_codes)}
    own = password.lower()
    removed = False
    for word in sorted((w for w in words if len(w) >= 3), key=len, reverse=True):
        if word in own:
            own = own.replace(word, "")
            removed = True
    if removed and (len(re.sub(r"[\W_]", "", own)) < MIN_OWN or _is_common(own)):
        raise _refuse("user_derived", "this password is made from the user's name or sites: choose another", field)
