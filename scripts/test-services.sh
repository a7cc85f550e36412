#!/usr/bin/env bash
# Makes sure the servers the test suite talks to are installed and running
# on this machine: PostgreSQL (127.0.0.1:5432, trust auth, database test),
# MariaDB (127.0.0.1:3306, root without password, database test) and Redis
# (127.0.0.1:6379); and that the Kafka clients the tests drive, kcat and
# python3-confluent-kafka, Prometheus's prometheus and promtool,
# chromium (the console's browser test) and wrk (the benchmark's second load
# generator, which a test drives) are installed. Idempotent: on a
# machine where they already run it only checks them. Installing needs root
# (apt-get); Kafka needs nothing, the tests start the embedded broker
# themselves.
set -euo pipefail

log() { printf 'test-services: %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		log "need root to run: $*"; return 1; fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
	for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
	log "nothing listens on 127.0.0.1:$1 after 30s"; return 1
}

missing=()
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v redis-server >/dev/null || missing+=(redis-server)
# kcat and Python's confluent_kafka check that librdkafka clients speak to
# the embedded broker, with SASL_SSL too. The Debian package serves only the
# system Python, so ask /usr/bin/python3, not whichever python3 is on PATH.
command -v kcat >/dev/null || missing+=(kcat)
/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || missing+=(python3-confluent-kafka)
# prometheus and promtool test the alert rules and dashboards in deploy/.
# The tests run their own Prometheus on a free port; one that the package
# may start as a service is neither used nor in the way.
{ command -v prometheus >/dev/null && command -v promtool >/dev/null; } || missing+=(prometheus)
# wrk: the benchmark's second load generator; a test drives it for real.
command -v wrk >/dev/null || missing+=(wrk)
# chromium: the console's test drives it headless (cmd/bulker, chromedp).
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# PostgreSQL: trust for local TCP, then a database named test. A fresh
# package may already run with password auth, so test a login, not a port.
pg_ok() { psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; }
if ! pg_ok; then
	ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$ver" ]; then
		as_root pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -n 1)" main
		ver=$(ls /etc/postgresql | sort -V | tail -n 1)
	fi
	hba=/etc/postgresql/$ver/main/pg_hba.conf
	if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
		as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
	fi
	if port_open 5432; then
		log "reloading PostgreSQL $ver for trust auth on 127.0.0.1"
		as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
	else
		log "starting PostgreSQL $ver"
		as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start
	fi
	wait_port 5432
	for _ in $(seq 1 20); do pg_ok && break; sleep 0.5; done
	pg_ok || { log "cannot log in to PostgreSQL as postgres on 127.0.0.1:5432"; exit 1; }
fi
if [ "$(psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1 from pg_database where datname = 'test'")" != 1 ]; then
	psql -h 127.0.0.1 -U postgres -d postgres -Atc 'create database test' >/dev/null
fi

# MariaDB: root over TCP without a password, database test.
if ! port_open 3306; then
	log "starting MariaDB"
	as_root mkdir -p /run/mysqld
	as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
	as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
	wait_port 3306
fi
if ! mariadb -h 127.0.0.1 -P 3306 -uroot -e 'select 1' >/dev/null 2>&1; then
	as_root mariadb -uroot -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
		GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
		ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
		FLUSH PRIVILEGES;"
fi
mariadb -h 127.0.0.1 -uroot -e 'CREATE DATABASE IF NOT EXISTS test CHARACTER SET utf8mb4'

# Redis: in memory only, like the tests expect.
if ! port_open 6379; then
	log "starting Redis"
	as_root mkdir -p /var/lib/redis /var/log/redis
	as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log
	wait_port 6379
fi

log "PostgreSQL, MariaDB and Redis are up"
