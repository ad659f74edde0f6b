#!/bin/sh
# Builds Bochs 3.0 from Debian's source (the orig tarball of Debian 13
# "trixie"'s bochs 3.0+dfsg-1, taken with apt by mk/debsrc.sh: the signed
# Sources index vouches for it, and its SHA-256 is pinned here as well)
# into build/tools/bochs-3.0. Skipped when already built.
#
# Why a second Bochs: Debian 12's Bochs 2.7 offers the VMX "monitor trap
# flag" control but never delivers the MTF VM exit (its event loop drops the
# pending MTF event), so the hypervisor's MTF single-step path cannot be
# tested with it. Bochs 3.0 delivers it. Debian 13's bochs binary needs
# glibc 2.38, which Debian 12 does not have, so the source is built here.
# The system Bochs 2.7 stays the default emulator; tests that need the
# monitor trap flag ask for this one (hvtools.emu.BOCHS3).
#
# usage: bochs3.sh [OUT]   (default build/tools/bochs-3.0; the source and
#                           logs go to OUT.src)
set -e
OUT=${1:-build/tools/bochs-3.0}
[ -x "$OUT/bin/bochs" ] && exit 0

HERE=$(cd "$(dirname "$0")" && pwd)
SUITE=trixie
PKGVER=bochs=3.0+dfsg-1
TARBALL=bochs_3.0+dfsg.orig.tar.xz
SHA256=78f6c73d4a6472d5130a87ab9dc306d02c7c71ed8e25b3a8ef642e2a7acd282b

mkdir -p "$OUT.src"
SRC=$(cd "$OUT.src" && pwd)
PREFIX=$(mkdir -p "$OUT" && cd "$OUT" && pwd)
if ! echo "$SHA256  $SRC/$TARBALL" | sha256sum -c --status 2>/dev/null; then
  rm -f "$SRC/$TARBALL"
  # Only the orig tarball: the build below is upstream's source as Debian
  # ships it (the Debian packaging is not used).
  sh "$HERE/debsrc.sh" --tar-only "$SUITE" "$PKGVER" "$SRC" \
    || { echo "bochs3: could not get $TARBALL from Debian's $SUITE sources (tests on Bochs 3.0 cannot run)" >&2; exit 1; }
  echo "$SHA256  $SRC/$TARBALL" | sha256sum -c --status \
    || { echo "bochs3: $SRC/$TARBALL: SHA-256 is not the pinned $SHA256 (tests on Bochs 3.0 cannot run)" >&2; exit 1; }
fi

echo "bochs3: building Bochs 3.0 into $PREFIX (about 2 minutes on 2 cores)"
rm -rf "$SRC/bochs-3.0"
tar -C "$SRC" -xf "$SRC/$TARBALL"
cd "$SRC/bochs-3.0"
# The same features as the configuration the harness writes needs: x86-64,
# VMX with EPT (vmx=2), SMP, the models' AVX/EVEX, PCI + CD-ROM for GRUB,
# the debugger (the harness starts Bochs with an rc file), rfb display, and
# ES1370 so that "sound: driver=dummy" is accepted as with Debian's build.
./configure --prefix="$PREFIX" --with-rfb --with-nogui --disable-plugins \
  --enable-x86-64 --enable-vmx=2 --enable-smp --enable-cpu-level=6 \
  --enable-all-optimizations --enable-avx --enable-evex --enable-pci \
  --enable-cdrom --enable-a20-pin --enable-repeat-speedups --enable-debugger \
  --disable-readline --enable-disasm --enable-x86-debugger --enable-fpu \
  --enable-es1370 > "$SRC/configure.log" 2>&1 \
  || { echo "bochs3: configure failed, see $SRC/configure.log" >&2; exit 1; }
make -j"$(nproc)" > "$SRC/make.log" 2>&1 \
  || { echo "bochs3: build failed, see $SRC/make.log" >&2; exit 1; }
make install > "$SRC/install.log" 2>&1
rm -rf "$SRC/bochs-3.0"
"$PREFIX/bin/bochs" --help cpu 2>&1 | grep -q corei7_icelake_u \
  || { echo "bochs3: the built Bochs has no corei7_icelake_u model" >&2; exit 1; }
echo "bochs3: $PREFIX/bin/bochs"
