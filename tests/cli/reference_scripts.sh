# formats/import_reference.py and export_reference.py (the checkpoint
# converters; their conversions are checked by hand with torch,
# tests/golden/check_import_export.py): a Python without the modules they
# need (-S: no site packages, so no msgpack) stops with one line naming the
# module, not a traceback.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
if [ ! -x $PY ]; then
    ok "reference scripts # skipped: no $PY"
else
    expect_error "import_reference.py without msgpack: one line" \
        "^import_reference\\.py: needs the Python module msgpack \\(Debian's python3-msgpack, with /usr/bin/python3\\)\$" \
        "$PY -S $ROOT/formats/import_reference.py a.yml b.pkl $T/out.spm"
    expect_error "export_reference.py without msgpack: one line" \
        "^export_reference\\.py: needs the Python module msgpack \\(Debian's python3-msgpack, with /usr/bin/python3\\)\$" \
        "$PY -S $ROOT/formats/export_reference.py a.spm $T/out.pkl"
    expect_ok "import_reference.py without the module: nothing written" "[ ! -e $T/out.spm ]"
fi
