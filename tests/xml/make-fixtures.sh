#!/usr/bin/env bash
# Regenerates the xmlsec1-signed fixtures of tests/xml_xmlsec.rs (run from anywhere; needs
# xmlsec1 and the fixture PKI of tests/fixtures/pki). Each template exercises the C14N edge
# cases: comments, namespaces declared, inherited and redeclared, attributes needing
# reordering, CDATA and character references; xmlsec1 computes every digest and signature.
set -euo pipefail
cd "$(dirname "$0")"
pki=../fixtures/pki
cp "$pki/int.pem" int.pem
cp "$pki/root.pem" root.pem

body='<!-- a comment before --><doc xmlns="urn:example:doc" xmlns:a="urn:example:a" z="last" a:y="2" b="first" xml:lang="kk">
  <a:item a:x="1" id="one">x &amp; y &lt; z &#x41;&#169;&#x1F600;<![CDATA[<raw> & "quoted"]]></a:item>
  <inner xmlns:a="urn:example:a" xmlns:b="urn:example:b"><b:leaf b:k="v&#9;tab&#10;nl" plain="&quot;q&quot;"/><!-- inner comment --></inner>
  <other xmlns="urn:example:other"><deep xmlns=""><?pi data here?>text</deep></other>
</doc>'

# enveloped <key> <signature-uri> <c14n-uri> <out>
enveloped() {
  local key=$1 alg=$2 c14n=$3 out=$4
  cat > tmpl.xml <<XML
<?xml version="1.0" encoding="UTF-8"?>
${body%</doc>}<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
<ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="$c14n"/>
<ds:SignatureMethod Algorithm="$alg"/>
<ds:Reference URI="">
<ds:Transforms>
<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
<ds:Transform Algorithm="$c14n"/>
</ds:Transforms>
<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
<ds:DigestValue/>
</ds:Reference>
</ds:SignedInfo>
<ds:SignatureValue/>
<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>
</ds:Signature></doc>
XML
  xmlsec1 --sign --privkey-pem "$pki/$key.key,$pki/$key.pem,$pki/int.pem" --output "$out" tmpl.xml
}

more=http://www.w3.org/2001/04/xmldsig-more
c14n=http://www.w3.org/TR/2001/REC-xml-c14n-20010315
exc=http://www.w3.org/2001/10/xml-exc-c14n#
for c in "c14n:$c14n" "c14n-comments:$c14n#WithComments" "exc:$exc" "exc-comments:${exc}WithComments"; do
  name=${c%%:*} uri=${c#*:}
  enveloped rsa "$more#rsa-sha256" "$uri" "enveloped-rsa-$name.xml"
  enveloped p256 "$more#ecdsa-sha256" "$uri" "enveloped-p256-$name.xml"
  enveloped p384 "$more#ecdsa-sha384" "$uri" "enveloped-p384-$name.xml"
done
enveloped rsa "$more#rsa-sha512" "$c14n" "enveloped-rsa-sha512.xml"

# The bench's document (benches/verify.rs): 4 KiB, RSA-2048, the national tools' shape.
body="<doc>$(for i in $(seq 1 60); do printf '<line n="%d">Құжат мәтіні, жол %d.</line>' "$i" "$i"; done)
</doc>"
enveloped rsa "$more#rsa-sha256" "$c14n" bench-4k-rsa.xml

# The Signature first, signed content after it: what a ds:Signature inserted into a signed
# element after signing must not hide (tests/xml_xmlsec.rs, inserted_signature_*).
cat > tmpl.xml <<XML
<?xml version="1.0" encoding="UTF-8"?>
<doc><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
<ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="$c14n"/>
<ds:SignatureMethod Algorithm="$more#rsa-sha256"/>
<ds:Reference URI="">
<ds:Transforms>
<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
</ds:Transforms>
<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
<ds:DigestValue/>
</ds:Reference>
</ds:SignedInfo>
<ds:SignatureValue/>
<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>
</ds:Signature><amount currency="KZT">100</amount></doc>
XML
xmlsec1 --sign --privkey-pem "$pki/rsa.key,$pki/rsa.pem,$pki/int.pem" --output enveloped-rsa-first.xml tmpl.xml

# A SmartBridge-shaped SOAP message: the Body signed by wsu:Id with exclusive C14N, the
# signature in wsse:Security, the certificate in KeyInfo's X509Data.
wsse_ns=http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd
wsu_ns=http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd
soap() {
  local keyinfo=$1 token=$2 out=$3
  cat > tmpl.xml <<XML
<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:wsse="$wsse_ns" xmlns:wsu="$wsu_ns" xmlns:unused="urn:unused"><soap:Header><wsse:Security soap:mustUnderstand="1">$token<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
<ds:SignedInfo>
<ds:CanonicalizationMethod Algorithm="$exc"/>
<ds:SignatureMethod Algorithm="$more#rsa-sha256"/>
<ds:Reference URI="#body-1">
<ds:Transforms>
<ds:Transform Algorithm="$exc"><ec:InclusiveNamespaces xmlns:ec="$exc" PrefixList="soap"/></ds:Transform>
</ds:Transforms>
<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
<ds:DigestValue/>
</ds:Reference>
</ds:SignedInfo>
<ds:SignatureValue/>
<ds:KeyInfo>$keyinfo</ds:KeyInfo>
</ds:Signature></wsse:Security></soap:Header><soap:Body wsu:Id="body-1"><m:SendMessage xmlns:m="urn:smartbridge:example"><m:request>payload &amp; more</m:request></m:SendMessage></soap:Body></soap:Envelope>
XML
  xmlsec1 --sign --privkey-pem "$pki/rsa.key,$pki/rsa.pem,$pki/int.pem" --id-attr:Id Body --output "$out" tmpl.xml
}
soap '<ds:X509Data><ds:X509Certificate/></ds:X509Data>' '' wsse-rsa.xml
cert=$(sed -e '/-----/d' "$pki/rsa.pem" | tr -d '\n')
int=$(sed -e '/-----/d' "$pki/int.pem" | tr -d '\n')
# The intermediate rides in an X509Data beside the token reference, for path building.
soap '<ds:X509Data><ds:X509Certificate>'"$int"'</ds:X509Certificate></ds:X509Data><wsse:SecurityTokenReference><wsse:Reference URI="#token-1" ValueType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"/></wsse:SecurityTokenReference>' \
  "<wsse:BinarySecurityToken wsu:Id=\"token-1\" EncodingType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary\" ValueType=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3\">$cert</wsse:BinarySecurityToken>" \
  wsse-token-rsa.xml
rm -f tmpl.xml
