#!/usr/bin/env bash
# Name resolution benchmark (issue 20): our resolver (cnm-dnsname +
# cnm-resolver), dnsmasq as the original `dnsname` runs it (the Debian plugin
# itself starts it), and aardvark-dns (Debian's, on a config of the same
# names), in the same run, on the same bridge, one after the other:
#
# - dnsperf from a client namespace (the "container") at a fixed offered load
#   (DNS_BENCH_QPS, default 20000 q/s, for DNS_BENCH_SECONDS, default 10 s)
#   on NAMES names (default 50), `name<i>.dns.podman A`: queries per second,
#   median and p99 latency (from dnsperf -v), lost queries;
# - peak RSS of the server process (VmHWM) after the load;
# - time from a registration returning (CNI ADD for ours and dnsname; config
#   line + SIGHUP for aardvark-dns, as netavark does) until the name answers
#   (median of DNS_BENCH_ADDS, default 9).
#
# The three are measured in DNS_BENCH_ROUNDS rounds (default 3), interleaved
# (ours, dnsmasq, aardvark, ours, ...), so a busy phase of the machine hits
# all of them; each figure is the median over the rounds (peak RSS: the
# largest). Uses the static release build (target/dist, `bash
# scripts/build-release.sh`; CNM_BIN_DIR overrides). Needs root; everything
# runs in throwaway namespaces. No timing assertions: it prints figures and
# ratios (ours / best of the two).
set -Eeuo pipefail
DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$DIR/.." && pwd)"
if [ "$(id -u)" -ne 0 ]; then echo "skipped: needs root"; exit 0; fi

BIN="${CNM_BIN_DIR:-$REPO/target/dist}"
for b in cnm-dnsname cnm-resolver; do
    [ -x "$BIN/$b" ] || { echo "dns-bench: $BIN/$b missing: run 'bash scripts/build-release.sh'" >&2; exit 1; }
done
for t in dnsperf dnsmasq python3; do
    command -v "$t" >/dev/null || { echo "dns-bench: $t missing: run scripts/setup.sh" >&2; exit 1; }
done
AARDVARK=/usr/lib/podman/aardvark-dns
DNSNAME=/usr/lib/cni/dnsname
[ -x "$AARDVARK" ] && [ -x "$DNSNAME" ] || { echo "dns-bench: aardvark-dns or dnsname missing: run scripts/setup.sh" >&2; exit 1; }

QPS="${DNS_BENCH_QPS:-20000}"
SECS="${DNS_BENCH_SECONDS:-10}"
NAMES="${DNS_BENCH_NAMES:-50}"
ADDS="${DNS_BENCH_ADDS:-9}"
ROUNDS="${DNS_BENCH_ROUNDS:-3}"
SLOT=$(($$ % 100 + 1))
PFX="10.252.$SLOT"
GW="$PFX.1"
HOSTNS="cnmdb-h-$$"
CLINS="cnmdb-c-$$"
BR="cnmdbbr$$"
NET="cnmdb-$$"
TMP="$(mktemp -d /tmp/cnm-dns-bench.XXXXXX)"
CLEANUPS=()
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
cleanup() {
    local i
    set +e
    for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[i]}"; done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
defer() { CLEANUPS+=("$*"); }
defer "rm -rf '$TMP'"

ip netns add "$HOSTNS"
defer "ip netns del '$HOSTNS'"
ip netns add "$CLINS"
defer "ip netns del '$CLINS'"
HOST_INO="$(stat -L -c %i "/run/netns/$HOSTNS")"
defer "rm -rf /run/cnm/dns/$HOST_INO-* /run/containers/cni/dnsname/$NET"
# Whatever server is left in the host namespace goes (by PID).
defer 'for p in $(ip netns pids '"$HOSTNS"' 2>/dev/null); do kill -9 $p 2>/dev/null; done'
ip -n "$HOSTNS" link set lo up
ip -n "$CLINS" link set lo up
ip -n "$HOSTNS" link add "$BR" type bridge
ip -n "$HOSTNS" addr add "$GW/24" dev "$BR"
ip -n "$HOSTNS" link set "$BR" up
ip -n "$HOSTNS" link add "cnmdbv$$" type veth peer name eth0 netns "$CLINS"
ip -n "$HOSTNS" link set "cnmdbv$$" master "$BR" up
ip -n "$CLINS" addr add "$PFX.2/24" dev eth0
ip -n "$CLINS" link set eth0 up
# Every name's address is on the client's link, so each could be a client too.
for i in $(seq "$NAMES"); do echo "name$i.dns.podman A"; done >"$TMP/queries"

in_host() { nsenter --net="/run/netns/$HOSTNS" "$@"; }
in_cli() { nsenter --net="/run/netns/$CLINS" "$@"; }
addr_of() { echo "$PFX.$((9 + $1))"; }

# cni_conf I: the dnsname config with a bridge plugin's prevResult for name I.
cni_conf() {
    cat <<EOF
{"cniVersion": "0.4.0", "name": "$NET", "type": "dnsname", "domainName": "dns.podman",
 "capabilities": {"aliases": true},
 "prevResult": {"cniVersion": "0.4.0",
   "interfaces": [{"name": "$BR"}, {"name": "veth$1"}, {"name": "eth0", "sandbox": "/run/netns/$CLINS"}],
   "ips": [{"version": "4", "interface": 2, "address": "$(addr_of "$1")/24", "gateway": "$GW"}]}}
EOF
}
# cni CMD PLUGIN I: one plugin call for name I.
cni() {
    local cmd=$1 plugin=$2 i=$3
    cni_conf "$i" >"$TMP/conf$i"
    in_host env -u XDG_RUNTIME_DIR CNI_COMMAND="$cmd" CNI_CONTAINERID="ctr$i" \
        CNI_NETNS="/run/netns/$CLINS" CNI_IFNAME=eth0 CNI_PATH="$(dirname "$plugin")" \
        CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=name$i" "$plugin" <"$TMP/conf$i" >"$TMP/out" 2>&1 \
        3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&- || {
        log "$cmd $plugin name$i failed: $(cat "$TMP/out")"
        return 1
    }
}
# The registration command for name I as argv (for dns-poll.py) and its stdin.
add_cmd() {
    local server=$1 i=$2
    case "$server" in
    cnm | dnsmasq)
        local plugin="$BIN/cnm-dnsname"
        [ "$server" = dnsmasq ] && plugin="$DNSNAME"
        cni_conf "$i" >"$TMP/conf$i"
        ADD_STDIN="$TMP/conf$i"
        ADD_ARGV=(nsenter --net="/run/netns/$HOSTNS" env -u XDG_RUNTIME_DIR CNI_COMMAND=ADD
            CNI_CONTAINERID="ctr$i" CNI_NETNS="/run/netns/$CLINS" CNI_IFNAME=eth0
            CNI_PATH="$(dirname "$plugin")" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=name$i" "$plugin")
        ;;
    aardvark)
        printf 'ctr%s %s  name%s\n' "$i" "$(addr_of "$i")" "$i" >"$TMP/line$i"
        ADD_STDIN="$TMP/line$i"
        ADD_ARGV=(sh -c "cat >> '$TMP/aardvark/$NET' && kill -HUP \$(cat '$TMP/aardvark/aardvark.pid')")
        ;;
    esac
}

# utime + stime of a process (all its threads), in clock ticks.
cpu_ticks() {
    awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$1/stat"
}

server_pid() {
    case "$1" in
    cnm) sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' /run/cnm/dns/"$HOST_INO"-*/resolver.pid 2>/dev/null | head -1 ;;
    dnsmasq) cat "/run/containers/cni/dnsname/$NET/pidfile" 2>/dev/null ;;
    aardvark) cat "$TMP/aardvark/aardvark.pid" 2>/dev/null ;;
    esac
}

start_server() {
    local s=$1 i
    case "$s" in
    cnm) for i in $(seq "$NAMES"); do cni ADD "$BIN/cnm-dnsname" "$i"; done ;;
    dnsmasq) for i in $(seq "$NAMES"); do cni ADD "$DNSNAME" "$i"; done ;;
    aardvark)
        mkdir -p "$TMP/aardvark"
        {
            echo "$GW"
            for i in $(seq "$NAMES"); do printf 'ctr%s %s  name%s\n' "$i" "$(addr_of "$i")" "$i"; done
        } >"$TMP/aardvark/$NET"
        in_host "$AARDVARK" --config "$TMP/aardvark" -p 53 run 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
        ;;
    esac
}

stop_server() {
    local s=$1 i pid
    pid="$(server_pid "$s")"
    case "$s" in
    cnm) for i in $(seq "$((NAMES + ADDS))"); do cni DEL "$BIN/cnm-dnsname" "$i" || true; done ;;
    dnsmasq) for i in $(seq "$((NAMES + ADDS))"); do cni DEL "$DNSNAME" "$i" || true; done ;;
    aardvark) [ -n "$pid" ] && kill "$pid" ;;
    esac
    for i in $(seq 50); do [ -n "$pid" ] && [ -d "/proc/$pid" ] || break; sleep 0.1; done
    [ -n "$pid" ] && [ -d "/proc/$pid" ] && { log "$s (pid $pid) still running: killed"; kill -9 "$pid"; }
    return 0
}

# measure S: appends "qps median_ms p99_ms lost rss_kb add_ms" of one round to RESULT[S].
declare -A RESULT
measure() {
    local s=$1 pid out lat qps lost med p99 rss i adds=() line
    log "== $s"
    start_server "$s"
    pid="$(server_pid "$s")"
    [ -n "$pid" ] || { log "$s: no server pid"; return 1; }
    # Warm-up, then the measured run (and the server's CPU time during it).
    in_cli dnsperf -s "$GW" -d "$TMP/queries" -l 1 -Q "$QPS" >/dev/null 2>&1 || true
    local cpu0 cpu1
    cpu0="$(cpu_ticks "$pid")"
    in_cli dnsperf -s "$GW" -d "$TMP/queries" -l "$SECS" -Q "$QPS" -c 4 -q 500 -v >"$TMP/perf-$s" 2>&1 || true
    cpu1="$(cpu_ticks "$pid")"
    qps="$(sed -n 's/.*Queries per second: *\([0-9.]*\).*/\1/p' "$TMP/perf-$s")"
    lost="$(sed -n 's/.*Queries lost: *\([0-9]*\).*/\1/p' "$TMP/perf-$s")"
    grep '^> NOERROR' "$TMP/perf-$s" | awk '{print $NF}' | sort -n >"$TMP/lat-$s"
    local n
    n="$(wc -l <"$TMP/lat-$s")"
    med="$(awk -v n="$n" 'NR == int(n * 0.5) + 1 {printf "%.3f", $1 * 1000}' "$TMP/lat-$s")"
    p99="$(awk -v n="$n" 'NR == int(n * 0.99) + 1 {printf "%.3f", $1 * 1000}' "$TMP/lat-$s")"
    local wrong
    wrong="$(grep -c '^> ' "$TMP/perf-$s" | awk -v ok="$n" '{print $1 - ok}')"
    rss="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")"
    # Registration -> answer.
    for i in $(seq "$((NAMES + 1))" "$((NAMES + ADDS))"); do
        add_cmd "$s" "$i"
        line="$(in_cli python3 "$DIR/dns-poll.py" "$GW" "name$i.dns.podman" "$(addr_of "$i")" "$ADD_STDIN" -- "${ADD_ARGV[@]}" || true)"
        adds+=("$(sed -n 's/.*answer_ms=\([0-9.]*\).*/\1/p' <<<"$line")")
        [ -n "${adds[-1]}" ] || log "$s: name$i: $line"
    done
    local add_med
    add_med="$(printf '%s\n' "${adds[@]}" | grep . | sort -n | awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]; else print "n/a"}')"
    log "$s: qps $qps, median $med ms, p99 $p99 ms, lost $lost, not NOERROR $wrong, peak RSS $rss kB, ADD->answer median $add_med ms (${adds[*]})"
    local cpu_us
    cpu_us="$(awk -v a="$cpu0" -v b="$cpu1" -v t="$(getconf CLK_TCK)" -v q="$qps" -v s="$SECS" \
        'BEGIN {printf "%.2f", (b - a) * 1e6 / t / (q * s)}')"
    log "$s: CPU $cpu_us us per query"
    RESULT[$s]+="$qps $med $p99 $lost $rss $add_med $cpu_us;"
    stop_server "$s"
}

for r in $(seq "$ROUNDS"); do
    log "=== round $r of $ROUNDS"
    measure cnm
    measure dnsmasq
    measure aardvark
done

echo
echo "dns-bench: $NAMES names, offered load $QPS q/s for $SECS s from a client namespace (dnsperf -c 4 -q 500), $ROUNDS rounds"
python3 - "$ROUNDS" "${RESULT[cnm]:-}" "${RESULT[dnsmasq]:-}" "${RESULT[aardvark]:-}" <<'EOF'
import statistics
import sys
def parse(s):
    rounds = []
    for part in s.split(";"):
        try:
            q, med, p99, lost, rss, add, cpu = part.split()
            rounds.append(dict(qps=float(q), med=float(med), p99=float(p99), lost=int(lost),
                               rss=float(rss), add=float(add) if add != "n/a" else float("nan"),
                               cpu=float(cpu)))
        except ValueError:
            continue
    if not rounds:
        return None
    m = lambda k: statistics.median(r[k] for r in rounds)
    return dict(qps=m("qps"), med=m("med"), p99=m("p99"), lost=m("lost"), add=m("add"), cpu=m("cpu"),
                rss=max(r["rss"] for r in rounds), p99s=[r["p99"] for r in rounds], n=len(rounds))
names = ["cnm", "dnsmasq", "aardvark"]
res = [parse(s) for s in sys.argv[2:5]]
print(f"{'server':10} {'qps':>10} {'median ms':>10} {'p99 ms':>8} {'lost':>7} {'peak RSS kB':>12} {'ADD->answer ms':>15} {'CPU us/q':>9}  p99 per round")
for n, r in zip(names, res):
    if r:
        print(f"{n:10} {r['qps']:10.0f} {r['med']:10.3f} {r['p99']:8.3f} {r['lost']:7.0f} {r['rss']:12.0f} {r['add']:15.3f} {r['cpu']:9.2f}  {r['p99s']}")
    else:
        print(f"{n:10} (no result)")
ours, dm, av = res
if not (ours and dm and av):
    print("ratios: incomplete run"); sys.exit(0)
best_qps = max(dm["qps"], av["qps"])
best_p99 = min(dm["p99"], av["p99"])
print(f"ratios: qps ours/best-of-two {ours['qps'] / best_qps:.3f}, "
      f"p99 ours/best-of-two {ours['p99'] / best_p99:.3f}, RSS ours/dnsmasq {ours['rss'] / dm['rss']:.3f}, "
      f"CPU per query ours/dnsmasq {ours['cpu'] / dm['cpu']:.3f}, ours/aardvark {ours['cpu'] / av['cpu']:.3f}")
met = ours["qps"] >= best_qps * 0.99 and ours["p99"] < best_p99 and ours["rss"] <= dm["rss"]
print("target (qps >= best of the two, lower p99, RSS <= dnsmasq):", "met" if met else "NOT met")
EOF
