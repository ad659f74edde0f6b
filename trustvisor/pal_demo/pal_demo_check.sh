#!/bin/sh
# The PALs' object must reference nothing outside the .pal_* sections:
# inside its view a PAL has no other page (a call to memcpy or a load from
# .rodata would fault). Every relocation of .pal_code must name a symbol
# defined in a .pal_* section (readelf's symbol table gives its section).
set -eu
obj=$1
bad=$(readelf -rW "$obj" | awk '/^Relocation section/ { on = ($3 ~ /\.pal_/) ; next }
  on && NF >= 5 && $1 ~ /^[0-9a-f]+$/ { print $5 }' | sort -u | while read -r sym; do
    sec=$(readelf -sW "$obj" | awk -v s="$sym" '$8 == s { print $7 }' | head -n1)
    name=$(readelf -SW "$obj" | sed -n "s/^ *\[ *$sec\] \([^ ]*\).*/\1/p" | head -n1)
    case "$sym" in .pal_*) continue ;; esac
    case "$name" in .pal_*) ;; *) echo "$sym(section ${sec:-?} ${name:-undefined})" ;; esac
  done)
if [ -n "$bad" ]; then
  echo "pal_demo_check: $obj: PAL code references outside its sections: $bad" >&2
  exit 1
fi
