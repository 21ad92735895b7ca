#!/bin/bash
# `git bisect run` driver for the plan-value drop of docs/models.md "Rows per leaf": each commit's
# own bench_plan_value.py on market seed 8, one model seed; good when the default plan reaches more
# than 28 % of the oracle at the 10 % budget, bad under 26 %, skipped in between or on error.
#   git worktree add /tmp/bis HEAD && cd /tmp/bis && git bisect start HEAD f97733c
#   git bisect run /path/to/offerwise/benchmarks/trials/bisect_plan_value.sh /path/to/.venv/bin/python
py=${1:?usage: bisect_plan_value.sh PYTHON}
line=$(PYTHONPATH="$PWD/src" timeout 900 "$py" benchmarks/bench_plan_value.py --seed 8 --model-seeds 1 2>&1 \
       | grep "model seed 8")
echo "$(git rev-parse --short HEAD) $line" >&2
v=$(echo "$line" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /%$/) {print $i; exit}}' | tr -d '%')
[ -z "$v" ] && exit 125
awk -v v="$v" 'BEGIN {exit (v > 28) ? 0 : ((v < 26) ? 1 : 125)}'
