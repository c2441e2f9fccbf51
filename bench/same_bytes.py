#!/usr/bin/env python3
"""Does a reshaped `ae` behave as the old one? Short runs of the presets, compared file by file.

    python3 bench/same_bytes.py run OLD_BINARY /tmp/before
    python3 bench/same_bytes.py run NEW_BINARY /tmp/after
    python3 bench/same_bytes.py compare /tmp/before /tmp/after

`run` trains the seed, default, tutorial-net and seed-denoise presets and a VAE for two epochs each (seed 4,
two threads, the Olivetti faces from $AE_OLIVETTI or $AE_SHARED_DATASETS) and keeps each run's
directory and console output. `compare` checks that every run-directory file holds the same bytes,
timings aside: the seconds and peak memory in metrics.jsonl, summary.json, the checkpoint's
metadata, report.html and the console lines. Exit status 1 on any difference, naming the file.
"""

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

RUNS = {
    "seed": ["--preset", "seed"],
    "default": ["--preset", "default"],
    "tutorial-net": ["--preset", "tutorial-net"],
    "seed-denoise": ["--preset", "seed-denoise"],
    "vae": ["--model", "vae"],
}
COMMON = ["--epochs", "2", "--seed", "4", "--checkpoint-seconds", "0"]
TIMING_KEYS = {"seconds", "train_seconds", "peak_memory_bytes"}


def run(binary, out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=False)
    env = dict(os.environ)
    if "AE_OLIVETTI" not in env:
        shared = env.get("AE_SHARED_DATASETS", str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
        env["AE_OLIVETTI"] = str(Path(shared) / "olivettifaces.mat")
    for name, flags in RUNS.items():
        cmd = [binary, "--threads", "2", "train", *flags, *COMMON, "--out", str(out / name)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        (out / f"{name}.console").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr}")
        print(f"{name}: done")


def without_timings(value):
    if isinstance(value, dict):
        return {k: (None if k in TIMING_KEYS else without_timings(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return without_timings(json.loads(value))
        except ValueError:
            return value
    return value


def html_without_timings(text):
    for header in ("training time (s)", "time per step (ms)", "peak memory"):
        text = re.sub(rf"(<th>{re.escape(header)}</th><td>)[^<]*(</td>)", r"\1T\2", text)
    # The epoch table's last column is the epoch's seconds.
    return re.sub(r"(<tr><td>\d+</td>(?:<td>[^<]*</td>)*?)<td>[^<]*</td></tr>", r"\1<td>T</td></tr>", text)


def console_without_timings(text):
    return re.sub(r"\d+(\.\d+)? ?(s|ms|MB|GB|MiB|GiB)\b", "T", text)


def normalised(path, root):
    data = path.read_bytes()
    if path.suffix == ".jsonl":
        return [without_timings(json.loads(line)) for line in data.decode().splitlines()]
    if path.suffix == ".json":
        return without_timings(json.loads(data))
    if path.suffix == ".safetensors":
        n = struct.unpack("<Q", data[:8])[0]
        header = json.loads(data[8 : 8 + n])
        return without_timings(header), data[8 + n :]
    if path.suffix == ".html":
        return html_without_timings(data.decode())
    if path.suffix == ".console":
        return console_without_timings(data.decode().replace(str(root), "RUNS"))
    return data


def compare(before, after):
    before, after = Path(before), Path(after)
    names = sorted({p.relative_to(before) for p in before.rglob("*") if p.is_file()})
    names_after = sorted({p.relative_to(after) for p in after.rglob("*") if p.is_file()})
    bad = []
    if names != names_after:
        bad.append(f"files differ: only before {sorted(set(names) - set(names_after))}, "
                   f"only after {sorted(set(names_after) - set(names))}")
    for name in names:
        if (after / name).exists() and normalised(before / name, before) != normalised(after / name, after):
            bad.append(f"{name}: differs")
    for line in bad:
        print(line)
    print(f"{len(names)} files compared, {len(bad)} differences")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
