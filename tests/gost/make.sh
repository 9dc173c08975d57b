#!/usr/bin/env bash
# Makes a GOST PKI and CMS signatures with the OpenSSL command line and Debian's GOST engine
# (libengine-gost-openssl), the independent implementation tamga is checked against.
# Usage: make.sh OUT_DIR. Fresh keys and signatures every run (GOST signing is randomised).
set -euo pipefail
out=$1
mkdir -p "$out"
cd "$out"
cat > engine.cnf <<'CNF'
openssl_conf = openssl_def
[openssl_def]
engines = engine_section
[engine_section]
gost = gost_section
[gost_section]
engine_id = gost
default_algorithms = ALL
CNF
export OPENSSL_CONF="$out/engine.cnf"
openssl engine gost >/dev/null 2>&1 || {
  echo "the OpenSSL GOST engine is not installed (apt-get install libengine-gost-openssl)" >&2
  exit 3
}

cat > ca.cnf <<'CNF'
[ ca ]
default_ca = gost
[ gost ]
dir = .
database = ./index.txt
serial = ./serial
crlnumber = ./crlnumber
new_certs_dir = .
default_md = md_gost12_512
default_crl_days = 30
policy = any
[ any ]
commonName = supplied
[ leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
CNF
touch index.txt
echo 1000 > serial
echo 01 > crlnumber

# Root: GOST R 34.10-2012 512, TC26 paramSet A, as the Kazakh GOST 2015 CA uses.
openssl genpkey -algorithm gost2012_512 -pkeyopt paramset:A -out root.key
openssl req -x509 -new -key root.key -subj "/CN=GOST Test Root/C=KZ" -days 3650 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out root.pem
printf 'Бұйрық № 17, 2026 ж.\n' > content.txt

# NAME ALGORITHM PARAMSET DIGEST (the engine's A/B/C are the CryptoPro OIDs, TCA..TCD the TC26
# ones, XA/XB the CryptoPro exchange aliases: every OID spelling of every curve is covered)
while read -r name alg set md; do
  openssl genpkey -algorithm "$alg" -pkeyopt "paramset:$set" -out "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=Signer $name/C=KZ" -out "$name.csr"
  openssl ca -batch -config ca.cnf -cert root.pem -keyfile root.key -in "$name.csr" \
    -days 365 -extensions leaf -notext -out "$name.pem" 2>/dev/null
  openssl cms -sign -binary -nodetach -md "$md" -in content.txt -signer "$name.pem" \
    -inkey "$name.key" -outform DER -out "$name.attached.p7s"
  openssl cms -sign -binary -md "$md" -in content.txt -signer "$name.pem" \
    -inkey "$name.key" -outform DER -out "$name.detached.p7s"
done <<'LIST'
2012-256-tc26a gost2012_256 TCA md_gost12_256
2012-256-tc26b gost2012_256 TCB md_gost12_256
2012-256-cpb gost2012_256 B md_gost12_256
2012-256-tc26d gost2012_256 TCD md_gost12_256
2012-512-a gost2012_512 A md_gost12_512
2012-512-b gost2012_512 B md_gost12_512
2012-512-c gost2012_512 C md_gost12_512
2001-cpa gost2001 A md_gost94
2001-cpc gost2001 C md_gost94
2001-xchb gost2001 XB md_gost94
revoked gost2012_256 TCA md_gost12_256
LIST

# The CRL, GOST-signed by the root, lists the "revoked" signer.
openssl ca -batch -config ca.cnf -cert root.pem -keyfile root.key -revoke revoked.pem 2>/dev/null
openssl ca -batch -config ca.cnf -gencrl -cert root.pem -keyfile root.key -out root.crl.pem 2>/dev/null
openssl crl -in root.crl.pem -outform DER -out root.crl
mkdir -p trust
cp root.pem root.crl trust/
