#!/bin/bash
# From one configuration to merged results: an array job of K shards and a merge job that
# runs when every shard has succeeded.
#   configs/slurm/submit.sh theory configs/paper-fig2.ini data/fig2.h5 16
set -euo pipefail
subcommand=${1:?usage: submit.sh theory|micro CONFIG OUTPUT SHARDS}
config=${2:?}
output=${3:?}
count=${4:?}
mkdir -p logs "$(dirname "$output")"
# Check the configuration before anything is queued (exit 2 and one line if it is wrong).
./build/cdl "$subcommand" --config "$config" --output "$output" --dry-run > /dev/null
array=$(sbatch --parsable --array=0-$((count - 1)) configs/slurm/sweep-array.sbatch \
  "$subcommand" "$config" "$output")
merge=$(sbatch --parsable --dependency=afterok:"$array" configs/slurm/merge.sbatch "$output" "$count")
echo "array job $array ($count shards), merge job $merge -> $output"
