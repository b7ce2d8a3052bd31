#!/bin/bash
# make deps: checks that this machine can build and test sprites; installs
# the missing Debian packages when run as root, otherwise prints the exact
# command to run and stops.  Usage: deps.sh build|fuzz
set -u
what=${1:-build}
missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_pc() { pkg-config --exists "$1" 2>/dev/null || missing+=("$2"); }
need_cmd gcc gcc
need_cmd make make
need_cmd pkg-config pkg-config
need_cmd gzip gzip
need_pc libpng libpng-dev
need_pc msgpack libmsgpack-dev
need_pc zlib zlib1g-dev
need_pc openblas libopenblas-dev
if [ "$what" = fuzz ]; then
    need_cmd clang clang
fi
[ ${#missing[@]} -eq 0 ] && exit 0
pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "deps: installing $pkgs" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq $pkgs; } >&2 || {
        echo "deps: apt-get install -y $pkgs failed" >&2
        exit 1
    }
    exit 0
fi
echo "deps: missing Debian packages; run:  sudo apt-get install -y $pkgs" >&2
exit 1
