# Every example script runs to the end (they are documentation that must stay true).
source "$(dirname "$0")/lib.sh"
for e in "$ROOT"/examples/*.sh; do
    case $(basename "$e") in
    inspect-dataset.sh | greedy-vs-exhaustive.sh | python-stage.sh | decompose-folder.sh)
        [ -d "$DATA/tetrominoes-real10" ] || { ok "$(basename "$e") # skipped: no data"; continue; } ;;&
    python-stage.sh)
        { python3 -c 'import msgpack, numpy' || /usr/bin/python3 -c 'import msgpack, numpy'; } 2>/dev/null ||
            { ok "$(basename "$e") # skipped: no python3 with msgpack and numpy"; continue; } ;;
    esac
    expect_ok "example $(basename "$e") runs" "bash $e >/dev/null"
done
