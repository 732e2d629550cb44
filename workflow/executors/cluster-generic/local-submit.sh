#!/usr/bin/env bash
# Example submit command for Snakemake's cluster-generic executor: "submits" a job script by running it on this
# machine in the background, like a batch system would on a node. Usage (what the profile passes):
#   local-submit.sh [--name RULE] [--mem-mb MB] [--runtime MIN] [--gpus N] JOBSCRIPT
# Prints the job id (the background process id) on stdout, as qsub/sbatch --parsable do. The job script itself
# touches Snakemake's jobfinished/jobfailed marker, which is how Snakemake learns the outcome (no status command
# needed on a shared filesystem). Resources are recorded in the job's log, not enforced.
set -euo pipefail

name=job mem_mb="" runtime="" gpus=0
while [[ $# -gt 1 ]]; do
    case "$1" in
        --name) name="$2"; shift 2 ;;
        --mem-mb) mem_mb="$2"; shift 2 ;;
        --runtime) runtime="$2"; shift 2 ;;
        --gpus) gpus="$2"; shift 2 ;;
        *) echo "local-submit.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
jobscript="${1:?local-submit.sh: no job script given}"

logdir="${LOCAL_SUBMIT_LOGDIR:-.snakemake/local-submit}"
mkdir -p "$logdir"
log="$logdir/$name.$(date +%s%N).log"
{
    echo "# local-submit: name=$name mem_mb=$mem_mb runtime=$runtime gpus=$gpus jobscript=$jobscript"
} >"$log"

# No GPU asked for: hide the GPUs, as a batch system would.
if [[ "$gpus" == "0" ]]; then
    export CUDA_VISIBLE_DEVICES=""
fi

nohup bash "$jobscript" >>"$log" 2>&1 </dev/null &
echo "$!"
