#!/usr/bin/env python3
"""Seeds fuzz/corpus/revocation with the test suite's real OCSP responses, CRLs and a few
HTTP answers, each behind the selector byte that picks its parser in
fuzz_targets/revocation.rs (0 OCSP, 2 CRL, 5 HTTP)."""
import hashlib
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent
out = root / "fuzz" / "corpus" / "revocation"
out.mkdir(parents=True, exist_ok=True)


def seed(selector: int, data: bytes) -> None:
    body = bytes([selector]) + data
    (out / hashlib.sha1(body).hexdigest()).write_bytes(body)


for f in (root / "tests" / "corpus" / "nca-kz-test" / "ocsp").glob("*.bin"):
    seed(0, f.read_bytes())
for f in sorted((root / "tests").rglob("*.crl"))[:40]:
    if f.stat().st_size < 200_000:
        seed(2, f.read_bytes())
for http in [
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\nuntil close",
    b"HTTP/1.1 302 Found\r\nLocation: http://x/\r\n\r\n",
]:
    seed(5, http)
print(f"{len(list(out.iterdir()))} seeds in {out}")
