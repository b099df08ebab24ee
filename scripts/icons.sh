#!/usr/bin/env bash
# Regenerates the app icons in icons/ from the one source, icons/icon.svg (needs rsvg-convert
# from librsvg2-bin, or ImageMagick). The PNGs are checked in so a build needs neither.
set -euo pipefail
cd "$(dirname "$0")/../icons"
render() { # size output
  if command -v rsvg-convert >/dev/null 2>&1; then
    rsvg-convert -w "$1" -h "$1" icon.svg -o "$2"
  else
    convert -background none -density 384 icon.svg -resize "$1x$1" "PNG32:$2"
  fi
}
render 32 32x32.png
render 128 128x128.png
render 256 128x128@2x.png
render 512 icon.png
render 64 tray.png
