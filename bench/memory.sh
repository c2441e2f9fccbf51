#!/usr/bin/env bash
# Memory benchmark: for each job of the matrix below, `ae`'s own estimate (the figure its memory
# check refuses with, read by running the job once with --max-memory 1) beside the peak resident
# memory the job reaches when it runs (GNU time's maximum RSS), and their ratio. The check is an
# honest upper bound where measured <= estimate, and a tight one where estimate <= 1.5 x measured.
# Not part of the tests: about ten minutes on a 2-core machine.
#
#   bench/memory.sh
#
# Environment: AE (the binary; default: builds target/release/ae), OUT (work folder; default a new
# temporary one), SHARED (default ../shared), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
THREADS=${THREADS:-2}
if [ -z "${AE:-}" ]; then
    cargo build --release --quiet
    AE=target/release/ae
fi
OUT=${OUT:-$(mktemp -d)}
FACES=$SHARED/datasets/olivettifaces.mat
MNIST=$SHARED/datasets/mnist/t10k-images-idx3-ubyte.gz
[ -f "$MNIST" ] || MNIST=$SHARED/datasets/mnist/t10k-images-idx3-ubyte

# Folders of noisy RGB PNGs (pure Python: zlib-compressed rows of random bytes).
make_folder() { # DIR COUNT SIDE
    python3 - "$@" <<'EOF'
import os, struct, sys, zlib
folder, count, side = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(folder, exist_ok=True)
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
for i in range(count):
    rows = b''.join(b'\x00' + os.urandom(side * 3) for _ in range(side))
    png = (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', side, side, 8, 2, 0, 0, 0))
           + chunk(b'IDAT', zlib.compress(rows, 1)) + chunk(b'IEND', b''))
    with open(os.path.join(folder, f'{i:04d}.png'), 'wb') as f:
        f.write(png)
EOF
}
[ -d "$OUT/rgb128" ] || make_folder "$OUT/rgb128" 200 128
[ -d "$OUT/rgb512" ] || make_folder "$OUT/rgb512" 10 512

# name | ae arguments (the job; --out is added where the command writes files)
JOBS=(
    "faces default|train --data $FACES --epochs 1"
    "faces deep|train --data $FACES --preset default --epochs 1"
    "faces vae|train --data $FACES --model vae --epochs 1"
    "faces code 2048|train --data $FACES --code-length 2048 --epochs 1"
    "mnist default|train --data $MNIST --epochs 1"
    "mnist deep|train --data $MNIST --preset default --epochs 1"
    "rgb 128 batch 50|train --data $OUT/rgb128 --batch-size 50 --epochs 1"
    "rgb 128 batch 10|train --data $OUT/rgb128 --batch-size 10 --epochs 1"
    "rgb 512 batch 2|train --data $OUT/rgb512 --batch-size 2 --epochs 1"
    "rgb 512 batch 9|train --data $OUT/rgb512 --batch-size 9 --epochs 1"
    "eval faces default|eval RUN:faces-default"
    "eval mnist deep|eval RUN:mnist-deep"
    "eval faces vae|eval RUN:faces-vae"
    "eval faces code 2048|eval RUN:faces-code-2048"
    "encode faces default|encode RUN:faces-default --split all"
    "encode rgb 128 batch 50|encode RUN:rgb-128-batch-50 --split all"
)

printf '%-26s %12s %12s %8s  %s\n' job estimate measured ratio verdict
for job in "${JOBS[@]}"; do
    name=${job%%|*}
    args=${job#*|}
    slug=$(echo "$name" | tr ' ' '-')
    args=${args//RUN:/$OUT/run-}
    case $args in
        train*) args="$args --out $OUT/run-$slug" ;;
        eval*) ;;
        *) args="$args --out $OUT/out-$slug" ;;
    esac
    # The estimate: the job refused at a limit of one byte says what it needs.
    # shellcheck disable=SC2086
    refusal=$("$AE" --threads "$THREADS" --max-memory 1 $args 2>&1 || true)
    estimate=$(echo "$refusal" | sed -n 's/.*needs about \([0-9.]*\) \([kMG]B\).*/\1 \2/p' | head -1)
    # shellcheck disable=SC2086
    /usr/bin/time -f '%M' -o "$OUT/time-$slug" "$AE" --threads "$THREADS" $args >"$OUT/log-$slug" 2>&1 \
        || { echo "$name: failed, see $OUT/log-$slug"; continue; }
    measured_kb=$(tail -1 "$OUT/time-$slug")
    python3 - "$name" "$estimate" "$measured_kb" <<'EOF'
import sys
name, estimate, measured_kb = sys.argv[1], sys.argv[2], int(sys.argv[3])
value, unit = estimate.split()
est = float(value) * {'kB': 1e3, 'MB': 1e6, 'GB': 1e9}[unit]
measured = measured_kb * 1024
ratio = est / measured
verdict = 'ok' if measured <= est <= 1.5 * measured else ('UNDER' if est < measured else 'LOOSE')
print(f'{name:26s} {est/1e6:9.0f} MB {measured/1e6:9.0f} MB {ratio:8.2f}  {verdict}')
EOF
done
