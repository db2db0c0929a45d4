"""Near-minimum README table from docs/matrix_free_measurements.json (numbers computed, not typed).

That file collects the out/*.json outputs of the measurement scripts in this folder, keyed by file name.
"""

import json


def load(key):
    with open("docs/matrix_free_measurements.json") as fh:
        return json.load(fh)[key.removesuffix(".json")]


def fmt(v, s):
    return f"{v:.4f} ± {s:.4f}"


def ci(m, s):
    return f"{m:.4f} [{m - 1.96 * s:.4f}, {m + 1.96 * s:.4f}]"


rows = []
cases = [
    (
        "SGD N=200, B=1, E=1",
        load("nearmin_pred_N200_E1.json"),
        "resummed",
        load("nearmin_sim_N200_E1.json"),
    ),
    (
        "SGD N=20, B=1, E=10",
        load("nearmin_pred_N20.json"),
        "resummed",
        load("nearmin_sim_.json")["sim"],
    ),
    (
        "GD N=20",
        load("nearmin_pred_N20.json"),
        "gd",
        load("nearmin_gdsim_T200.json"),
    ),
]
print("| schedule | T | η | ηT | quantity | resummed order 2 | simulated (95 % CI) |")
print("|---|---|---|---|---|---|---|")
for label, pred, form, sim in cases:
    T = pred["T"]
    for q in ("test-loss", "gen-gap"):
        p = pred[f"{q}/{form}"]
        for i, e in enumerate(pred["eta"]):
            m, s = sim[q]["mean"][i], sim[q]["sem"][i]
            print(f"| {label} | {T} | {e:g} | {e * T:g} | {q} | {fmt(p['value'][i], p['stderr'][i])} | {ci(m, s)} |")
for name in ("nearmin_pred_N20.json", "nearmin_pred_N200_E1.json"):
    pred = load(name)
    lim = {q: pred[f"{q}/gd-limit"] for q in ("test-loss", "gen-gap")}
    tl = fmt(lim["test-loss"]["value"][0], lim["test-loss"]["stderr"][0])
    print(
        f"\n{name}: GD T→∞ limit (η-independent): test loss {tl}, "
        f"gen gap {fmt(lim['gen-gap']['value'][0], lim['gen-gap']['stderr'][0])}; info {pred['info']}"
    )
long = load("nearmin_gdsim_T1000.json")
print(
    f"GD N=20, T=1000, η=0.1 simulated: test loss {ci(long['test-loss']['mean'][0], long['test-loss']['sem'][0])}, "
    f"gen gap {ci(long['gen-gap']['mean'][0], long['gen-gap']['sem'][0])}"
)
