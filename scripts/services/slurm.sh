# A real single-node Slurm cluster for the Slurm tests (tests/execute/test_slurm.py, tests/execute/test_dask.py).
#
#   source scripts/services/slurm.sh        # as root: start it (or find it running), export its settings
#   bash scripts/services/slurm.sh stop     # stop the daemons it started
#
# Needs Debian's `slurm-wlm` and `munge`. Writes slurm.conf and cgroup.conf under $REPROVIP_SLURM_DIR
# (/tmp/reprovip-slurm by default), with state, spool and logs beside them; the node is this machine as
# `slurmd -C` describes it (CPUs, memory), so the file suits whichever machine runs it. Starts munged,
# slurmctld and slurmd, then waits until `sinfo` shows the node idle. Exports SLURM_CONF (every Slurm
# command reads it) and REPROVIP_TEST_SLURM=1, and REPROVIP_SLURM_STARTED=1 when it started the daemons. Starting again while it runs changes nothing. On failure:
# prints one line to stderr and returns non-zero (the log to read is named in it).

_reprovip_slurm_dir="${REPROVIP_SLURM_DIR:-/tmp/reprovip-slurm}"

# Stop slurmd and slurmctld (their pid files are in the folder), and the other daemons named (munged).
_reprovip_slurm_stop() {
  local name pid
  for name in slurmd slurmctld "$@"; do
    pid="$(cat "$_reprovip_slurm_dir/$name.pid" 2>/dev/null)" || continue
    kill "$pid" 2>/dev/null || true
  done
  return 0
}

_reprovip_slurm_idle() {
  local state
  state="$(SLURM_CONF="$_reprovip_slurm_dir/slurm.conf" sinfo -h -N -o %T 2>/dev/null | head -n 1)"
  [ "$state" = idle ] || [ "$state" = mixed ] || [ "$state" = allocated ]
}

_reprovip_slurm_start() {
  local dir="$_reprovip_slurm_dir" node host socket="/run/munge/munge.socket.2"
  command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 || {
    echo "Slurm could not be started: slurmctld or munged is missing (apt-get install slurm-wlm munge)" >&2
    return 1
  }
  [ "$(id -u)" = 0 ] || { echo "Slurm could not be started: its daemons need root" >&2; return 1; }
  export SLURM_CONF="$dir/slurm.conf"
  if [ -f "$SLURM_CONF" ] && _reprovip_slurm_idle; then
    export REPROVIP_TEST_SLURM=1
    return 0
  fi
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
  # munge: one key for the cluster (Debian's package makes it; a bare machine may not have one).
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  if ! munge -n -S "$socket" 2>/dev/null | unmunge -S "$socket" >/dev/null 2>&1; then
    mkdir -p /run/munge
    chown munge:munge /run/munge /etc/munge /etc/munge/munge.key "$dir/munge" 2>/dev/null || true
    chmod 0400 /etc/munge/munge.key
    if id munge >/dev/null 2>&1; then
      runuser -u munge -- /usr/sbin/munged --socket="$socket" --pid-file=/run/munge/munged.pid \
        --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" 2>>"$dir/munge/munged.err" || {
        echo "Slurm could not be started: munged failed (see $dir/munge/munged.log)" >&2
        return 1
      }
      cp /run/munge/munged.pid "$dir/munged.pid" 2>/dev/null || true
    fi
  fi
  # This machine as slurmd sees it: "NodeName=vm CPUs=2 Boards=1 ... RealMemory=24105".
  node="$(slurmd -C 2>/dev/null | head -n 1)"
  host="$(hostname -s)"
  [ -n "$node" ] || { echo "Slurm could not be started: \`slurmd -C\` did not describe this machine" >&2; return 1; }
  cat >"$dir/slurm.conf" <<EOF
# Written by scripts/services/slurm.sh: a single-node cluster for reprovip's tests.
ClusterName=reprovip
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
# The main scheduler every second (not 60 s): each array task waits for it once the previous one has ended.
SchedulerParameters=sched_min_interval=0,batch_sched_delay=0,sched_interval=1
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=300
MaxArraySize=10001
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  # Nothing here uses cgroups (proctrack/linuxproc, task/none); the file keeps slurmd from probing for them.
  cat >"$dir/cgroup.conf" <<EOF
CgroupPlugin=autodetect
IgnoreSystemd=yes
EOF
  _reprovip_slurm_stop  # a half-started cluster of an earlier attempt (its munged is kept)
  sleep 0.5
  slurmctld -f "$SLURM_CONF" -i >/dev/null 2>&1 || {
    echo "Slurm could not be started: slurmctld failed (see $dir/slurmctld.log)" >&2
    return 1
  }
  slurmd -f "$SLURM_CONF" >/dev/null 2>&1 || {
    echo "Slurm could not be started: slurmd failed (see $dir/slurmd.log)" >&2
    return 1
  }
  local _
  for _ in $(seq 150); do
    if _reprovip_slurm_idle; then
      export REPROVIP_TEST_SLURM=1 REPROVIP_SLURM_STARTED=1  # started here: the caller may stop it
      return 0
    fi
    scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true
    sleep 0.2
  done
  echo "Slurm could not be started: the node is not idle after 30 s (see $dir/slurmctld.log, $dir/slurmd.log)" >&2
  return 1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then  # run, not sourced
  case "${1:-start}" in
    stop) _reprovip_slurm_stop munged ;;
    start) _reprovip_slurm_start ;;
    *) echo "usage: source $0 (start), or bash $0 stop" >&2; exit 2 ;;
  esac
else
  _reprovip_slurm_start
fi
