"""missing_modules.one_line(PROG): a script of ours that lacks a Python module
(msgpack, numpy, torch, yaml: Debian's python3-* packages, which another
python3 on the PATH may not see) stops with one line naming it and exit
status 1, instead of a traceback.  Only standard modules here."""
import sys

PACKAGES = {"msgpack": "python3-msgpack", "numpy": "python3-numpy", "torch": "python3-torch", "yaml": "python3-yaml"}


def one_line(prog):
    def hook(kind, err, tb):
        name = getattr(err, "name", None) if issubclass(kind, ImportError) else None
        if not name:
            sys.__excepthook__(kind, err, tb)
            return
        pkg = PACKAGES.get(name.split(".")[0])
        hint = f" (Debian's {pkg}, with /usr/bin/python3)" if pkg else ""
        print(f"{prog}: needs the Python module {name}{hint}", file=sys.stderr)

    sys.excepthook = hook
