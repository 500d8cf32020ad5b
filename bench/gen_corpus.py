#!/usr/bin/env python3
"""Generate the benchmark corpora deterministically (same seed, same bytes).

  big:   about 1 GiB of realistic rdd logs in 156 files: service logs with
         rotated backups, host agent JSON lines, serial consoles, guest
         journals and a few large packet-trace logs (hex dumps).
  small: 20,000 logs of 4 KiB each, in 100 preserved VM folders.

Both are laid out as an rdd log dir (logs at depth 1 and preserved VM
folders at depth 2), so that `logkeep collect --instance bench --log-dir DIR`
and `tar -C DIR .` archive the same files.

Usage: gen_corpus.py OUT_DIR [--scale 1.0] [--seed 42]
"""
import argparse
import os
import random

LEVELS = ["info"] * 12 + ["debug"] * 6 + ["warning"] * 2 + ["error"]
UNITS = ["containerd", "k3s", "systemd", "sshd", "cloud-init", "lima-guestagent", "dockerd"]
WORDS = ("starting stopping waiting connected reconciling pulling image layer sandbox "
         "network bridge veth route mount overlay snapshot lease ttl retry backoff "
         "handshake certificate controller watch informer cache sync pod node").split()


def sentence(rng, n=8):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, n)))


def ts(t):
    h, rem = divmod(int(t), 3600)
    m, s = divmod(rem, 60)
    return f"2026-06-11T{4 + h % 20:02d}:{m:02d}:{s:02d}"


def logrus(rng, t):
    if rng.random() < 0.01:
        # Lines that make the redactor look closer, as real service logs do.
        return rng.choice((
            f'time="{ts(t)}Z" level=info msg="refreshing token" expires_in={rng.randint(60, 3600)}\n',
            f'time="{ts(t)}Z" level=debug msg="GET https://registry.example.test/v2/ 401" retry={rng.randint(1, 5)}\n',
            f'time="{ts(t)}Z" level=debug msg="request" header="Authorization: Bearer {rng.getrandbits(128):032x}"\n',
        ))
    return (f'time="{ts(t)}Z" level={rng.choice(LEVELS)} msg="{sentence(rng)}" '
            f'instance=bats-lima-controller vm=test-{rng.randint(1, 40)} attempt={rng.randint(1, 9)}\n')


def klog(rng, t):
    us = int((t % 1) * 1e6)
    return (f'I0611 {ts(t)[11:]}.{us:06d}    {rng.randint(1000, 9999)} {rng.choice(WORDS)}.go:{rng.randint(10, 900)}] '
            f'"{sentence(rng, 6)}" key="{rng.choice(WORDS)}" n={rng.randint(0, 99)}\n')


def ha_json(rng, t):
    return (f'{{"level":"{rng.choice(LEVELS)}","msg":"{sentence(rng)}","time":"{ts(t)}Z",'
            f'"fields":{{"port":{rng.randint(1024, 65535)},"vm":"test-{rng.randint(1, 40)}"}}}}\n')


def serial(rng, t):
    if rng.random() < 0.5:
        return f"[{t:12.6f}] {rng.choice(WORDS)}: {sentence(rng)} 0x{rng.choice((0, 0x1000, 0xffff0000, 0xdead)):08x}\r\n"
    return f"Jun 11 {ts(t)[11:]} lima {rng.choice(UNITS)}[{rng.randint(1, 9999)}]: {sentence(rng)}\r\n"


def journal(rng, t):
    return f"{ts(t)}+0000 lima {rng.choice(UNITS)}[{rng.randint(1, 9999)}]: {sentence(rng)}\n"


# Packet payloads repeat (keep-alives, handshakes): traces compress as real ones do.
PAYLOADS = [" ".join(f"{random.Random(p * 8 + w).getrandbits(16):04x}" for w in range(8)) for p in range(48)]


def packet_trace(rng, t):
    head = (f"{ts(t)}.{rng.randint(0, 999):03d}000 IP 192.168.5.{rng.randint(2, 6)}.{rng.choice((22, 443, 6443))} "
            f"> 192.168.5.15.{rng.choice((22, 443, 6443))}: tcp {rng.choice((0, 36, 52, 1448))}\n")
    first = rng.randrange(len(PAYLOADS) - 4)
    body = "".join(f"\t0x{off:04x}:  {PAYLOADS[first + off // 16]}\n" for off in range(0, 16 * rng.randint(1, 4), 16))
    return head + body


KINDS = [
    ("rdd.stderr", logrus), ("rdd.stdout", klog), ("ha.stderr", ha_json),
    ("serial", serial), ("serialv", serial), ("guest-journal", journal),
]


def write_log(path, make, size, rng):
    t = rng.uniform(0, 3600)
    with open(path, "w", newline="") as f:
        written, lines = 0, []
        while written < size:
            line = make(rng, t)
            t += rng.expovariate(50)
            lines.append(line)
            written += len(line)
            if len(lines) >= 4096:
                f.write("".join(lines))
                lines.clear()
        f.write("".join(lines))


def big(out, scale, rng):
    # 3 packet traces (about 45% of the bytes), then 153 logs of mixed sizes.
    sizes = [int(s * scale) for s in (200 << 20, 150 << 20, 110 << 20)]
    rest = (1 << 30) * scale - sum(sizes)
    weights = [rng.paretovariate(1.2) for _ in range(153)]
    total = sum(weights)
    sizes += [max(2048, int(rest * w / total)) for w in weights]
    os.makedirs(out, exist_ok=True)
    for i, size in enumerate(sizes):
        if i < 3:
            name, make, folder = f"packet-trace.{i + 1}.log", packet_trace, ""
        else:
            base, make = KINDS[i % len(KINDS)]
            vm = i % 9
            folder = "" if vm < 3 else f"test-vm-{vm}{'' if vm % 2 else '.2'}"
            name = f"{base}.{i}.log"
        d = os.path.join(out, folder)
        os.makedirs(d, exist_ok=True)
        write_log(os.path.join(d, name), make, size, rng)


def small(out, scale, rng):
    count = max(100, int(20000 * scale))
    for i in range(count):
        d = os.path.join(out, f"vm-{i % 100:03d}")
        os.makedirs(d, exist_ok=True)
        base, make = KINDS[i % len(KINDS)]
        write_log(os.path.join(d, f"{base}.{i}.log"), make, 4096, rng)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (tests use a small one)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", choices=["big", "small"])
    args = parser.parse_args()
    if args.only in (None, "big"):
        big(os.path.join(args.out, "big"), args.scale, random.Random(args.seed))
    if args.only in (None, "small"):
        small(os.path.join(args.out, "small"), args.scale, random.Random(args.seed + 1))


if __name__ == "__main__":
    main()
