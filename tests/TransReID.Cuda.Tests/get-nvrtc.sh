#!/usr/bin/env bash
# Unpacks an NVRTC (the CUDA runtime compiler: no GPU needed) into <repo>/.nvrtc/ so that KernelCompileTests can
# compile every kernel on a machine without CUDA. Uses Debian's non-free libnvrtc packages through apt with a private
# source list and state folder (the system's apt configuration is not touched). .nvrtc/ is git-ignored locally via
# .git/info/exclude. The tests find .nvrtc/ by themselves; alternatively set TRANSREID_NVRTC_PATH to the .so file.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dest="$repo/.nvrtc"
if ls "$dest"/root/usr/lib/x86_64-linux-gnu/libnvrtc.so.* >/dev/null 2>&1; then
    echo "NVRTC already unpacked under $dest"; exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$dest"
. /etc/os-release
cat > "$work/sources.list" <<LIST
deb http://deb.debian.org/debian ${VERSION_CODENAME} non-free
LIST
opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=/nonexistent" -o "Dir::State::Lists=$work/lists"
      -o "Dir::Cache=$work/cache" -o "Dir::State::status=/var/lib/dpkg/status")
apt-get "${opts[@]}" update -qq
nvrtc=$(apt-cache "${opts[@]}" search --names-only '^libnvrtc[0-9.]+$' | awk '{print $1}' | sort -V | tail -1)
builtins=$(apt-cache "${opts[@]}" search --names-only '^libnvrtc-builtins[0-9.]+$' | awk '{print $1}' | sort -V | tail -1)
[ -n "$nvrtc" ] && [ -n "$builtins" ] || { echo "no libnvrtc package found in Debian ${VERSION_CODENAME} non-free" >&2; exit 1; }
(cd "$work" && apt-get "${opts[@]}" download "$nvrtc" "$builtins" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$dest/root"; done
grep -qx '/.nvrtc/' "$repo/.git/info/exclude" 2>/dev/null || echo '/.nvrtc/' >> "$repo/.git/info/exclude"
ls "$dest"/root/usr/lib/x86_64-linux-gnu/libnvrtc*
