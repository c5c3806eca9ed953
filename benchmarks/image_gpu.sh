#!/usr/bin/env bash
# The image track's GPU check, one short run on a CUDA machine (about 8 minutes on an H200):
#
#   bash benchmarks/image_gpu.sh OUT_DIR
#
# 1. The paper-sized model of config/images-gpu.yaml (UNet width 64, multipliers 1, 2, 4, 8,
#    batch 256, bf16) trained for a fixed 2,000 steps on the bundled Colored MNIST pool (4,000
#    images), then 1,000 class-balanced samples drawn with DDPM's 1,000 steps (the paper's
#    sampler) and with DPM-Solver++ in 25 steps: training and sampling images per second, the
#    samples' confident share and the receiver's accuracy (benchmarks/image_samples.py), alone
#    on the GPU.
# 2. The CPU defaults' candidates (the small UNet at 16 x 16 or 32 x 32, several step counts, both
#    families) trained side by side on the same GPU in fp32, as the CPU runs them: their sample
#    quality and receiver accuracy, to choose the CPU defaults from (their speed is measured on
#    the CPU, not here).
# Each run prints JSON lines; everything lands in OUT_DIR (logs, records, sample grids).
set -uo pipefail
out=${1:?usage: bash benchmarks/image_gpu.sh OUT_DIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__)" | tee -a "$out/gpu.txt"

# 1. The paper's size, alone on the GPU.
timeout 240 python3 benchmarks/image_samples.py --config config/images-gpu.yaml --family ddpm \
  --set steps=2000 --samplers dpmsolver++:25 ddpm:1000 --n 1000 --subset 4000 \
  --device cuda --out "$out/paper" 2>&1 | grep -v Warning | tee "$out/paper.log"

# 2. CPU candidates, fp32, side by side.
fp32=(--set mixed_precision=false --set channels_last=false --device cuda --threads 1 --unconditional)
run() {  # name, then image_samples arguments
  local name=$1; shift
  timeout 230 python3 benchmarks/image_samples.py "$@" "${fp32[@]}" --out "$out/$name" \
    > "$out/$name.log" 2>&1
}
run edm32_1k --family edm --set steps=1000 &
run ddpm32_1k --family ddpm --set steps=1000 &
run edm16_4k --family edm --set resolution=16 --set steps=4000 &
run ddpm16_4k --family ddpm --set resolution=16 --set steps=4000 &
run edm16_8k --family edm --set resolution=16 --set steps=8000 &
run ddpm16_8k --family ddpm --set resolution=16 --set steps=8000 &
run edm16w32_2k --family edm --set resolution=16 --set base_channels=32 --set steps=2000 &
run ddpm16w32_2k --family ddpm --set resolution=16 --set base_channels=32 --set steps=2000 &
wait
grep -h '^{' "$out"/*.log > "$out/records.jsonl"
python3 - "$out/records.jsonl" <<'PY'
import json, sys
print("family res width steps sampler cond train_img/s sample_img/s confident relative receiver real_receiver")
for line in open(sys.argv[1]):
    r = json.loads(line)
    d = r["diffusion"]
    print(r["family"], d.get("resolution") or 32, d["base_channels"], d["steps"], r["sampler"],
          r["sampler_steps"], int(r["conditional"]), r["train_images_per_second"],
          r["sample_images_per_second"], r["confident_share"], round(r["relative"], 3),
          r.get("receiver_accuracy"), r["real_receiver_accuracy"])
PY
