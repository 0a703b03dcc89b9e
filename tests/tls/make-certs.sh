#!/bin/sh
# Test certificates for the simulator's TLS (tests/integration/test_tls.sh).
# Usage: tests/tls/make-certs.sh DIR
#
# Writes into DIR (EC P-256 keys, PEM):
#   ca.pem ca.key                  test CA for server certificates
#   server.pem server.key          127.0.0.1 and localhost, signed by the CA
#   selfsigned.pem selfsigned.key  same names, signed by itself
#   wronghost.pem wronghost.key    DNS:wrong.example only, signed by the CA
#   expired.pem expired.key        same names as server, signed by the CA,
#                                  valid only in 2020
#   client-ca.pem client-ca.key    test CA for client certificates
#   client.pem client.key          client certificate signed by client-ca
#   wrongclient.pem wrongclient.key  client certificate signed by the server
#                                  CA instead (must not pass mutual TLS)
#
# Validity periods are fixed dates, not "now + N days", so runs are
# comparable. Everything is made afresh on each run; running it again just
# replaces the set. Test material only: the keys are unencrypted.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
command -v openssl >/dev/null 2>&1 || {
	echo "$0: openssl not found" >&2
	exit 1
}
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
WORK="$DIR/.work"
rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
umask 077

# Long-lived certificates: 2020 to 2049 (UTCTime ends in 2049).
START=20200101000000Z
END=20491231235959Z

cat >"$WORK/openssl.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused

[ca]
default_ca = test_ca
[test_ca]
database = $WORK/index.txt
new_certs_dir = $WORK
serial = $WORK/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[policy_any]
commonName = supplied

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = IP:127.0.0.1, DNS:localhost
[selfsigned_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = IP:127.0.0.1, DNS:localhost
[wronghost_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:wrong.example
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# ssl ARGS...: openssl with our config, quiet unless it fails.
ssl() {
	if ! OPENSSL_CONF="$WORK/openssl.cnf" openssl "$@" 2>"$WORK/err"; then
		echo "$0: openssl $1 failed:" >&2
		cat "$WORK/err" >&2
		exit 1
	fi
}

# csr NAME CN: a fresh key in DIR/NAME.key and a request in WORK/NAME.csr.
csr() {
	ssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$DIR/$1.key"
	ssl req -new -config "$WORK/openssl.cnf" -key "$DIR/$1.key" \
		-subj "/CN=$2" -out "$WORK/$1.csr"
}

# sign NAME ISSUER EXT START END: DIR/NAME.pem from WORK/NAME.csr with the
# extensions of section EXT, signed by DIR/ISSUER.pem and its key, or by
# its own key when ISSUER is "self".
sign() {
	name=$1 issuer=$2 ext=$3 start=$4 end=$5
	if [ "$issuer" = self ]; then
		set -- -selfsign -keyfile "$DIR/$name.key"
	else
		set -- -cert "$DIR/$issuer.pem" -keyfile "$DIR/$issuer.key"
	fi
	ssl ca -batch -notext -config "$WORK/openssl.cnf" "$@" \
		-extfile "$WORK/openssl.cnf" -extensions "$ext" \
		-startdate "$start" -enddate "$end" \
		-in "$WORK/$name.csr" -out "$DIR/$name.pem"
}

: >"$WORK/index.txt"
echo 1000 >"$WORK/serial"

csr ca "casesync test CA"
sign ca self ca_ext "$START" "$END"
csr client-ca "casesync test client CA"
sign client-ca self ca_ext "$START" "$END"

csr server localhost
sign server ca server_ext "$START" "$END"
csr wronghost wrong.example
sign wronghost ca wronghost_ext "$START" "$END"
csr expired localhost
sign expired ca server_ext 20200101000000Z 20200201000000Z
csr selfsigned localhost
sign selfsigned self selfsigned_ext "$START" "$END"

csr client "casesync test client"
sign client client-ca client_ext "$START" "$END"
csr wrongclient "casesync test client"
sign wrongclient ca client_ext "$START" "$END"

# Certificates are public; keys stay 0600.
chmod 644 "$DIR"/*.pem
