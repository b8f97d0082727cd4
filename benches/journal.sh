#!/usr/bin/env bash
# Journal throughput (bash benches/journal.sh after cargo build --release and bash .ci/setup): N entries (~150-byte messages) in one journal file, shipped once with kpl to kinesalite.
set -euo pipefail
N=${N:-200000}; R=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd); W=/tmp/jbench; rm -rf $W; mkdir -p $W/j $W/state
python3 -c "
import time,sys
t=int(time.time()*1e6)
w=sys.stdout.write
for i in range($N):
    w('__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=gw1\nPRIORITY=6\n_SYSTEMD_UNIT=app.service\nSYSLOG_IDENTIFIER=app\n_PID=42\nMESSAGE=GET /api/v1/items/%06d HTTP/1.1 200 1234 0.012 client=10.0.0.%d agent=curl/8.0 request_id=abcdef0123456789 trace=xyz\n\n'%(t+i,t+i,i,i%255))
" | /lib/systemd/systemd-journal-remote --output=$W/j/one.journal - 2>/dev/null
echo "journalctl alone:"; /usr/bin/time -f "%U user %S sys %e wall" journalctl --directory=$W/j -o json --all --no-pager > /dev/null
NODE_PATH=$R/.emulators/node_modules node $R/tests/support/kinesalite.js 45677 > $W/k.out &
KP=$!; sleep 1
export AWS_ENDPOINT_URL=http://127.0.0.1:45677 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=t AWS_SECRET_ACCESS_KEY=t AWS_EC2_METADATA_DISABLED=true
$R/.emulators/venv/bin/python $R/tests/support/kinesis_tool.py create-stream j 4
cat > $W/e.toml <<T
state_dir = "$W/state"
log_level = "warn"
[[flow]]
name = "j"
journal = { directory = "$W/j", since = "beginning" }
kinesis_stream = "j"
aggregation = "${AGG:-kpl}"
rate_limit = false
T
$R/target/release/edgeship run --config $W/e.toml 2> $W/agent.log &
EP=$!
last=$(journalctl --directory=$W/j -o json -n1 --no-pager | python3 -c 'import json,sys;print(json.load(sys.stdin)["__CURSOR"])')
start=$(date +%s.%N)
until grep -q "$last" $W/state/checkpoints.json 2>/dev/null; do sleep 0.2; done
end=$(date +%s.%N)
read -r ut st < <(awk '{print $14, $15}' /proc/$EP/stat)
ct=$(awk '{print $16+$17}' /proc/$EP/stat)
rss=$(grep VmHWM /proc/$EP/status)
tck=$(getconf CLK_TCK)
kill -TERM $EP; wait $EP || true; kill $KP || true
python3 -c "
n=$N; u=$ut/$tck; s=$st/$tck
print(f'edgeship: {u:.2f} user + {s:.2f} sys CPU-s for {n} entries: {n/(u+s):,.0f} entries per CPU-second; wall {$end-$start:.1f} s; $rss')
"
