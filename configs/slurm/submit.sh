#!/bin/bash
# From one configuration to merged results: an array job of K shards and a merge job that
# runs when every task has ended, merging if all finished and naming the ones that did not.
#   configs/slurm/submit.sh theory configs/paper-fig2.ini data/fig2.h5 16 [SBATCH OPTIONS...]
# Every option after SHARDS goes to both sbatch calls and overrides the scripts' own #SBATCH
# lines (--account, --partition, --qos, --time, --signal, --cpus-per-task, --mail-user, ...),
# except --array=LIST, which submits only those shards (to resubmit the ones that failed).
set -euo pipefail
usage="usage: submit.sh theory|micro CONFIG OUTPUT SHARDS [SBATCH OPTIONS...]"
subcommand=${1:?$usage}
config=${2:?$usage}
output=${3:?$usage}
count=${4:?$usage}
shift 4
if [[ ! $count =~ ^[1-9][0-9]*$ ]]; then
  echo "submit.sh: SHARDS '$count' must be a positive integer" >&2
  exit 2
fi
tasks="0-$((count - 1))"
site=()
# The CPUs a task gets (the array script's own line unless the site options say otherwise),
# for the dry run's time estimate.
cpus=$(sed -n 's/^#SBATCH --cpus-per-task=\([0-9]*\).*/\1/p' configs/slurm/sweep-array.sbatch)
while (($#)); do
  case $1 in
    --array=*) tasks=${1#--array=} ;;
    --array | -a)
      tasks=${2:?"submit.sh: $1 needs a list of shards"}
      shift
      ;;
    --cpus-per-task=*) cpus=${1#--cpus-per-task=} site+=("$1") ;;
    --cpus-per-task | -c)
      cpus=${2:?"submit.sh: $1 needs a number"}
      site+=("$1" "$2")
      shift
      ;;
    *) site+=("$1") ;;
  esac
  shift
done
# Every index in the list (N, N-M, N-M:STEP, comma-separated, an optional %LIMIT) names a shard.
list=${tasks%\%*}
for part in ${list//,/ }; do
  if [[ ! ${part%%:*} =~ ^([0-9]+)(-([0-9]+))?$ ]] || ((BASH_REMATCH[1] >= count)) ||
    ((${BASH_REMATCH[3]:-0} >= count)); then
    echo "submit.sh: --array '$tasks' must list shards in 0..$((count - 1))" >&2
    exit 2
  fi
done
mkdir -p logs "$(dirname "$output")"
# Check the configuration before anything is queued (exit 2 and one line if it is wrong), as
# the tasks run it (--resume) for the first task listed, and show each shard's estimated time,
# from which --time is set.
first=${list%%[-,:]*}
./build/cdl "$subcommand" --config "$config" --output "$output" --task-count "$count" \
  --task-index "$first" --threads "${cpus:-1}" --resume --dry-run
array=$(sbatch --parsable --array="$tasks" "${site[@]}" configs/slurm/sweep-array.sbatch \
  "$subcommand" "$config" "$output" "$count")
array=${array%%;*}  # --parsable prints JOBID[;CLUSTER]
merge=$(sbatch --parsable --dependency=afterany:"$array" "${site[@]}" configs/slurm/merge.sbatch \
  "$output" "$count" "$array" "$subcommand" "$config" "${site[@]}")
merge=${merge%%;*}
echo "array job $array (shards $tasks of $count), merge job $merge -> $output"
