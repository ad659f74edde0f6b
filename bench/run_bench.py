#!/usr/bin/python3
"""make bench: runs every benchmark side by side in one run and keeps the
output under results/<timestamp>-bench/. Each benchmark prints its own
ratios (measured in the same process), so nothing here compares numbers
across runs."""
import datetime
import glob
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def benches():
    for path in sorted(glob.glob(os.path.join(ROOT, "build", "bench", "bench_*"))):
        yield os.path.basename(path), [path]
    for path in sorted(glob.glob(os.path.join(ROOT, "bench", "bench_*.py"))):
        yield os.path.basename(path), [sys.executable, path]


def main():
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    outdir = os.path.join(ROOT, "results", f"{stamp}-bench")
    os.makedirs(outdir, exist_ok=True)
    failed = []
    for name, cmd in benches():
        print(f"==== {name}", flush=True)
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        with open(os.path.join(outdir, name + ".txt"), "w") as f:
            f.write(proc.stdout + proc.stderr)
        if proc.returncode:
            failed.append(name)
    print(f"bench output kept in {os.path.relpath(outdir, ROOT)}")
    if failed:
        print("FAILED: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
