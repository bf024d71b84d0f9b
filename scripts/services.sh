#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer, installing
# and starting Debian's packages when they do not. Used by `make test`.
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
apt_install() {
  if [ "$(id -u)" != 0 ]; then echo "services: need root to apt-get install $*" >&2; return 1; fi
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! pg_up; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  if ! pg_up; then
    # Trust local TCP connections for the test user, as on a developer machine.
    hba=/etc/postgresql/$version/main/pg_hba.conf
    grep -q "pounce-test" "$hba" || sed -i '1i host all all 127.0.0.1/32 trust # pounce-test' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
if ! redis_up; then
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/pounce-test.log
  for _ in $(seq 1 30); do redis_up && break; sleep 0.5; done
fi
pg_up && echo "services: PostgreSQL answers on 127.0.0.1:5432" || { echo "services: PostgreSQL is not answering" >&2; exit 1; }
redis_up && echo "services: Redis answers on 127.0.0.1:6379" || { echo "services: Redis is not answering" >&2; exit 1; }
