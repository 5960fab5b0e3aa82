#!/usr/bin/env bash
# A real single-node Apache Kafka 4.1.1 broker (KRaft mode: broker and controller in one JVM)
# on loopback, for tests and for trying a Kafka bridge by hand. The jars come from Maven
# Central through `mvn` (no tarball, no Docker, no ZooKeeper).
#
# Usage:
#   scripts/kafka.sh fetch                      resolve the Kafka jars into the cache (once; the
#                                               first time takes up to a minute, ~80 MB into
#                                               ~/.m2; later calls return at once)
#   scripts/kafka.sh start DIR                  start a broker whose files live in DIR; waits
#                                               until it answers a metadata request, then prints
#                                               its bootstrap address (127.0.0.1:PORT) on stdout
#                                               (the only line on stdout; progress goes to stderr)
#   scripts/kafka.sh topic DIR NAME PARTITIONS  create a topic (replication factor 1) on the
#                                               broker of DIR and wait until all its partitions
#                                               have a leader (an existing topic with the same
#                                               partition count is fine)
#   scripts/kafka.sh stop DIR                   stop the broker of DIR: SIGTERM, wait up to 30 s,
#                                               then SIGKILL; no error when it is not running
#   scripts/kafka.sh status DIR                 print `running PID BOOTSTRAP` (exit 0) or
#                                               `not running` (exit 3)
#   scripts/kafka.sh run CLASS [ARGS...]        run a Java class with Kafka's classpath, e.g. the
#                                               tools org.apache.kafka.tools.TopicCommand,
#                                               ProducerPerformance, ConsumerPerformance,
#                                               ConsoleProducer, ConsoleConsumer (all in
#                                               org.apache.kafka.tools / ...tools.consumer)
#   scripts/kafka.sh classpath                  print the classpath (fetches first if needed)
#   scripts/kafka.sh help                       this text
#
# Example:
#   dir=$(mktemp -d)
#   bootstrap=$(scripts/kafka.sh start "$dir")        # e.g. 127.0.0.1:41234
#   scripts/kafka.sh topic "$dir" events 3
#   scripts/kafka.sh run org.apache.kafka.tools.ProducerPerformance --topic events \
#       --num-records 100000 --record-size 100 --throughput -1 \
#       --producer-props bootstrap.servers="$bootstrap"
#   scripts/kafka.sh run org.apache.kafka.tools.ConsumerPerformance \
#       --bootstrap-server "$bootstrap" --topic events --messages 100000
#   scripts/kafka.sh stop "$dir"; rm -rf "$dir"
#
# Files in DIR: server.properties, admin.properties (client settings for the tools),
# data/ (the log dir; kept by `stop`, so a later `start DIR` keeps the topics and messages;
# remove DIR for a fresh broker), broker.log (the broker's stdout and stderr), broker.pid,
# bootstrap (the address, removed by `stop`). Two brokers in two DIRs run side by side: each
# `start` picks its own two free loopback ports (PLAINTEXT and CONTROLLER) and retries with
# new ones if another process took them in the meantime.
#
# Cache: pom.xml, cp.txt (the classpath) and mvn.log live in
# ${MSL_KAFKA_HOME:-$HOME/.cache/modsynclog/kafka-4.1.1}; the jars themselves in Maven's
# local repository (~/.m2/repository). Once fetched, everything works offline.
#
# Needs: bash 4+, Java 17+ (`java` on PATH or $JAVA_HOME/bin/java), Maven (`mvn`, only until
# the first fetch succeeds; it honours ~/.m2/settings.xml mirrors and proxies), python3
# (optional: free-port picking, else a bash fallback), flock (optional: concurrent fetches).
#
# Environment:
#   MSL_KAFKA_HOME            cache folder (default above)
#   MSL_KAFKA_START_TIMEOUT   seconds `start` may take, formatting included, fetching not
#                             (default 120); past it, `start` prints the end of broker.log,
#                             kills the broker and fails
#   MSL_KAFKA_STOP_TIMEOUT    seconds `stop` waits after SIGTERM before SIGKILL (default 30)
#   MSL_KAFKA_TOPIC_TIMEOUT   seconds `topic` waits for the partitions' leaders (default 60)
#   MSL_KAFKA_HEAP            broker heap, -Xmx (default 512m)
#   MSL_KAFKA_PORT and        fixed PLAINTEXT and CONTROLLER ports instead of free ones (set
#   MSL_KAFKA_CONTROLLER_PORT   both); `start` fails at once if either is in use
#   MSL_KAFKA_PROPS           extra server.properties lines (newline separated), appended last,
#                             e.g. MSL_KAFKA_PROPS=auto.create.topics.enable=false
#   MSL_KAFKA_TOOL_OPTS       extra JVM options for `run` (default heap 512m, logs at warn)
#
# Exit status: 0 success, 1 failure (the reason is on stderr), 2 usage error,
# 3 `status`: not running.
set -euo pipefail

KAFKA_VERSION=4.1.1
SCALA_VERSION=2.13
SLF4J_VERSION=2.0.17
DEPENDENCY_PLUGIN_VERSION=3.8.1

home="${MSL_KAFKA_HOME:-$HOME/.cache/modsynclog/kafka-$KAFKA_VERSION}"
start_timeout="${MSL_KAFKA_START_TIMEOUT:-120}"
stop_timeout="${MSL_KAFKA_STOP_TIMEOUT:-30}"
topic_timeout="${MSL_KAFKA_TOPIC_TIMEOUT:-60}"
heap="${MSL_KAFKA_HEAP:-512m}"

say() { echo "kafka.sh: $*" >&2; }
die() {
    echo "kafka.sh: error: $*" >&2
    exit 1
}
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }
usage_error() {
    echo "kafka.sh: $*" >&2
    echo "usage: scripts/kafka.sh fetch | start DIR | topic DIR NAME PARTITIONS | stop DIR |" \
        "status DIR | run CLASS [ARGS...] | classpath | help   (details: scripts/kafka.sh help)" >&2
    exit 2
}
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_port() { [[ "$1" =~ ^[1-9][0-9]{0,4}$ ]] && [ "$1" -le 65535 ]; }
for v in start_timeout stop_timeout topic_timeout; do
    is_uint "${!v}" || usage_error "the timeout $v must be a whole number of seconds, not '${!v}'"
done
now_ms() { echo $(($(date +%s%N) / 1000000)); }
secs_since() { # START_MS -> "12.3"
    local d=$(($(now_ms) - $1))
    printf '%d.%d' $((d / 1000)) $((d % 1000 / 100))
}

# --- tools -----------------------------------------------------------------------------

java=""
need_java() {
    [ -n "$java" ] && return 0
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
        java="$JAVA_HOME/bin/java"
    elif command -v java >/dev/null 2>&1; then
        java="$(command -v java)"
    else
        die "no 'java' found (PATH or \$JAVA_HOME/bin). Kafka $KAFKA_VERSION needs Java 17 or newer," \
            "e.g. 'apt-get install openjdk-17-jre-headless'."
    fi
    local spec
    spec="$("$java" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java\.specification\.version = //p' | head -n 1)" || true
    if ! is_uint "$spec" || [ "$spec" -lt 17 ]; then
        die "$java is Java '${spec:-unknown}'; Kafka $KAFKA_VERSION needs Java 17 or newer" \
            "(set JAVA_HOME to a Java 17+ installation)."
    fi
}

need_mvn() {
    command -v mvn >/dev/null 2>&1 ||
        die "no 'mvn' (Maven) found: it is needed once, to fetch Kafka's jars from Maven Central" \
            "(e.g. 'apt-get install maven'), or point MSL_KAFKA_HOME at an already fetched cache."
}

# --- fetch -------------------------------------------------------------------------------

pom_text() {
    cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by modsynclog scripts/kafka.sh: only used to resolve Kafka's classpath. -->
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>modsynclog.test</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- Kafka's poms pull slf4j-api 1.7.36, which cannot find slf4j-simple 2.x (the broker
         would log nothing): name the 2.x API, which 1.7 callers run against fine. -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-api</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-simple</artifactId>
      <version>$SLF4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
}

# True when cp.txt belongs to the current pom and every jar it names is on disk.
classpath_ok() { # CP_FILE
    local cpf="$1" jar
    local -a jars=()
    [ -s "$cpf" ] && [ -f "$home/pom.xml" ] || return 1
    cmp -s <(pom_text) "$home/pom.xml" || return 1
    IFS=: read -r -a jars <"$cpf" || true
    [ "${#jars[@]}" -gt 3 ] || return 1
    for jar in "${jars[@]}"; do [ -f "$jar" ] || return 1; done
    grep -q "kafka_$SCALA_VERSION-$KAFKA_VERSION\.jar" "$cpf" &&
        grep -q "kafka-tools-$KAFKA_VERSION\.jar" "$cpf" &&
        grep -q "slf4j-simple-$SLF4J_VERSION\.jar" "$cpf" &&
        grep -q "slf4j-api-$SLF4J_VERSION\.jar" "$cpf"
}

fetch() {
    mkdir -p "$home" || die "cannot create the cache folder $home (set MSL_KAFKA_HOME)"
    classpath_ok "$home/cp.txt" && return 0
    # One fetch at a time per cache (two `start`s at once on a fresh machine).
    exec 9>"$home/.lock"
    if command -v flock >/dev/null 2>&1; then flock 9; fi
    if classpath_ok "$home/cp.txt"; then
        exec 9>&-
        return 0
    fi
    need_java
    need_mvn
    pom_text >"$home/pom.xml.tmp" && mv -f "$home/pom.xml.tmp" "$home/pom.xml"
    rm -f "$home/cp.txt" "$home/cp.txt.tmp"
    say "resolving Kafka $KAFKA_VERSION from Maven Central into $home (jars in ~/.m2;" \
        "up to a minute and ~80 MB the first time)..."
    local t0
    t0=$(now_ms)
    # The plugin is named in full: a bare `dependency:` prefix makes Maven look the prefix up
    # in Central's metadata, and would pick whatever version is newest.
    if ! (cd "$home" && mvn -B -ntp -Dstyle.color=never -f "$home/pom.xml" \
        "org.apache.maven.plugins:maven-dependency-plugin:$DEPENDENCY_PLUGIN_VERSION:build-classpath" \
        -Dmdep.outputFile="$home/cp.txt.tmp") >"$home/mvn.log" 2>&1 </dev/null; then
        if grep -q '^\[ERROR\]' "$home/mvn.log"; then
            grep '^\[ERROR\]' "$home/mvn.log" | head -n 8 |
                grep -v -E '^\[ERROR\] *$|-e switch|-X switch|For more information|\[Help 1\] http' |
                sed 's/\x1b\[[0-9;]*m//g; s/^/  mvn: /' >&2
        else
            tail -n 15 "$home/mvn.log" | sed 's/\x1b\[[0-9;]*m//g; s/^/  mvn: /' >&2
        fi
        exec 9>&-
        die "Maven could not resolve org.apache.kafka:kafka_$SCALA_VERSION:$KAFKA_VERSION (full log:" \
            "$home/mvn.log). Maven Central (or the mirror/proxy in ~/.m2/settings.xml) may be" \
            "unreachable from here; once the jars are in ~/.m2 this works offline."
    fi
    if ! classpath_ok "$home/cp.txt.tmp"; then
        exec 9>&-
        die "Maven succeeded but $home/cp.txt.tmp lacks the Kafka jars (see $home/mvn.log)"
    fi
    mv -f "$home/cp.txt.tmp" "$home/cp.txt"
    exec 9>&-
    say "fetched $(tr ':' '\n' <"$home/cp.txt" | wc -l) jars in $(secs_since "$t0") s"
}

cp=""
load_classpath() {
    fetch
    need_java
    cp="$(cat "$home/cp.txt")"
}

# A short-lived Kafka client JVM (topic admin, readiness probe): small heap, quick start,
# warnings only.
jtool() {
    "$java" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$cp" "$@"
}

# --- ports -------------------------------------------------------------------------------

port_open() { timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"' "$1" 2>/dev/null; }

# True when PORT can be bound on 127.0.0.1 (as the broker would, with SO_REUSEADDR).
port_free() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
' "$1"
    else
        ! port_open "$1"
    fi
}

# Prints two distinct free loopback ports.
pick_ports() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
'
    else
        local a b
        while :; do
            a=$((20000 + RANDOM % 30000))
            b=$((20000 + RANDOM % 30000))
            [ "$a" != "$b" ] && port_free "$a" && port_free "$b" && break
        done
        echo "$a $b"
    fi
}

# --- broker process ----------------------------------------------------------------------

# The last N lines of a Kafka log on stderr, without Java stack frames (the exception's
# message stays).
show_log() { # FILE LABEL N
    grep -v -E '^[[:space:]]+(at |\.\.\. [0-9]+ more)' "$1" 2>/dev/null | tail -n "$3" |
        sed "s/^/  $2: /" >&2 || true
}

# Why the broker failed: its first ERROR lines (with the exception line after each), then the
# end of its log.
show_broker_failure() { # DIR
    local log="$1/broker.log" errors
    errors="$(grep -v -E '^[[:space:]]+(at |\.\.\. [0-9]+ more)' "$log" 2>/dev/null |
        grep -A 1 -E ' (ERROR|FATAL) ' | grep -v '^--$' | head -n 8)" || true
    if [ -n "$errors" ]; then
        echo "  broker.log, first errors:" >&2
        printf '%s\n' "$errors" | sed 's/^/  broker.log: /' >&2
        echo "  broker.log, end:" >&2
    fi
    show_log "$log" broker.log 10
}

abs_dir() { # DIR [create] -> absolute path
    if [ "${2:-}" = create ]; then mkdir -p "$1" || die "cannot create $1"; fi
    [ -d "$1" ] || die "$1 is not a folder"
    (cd "$1" && pwd)
}

# True when PID is alive and is the kafka.Kafka of DIR (not a recycled pid, not a zombie).
is_our_broker() { # PID DIR
    local pid="$1" dir="$2" args
    is_uint "$pid" && kill -0 "$pid" 2>/dev/null || return 1
    if [ -r "/proc/$pid/cmdline" ]; then
        args="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    else
        args="$(ps -ww -p "$pid" -o args= 2>/dev/null)" || return 1
    fi
    [[ "$args" == *"kafka.Kafka $dir/server.properties"* ]]
}

# True while PID, a child of this shell, has not exited (a zombie has). Used while `start`
# waits: the child's command line is the subshell's until it has exec'ed java, so
# is_our_broker cannot tell yet; and a child's pid cannot be reused before it is reaped.
child_alive() { # PID
    local state
    kill -0 "$1" 2>/dev/null || return 1
    if [ -r "/proc/$1/stat" ]; then
        state="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" || return 1
    else
        state="$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" || return 1
    fi
    [ -n "$state" ] && [ "$state" != Z ]
}

broker_pid() { # DIR -> pid of its running broker, or fail
    local dir="$1" pid
    [ -f "$dir/broker.pid" ] || return 1
    pid="$(cat "$dir/broker.pid" 2>/dev/null)" || return 1
    is_our_broker "$pid" "$dir" || return 1
    echo "$pid"
}

# SIGTERM, wait up to TIMEOUT s, then SIGKILL; returns when the process is gone. With
# `child`, PID is this shell's own child (start's cleanup), checked with child_alive.
kill_broker() { # PID DIR TIMEOUT [child]
    local pid="$1" dir="$2" timeout="$3" mode="${4:-}" t0
    broker_alive "$pid" "$dir" "$mode" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    t0=$(now_ms)
    while broker_alive "$pid" "$dir" "$mode"; do
        if [ $(($(now_ms) - t0)) -ge $((timeout * 1000)) ]; then
            say "broker (pid $pid) still running ${timeout} s after SIGTERM: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            while broker_alive "$pid" "$dir" "$mode"; do sleep 0.1; done
            break
        fi
        sleep 0.2
    done
    if [ "$mode" = child ]; then wait "$pid" 2>/dev/null || true; fi
}
broker_alive() { # PID DIR [child]
    if [ "${3:-}" = child ]; then child_alive "$1"; else is_our_broker "$1" "$2"; fi
}

write_properties() { # DIR PORT CONTROLLER_PORT
    local dir="$1" port="$2" cport="$3"
    {
        cat <<EOF
# Written by modsynclog scripts/kafka.sh: a single-node KRaft broker+controller on loopback.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
# One node: every internal topic has a single replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests want consumer groups to start at once.
group.initial.rebalance.delay.ms=0
EOF
        if [ -n "${MSL_KAFKA_PROPS:-}" ]; then
            echo "# From MSL_KAFKA_PROPS:"
            printf '%s\n' "$MSL_KAFKA_PROPS"
        fi
    } >"$dir/server.properties.tmp"
    mv -f "$dir/server.properties.tmp" "$dir/server.properties"
    cat >"$dir/admin.properties" <<EOF
# Client settings for Kafka's tools against this broker (scripts/kafka.sh uses them).
bootstrap.servers=127.0.0.1:$port
request.timeout.ms=5000
default.api.timeout.ms=15000
EOF
}

format_storage() { # DIR
    local dir="$1" uuid
    if [ -f "$dir/data/meta.properties" ]; then
        say "reusing the formatted log dir $dir/data (remove DIR for a fresh broker)"
        return 0
    fi
    uuid="$(jtool kafka.tools.StorageTool random-uuid 2>>"$dir/format.log" | tail -n 1)" ||
        die "kafka.tools.StorageTool random-uuid failed (see $dir/format.log)"
    [ -n "$uuid" ] || die "kafka.tools.StorageTool random-uuid printed nothing (see $dir/format.log)"
    if ! jtool kafka.tools.StorageTool format -t "$uuid" -c "$dir/server.properties" \
        >>"$dir/format.log" 2>&1; then
        show_log "$dir/format.log" format 20
        die "formatting $dir/data failed (full output: $dir/format.log)"
    fi
}

# One metadata request through the admin client: true when the broker serves requests.
probe() { # DIR PORT TIMEOUT
    timeout "$3" "$java" -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=off -cp "$cp" \
        org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$2" \
        --command-config "$1/admin.properties" --list >/dev/null 2>>"$1/probe.log"
}

starting_pid=""
starting_dir=""
abort_start() {
    [ -n "$starting_pid" ] || return 0
    if child_alive "$starting_pid"; then
        say "stopping the broker that did not become ready (pid $starting_pid)"
        kill_broker "$starting_pid" "$starting_dir" 10 child
    fi
    rm -f "$starting_dir/broker.pid"
}

start() {
    local dir pid port cport fixed=0 attempt=0 t0 rc
    dir="$(abs_dir "$1" create)"
    if pid="$(broker_pid "$dir")"; then
        die "a broker from $dir is already running (pid $pid, bootstrap" \
            "$(cat "$dir/bootstrap" 2>/dev/null || echo unknown)); 'scripts/kafka.sh stop $dir' first"
    fi
    rm -f "$dir/broker.pid" "$dir/bootstrap"
    load_classpath
    if [ -n "${MSL_KAFKA_PORT:-}${MSL_KAFKA_CONTROLLER_PORT:-}" ]; then
        fixed=1
        port="${MSL_KAFKA_PORT:-}"
        cport="${MSL_KAFKA_CONTROLLER_PORT:-}"
        is_port "$port" && is_port "$cport" && [ "$port" != "$cport" ] ||
            die "set both MSL_KAFKA_PORT and MSL_KAFKA_CONTROLLER_PORT, to two different port" \
                "numbers (1-65535)"
    fi
    trap abort_start EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    t0=$(now_ms)
    while :; do
        attempt=$((attempt + 1))
        if [ "$fixed" = 0 ]; then
            read -r port cport < <(pick_ports) || die "could not pick free loopback ports"
        fi
        for p in "$port" "$cport"; do
            port_free "$p" || die "port $p on 127.0.0.1 is already in use" \
                "$([ "$fixed" = 1 ] && echo '(MSL_KAFKA_PORT / MSL_KAFKA_CONTROLLER_PORT)')"
        done
        write_properties "$dir" "$port" "$cport"
        format_storage "$dir"
        say "starting Kafka $KAFKA_VERSION in $dir (PLAINTEXT 127.0.0.1:$port, CONTROLLER" \
            "127.0.0.1:$cport; log $dir/broker.log)"
        # setsid: the broker outlives this script and the terminal; the subshell execs into
        # setsid, which (not being a group leader) execs into java: $! is the java pid.
        (cd "$dir" && exec setsid "$java" "-Xmx$heap" \
            -Dorg.slf4j.simpleLogger.showDateTime=true \
            "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS" \
            -Djava.awt.headless=true -cp "$cp" kafka.Kafka "$dir/server.properties") \
            </dev/null >"$dir/broker.log" 2>&1 9>&- &
        pid=$!
        starting_pid="$pid"
        starting_dir="$dir"
        echo "$pid" >"$dir/broker.pid"
        rc=0
        wait_ready "$dir" "$pid" "$port" "$t0" || rc=$?
        case "$rc" in
        0) break ;;
        1) # the broker died on a bind error: someone took a port between the pick and the bind
            if [ "$fixed" = 0 ] && [ "$attempt" -lt 3 ]; then
                say "a port was taken before the broker could bind it; retrying with new ports"
                starting_pid=""
                continue
            fi
            show_broker_failure "$dir"
            die "the broker could not bind its ports (address already in use; full log:" \
                "$dir/broker.log)" ;;
        2)
            show_broker_failure "$dir"
            die "the broker exited during startup (full log: $dir/broker.log)" ;;
        *)
            show_broker_failure "$dir"
            die "the broker was not ready after $start_timeout s (MSL_KAFKA_START_TIMEOUT);" \
                "killing it (full log: $dir/broker.log; probe errors: $dir/probe.log)" ;;
        esac
    done
    starting_pid=""
    trap - EXIT INT TERM
    echo "127.0.0.1:$port" >"$dir/bootstrap"
    say "ready in $(secs_since "$t0") s: pid $pid, bootstrap 127.0.0.1:$port"
    echo "127.0.0.1:$port"
}

# 0 ready, 1 died on a bind error, 2 died otherwise, 3 timed out.
wait_ready() { # DIR PID PORT T0
    local dir="$1" pid="$2" port="$3" t0="$4" left
    : >"$dir/probe.log"
    while :; do
        if ! child_alive "$pid"; then
            wait "$pid" 2>/dev/null || true # a zombie: returns at once
            if grep -q -i 'address already in use' "$dir/broker.log"; then return 1; fi
            return 2
        fi
        left=$((start_timeout - ($(now_ms) - t0) / 1000))
        [ "$left" -gt 0 ] || return 3
        if port_open "$port"; then
            if probe "$dir" "$port" "$((left < 30 ? left : 30))"; then return 0; fi
            sleep 1
        else
            sleep 0.5
        fi
    done
}

stop() {
    local dir pid
    if [ ! -d "$1" ]; then
        say "no broker running from $1 (no such folder)"
        return 0
    fi
    dir="$(abs_dir "$1")"
    if ! pid="$(broker_pid "$dir")"; then
        say "no broker running from $dir"
        rm -f "$dir/broker.pid" "$dir/bootstrap"
        return 0
    fi
    say "stopping the broker of $dir (pid $pid)..."
    local t0
    t0=$(now_ms)
    kill_broker "$pid" "$dir" "$stop_timeout"
    rm -f "$dir/broker.pid" "$dir/bootstrap"
    say "stopped in $(secs_since "$t0") s"
}

status() {
    local dir pid
    [ -d "$1" ] && dir="$(abs_dir "$1")" && pid="$(broker_pid "$dir")" || { echo "not running"; exit 3; }
    echo "running $pid $(cat "$dir/bootstrap" 2>/dev/null || echo starting)"
}

running_bootstrap() { # DIR -> bootstrap of its running broker
    local dir="$1" pid
    pid="$(broker_pid "$dir")" || die "no broker running from $dir ('scripts/kafka.sh start $dir' first)"
    [ -s "$dir/bootstrap" ] || die "the broker of $dir (pid $pid) is not ready yet (no $dir/bootstrap)"
    cat "$dir/bootstrap"
}

topic() {
    local dir name="$2" parts="$3" bootstrap out t0 count leaders
    dir="$(abs_dir "$1")"
    is_uint "$parts" && [ "$parts" -ge 1 ] || usage_error "PARTITIONS must be a number >= 1, not '$parts'"
    [ -n "$name" ] || usage_error "NAME must not be empty"
    bootstrap="$(running_bootstrap "$dir")"
    load_classpath
    if ! out="$(jtool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
        --command-config "$dir/admin.properties" --create --if-not-exists --topic "$name" \
        --partitions "$parts" --replication-factor 1 2>&1)"; then
        printf '%s\n' "$out" | sed 's/^/  TopicCommand: /' >&2
        die "creating topic '$name' on $bootstrap failed"
    fi
    t0=$(now_ms)
    while :; do
        out="$(jtool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
            --command-config "$dir/admin.properties" --describe --topic "$name" 2>&1)" || true
        count="$(printf '%s\n' "$out" | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -n 1)"
        if [ -n "$count" ] && [ "$count" != "$parts" ]; then
            die "topic '$name' already exists with $count partitions, not $parts"
        fi
        leaders="$(printf '%s\n' "$out" | grep -c 'Partition: [0-9]*.*Leader: [0-9]' || true)"
        if [ "$count" = "$parts" ] && [ "$leaders" = "$parts" ]; then break; fi
        if [ $(($(now_ms) - t0)) -ge $((topic_timeout * 1000)) ]; then
            printf '%s\n' "$out" | sed 's/^/  TopicCommand: /' >&2
            die "topic '$name' did not get a leader for each of its $parts partitions within" \
                "$topic_timeout s (MSL_KAFKA_TOPIC_TIMEOUT)"
        fi
        sleep 0.5
    done
    say "topic '$name' ready: $parts partition(s) on $bootstrap"
}

run_class() {
    load_classpath
    # shellcheck disable=SC2086 # MSL_KAFKA_TOOL_OPTS is a list of JVM options
    exec "$java" -Xmx512m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn ${MSL_KAFKA_TOOL_OPTS:-} \
        -cp "$cp" "$@"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
help | -h | --help) usage ;;
fetch)
    [ $# -eq 0 ] || usage_error "fetch takes no arguments"
    fetch
    say "classpath ready: $home/cp.txt" ;;
classpath)
    [ $# -eq 0 ] || usage_error "classpath takes no arguments"
    fetch
    cat "$home/cp.txt"
    echo ;;
start)
    [ $# -eq 1 ] || usage_error "start takes one argument: DIR"
    start "$1" ;;
stop)
    [ $# -eq 1 ] || usage_error "stop takes one argument: DIR"
    stop "$1" ;;
status)
    [ $# -eq 1 ] || usage_error "status takes one argument: DIR"
    status "$1" ;;
topic)
    [ $# -eq 3 ] || usage_error "topic takes three arguments: DIR NAME PARTITIONS"
    topic "$1" "$2" "$3" ;;
run)
    [ $# -ge 1 ] || usage_error "run takes a Java class name and its arguments"
    run_class "$@" ;;
"") usage_error "no command given" ;;
*) usage_error "unknown command '$cmd'" ;;
esac
