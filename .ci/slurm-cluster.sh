#!/usr/bin/env bash
# A real single-node SLURM cluster on loopback, for the SLURM workflow test and CI.
#
#   .ci/slurm-cluster.sh install   # apt-get Debian's slurm-wlm daemons and munge (root)
#   .ci/slurm-cluster.sh up        # write slurm.conf for this machine, start munged,
#                                  # slurmctld and slurmd, wait until the node is idle
#   .ci/slurm-cluster.sh down      # stop what `up` started, remove its config link
#   .ci/slurm-cluster.sh status    # sinfo, or exit 1 when no controller answers
#
# Settings (environment):
#   MMNET_SLURM_BASE  state, spool, logs and the config (default /tmp/mmnet-slurm)
#   MMNET_SLURM_CPUS  CPUs the node advertises (default: the larger of nproc and 8, so the
#                     SLURM profile's GPU jobs, which ask for 8 CPUs per GPU, fit; on a
#                     smaller machine jobs then share cores, which is fine for tests)
#   MMNET_SLURM_GPUS  fake GPUs (GRES gpu, no device behind them) so `gpu=N` jobs are
#                     accepted and serialised (default 1)
#
# Facts this relies on (measured, ../shared/spec/ENVIRONMENT.md §3): the config must be at
# /etc/slurm/slurm.conf, because the jobstep plugin strips SLURM_CONF inside jobs; without
# accounting (no slurmdbd) Snakemake must be told `--slurm-status-command squeue`, and
# squeue keeps finished jobs for MinJobAge seconds; one job round trip takes about 15 s.
set -euo pipefail

BASE=${MMNET_SLURM_BASE:-/tmp/mmnet-slurm}
CONF=/etc/slurm/slurm.conf
GRES_CONF=/etc/slurm/gres.conf

die() { echo "slurm-cluster: $*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (it starts daemons and writes $CONF)"; }

install() {
  need_root
  command -v apt-get >/dev/null || die "no apt-get on this machine: install slurmctld, slurmd, slurm-client and munge yourself"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  command -v slurmctld >/dev/null || die "slurmctld still missing after apt-get install"
}

controller_answers() { timeout 5 scontrol ping 2>/dev/null | grep -q "is UP"; }

# Link one of our files into /etc/slurm, never replacing a file we did not write.
link_config() {
  local source=$1 target=$2
  if [ -e "$target" ] || [ -L "$target" ]; then
    case "$(readlink "$target" || true)" in
      "$BASE"/*) ;;
      *) die "refusing to replace $target: it is not ours (a real cluster's config?)" ;;
    esac
  fi
  ln -sfn "$source" "$target"
}

write_config() {
  local cpus gpus mem gres="" gres_types=""
  cpus=${MMNET_SLURM_CPUS:-$(( $(nproc) > 8 ? $(nproc) : 8 ))}
  gpus=${MMNET_SLURM_GPUS:-1}
  mem=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 9 / 10 / 1024 ))
  mkdir -p "$BASE"/{state,spool,log} /etc/slurm
  if [ "$gpus" -gt 0 ]; then
    gres=" Gres=gpu:$gpus"
    gres_types="GresTypes=gpu"
    if [ "$gpus" = 1 ]; then
      echo "NodeName=localhost Name=gpu File=/dev/null" >"$BASE/gres.conf"
    else
      echo "NodeName=localhost Name=gpu Count=$gpus" >"$BASE/gres.conf"
    fi
    link_config "$BASE/gres.conf" "$GRES_CONF"
  fi
  cat >"$BASE/slurm.conf" <<CONF
# Written by .ci/slurm-cluster.sh: a one-node test cluster on loopback.
ClusterName=mmnet-ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$BASE/slurmctld.pid
SlurmdPidFile=$BASE/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
# containers have no cgroup delegation: track job processes by parent pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
# the node advertises the CPUs above even when the machine has fewer
SlurmdParameters=config_overrides
# keep finished jobs visible to squeue (Snakemake's status command here) for an hour
MinJobAge=3600
# a cancelled job gets SIGKILL 5 s after SIGTERM (default 30 s)
KillWait=5
$gres_types
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem$gres State=UNKNOWN
# the partition names profiles/slurm/config.yaml uses as placeholders
PartitionName=cpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=localhost MaxTime=INFINITE State=UP
CONF
  link_config "$BASE/slurm.conf" "$CONF"
}

# A process that exists and is not a zombie (a container's init may never reap them).
alive() { [ -n "$1" ] && [ -n "$(ps -o stat= -p "$1" 2>/dev/null | grep -v Z)" ]; }

start_munge() {
  if munge -n >/dev/null 2>&1; then return; fi  # a munged already answers
  mkdir -p /run/munge && chown munge:munge /run/munge
  [ -s /etc/munge/munge.key ] || die "/etc/munge/munge.key missing (reinstall munge)"
  runuser -u munge -- /usr/sbin/munged
  cp /run/munge/munged.pid "$BASE/munged.started"  # so that `down` stops only this one
}

up() {
  need_root
  for binary in slurmctld slurmd sinfo munged; do
    command -v "$binary" >/dev/null || die "$binary not installed (run: $0 install)"
  done
  if controller_answers; then echo "slurm-cluster: already up"; sinfo; return; fi
  mkdir -p "$BASE"
  write_config
  start_munge
  slurmctld -i
  slurmd -N localhost
  for _ in $(seq 1 120); do
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && { sinfo; return; }
    sleep 0.5
  done
  tail -n 20 "$BASE/log/slurmctld.log" "$BASE/log/slurmd.log" >&2 || true
  down
  die "the node did not become idle within 60 s (logs above, from $BASE/log)"
}

stop_pidfile() {
  local file=$1
  [ -s "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if alive "$pid" && kill "$pid"; then
    for _ in $(seq 1 40); do alive "$pid" || break; sleep 0.25; done
    if alive "$pid"; then kill -9 "$pid"; fi  # e.g. slurmd stuck without munged
  fi
  rm -f "$file"
}

down() {
  stop_pidfile "$BASE/slurmd.pid"
  stop_pidfile "$BASE/slurmctld.pid"
  stop_pidfile "$BASE/munged.started"
  for target in "$CONF" "$GRES_CONF"; do
    case "$(readlink "$target" 2>/dev/null || true)" in "$BASE"/*) rm -f "$target" ;; esac
  done
}

status() { controller_answers && sinfo; }

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: $0 install|up|down|status" ;;
esac
