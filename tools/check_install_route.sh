#!/usr/bin/env bash
# Resolve, without installing, what a machine of another kind would install: the default route
# (mmaction2 1.2.0 with its dependencies, which include decord) and the route without decord
# (requirements/without_decord.txt with the constraints, then mmaction2 and this package with
# --no-deps), for aarch64 Linux (Grace-Hopper, glibc 2.35) and Apple-silicon macOS, each Python
# given. torch is resolved on its own with --no-deps: pip evaluates dependency markers for the
# machine it runs on, not for --platform, so torch's CUDA dependencies would be judged as x86-64
# Linux ones. Not part of CI: it asks the package index. Prints one line per platform and
# Python; exits non-zero if the route without decord does not resolve somewhere.
#     bash tools/check_install_route.sh [PYTHON_VERSION ...]      (default: 3.11 3.12 3.13)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${MSNET_PYTHON:-python3}
versions=${*:-3.11 3.12 3.13}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Every wheel tag such a machine accepts, newest first.
linux_tags=""
for glibc in 35 34 31 28 27 26 17; do linux_tags="$linux_tags manylinux_2_${glibc}_aarch64"; done
linux_tags="$linux_tags manylinux2014_aarch64 linux_aarch64"
mac_tags=""
for macos in 26_0 15_0 14_0 13_0 12_0 11_0; do
    mac_tags="$mac_tags macosx_${macos}_arm64 macosx_${macos}_universal2"
done
mac_tags="$mac_tags macosx_10_9_universal2"
failed=0
resolve() {  # tags, python version, then pip arguments: binary wheels only
    local tags=$1 version=$2 platforms=()
    shift 2
    for tag in $tags; do platforms+=(--platform "$tag"); done
    "$py" -m pip install --dry-run --ignore-installed --only-binary=:all: "${platforms[@]}" \
        --python-version "$version" --target "$scratch/target" "$@" > "$scratch/log" 2>&1
}
for machine in aarch64-linux arm64-macos; do
    tags=$linux_tags
    [ "$machine" = arm64-macos ] && tags=$mac_tags
    for version in $versions; do
        if resolve "$tags" "$version" "mmaction2==1.2.0"; then
            default=resolves
        else
            default="fails ($(grep -o 'No matching distribution found for [^ ]*' "$scratch/log" | head -1))"
        fi
        if resolve "$tags" "$version" --no-deps "torch>=2.5" "mmaction2==1.2.0" &&
           resolve "$tags" "$version" -c "$root/requirements/constraints.txt" \
               -r "$root/requirements/without_decord.txt"; then
            route="resolves ($(grep -o 'Would install .*' "$scratch/log" | tr ' ' '\n' |
                               grep -E '^(av|numpy|opencv-contrib-python)-' | tr '\n' ' '))"
        else
            route="FAILS: $(grep -E '^ERROR' "$scratch/log" | head -2 | tr '\n' ' ')"
            failed=1
        fi
        echo "$machine python$version: default route $default; route without decord $route"
    done
done
exit $failed
