# Every example script runs to the end (they are documentation that must stay true).
source "$(dirname "$0")/lib.sh"
for e in "$ROOT"/examples/*.sh; do
    case $(basename "$e") in
    inspect-dataset.sh) [ -d "$DATA/tetrominoes-real10" ] || { ok "$(basename "$e") # skipped: no data"; continue; } ;;
    esac
    expect_ok "example $(basename "$e") runs" "bash $e >/dev/null"
done
