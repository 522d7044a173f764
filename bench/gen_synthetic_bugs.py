"""Generate a larger synthetic bug export (JSON lines) with the structure real trackers have.

    python bench/gen_synthetic_bugs.py --n 1000 --seed 0 -o bench/out/synthetic_bugs.jsonl

About 1,000 bugs over 10 components and 25 engineers, over two years, seeded (same seed, same file):

- each component has a primary owner, and in half of the components ownership drifts: a new primary
  takes over part-way through the two years;
- each component has 3-4 sub-areas (the DMA's descriptor ring, its AXI bursts, ...), several of them
  with a specialist who fixes most of their bugs;
- about 12% of bugs are cross-component (clock-domain crossings, reset sequencing, clock gating, timing
  closure, lint/CDC tooling) and go to the expert on that topic whatever the component;
- some assignments are noise (someone else on the team picked it up);
- titles, descriptions and comments come from templates filled with varied symptoms, conditions,
  signals, paths and run numbers, so no two bugs read the same;
- about 80% are resolved or closed (the history assignment learns from), the rest open or in progress.
"""
from __future__ import annotations

import argparse
import json
import random
from datetime import date, timedelta
from pathlib import Path

ENGINEERS = ["alice", "bob", "carol", "dan", "erin", "frank", "gina", "hal", "ivan", "judy", "ken", "lena", "mo",
             "nina", "omar", "pia", "quinn", "raj", "sara", "tom", "uma", "vic", "wen", "xavi", "yara"]

# component -> sub-areas (noun phrase, signal-ish words)
COMPONENTS: dict[str, list[tuple[str, list[str]]]] = {
    "dma": [("descriptor ring", ["desc_ptr", "ring wrap", "head/tail pointer"]),
            ("AXI burst engine", ["awlen", "4 KiB boundary", "burst split"]),
            ("channel arbiter", ["round-robin grant", "priority", "starvation"]),
            ("interrupt and error status", ["ERR_CLR", "done irq", "status latch"])],
    "uart": [("baud generator", ["divisor", "oversampling", "baud error"]),
             ("RX FIFO", ["overflow flag", "fifo level", "rx threshold"]),
             ("line control", ["parity", "stop bit", "break detect"])],
    "cru": [("PLL lock logic", ["pll_lock", "lock timeout", "ref clock"]),
            ("reset synchronizers", ["rst_n sync", "reset release", "por"]),
            ("clock dividers", ["div ratio", "glitch-free switch", "clk_div"])],
    "timer": [("prescaler", ["prescale", "tick", "rollover"]),
              ("compare channels", ["cmp match", "capture", "pwm duty"]),
              ("watchdog", ["wdt kick", "timeout window", "bark/bite"])],
    "spi": [("clock phase and polarity", ["cpol", "cpha", "sample edge"]),
            ("chip select timing", ["cs_n", "setup time", "hold time"]),
            ("TX/RX shift registers", ["shift count", "msb first", "fifo underrun"])],
    "i2c": [("bus arbitration", ["sda", "arbitration lost", "multi-master"]),
            ("clock stretching", ["scl low", "stretch timeout", "slave hold"]),
            ("address decoding", ["7-bit address", "nack", "general call"])],
    "gpio": [("interrupt edge detection", ["edge select", "debounce", "irq mask"]),
             ("pad muxing", ["pinmux", "alt function", "pad config"]),
             ("output drive", ["drive strength", "open drain", "pull-up"])],
    "ddr": [("training sequence", ["write leveling", "read gate", "vref"]),
            ("refresh scheduler", ["tREFI", "refresh starvation", "self refresh"]),
            ("command queue", ["bank conflict", "reorder", "page policy"]),
            ("PHY interface", ["dfi", "dqs", "phase alignment"])],
    "noc": [("router crossbar", ["vc allocation", "deadlock", "credit"]),
            ("address map", ["decode error", "aperture", "default slave"]),
            ("QoS regulator", ["bandwidth cap", "latency", "urgency"])],
    "flow": [("synthesis scripts", ["yosys", "abc", "read_verilog"]),
             ("timing constraints", ["sdc", "create_clock", "false path"]),
             ("regression infrastructure", ["nightly", "seed", "license"])],
}
CROSS_TOPICS = [("clock domain crossing", ["CDC", "synchronizer", "metastability", "gray code"]),
                ("reset sequencing", ["reset ordering", "async reset", "reset domain"]),
                ("clock gating and low power", ["clock gate", "power domain", "retention"]),
                ("timing closure", ["setup violation", "hold violation", "critical path"]),
                ("lint and CDC tool waivers", ["spyglass", "lint waiver", "verilator warning"])]
SYMPTOMS = ["hangs", "returns stale data", "corrupts the last word", "drops transfers", "raises a spurious interrupt",
            "never asserts", "deasserts one cycle early", "locks up after reset", "reports the wrong count",
            "fails in gate-level simulation", "mismatches the reference model", "times out"]
CONDITIONS = ["under back-to-back traffic", "after a soft reset", "at the slowest clock ratio", "when the FIFO is full",
              "with random seeds only", "at low voltage corners", "in the nightly regression", "on silicon bring-up",
              "when two channels run together", "after the latest RTL drop"]
OPENERS = ["Seen in {run}.", "Reproduces with seed {seed}.", "Found by the {test} test.", "Reported by bring-up team."]
FOLLOWUPS = ["Looking at the {sub} logic; waves at /proj/pico/regress/{day}/{test}/run_{seed}/waves.fsdb",
             "Root cause: {word} handling in the {sub} is off by one cycle.",
             "Added an assertion on {word}; rerunning {test}.",
             "Fix pushed to rtl/{comp}/{comp}_{file}.sv, waiting for the nightly.",
             "Could this be related to {word}? Seeing the same signature in run {seed}.",
             "Verified in regression {run}; closing."]


def _owner_plan(rng: random.Random) -> dict:
    """Who owns what: primary owners with drift, sub-area specialists, cross-topic experts."""
    people = ENGINEERS[:]
    rng.shuffle(people)
    experts = {t: people.pop() for t, _ in CROSS_TOPICS}  # 5 cross-component experts
    plan = {"experts": experts, "components": {}}
    for i, (comp, subs) in enumerate(COMPONENTS.items()):
        team = people[(2 * i) % len(people):(2 * i) % len(people) + 3] or people[:3]
        team = list(dict.fromkeys(team + [people[(2 * i + 3) % len(people)]]))
        primary = team[0]
        successor = team[1] if i % 2 == 0 else primary  # half the components change hands
        specialists = {sub: team[j % len(team)] for j, (sub, _) in enumerate(subs) if j % 2 == 1}
        plan["components"][comp] = {"team": team, "primary": primary, "successor": successor,
                                    "drift_at": rng.uniform(0.35, 0.65), "specialists": specialists}
    return plan


def generate(n: int = 1000, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    plan = _owner_plan(rng)
    start = date(2023, 1, 2)
    bugs = []
    for i in range(n):
        when = start + timedelta(days=int(730 * i / n))
        comp = rng.choice(list(COMPONENTS))
        cplan = plan["components"][comp]
        sub, words = rng.choice(COMPONENTS[comp])
        topic = None
        if rng.random() < 0.12:
            topic, twords = rng.choice(CROSS_TOPICS)
            words = words[:1] + twords
        owner = _pick_owner(rng, plan, cplan, sub, topic, i / n)
        bugs.append(_bug(rng, i, when, comp, sub, words, topic, owner))
    return bugs


def _pick_owner(rng, plan, cplan, sub, topic, t) -> str:
    if topic and rng.random() < 0.85:
        return plan["experts"][topic]
    r = rng.random()
    if sub in cplan["specialists"] and r < 0.6:
        return cplan["specialists"][sub]
    if r < 0.85:
        return cplan["successor"] if t >= cplan["drift_at"] else cplan["primary"]
    return rng.choice(cplan["team"] + [rng.choice(ENGINEERS)])


def _bug(rng, i, when, comp, sub, words, topic, owner) -> dict:
    word = rng.choice(words)
    test = f"{comp}_{rng.choice(['smoke', 'stress', 'random', 'corner', 'irq', 'perf'])}_{rng.randint(1, 40)}"
    fill = {"run": f"nightly-{when:%Y%m%d}-{rng.randint(100, 999)}", "seed": rng.randint(1, 99999), "test": test,
            "sub": sub, "word": word, "comp": comp, "day": f"{when:%Y-%m-%d}", "file": sub.split()[0].lower()}
    focus = f"{topic} in the {comp.upper()} {sub}" if topic else f"{comp.upper()} {sub}"
    title = f"{focus} {rng.choice(SYMPTOMS)} {rng.choice(CONDITIONS)}"
    description = " ".join([f"The {sub} ({word}) {rng.choice(SYMPTOMS)} {rng.choice(CONDITIONS)}.",
                            rng.choice(OPENERS).format(**fill),
                            f"Related signals: {', '.join(rng.sample(words, min(2, len(words))))}."])
    status = rng.choices(["resolved", "closed", "open", "in_progress"], [0.55, 0.25, 0.12, 0.08])[0]
    n_comments = rng.randint(1, 5)
    comments = [{"author": rng.choice([owner, owner, rng.choice(ENGINEERS)]),
                 "date": str(when + timedelta(days=k + 1)),
                 "text": rng.choice(FOLLOWUPS).format(**fill)} for k in range(n_comments)]
    closed = when + timedelta(days=n_comments + rng.randint(1, 20))
    return {"id": f"SYN-{i + 1:04d}", "title": title, "description": description, "component": comp,
            "assignee": owner, "reporter": rng.choice(ENGINEERS), "status": status,
            "severity": rng.choice(["minor", "major", "critical"]), "created": str(when),
            "updated": str(closed if status in ("resolved", "closed") else when + timedelta(days=n_comments)),
            "labels": [topic] if topic else [], "comments": comments}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-o", "--out", type=Path, default=Path("bench/out/synthetic_bugs.jsonl"))
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    bugs = generate(args.n, args.seed)
    args.out.write_text("".join(json.dumps(b) + "\n" for b in bugs), encoding="utf-8")
    print(f"wrote {len(bugs)} bugs to {args.out}")


if __name__ == "__main__":
    main()
