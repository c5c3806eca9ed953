#!/bin/bash
# Stop the single-node SLURM cluster started by .ci/slurm/start.sh.
# KEEP_DB=1 leaves mariadb running. Running/queued jobs are killed by slurmd shutdown
# (slurmctld state is saved in /var/spool/slurmctld and restored on next start).
set -uo pipefail
RUN_DIR=/run/slurm
stop_pidfile() {   # $1 pidfile  $2 name
  local f=$1 p
  [ -s "$f" ] && p=$(cat "$f") && kill -0 "$p" 2>/dev/null || { rm -f "$f"; return 0; }
  echo "stopping $2 (pid $p)"; kill "$p"
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$p" 2>/dev/null && { echo "  $2 still alive, SIGKILL"; kill -9 "$p"; }
  rm -f "$f"
}
stop_pidfile $RUN_DIR/slurmd.pid slurmd
stop_pidfile $RUN_DIR/slurmctld.pid slurmctld
stop_pidfile $RUN_DIR/slurmdbd.pid slurmdbd
rm -f $RUN_DIR/active-conf.md5
if [ "${KEEP_DB:-0}" != 1 ] && mysqladmin ping >/dev/null 2>&1; then
  echo "stopping mariadb"; mysqladmin shutdown
fi
stop_pidfile /run/munge/munged.pid munged
echo "stopped"
