#!/bin/sh
# Fetch the Debian packages the Linux guest is made of, into DEBS_DIR, and
# extract just the files it needs into OUT_DIR:
#   OUT_DIR/vmlinuz          the kernel (bzImage) of linux-image-6.1.0-*-amd64
#   OUT_DIR/kernel-config    its config (for reference: what is built in)
#   OUT_DIR/kernel-release   its `uname -r`
#   OUT_DIR/busybox          /bin/busybox of busybox-static
#   OUT_DIR/packages.txt     package names and versions used
#
# Cache: .debs already in DEBS_DIR are used as they are (no network at all);
# delete them to move to a newer kernel. KERNEL_PKG=linux-image-6.1.0-NN-amd64
# pins a package instead of following linux-image-amd64.
#
# usage: fetch.sh DEBS_DIR OUT_DIR
set -eu
DEBS_DIR=${1:?usage: fetch.sh DEBS_DIR OUT_DIR}
OUT_DIR=${2:?usage: fetch.sh DEBS_DIR OUT_DIR}
mkdir -p "$DEBS_DIR" "$OUT_DIR"
DEBS_DIR=$(cd "$DEBS_DIR" && pwd)

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

lists_present() {
  ls /var/lib/apt/lists/ 2>/dev/null | grep -q '_Packages' || return 1
  apt-cache policy linux-image-amd64 2>/dev/null | grep -q 'Candidate: [0-9]'
}

need_lists() {
  if ! lists_present; then
    echo "linux-guest: apt lists missing or empty: apt-get update" >&2
    $SUDO apt-get update -qq
  fi
}

# Newest cached .deb for a name pattern (version sort on the file names).
cached() { ls "$DEBS_DIR"/$1 2>/dev/null | sort -V | tail -n 1; }

download() {
  # apt-get download writes into the current directory. As root it warns
  # that the download is unsandboxed (the _apt user cannot write here).
  ( cd "$DEBS_DIR" && apt-get download -q "$1" 2>&1 | grep -v -i 'unsandboxed' >&2 || true )
}

# ---- kernel ----------------------------------------------------------------
if [ -n "${KERNEL_PKG:-}" ]; then
  kdeb=$(cached "${KERNEL_PKG}_*_amd64.deb")
else
  kdeb=$(cached 'linux-image-6.1.0-*-amd64_*_amd64.deb')
fi
if [ -z "$kdeb" ]; then
  need_lists
  pkg=${KERNEL_PKG:-}
  if [ -z "$pkg" ]; then
    # linux-image-amd64 (the candidate version) depends on exactly one
    # versioned image package; that is the real kernel.
    pkg=$(apt-cache depends linux-image-amd64 |
          sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
  fi
  [ -n "$pkg" ] || { echo "linux-guest: cannot resolve the kernel package" >&2; exit 1; }
  echo "linux-guest: downloading $pkg" >&2
  download "$pkg"
  kdeb=$(cached "${pkg}_*_amd64.deb")
  [ -n "$kdeb" ] || { echo "linux-guest: apt-get download $pkg failed" >&2; exit 1; }
fi

# ---- busybox ----------------------------------------------------------------
bdeb=$(cached 'busybox-static_*_amd64.deb')
if [ -z "$bdeb" ]; then
  need_lists
  echo "linux-guest: downloading busybox-static" >&2
  download busybox-static
  bdeb=$(cached 'busybox-static_*_amd64.deb')
  [ -n "$bdeb" ] || { echo "linux-guest: apt-get download busybox-static failed" >&2; exit 1; }
fi

# ---- extract only what is needed ---------------------------------------------
tmp=$(mktemp -d "$OUT_DIR/.extract.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# dpkg-deb -x would unpack all ~400 MB of modules; the tar stream lets us
# write only the kernel image and its config.
dpkg-deb --fsys-tarfile "$kdeb" |
  tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' './boot/config-*'
dpkg-deb --fsys-tarfile "$bdeb" | tar -x -C "$tmp" ./bin/busybox

vmlinuz=$(ls "$tmp"/boot/vmlinuz-* | head -n 1)
release=${vmlinuz##*/vmlinuz-}
install -m 0644 "$vmlinuz" "$tmp/vmlinuz.new"
install -m 0644 "$tmp/boot/config-$release" "$tmp/config.new"
install -m 0755 "$tmp/bin/busybox" "$tmp/busybox.new"
{
  echo "kernel $(dpkg-deb -f "$kdeb" Package) $(dpkg-deb -f "$kdeb" Version) $(basename "$kdeb")"
  echo "busybox $(dpkg-deb -f "$bdeb" Package) $(dpkg-deb -f "$bdeb" Version) $(basename "$bdeb")"
  echo "release $release"
} > "$tmp/packages.new"
echo "$release" > "$tmp/release.new"
# Install atomically; only touch files whose content changed (keeps make quiet).
put() { cmp -s "$1" "$2" || mv -f "$1" "$2"; }
put "$tmp/config.new" "$OUT_DIR/kernel-config"
put "$tmp/release.new" "$OUT_DIR/kernel-release"
put "$tmp/packages.new" "$OUT_DIR/packages.txt"
put "$tmp/busybox.new" "$OUT_DIR/busybox"
put "$tmp/vmlinuz.new" "$OUT_DIR/vmlinuz"
