"""Markdown tables for the README from the measurement JSON files (numbers computed, not typed)."""

import json
import sys

ref = json.load(open("docs/convnet_predictions.json"))
l0 = ref["initial_test_loss"]
sim = {e: (s["change"], s["change_ci95"]) for e, s in zip(ref["eta"], ref["simulated"], strict=True)}
tay = {
    e: (c, se)
    for e, c, se in zip(
        ref["eta"], ref["predictions"]["3"]["change"], ref["predictions"]["3"]["change_stderr"], strict=True
    )
}
extra = json.load(open("out/theta0_sim_.json"))["sim"]
for e, m, s in zip(extra["eta"], extra["mean"], extra["sem"], strict=False):
    sim[e] = (m - l0, [m - l0 - 1.96 * s, m - l0 + 1.96 * s])
runs = [json.load(open(p)) for p in sys.argv[1:]]
head = (
    "| η | ηT | Taylor order 3 | "
    + " | ".join(f"resummed order {r['order']}, k = {r['k']}" for r in runs)
    + " | simulated SGD (95 % CI) |"
)

print(head)
print("|" + "---|" * (head.count("|") - 1))
etas = sorted(set(ref["eta"]) | set(e for r in runs for e in r["eta"]))


def inside(v, ci):
    return ci[0] <= v <= ci[1]


for e in etas:
    row = [f"{e:g}", f"{10 * e:g}"]
    row.append(
        f"{tay[e][0]:.4f} ± {tay[e][1]:.4f}" + ("" if e not in sim or inside(tay[e][0], sim[e][1]) else " ✗")
        if e in tay
        else "–"
    )
    for r in runs:
        if e in r["eta"]:
            i = r["eta"].index(e)
            v = r["details"]["change"]["value"][i]
            se = r["details"]["change"]["stderr"][i]
            row.append(f"{v:.4f} ± {se:.4f}" + ("" if e not in sim or inside(v, sim[e][1]) else " ✗"))
        else:
            row.append("–")
    row.append(f"{sim[e][0]:.4f} [{sim[e][1][0]:.4f}, {sim[e][1][1]:.4f}]" if e in sim else "–")
    print("| " + " | ".join(row) + " |")
