#!/usr/bin/env bash
# Fails if the shared library exports a defined symbol not named rs_*.
set -euo pipefail
nm_tool=${1:?usage: exported_symbols_test.sh <nm> <libringside_core.so>}
lib=${2:?usage: exported_symbols_test.sh <nm> <libringside_core.so>}

# Linker-made symbols every shared object has, and what sanitizers instrument in.
allowed='^(_init|_fini|_edata|_end|__bss_start|_IO_stdin_used|__data_start|__dso_handle)$'
tooling='^(__odr_asan|__asan_|__ubsan_|__tsan_|__sanitizer_|___asan_)'

# nm -D --defined-only prints "<addr> <type> <name>"; type A is a version node, not a symbol.
symbols=$("$nm_tool" -D --defined-only "$lib" | awk 'NF >= 3 && $2 != "A" { print $3 }')
[[ -n $symbols ]] || { echo "FAIL: $lib exports no symbols at all"; exit 1; }

bad=$(grep -Ev '^rs_' <<<"$symbols" | grep -Ev "$allowed" | grep -Ev "$tooling" || true)
ours=$(grep -c '^rs_' <<<"$symbols" || true)
if [[ -n $bad ]]; then
  echo "FAIL: $lib exports $(wc -l <<<"$bad") symbol(s) outside the rs_ prefix:"
  # Demangled beside mangled, so a C++ leak is easy to recognise.
  while read -r sym; do printf '  %s    %s\n' "$sym" "$(c++filt "$sym" 2>/dev/null || true)"; done <<<"$bad"
  echo "Mark only the C API with the export macro; consider a linker version script."
  exit 1
fi
if [[ $ours -eq 0 ]]; then
  echo "FAIL: $lib exports no rs_ symbol: is the export macro applied?"
  exit 1
fi
echo "OK: $lib exports $ours rs_ symbol(s) and nothing else"
