#!/bin/sh
# Downloads a Debian source package with apt itself, from a Debian suite the
# machine's own apt sources do not list (e.g. trixie's bochs on a bookworm
# machine), without touching the machine's apt state.
#
# usage: debsrc.sh [--tar-only] SUITE PACKAGE=VERSION DESTDIR
#
#   --tar-only   only the tarball(s) (the .orig.tar.*), not .dsc / .debian.tar
#   SUITE        the Debian suite holding VERSION (e.g. trixie)
#   DESTDIR      the files land here; DESTDIR/apt-state is apt's private state
#                (sources list, lists, cache), removed again on success
#
# Where from: the mirror URIs are those of the machine's own Debian entries
# (/etc/apt/sources.list, /etc/apt/sources.list.d/*.list and deb822
# *.sources): the entries whose suites include the machine's own codename
# (VERSION_CODENAME in /etc/os-release), that is the main archive, not
# -security or -updates. Each becomes a deb-src line for SUITE. No host is
# named here: the project goes where the machine's apt goes.
#
# Trust: the same as apt-get install. `apt-get update` checks the suite's
# InRelease signature against the entry's Signed-By keyring (default
# /usr/share/keyrings/debian-archive-keyring.gpg, which Debian 12's
# debian-archive-keyring fills with the Debian 13 "trixie" keys too); an
# unsigned or badly signed index is an error. `apt-get source` then checks
# every file against the SHA-256 in that signed Sources index.
# The machine's apt.conf.d settings (proxies, Check-Valid-Until) still apply.
set -eu
TAR_ONLY=""
if [ "${1:-}" = "--tar-only" ]; then TAR_ONLY="--tar-only"; shift; fi
SUITE=${1:?usage: debsrc.sh [--tar-only] SUITE PACKAGE=VERSION DESTDIR}
PKGVER=${2:?usage: debsrc.sh [--tar-only] SUITE PACKAGE=VERSION DESTDIR}
DEST=${3:?usage: debsrc.sh [--tar-only] SUITE PACKAGE=VERSION DESTDIR}
DEFAULT_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
ETC=${DEBSRC_APT_ETC:-/etc/apt}     # where the machine's sources are read (tests)
me="debsrc"

mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
STATE="$DEST/apt-state"
rm -rf "$STATE"
mkdir -p "$STATE/lists/partial" "$STATE/cache/archives/partial"

CODENAME=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
[ -n "$CODENAME" ] || { echo "$me: no VERSION_CODENAME in /etc/os-release" >&2; exit 1; }

# One line per Debian archive entry: "URI KEYRING" (KEYRING "-" when the
# entry names none or gives the key inline).
entries() {
  for f in "$ETC/sources.list" "$ETC"/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [opt=val ...] URI suite component...
    awk -v want="$CODENAME" '
      /^[ \t]*#/ || NF < 3 { next }
      $1 != "deb" && $1 != "deb-src" { next }
      {
        i = 2; kr = "-"
        if ($i ~ /^\[/) {
          while (i <= NF) {
            o = $i; gsub(/[\[\]]/, "", o)
            if (o ~ /^signed-by=/) { sub(/^signed-by=/, "", o); kr = o }
            if ($i ~ /\]$/) break
            i++
          }
          i++
        }
        if ($(i + 1) == want) print $i, kr
      }' "$f"
  done
  for f in "$ETC"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822 stanzas separated by blank lines; continuation lines (an inline
    # Signed-By key) start with a space.
    awk -v want="$CODENAME" '
      function flush() {
        if (uris != "" && enabled != "no" && types ~ /(^| )deb(-src)?( |$)/) {
          n = split(suites, s, " ")
          for (k = 1; k <= n; k++) if (s[k] == want) {
            m = split(uris, u, " ")
            for (j = 1; j <= m; j++) print u[j], (kr ~ /^\// ? kr : "-")
            break
          }
        }
        uris = ""; suites = ""; types = ""; kr = ""; enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/ { next }
      {
        key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
        if (key == "uris") uris = $0
        else if (key == "suites") suites = $0
        else if (key == "types") types = $0
        else if (key == "signed-by") kr = $0
        else if (key == "enabled") enabled = tolower($0)
      }
      END { flush() }' "$f"
  done
}

: > "$STATE/sources.list"
entries | sort -u | while read -r uri kr; do
  [ "$kr" = "-" ] && kr=$DEFAULT_KEYRING
  echo "deb-src [signed-by=$kr] $uri $SUITE main" >> "$STATE/sources.list"
done
if [ ! -s "$STATE/sources.list" ]; then
  echo "$me: no Debian '$CODENAME' entry in the machine's apt sources to take a mirror from" >&2
  exit 1
fi

# A private apt: its own sources, lists and cache; none of the machine's
# sources.list.d. As root, apt would hand downloads to the _apt user, who
# cannot write into a build tree owned by root: download as the caller.
apt_private() {
  "$@" -o Dir::Etc::SourceList="$STATE/sources.list" \
       -o Dir::Etc::SourceParts=/dev/null \
       -o Dir::State="$STATE" -o Dir::State::Lists="$STATE/lists" \
       -o Dir::Cache="$STATE/cache" \
       -o APT::Sandbox::User="$(id -un)" \
       -o APT::Get::AllowUnauthenticated=false \
       -o Acquire::AllowInsecureRepositories=false
}

echo "$me: apt-get update for $SUITE (deb-src, private state in $STATE)"
if ! apt_private apt-get -q update > "$STATE/update.log" 2>&1 ||
   grep -q '^[EW]:' "$STATE/update.log"; then
  cat "$STATE/update.log" >&2
  echo "$me: apt-get update of $SUITE sources failed (see above); nothing downloaded" >&2
  exit 1
fi

echo "$me: apt-get source --download-only $TAR_ONLY $PKGVER into $DEST"
if ! ( cd "$DEST" && apt_private apt-get -q source --download-only $TAR_ONLY "$PKGVER" ) \
     > "$STATE/source.log" 2>&1; then
  cat "$STATE/source.log" >&2
  echo "$me: apt-get source $PKGVER from $SUITE failed (see above)" >&2
  exit 1
fi
rm -rf "$STATE"
