#!/usr/bin/env python3
"""Benchmark logkeep against the tools a user would otherwise reach for.

Generates the corpora (gen_corpus.py, fixed seed) if missing, installs the
peers that are missing (pigz with apt-get, Node's archiver with npm), then
for each corpus and format runs logkeep and each peer in alternating order
(A B A B …) for several rounds, checks that every output holds exactly the
expected files, and prints the medians: wall time, CPU time, peak memory,
output size, and logkeep's ratio to each peer.

Usage: bench/run.py [--rounds 3] [--work DIR] [--corpus big small] [--flatness]
"""
import argparse
import hashlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LOGKEEP = os.path.join(ROOT, "target", "release", "logkeep")
NODE_DIR = os.path.join(HERE, ".node")
CORES = os.cpu_count() or 1


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def ensure_tools():
    sh(["cargo", "build", "--release", "--quiet"], cwd=ROOT)
    missing = [pkg for tool, pkg in (("pigz", "pigz"), ("zip", "zip"), ("zstd", "zstd"), ("/usr/bin/time", "time"))
               if not shutil.which(tool)]
    if missing:
        prefix = [] if os.geteuid() == 0 else ["sudo"]
        sh(prefix + ["apt-get", "update", "-q"], stdout=subprocess.DEVNULL)
        sh(prefix + ["apt-get", "install", "-y", "-q"] + missing, stdout=subprocess.DEVNULL)
    if shutil.which("node") and not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "archiver")):
        os.makedirs(NODE_DIR, exist_ok=True)
        sh(["npm", "install", "--silent", "--prefix", NODE_DIR, "archiver@7"], stdout=subprocess.DEVNULL)


def ensure_corpus(work, name, scale=1.0):
    path = os.path.join(work, f"{name}-{scale:g}")
    if not os.path.isdir(os.path.join(path, name)):
        print(f"generating corpus {name} (scale {scale:g}) in {path} …", file=sys.stderr)
        sh([sys.executable, os.path.join(HERE, "gen_corpus.py"), path, "--only", name, "--scale", str(scale)])
    return os.path.join(path, name)


def files_below(root):
    out = set()
    for folder, _, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(folder, n), root))
    return out


def run(cmd, out_path, env=None):
    """Wall seconds, CPU seconds, peak RSS in MiB, output bytes. Measured by
    GNU time, whose small process does not lend its memory to the child."""
    if os.path.exists(out_path):
        os.remove(out_path)
    stats = out_path + ".time"
    proc = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", stats] + cmd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=env, cwd=os.path.dirname(out_path))
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    wall, user, system, rss_kib = open(stats).read().split()[-4:]
    return float(wall), float(user) + float(system), int(rss_kib) / 1024, os.path.getsize(out_path)


def names_in(path):
    if path.endswith(".zip"):
        return {n for n in zipfile.ZipFile(path).namelist() if not n.endswith("/")}
    if path.endswith(".tar.zst"):
        data = subprocess.run(["zstd", "-dcq", path], check=True, stdout=subprocess.PIPE).stdout
        tar = tarfile.open(fileobj=io.BytesIO(data))
    else:
        tar = tarfile.open(path)
    return {m.name.removeprefix("./") for m in tar.getmembers() if m.isfile()}


def tools(fmt, corpus, out):
    lk = [LOGKEEP, "collect", "--quiet", "--instance", "bench", "--log-dir", corpus, "-o", out]
    peers = {
        "tar.gz": [("tar czf (gzip -6)", ["tar", "czf", out, "-C", corpus, "."]),
                   (f"tar -I pigz ({CORES} threads)", ["tar", "-I", f"pigz -p {CORES}", "-cf", out, "-C", corpus, "."])],
        "tar.zst": [("tar -I 'zstd -T0 -3'", ["tar", "-I", "zstd -T0 -3", "-cf", out, "-C", corpus, "."])],
        "zip": [("zip -r -6", ["sh", "-c", f'cd "{corpus}" && zip -q -r -6 "{out}" .'])],
    }[fmt]
    if fmt == "zip" and os.path.isdir(os.path.join(NODE_DIR, "node_modules", "archiver")):
        env = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"))
        peers.append(("Node archiver zip -6", (["node", os.path.join(HERE, "archiver_zip.js"), corpus, out], env)))
    return ("logkeep", lk), peers


def bench(corpus, name, rounds, work):
    expected = files_below(corpus)
    rows = []
    for fmt in ("tar.gz", "tar.zst", "zip"):
        out = os.path.join(work, f"out.{fmt}")
        results = {}
        (lk_name, lk_cmd), peers = tools(fmt, corpus, out)
        order = [(lk_name, lk_cmd)] + peers
        for r in range(rounds):
            for label, cmd in (order if r % 2 == 0 else order[::-1]):
                cmd, env = cmd if isinstance(cmd, tuple) else (cmd, None)
                results.setdefault(label, []).append(run(cmd, out, env))
                names = names_in(out)
                want = {f"bench/{n}" for n in expected} | {"manifest.json"} if label == "logkeep" else expected
                if names != want:
                    raise SystemExit(f"{label} {fmt}: wrong file set ({len(names)} vs {len(want)} expected)")
        med = {label: [statistics.median(x[i] for x in runs) for i in range(4)] for label, runs in results.items()}
        for label, (wall, cpu, rss, size) in med.items():
            ratio = "" if label == "logkeep" else f"{med['logkeep'][0] / wall:.2f}"
            size_ratio = "" if label == "logkeep" else f"{med['logkeep'][3] / size:.3f}"
            rows.append((name, fmt, label, wall, cpu, rss, size / 2**20, ratio, size_ratio))
    return rows


def sha256_cost(corpus):
    """CPU seconds to hash every file of the corpus (what the manifest adds)."""
    start = time.process_time()
    for rel in sorted(files_below(corpus)):
        with open(os.path.join(corpus, rel), "rb") as f:
            hashlib.file_digest(f, "sha256")
    return time.process_time() - start


# The memory target: at most this much, and the same within this share from
# the smaller corpus to the larger.
MEMORY_CEILING_MIB = 64
MEMORY_GROWTH = 0.10


def flatness(work, rounds):
    """logkeep's peak memory on each corpus and on a larger one of its kind
    (medians of `rounds` runs, to a tenth of a MiB: rounded to whole MiB, 16 →
    18 would read as 12% where it is 5%), and the growth between the two."""
    print(f"\nlogkeep's peak memory, the median of {rounds} run{'s' if rounds != 1 else ''} each "
          f"(target: at most {MEMORY_CEILING_MIB} MiB, growth at most {MEMORY_GROWTH:.0%})")
    print("\n| corpus | format | peak MiB | larger corpus | peak MiB | growth | within the target |\n"
          "|---|---|---:|---|---:|---:|---|")
    for name, label, scale, larger in (("big", "1 GiB", 4, "4 GiB"), ("small", "20,000 files", 5, "100,000 files")):
        corpora = (ensure_corpus(work, name, 1), ensure_corpus(work, name, scale))
        for fmt in ("tar.gz", "tar.zst", "zip"):
            out = os.path.join(work, f"flat.{fmt}")
            peaks = []
            for corpus in corpora:
                (_, cmd), _ = tools(fmt, corpus, out)
                peaks.append(statistics.median(run(cmd, out)[2] for _ in range(rounds)))
            growth = peaks[1] / peaks[0] - 1
            within = max(peaks) <= MEMORY_CEILING_MIB and abs(growth) <= MEMORY_GROWTH
            print(f"| {label} | {fmt} | {peaks[0]:.1f} | {larger} | {peaks[1]:.1f} | {growth:+.1%} | "
                  f"{'yes' if within else 'NO'} |")
            sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "logkeep-bench"))
    parser.add_argument("--corpus", nargs="+", default=["big", "small"], choices=["big", "small"])
    parser.add_argument("--flatness", action="store_true", help="also measure logkeep's peak memory on corpora 4 and 5 times as large, and its growth")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    ensure_tools()
    print(f"machine: {CORES} cores, {os.uname().machine}, {os.uname().sysname} {os.uname().release}; "
          f"rounds: {args.rounds} (medians); logkeep {subprocess.run([LOGKEEP, '--version'], capture_output=True, text=True).stdout.strip()}")
    print()
    print("| corpus | format | tool | wall s | CPU s | peak MiB | output MiB | logkeep wall / tool wall | logkeep size / tool size |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for name in args.corpus:
        corpus = ensure_corpus(args.work, name)
        for row in bench(corpus, name, args.rounds, args.work):
            print("| {} | {} | {} | {:.2f} | {:.2f} | {:.0f} | {:.1f} | {} | {} |".format(*row))
            sys.stdout.flush()
    if "big" in args.corpus:
        corpus = ensure_corpus(args.work, "big")
        print(f"\nSHA-256 of the big corpus: {sha256_cost(corpus):.2f} CPU s (Python hashlib, the same SHA extensions)")
    if args.flatness:
        flatness(args.work, args.rounds)


if __name__ == "__main__":
    main()
