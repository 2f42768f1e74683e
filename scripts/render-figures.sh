#!/usr/bin/env bash
# Remakes the rendered clips in docs/figures (docs/render.md) with `csc eval --render`.
# Each clip comes from a one-epoch smoke checkpoint trained here: nothing has learned the robot tasks
# yet (issue 11, items 3 and 4), so the clips show the renderers and the filter's overlay, not a skill.
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/figures
work="${RENDER_WORK:-$(mktemp -d)}"
tiny=(--epochs 1 --num-envs 2 --steps-per-epoch 200 --set criticUpdatesPerEpoch=5 --set filterCandidates=10 --set filterProbe=2 --progress quiet)
csc() { node bin/csc.mjs "$@"; }

for env in car-nav laikago-walk panda-push-topple; do
  [ -d "$work/$env" ] || csc train --env "$env" "${tiny[@]}" --out "$work/$env"
done
csc eval --checkpoint "$work/car-nav" --episodes 1 --seed 3 --render "$work/car-nav.mp4" --render-size 320x240
csc eval --checkpoint "$work/laikago-walk" --episodes 2 --seed 3 --render "$out/render-laikago-walk.gif" --render-size 240x180
csc eval --checkpoint "$work/panda-push-topple" --episodes 1 --seed 3 --render "$work/panda-push-topple.mp4" --render-size 320x240

# GIFs for the docs, 240 px wide, one palette: car-nav's 500-step episode keeps every 5th frame;
# the Panda's (its smoke policy topples the block within a few dozen steps) keeps them all
ffmpeg="$(sim/.venv/bin/python -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')"
gif() {
  "$ffmpeg" -hide_banner -loglevel error -y -i "$1" \
    -vf "$3scale=240:-2:flags=lanczos,split[a][b];[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=4" \
    -loop 0 "$2"
}
gif "$work/car-nav.mp4" "$out/render-car-nav.gif" "fps=5,"
gif "$work/panda-push-topple.mp4" "$out/render-panda-push-topple.gif" ""
ls -la "$out"/render-*
