#!/bin/sh
# Unpacks BearSSL from Debian's source into OUT/bearssl-0.6 (default
# build/bearssl), for the micro-TPM's crypto (trustvisor/README.md). The
# orig tarball of Debian 12 "bookworm"'s bearssl 0.6+dfsg.1-3 is taken with
# apt by mk/debsrc.sh (the signed Sources index vouches for it) and its
# SHA-256 is pinned here as well: a different tarball is refused. Only the
# upstream source is used (not Debian's packaging, not its build); the
# Makefile (mk/bearssl.mk) compiles the few files it needs itself.
# Skipped when already unpacked from the pinned tarball.
#
# usage: bearssl.sh [OUT]
set -e
OUT=${1:-build/bearssl}
SUITE=bookworm
PKGVER=bearssl=0.6+dfsg.1-3
TARBALL=bearssl_0.6+dfsg.1.orig.tar.xz
SHA256=102a625bd8f6155260867a50c508df8d8c3f796985dd744df1a68e5cd1a79004
DIR=bearssl-0.6
me=bearssl

HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAMP="$OUT/$DIR/.unpacked-$SHA256"
[ -f "$STAMP" ] && exit 0

if ! echo "$SHA256  $OUT/$TARBALL" | sha256sum -c --status 2>/dev/null; then
  rm -f "$OUT/$TARBALL"
  sh "$HERE/debsrc.sh" --tar-only "$SUITE" "$PKGVER" "$OUT" \
    || { echo "$me: could not get $TARBALL from Debian's $SUITE sources: the hypervisor (its micro-TPM) cannot be built" >&2; exit 1; }
  echo "$SHA256  $OUT/$TARBALL" | sha256sum -c --status \
    || { echo "$me: $OUT/$TARBALL: SHA-256 is not the pinned $SHA256: refused" >&2; exit 1; }
fi
rm -rf "$OUT/$DIR"
tar -C "$OUT" -xf "$OUT/$TARBALL"
[ -f "$OUT/$DIR/inc/bearssl.h" ] || { echo "$me: $TARBALL has no $DIR/inc/bearssl.h" >&2; exit 1; }
touch "$STAMP"
echo "$me: BearSSL ($PKGVER, Debian $SUITE) unpacked in $OUT/$DIR"
