"""One normal form for e-mail addresses, used by silent OAuth, registration, login and merge.

Decisions (SPEC §5.4):
- trim surrounding whitespace, lowercase the whole address (C42 compares case-insensitively);
- the domain goes through IDNA 2008 with UTS #46 mapping and is stored in its ASCII (punycode)
  form, so `bücher.example` and `xn--bcher-kva.example` are one mailbox, while a domain with a
  Cyrillic look-alike letter stays a visibly different `xn--` domain and can never pass for the
  Latin one;
- the local part must be ASCII: an internationalised local part could hold look-alikes that no
  display can tell apart, so such addresses are refused rather than risk two sandboxes for
  what looks like one person;
- plus-addresses (`ann+work@`) are distinct mailboxes, as SPEC §5.4 says; dots are kept.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254  # RFC 5321 §4.5.3.1.3 path limit


class InvalidEmail(ValueError):
    pass


def normalise_email(raw: str) -> str:
    if not isinstance(raw, str):
        raise InvalidEmail("an e-mail address must be a string")
    candidate = raw.strip()
    if not candidate or len(candidate) > MAX_LENGTH or "\x00" in candidate:
        raise InvalidEmail("not a valid e-mail address")
    try:
        result = validate_email(
            candidate,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            globally_deliverable=False,
            test_environment=True,  # accept the reserved .test domain (demo, tests)
        )
    except EmailNotValidError as exc:
        raise InvalidEmail(str(exc)) from None
    address = f"{result.local_part}@{result.ascii_domain}".lower()
    if len(address) > MAX_LENGTH:
        raise InvalidEmail("not a valid e-mail address")
    return address
