#!/usr/bin/env bash
# CPU cost of a host-metrics record (bash benches/host_metrics.sh after cargo build --release and
# bash .ci/setup): two agents side by side for D seconds against kinesalite, one taking a record
# every second, the baseline one every 24 h (its first a second after the start); the difference
# in CPU time over the records taken is the cost of one record (reading, encoding, shipping).
set -euo pipefail
D=${D:-60}; R=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); W=/tmp/hbench; rm -rf $W; mkdir -p $W
NODE_PATH=$R/.emulators/node_modules node $R/tests/support/kinesalite.js 45678 > $W/k.out &
KP=$!; sleep 1
export AWS_ENDPOINT_URL=http://127.0.0.1:45678 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=t AWS_SECRET_ACCESS_KEY=t AWS_EC2_METADATA_DISABLED=true
$R/.emulators/venv/bin/python $R/tests/support/kinesis_tool.py create-stream h 1
pids=()
for interval in 1s 24h; do
  mkdir -p $W/$interval
  cat > $W/$interval/e.toml <<T
state_dir = "$W/$interval/state"
log_level = "warn"
[[flow]]
name = "h"
host_metrics = { interval = "$interval" }
kinesis_stream = "h"
rate_limit = false
T
  $R/target/release/edgeship run --config $W/$interval/e.toml 2> $W/$interval/agent.log &
  pids+=($!)
done
sleep "$D"
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
busy=$(cpu ${pids[0]}); idle=$(cpu ${pids[1]}); rss=$(grep VmHWM /proc/${pids[0]}/status | awk '{print $2}')
kill -TERM "${pids[@]}"; wait "${pids[@]}" || true
records=$($R/.emulators/venv/bin/python $R/tests/support/kinesis_tool.py read-stream h | wc -l)
kill $KP || true
python3 -c "
d=$D; t=$tck; busy=$busy/t; idle=$idle/t; n=$records-1
print(f'{n} records in {d} s: agent {busy:.2f} CPU-s, baseline agent {idle:.2f} CPU-s; {(busy-idle)/n*1000:.2f} ms of CPU per record; peak RSS {$rss/1024:.1f} MB')
"
