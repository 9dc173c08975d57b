#!/usr/bin/env python3
"""Seeds the `verify` fuzz target with the NIST PKITS messages of tests/pkits/smime: each
signature as mode byte 2 (PKITS trust store, no content) followed by its DER."""
import email
import hashlib
import pathlib

root = pathlib.Path(__file__).resolve().parent
out = root / "corpus" / "verify"
out.mkdir(parents=True, exist_ok=True)
n = 0
for eml in sorted((root.parent / "tests" / "pkits" / "smime").glob("*.eml")):
    msg = email.message_from_bytes(eml.read_bytes())
    der = msg.get_payload()[1].get_payload(decode=True)
    seed = b"\x02" + der
    (out / ("pkits-" + hashlib.sha1(seed).hexdigest())).write_bytes(seed)
    n += 1
print(f"{n} PKITS seeds in {out}")
