#!/bin/sh
# ci/nightly.sh: ringside's nightly job, the same from any CI system and by hand (ci/README.md).
#
#   ci/nightly.sh [--store DIR] [--quick] [--summary FILE] [RUN_ALL_OPTION...]
#       one machine: run_all.py nightly into a new night of the store, compare with the previous
#       passing night, update the history page, write the Markdown verdict
#   ci/nightly.sh --shard K/N --out DIR [--quick] [--summary FILE] [RUN_ALL_OPTION...]
#       one shard of a fleet: run it and check it (no comparison); merge the shards afterwards
#   ci/nightly.sh --merge [--store DIR] [--summary FILE] SHARD_DIR...
#       the shards' folders merged into a new night of the store, then compared and judged as above
#
# RUN_ALL_OPTION: passed to `run_all.py nightly` (--scenarios FILE, --repetitions N, -k TEXT,
# --variants LIST, --no-build, --no-microbench, --nights N, -v). --quick adds
# `--scenarios scenarios/quick.toml --variants release --no-microbench` (a minute or less).
# Environment: RINGSIDE_NIGHTLY_STORE (default reports/nightly in the repository), RINGSIDE_NIGHTLY_KEEP (nights the
# store keeps, default 60), PYTHON (default python3); the verdict is appended to $GITHUB_STEP_SUMMARY
# when that is set. Start-up is run_all.py's: missing Debian packages are installed as root, or the
# apt-get command is printed (exit 2).
#
# Exit: 0 pass; 1 a failed build, a validation failure, a checker finding, a broken canary, failed
# microbenchmarks or a missing shard; 2 usage error or missing prerequisite; 3 a regression (against
# the previous passing night, or a lasting change the history confirms tonight); 130 interrupted.

set -u

usage() {
    sed -n '4,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    [ $# -gt 0 ] && echo "nightly.sh: $*" >&2
    exit 2
}

# Paths are the caller's (relative to the current directory); run_all.py finds the repository itself.
root=$(cd "$(dirname "$0")/.." && pwd) || exit 2

python=${PYTHON:-}
if [ -z "$python" ]; then
    if command -v python3 >/dev/null 2>&1; then python=python3
    elif [ -x /usr/bin/python3 ]; then python=/usr/bin/python3
    else echo "nightly.sh: no python3; install it: sudo apt-get install -y python3" >&2; exit 2
    fi
fi

mode=single
store=${RINGSIDE_NIGHTLY_STORE:-$root/reports/nightly}
keep=${RINGSIDE_NIGHTLY_KEEP:-60}
summary=""
shard=""
out=""
quick=""

# Options of this script are taken out; everything else is kept, in order, in "$@".
n=$#
while [ "$n" -gt 0 ]; do
    arg=$1; shift; n=$((n - 1))
    case $arg in
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --quick) quick="--scenarios $root/scenarios/quick.toml --variants release --no-microbench" ;;
        --merge) mode=merge ;;
        --store|--summary|--shard|--out)
            [ "$n" -gt 0 ] || usage "$arg needs a value"
            value=$1; shift; n=$((n - 1))
            case $arg in
                --store) store=$value ;; --summary) summary=$value ;;
                --shard) shard=$value; mode=shard ;; --out) out=$value ;;
            esac ;;
        --store=*) store=${arg#*=} ;;
        --summary=*) summary=${arg#*=} ;;
        --shard=*) shard=${arg#*=}; mode=shard ;;
        --out=*) out=${arg#*=} ;;
        *) set -- "$@" "$arg" ;;
    esac
done

if [ -n "$quick" ]; then
    case $root in *[[:space:]]*) usage "--quick needs a repository path without spaces: $root" ;; esac
fi
case $keep in ''|*[!0-9]*) usage "RINGSIDE_NIGHTLY_KEEP must be a number, not '$keep'" ;; esac
if [ -n "$shard" ] && [ "$mode" = merge ]; then usage "--shard and --merge: one or the other"; fi
if [ "$mode" = shard ] && [ -z "$out" ]; then usage "--shard needs --out DIR (the shard's run folder)"; fi
if [ "$mode" != shard ] && [ -n "$out" ]; then usage "--out is for --shard; a night's folder is named in --store"; fi
if [ "$mode" = merge ] && [ $# -eq 0 ]; then usage "--merge needs the shards' folders"; fi
if [ "$mode" = merge ] && [ -n "$quick" ]; then usage "--quick is for running, not --merge"; fi

verdict=$(mktemp "${TMPDIR:-/tmp}/ringside-verdict.XXXXXX") || exit 2
trap 'rm -f "$verdict"' EXIT

run() {
    echo "+ $*" >&2
    "$@"
}

case $mode in
    single)
        # shellcheck disable=SC2086  # $quick is a list of words (a repository path with spaces is refused above)
        run "$python" "$root/run_all.py" nightly --store "$store" --fail-on-regression --summary "$verdict" $quick "$@"
        rc=$? ;;
    shard)
        # shellcheck disable=SC2086
        run "$python" "$root/run_all.py" nightly --shard "$shard" --out "$out" --summary "$verdict" $quick "$@"
        rc=$? ;;
    merge)
        run "$python" "$root/run_all.py" merge --store "$store" "$@"
        rc=$?
        if [ "$rc" -eq 0 ]; then
            run "$python" "$root/run_all.py" verdict --store "$store" --fail-on-regression --summary "$verdict"
            rc=$?
        fi ;;
esac

if [ -s "$verdict" ]; then
    [ -n "$summary" ] && cp "$verdict" "$summary"
    [ -n "${GITHUB_STEP_SUMMARY:-}" ] && cat "$verdict" >> "$GITHUB_STEP_SUMMARY"
    head -n 1 "$verdict"
elif [ "$rc" -eq 0 ]; then
    echo "nightly.sh: no verdict was written" >&2
    rc=1
fi
nights=$(find "$store" -mindepth 1 -maxdepth 1 -type d -name '2*' 2>/dev/null | wc -l)
if [ "$mode" != shard ] && [ "$nights" -gt 2 ]; then  # the newest two nights keep every file anyway
    run "$python" "$root/run_all.py" clean --store "$store" --keep "$keep" >/dev/null || true
fi
echo "nightly.sh: exit $rc" >&2
exit "$rc"
