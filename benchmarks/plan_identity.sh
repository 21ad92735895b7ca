#!/usr/bin/env bash
# Does a refactor leave the plans alone? Prints, for the working tree and for git revision REV,
# the sha256 of every plan bench_plan_value's default run makes (24: 8 plans x 3 budgets) and of a
# CLI plan (simulate 20k customers / 40k exposures, seed 3; train; plan --budget 1500), hashed over
# the plan's original columns (customer_id ... planned_offer_id; a later column such as
# `propensity` is left out). Usage: bash benchmarks/plan_identity.sh REV   (takes a few minutes)
set -euo pipefail
rev=${1:?usage: plan_identity.sh REV}
top=$(git rev-parse --show-toplevel)
py=$top/.venv/bin/python
tmp=$(mktemp -d)
git -C "$top" worktree add -q "$tmp/old" "$rev"
trap 'git -C "$top" worktree remove --force "$tmp/old"; rm -rf "$tmp"' EXIT
if ! grep -q -- "--write-plans" "$tmp/old/benchmarks/bench_plan_value.py"; then
  # an older revision: its benchmark with the --write-plans option (added in 15324f7, before the
  # refactor, so it imports the old module paths)
  git -C "$top" show 15324f7:benchmarks/bench_plan_value.py > "$tmp/old/benchmarks/bench_plan_value.py"
fi
for side in old new; do
  root=$top; [ $side = old ] && root=$tmp/old
  out=$tmp/out-$side; mkdir -p "$out"
  (cd "$root" && PYTHONPATH=$root/src $py benchmarks/bench_plan_value.py --write-plans "$out/bench" \
     | grep sha256 > "$out/hashes.txt")
  (cd "$root" && PYTHONPATH=$root/src $py -m offerwise.cli simulate --customers 20000 --exposures 40000 \
     --seed 3 --out "$out/shop" --json > /dev/null \
   && PYTHONPATH=$root/src $py -m offerwise.cli train --data "$out/shop" --out "$out/model" --json > /dev/null \
   && PYTHONPATH=$root/src $py -m offerwise.cli plan --model "$out/model" --data "$out/shop" \
        --budget 1500 --holdout 0.1 --out "$out/plan.parquet" --json > /dev/null)
  $py - "$out/plan.parquet" >> "$out/hashes.txt" <<'PY'
import hashlib, sys
import pandas as pd
cols = ["customer_id", "offer_id", "expected_cost", "incremental_profit", "group", "segment",
        "reason", "planned_offer_id"]
d = pd.read_parquet(sys.argv[1])[cols]
print("cli plan sha256", hashlib.sha256(d.astype(str).to_csv(index=False).encode()).hexdigest()[:16])
PY
done
echo "== $rev"; cat "$tmp/out-old/hashes.txt"
echo "== working tree"; cat "$tmp/out-new/hashes.txt"
diff "$tmp/out-old/hashes.txt" "$tmp/out-new/hashes.txt" && echo "IDENTICAL"
