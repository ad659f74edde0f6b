#!/bin/sh
# Installs the Debian packages the project needs, only those missing.
# Idempotent: a machine that has everything runs no apt-get at all.
set -e
PKGS="gcc g++ gcc-multilib make binutils curl clang libclang-rt-14-dev grub-pc-bin grub-common
xorriso mtools bochs bochsbios vgabios qemu-system-x86 gdb spin
python3-serial python3-pytest python3-pytest-xdist python3-pyelftools
python3-rich python3-tabulate python3-cryptography"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing missing Debian packages:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
