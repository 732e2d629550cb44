#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, with accounting (sacct), for trying the slurm profile without a
# cluster: tests/workflow/test_slurm.py submits the tiny DAG to it, and CI (.ci/run) starts it before the tests.
# Run as root on Debian/Ubuntu; idempotent (a second run finds everything up and returns). Installs slurm-wlm, munge,
# slurmdbd and mariadb-server with apt-get when absent, writes /etc/slurm/{slurm,slurmdbd,gres}.conf for one node
# named after this host (its real core count and memory, and 4 GPUs that are not there: gres/gpu entries backed by
# /dev/null, /dev/zero, /dev/full and /dev/random, so that GPU requests are scheduled and accounted, never bound to
# hardware), starts munged, mariadb, slurmdbd, slurmctld, slurmd and waits
# until `sinfo` shows the node idle and `sacct` answers. Partition: `debug`; account: `scorerepro`.
set -euo pipefail

PARTITION=debug
ACCOUNT=scorerepro
CLUSTER=scorerepro
FAKE_GPU_FILES=/dev/null,/dev/zero,/dev/full,/dev/random  # slurmd drops a gres/gpu without a device file
CONF=/etc/slurm
DB_PASS=slurmdbd-local

log() { echo "start_local_slurm: $*" >&2; }

[[ $(id -u) == 0 ]] || { log "run as root (it installs packages and starts daemons)"; exit 1; }

if sinfo -h -o %T 2>/dev/null | grep -qx idle && sacct -n -X -S now-1minutes >/dev/null 2>&1; then
    log "already up: $(sinfo -h -o '%P %D %T %c CPUs %m MB')"
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmdbd >/dev/null || ! command -v mariadbd >/dev/null; then
    log "installing slurm-wlm munge slurmdbd mariadb-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge slurmdbd mariadb-server >/dev/null
fi

node=$(hostname -s)
cpus=$(nproc)
# slurmd refuses a node whose configured memory exceeds what it finds; leave the OS some room
mem_mb=$(( $(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p') - 512 ))

mkdir -p "$CONF" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /run/mysqld
chown munge:munge /run/munge
chown mysql:mysql /run/mysqld

cat >"$CONF/slurm.conf" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$node
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
# containers (and many laptops) lack the cgroup setup the cgroup plugins need
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
JobCompType=jobcomp/none
# the Snakemake SLURM executor puts the rule name in the job comment: keep it for sacct
AccountingStoreFlags=job_comment
GresTypes=gpu
# jobs stay visible to squeue for a while after they end, as the Snakemake SLURM executor prefers
MinJobAge=600
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:4 State=UNKNOWN
PartitionName=$PARTITION Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF

cat >"$CONF/gres.conf" <<EOF
AutoDetect=off
NodeName=$node Name=gpu File=$FAKE_GPU_FILES
EOF

cat >"$CONF/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=/var/log/slurm/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
chmod 600 "$CONF/slurmdbd.conf"

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local secs=$1 what=$2; shift 2
    for _ in $(seq "$secs"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
    log "$what did not come up within ${secs}s"; return 1
}

pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
wait_for 20 munged munge -n

if ! pgrep -x mariadbd >/dev/null; then
    [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql >/dev/null
    runuser -u mysql -- /usr/sbin/mariadbd --skip-networking=0 --bind-address=127.0.0.1 \
        >>/var/log/slurm/mariadb.log 2>&1 &
fi
wait_for 60 mariadb mariadb -e 'select 1'
mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"

pgrep -x slurmdbd >/dev/null || /usr/sbin/slurmdbd
wait_for 60 slurmdbd sacctmgr -n list cluster
sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description=local Organization=local >/dev/null 2>&1 || true
sacctmgr -i add user "${SUDO_USER:-root}" Account="$ACCOUNT" Cluster="$CLUSTER" >/dev/null 2>&1 || true
sacctmgr -i add user root Account="$ACCOUNT" Cluster="$CLUSTER" >/dev/null 2>&1 || true

pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
wait_for 60 slurmctld scontrol ping
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd -N "$node"
node_idle() { sinfo -h -n "$node" -o %T | grep -qx idle; }
if ! wait_for 60 "node $node (idle)" node_idle; then
    scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true
    wait_for 30 "node $node (idle)" node_idle || { sinfo -R >&2; exit 1; }
fi
wait_for 30 sacct sacct -n -X -S now-1minutes
log "up: $(sinfo -h -o '%P %D %T %c CPUs %m MB %G')"
