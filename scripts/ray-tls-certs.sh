#!/usr/bin/env bash
# The certificates for Ray's own TLS (RAY_USE_TLS=1; docs/scale-out.md, "Ray's traffic"): a CA,
# and one key and certificate signed by it that name every node of the cluster and the learner's
# machine. Ray uses them for mutual TLS on all its gRPC (GCS, raylets, Ray Client), so a process
# without them can neither connect to the cluster nor pose as one of its nodes.
#
#   scripts/ray-tls-certs.sh OUT_DIR HOST_OR_IP...     e.g. scripts/ray-tls-certs.sh ~/.ray/tls 10.0.0.5 10.0.0.6 head.lan
#
# Copy OUT_DIR (without ca.key) to every node and to the learner's machine, and set the four
# variables this script prints in the environment of every `ray start` and of `csc train`.
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 OUT_DIR HOST_OR_IP... (every node's address as Ray sees it, and the learner's)" >&2
  exit 2
fi
out=$1
shift
san=""
for h in "$@"; do
  if [[ $h =~ ^[0-9.]+$ || $h == *:* ]]; then san+="IP:$h,"; else san+="DNS:$h,"; fi
done
san=${san%,}
mkdir -p "$out"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=csc_node Ray CA" \
  -keyout "$out/ca.key" -out "$out/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=csc_node Ray node" \
  -keyout "$out/node.key" -out "$out/node.csr" 2>/dev/null
openssl x509 -req -days 365 -in "$out/node.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
  -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san") -out "$out/node.crt" 2>/dev/null
rm -f "$out/node.csr" "$out/ca.srl"
dir=$(cd "$out" && pwd)
echo "export RAY_USE_TLS=1"
echo "export RAY_TLS_SERVER_CERT=$dir/node.crt"
echo "export RAY_TLS_SERVER_KEY=$dir/node.key"
echo "export RAY_TLS_CA_CERT=$dir/ca.crt"
