#!/usr/bin/env bash
# Benchmark of the runtime (not a test; not run by CI):
#  1. time from command to all-healthy for `muster up all` vs `docker-compose up -d` of the same
#     flat file (Compose v1 waits on service_healthy itself), on the test stack of
#     tests/support (10 services, 3 phases), alternating, RUNS runs each (default 5);
#  2. `muster status` on 50 running containers.
# Needs Docker, docker-compose and /bin/busybox (Debian's busybox-static).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
cargo build --release --quiet
MUSTER=$PWD/target/release/muster
work=$(mktemp -d)
project=mbench$$
big=mbenchbig$$
cleanup() {
    for p in "$project" "$big"; do
        ids=$(docker ps -aq --filter "label=com.docker.compose.project=$p")
        [ -n "$ids" ] && docker rm -f -v $ids >/dev/null
        nets=$(docker network ls -q --filter "label=com.docker.compose.project=$p")
        [ -n "$nets" ] && docker network rm $nets >/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT

# The test image, as the tests build it.
if ! docker image inspect muster-test/busybox:1 >/dev/null 2>&1; then
    mkdir "$work/img" && cp /bin/busybox "$work/img/"
    printf 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n' > "$work/img/Dockerfile"
    DOCKER_BUILDKIT=0 docker build -q -t muster-test/busybox:1 "$work/img" >/dev/null
fi

# The test stack, taken from tests/support so both stay the same.
mkdir "$work/stack"
python3 - "$work/stack/muster.yaml" "$project" <<'PY'
import re, sys, socket
text = open("tests/support/mod.rs").read()
stack = re.search(r'pub const STACK: &str = r#"(.*?)"#;', text, re.S).group(1)
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
open(sys.argv[1], "w").write(stack.replace("{name}", sys.argv[2]).replace("{port}", str(port)))
PY
cd "$work/stack"
"$MUSTER" -q gen compose >/dev/null
flat=deploy/compose/stack.yml
compose=(docker-compose -p "$project" -f "$flat" --profile frontend --profile bots)

now() { date +%s.%N; }
reset() {
    ids=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
    [ -n "$ids" ] && docker rm -f -v $ids >/dev/null
    rm -rf .muster/state.json
    # Keep the network between runs for both: creating it is not what is measured.
    return 0
}
# Waits until every container of the project with a health check is healthy and the job
# exited 0 (what `muster up` waits for before it returns).
wait_all_healthy() {
    while true; do
        out=$(docker ps -a --filter "label=com.docker.compose.project=$project" --format '{{.Status}}')
        n=$(printf '%s\n' "$out" | grep -c . || true)
        bad=$(printf '%s\n' "$out" | grep -Ec 'starting|unhealthy|Created|Restarting|Exited \([1-9]' || true)
        if [ "$n" -ge 10 ] && [ "$bad" -eq 0 ]; then return; fi
        sleep 0.05
    done
}

declare -a m c
# Warm up: the network exists for both. (Not a plain `up --no-start`: Compose v1 waits there
# forever for the job to complete.)
"${compose[@]}" up --no-start --no-deps proxy >/dev/null 2>&1
for i in $(seq 1 "$RUNS"); do
    reset
    t0=$(now); "$MUSTER" -q up all >/dev/null 2>&1; t1=$(now)
    m+=("$(echo "$t1 - $t0" | bc)")
    reset
    t0=$(now); "${compose[@]}" up -d >/dev/null 2>&1; wait_all_healthy; t1=$(now)
    c+=("$(echo "$t1 - $t0" | bc)")
done
reset

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
echo "up to all-healthy, test stack (10 services, 3 phases), $RUNS runs each, alternating"
printf '%-5s %12s %16s\n' run "muster up" "compose up -d"
for i in $(seq 0 $((RUNS - 1))); do
    printf '%-5s %11.2fs %15.2fs\n' $((i + 1)) "${m[$i]}" "${c[$i]}"
done
mm=$(median "${m[@]}"); mc=$(median "${c[@]}")
printf '%-5s %11.2fs %15.2fs   ratio muster/compose %.2fx (budget 1.10x)\n' median "$mm" "$mc" "$(echo "$mm / $mc" | bc -l)"

# 50 running containers.
mkdir "$work/big" && cd "$work/big"
{
    printf 'version: 1\nname: %s\nservices:\n' "$big"
    for i in $(seq -w 1 50); do
        printf '  s%s: { image: "muster-test/busybox:1", init: true, command: ["sleep", "100000"] }\n' "$i"
    done
} > muster.yaml
"$MUSTER" -q gen compose >/dev/null
docker-compose -p "$big" -f deploy/compose/stack.yml up -d >/dev/null 2>&1
declare -a s
for i in $(seq 1 "$RUNS"); do
    t0=$(now); "$MUSTER" status --all >/dev/null; t1=$(now)
    s+=("$(echo "($t1 - $t0) * 1000" | bc)")
done
echo
printf 'muster status on 50 running containers: median %.0f ms over %s runs (budget 300 ms); runs:' "$(median "${s[@]}")" "$RUNS"
printf ' %.0f' "${s[@]}"; echo
