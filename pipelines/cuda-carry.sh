#!/bin/bash
# Copies what building sprites needs besides the compiler and CUDA --
# the headers and static libraries of msgpack-c, libpng, zlib and OpenBLAS
# (Debian's libmsgpack-dev, libpng-dev, zlib1g-dev, libopenblas-dev) --
# into DIR (default build/deps), for a machine without those packages, such
# as the GPU machine: carry DIR there and build with
#     make DEPS_DIR=build/deps CUDNN_LIB=... CUDNN_INC=...     (README, CUDA)
# DIR holds only .a files, so the programs get them linked statically.
set -eu
dir=${1:-build/deps}
mkdir -p "$dir/include" "$dir/lib"
ml=/usr/lib/x86_64-linux-gnu
ob=$ml/openblas-pthread
for f in "$ml/libmsgpackc.a" "$ml/libpng16.a" "$ml/libz.a" "$ob/libopenblas.a"; do
    [ -e "$f" ] || { echo "cuda-carry: $f missing (apt-get install libmsgpack-dev libpng-dev zlib1g-dev libopenblas-dev)" >&2; exit 1; }
done
cp -L "$ml/libmsgpackc.a" "$ml/libpng16.a" "$ml/libz.a" "$dir/lib/"
# OpenBLAS's archive is 58 MB, over what a device call may carry (64 MiB):
# keep only what the two functions we call pull in (27 MB, one object).
ld -r -u cblas_sgemm -u openblas_set_num_threads -u openblas_get_num_threads -o "$dir/lib/openblas-used.o" "$ob/libopenblas.a"
strip --strip-debug "$dir/lib/openblas-used.o"
rm -f "$dir/lib/libopenblas.a"
ar rcs "$dir/lib/libopenblas.a" "$dir/lib/openblas-used.o"
rm -f "$dir/lib/openblas-used.o"
mkdir -p "$dir/include/msgpack"
cp -L /usr/include/msgpack.h "$dir/include/"
cp -L /usr/include/msgpack/*.h "$dir/include/msgpack/" # the C API only
cp -L /usr/include/libpng16/png.h /usr/include/libpng16/pngconf.h /usr/include/libpng16/pnglibconf.h \
    /usr/include/zlib.h /usr/include/zconf.h "$dir/include/"
cp -L /usr/include/x86_64-linux-gnu/openblas-pthread/*.h "$dir/include/"
du -sh "$dir" | sed 's/^/cuda-carry: /'
