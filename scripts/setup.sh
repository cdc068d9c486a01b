#!/usr/bin/env bash
# One-command, idempotent setup: .venv with the pinned Python dependencies, the pinned JVM jars
# (Flink Kafka connector, Kafka broker) from Maven Central, and Debian's redis-server.
# A second run with nothing to do returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "setup: $*" >&2; exit 1; }

# --- what must already be on the machine -------------------------------------------------------
command -v java >/dev/null || die "java is missing: install Java 17 (apt-get install -y openjdk-17-jdk-headless)"
java_major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
[ "${java_major%%.*}" -ge 17 ] 2>/dev/null || die "Java 17 or newer is needed, found ${java_major:-none} (apt-get install -y openjdk-17-jdk-headless)"
command -v mvn >/dev/null || die "mvn is missing: install Maven (apt-get install -y maven)"
PYTHON=${PYTHON:-$(command -v python3.11 || true)}
[ -n "$PYTHON" ] || die "python3.11 is missing: install Python 3.11 (apt-get install -y python3.11 python3.11-venv)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || die "$PYTHON is not Python 3.11"

# --- Python: .venv with every dependency pinned by constraints.txt ------------------------------
stamp=.venv/.journeys-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "setup: installing Python dependencies into .venv"
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==25.3"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
  touch "$stamp"
fi

# --- JVM jars from Maven Central -----------------------------------------------------------------
jar_stamp=flink-conf/jars/.journeys-fetched
if [ ! -f "$jar_stamp" ] || [ flink-conf/pom.xml -nt "$jar_stamp" ]; then
  echo "setup: fetching JVM jars with Maven (flink-conf/pom.xml)"
  # Fetch into a fresh folder, then swap, so no stale jar of an old version stays on a classpath.
  rm -rf flink-conf/jars.new
  if ! out=$(mvn --batch-mode -Dstyle.color=never -f flink-conf/pom.xml package \
      -Djars.dir="$PWD/flink-conf/jars.new" 2>&1); then
    echo "$out" | tail -40 >&2
    die "maven could not fetch the jars of flink-conf/pom.xml (see above)"
  fi
  rm -rf flink-conf/jars.old
  [ ! -d flink-conf/jars ] || mv flink-conf/jars flink-conf/jars.old
  mv flink-conf/jars.new flink-conf/jars
  rm -rf flink-conf/jars.old
  touch "$jar_stamp"
fi

# --- redis-server from Debian ---------------------------------------------------------------------
if ! command -v redis-server >/dev/null; then
  echo "setup: installing Debian's redis-server"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    die "redis-server is missing and this user cannot install it: apt-get install -y redis-server"
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

echo "setup: ready (.venv, flink-conf/jars, redis-server)"
